"""The published papers reproduced through the commands a user runs: each system edgecxr names,
trained with its paper's recipe (edgecxr.config.RECIPES) on the shared data, float and int8.

    python benchmarks/bench_papers.py [--systems NAME ...] [--runs-root DIR]

Per system: `edgecxr train --recipe PAPER --model MODEL --epochs N` (a run already in
--runs-root with the same recipe, model and epochs is reused, not retrained), `edgecxr quantize`
(PTQ int8; QAT too where the model folds and it was affordable), then `edgecxr evaluate` on the
run's validation split and on its external images. Printed: one table with the paper's own
figure, edgecxr's validation figures (float, PTQ int8, QAT int8) and the external ones.

What "external" means differs by dataset, and says so in the table:
- Kermany-trained CNNs: covid3's Normal + Viral Pneumonia folders read as NORMAL / PNEUMONIA
  (near-copies of Kermany's separately acquired test split; 140 images, all pneumonia viral).
- Si's 3-class task: a held-out 20 % of covid3's patients (the split's `test` part), never
  used for training, thresholds or model selection.
- Mondal's NIH multi-label task: none. Its 799 images are 64x64 downscales made by a third
  party; the other NIH images are not here. Validation only, and at 64x64 (upsampled to the
  paper's 128x128 input) no figure is comparable with a paper's at full resolution.
The thresholds are chosen on validation only; the validation figures of binary tasks use the
threshold chosen on those same images (optimistic). Epochs are shortened to what 2 shared cores
allow (the `shortened` column): these are not converged reproductions.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bench_external import EXTERNAL_MAP, SHARED, edgecxr  # sibling scripts (benchmarks/ is on sys.path)
from bench_train_throughput import REPO, machine

COVID3 = SHARED / "covid3" / "train"
NIH = SHARED / "nih1000-64"
COVID3_SPLIT = "covid3_split.json"  # written under --runs-root, once


@dataclass(frozen=True)
class Data:
    """Where a system trains (`train` arguments) and what its external check is (`evaluate`
    arguments after the run; None = validation only)."""

    train: tuple
    external: tuple | None
    about: str


def data_table(runs_root: Path) -> dict[str, Data]:
    return {
        "kermany": Data(("--data", SHARED / "kermany224"),
                        ("--data", COVID3, "--class-map", EXTERNAL_MAP),
                        "covid3 Normal + Viral Pneumonia read as NORMAL / PNEUMONIA"),
        "covid3": Data(("--split", runs_root / COVID3_SPLIT), ("--split", "test"),
                       "held-out 20 % of covid3 patients"),
        "nih": Data(("--data", NIH / "images", "--csv", NIH / "labels.csv"), None,
                    "none (validation only; 64x64 third-party downscales)"),
    }


@dataclass(frozen=True)
class System:
    name: str  # the run's name
    paper: str
    recipe: str  # edgecxr.config.RECIPES row
    model: str
    data: str  # data_table key
    reported: str  # the paper's own figure, as the project's sources give it
    # what 2 shared cores forced: TrainConfig overrides (epochs; bn_momentum 0.9 because in a
    # run of a few hundred steps Keras' 0.99 moving averages lag the weights: kirthan_cnn after 3
    # epochs at 0.99 scored 0.88 accuracy in training and called every validation image
    # PNEUMONIA, val ROC-AUC 0.5) and, for the slowest CNNs, a seeded class-stratified subset of
    # the training patients (validation unchanged)
    shortened: dict = field(default_factory=dict)
    train_images: int | None = None
    qat: bool = False  # QAT too (foldable models only, and only where affordable)


NOT_KNOWN = "not in this project's sources"
# Cheapest first: an interrupted benchmark still has the cheap rows. About 75 min of training
# in total on 2 cores shared with four other jobs (measured 4-30 training images/s for the
# CNNs under that load).
SYSTEMS = [
    System("si_edge_impulse", "Si (Edge Impulse)", "si-edge-impulse", "mobilenet_v1", "covid3",
           "85.5-89.3 % acc., int8 3.8 pts lower", qat=True),
    System("kirthan_cnn", "Kirthan", "kirthan", "kirthan_cnn", "kermany", NOT_KNOWN, {"epochs": 4, "bn_momentum": 0.9}),
    System("abdelaal_cnn", "Abdelaal", "abdelaal", "abdelaal_cnn", "kermany", "91.99 % acc. (Kermany test)",
           {"epochs": 3, "bn_momentum": 0.9}),
    System("huynh_cnn5", "Huynh et al.", "huynh", "huynh_cnn5", "kermany", NOT_KNOWN, {"epochs": 2, "bn_momentum": 0.9}),
    System("mondal_xception", "Mondal et al.", "mondal", "mondal_xception", "nih", NOT_KNOWN + " (table I)",
           {"epochs": 4, "bn_momentum": 0.9}),
    System("huynh_cnn4", "Huynh et al.", "huynh", "huynh_cnn4", "kermany", NOT_KNOWN,
           {"epochs": 2, "bn_momentum": 0.9}, train_images=1000),
    System("huynh_cnn3", "Huynh et al.", "huynh", "huynh_cnn3", "kermany", NOT_KNOWN,
           {"epochs": 2, "bn_momentum": 0.9}, train_images=1000),
]


def covid3_split(path: Path) -> None:
    """A patient-grouped split of covid3 with 20 % of the patients held out as `test` (seeded):
    the rest is split 80 / 20 into train / val, as `edgecxr train` would."""
    if path.exists():
        return
    from edgecxr.data.dataset import Dataset, scan_folder
    from edgecxr.data.split import split_by_patient, write_split

    dataset = scan_folder(COVID3)
    held = split_by_patient(dataset, 0.2, seed=0)
    rest = Dataset(dataset.root, dataset.classes, [s for s in dataset.samples if held[s.path] == "train"])
    assignment = {**{p: "test" for p, v in held.items() if v == "val"}, **split_by_patient(rest, 0.2, seed=0)}
    write_split(dataset, assignment, path, seed=0, val_fraction=0.2)


def kermany_subset(path: Path, images: int) -> None:
    """Kermany split as `edgecxr train` makes it (same seed and fraction, so the same validation
    patients), with training cut to about ``images`` images of whole patients, stratified by class."""
    if path.exists():
        return
    import random

    from edgecxr.config import recipe_config
    from edgecxr.data.dataset import scan_folder
    from edgecxr.data.split import split_by_patient, write_split

    dataset = scan_folder(SHARED / "kermany224")
    assignment = split_by_patient(dataset, recipe_config().val_fraction, seed=0)
    train = [s for s in dataset.samples if assignment[s.path] == "train"]
    keep: set[Path] = set()
    for k in range(len(dataset.classes)):
        of_class = [s for s in train if s.labels[0] == k]
        patients = sorted({s.patient for s in of_class})
        random.Random(k).shuffle(patients)
        target, taken = images * len(of_class) / len(train), set()
        for pid in patients:
            if len(taken) >= target:
                break
            taken |= {s.path for s in of_class if s.patient == pid}
        keep |= taken
    subset = replace(dataset, samples=[s for s in dataset.samples if assignment[s.path] != "train" or s.path in keep])
    write_split(subset, assignment, path, seed=0, val_fraction=recipe_config().val_fraction)


def planned_config(system: System):
    from edgecxr.config import recipe_config

    return recipe_config(system.recipe, model=system.model, **system.shortened)


def reusable(run: Path, system: System) -> bool:
    """True when ``run`` holds a finished model trained as ``system`` says."""
    import tomllib

    if not (run / "model.keras").exists() or not (run / "config.toml").exists():
        return False
    config = tomllib.loads((run / "config.toml").read_text())
    planned = asdict(planned_config(system))
    return all(config.get(key) == planned[key] for key in ("recipe", "model", "epochs", "bn_momentum", "size"))


def figure(metrics: dict, task: str) -> str:
    """The headline figure of one model's metrics: binary accuracy (ROC-AUC), multi-class
    accuracy, multi-label macro ROC-AUC."""
    if task == "multilabel":
        return "-" if metrics.get("macro_roc_auc") is None else f"AUC {metrics['macro_roc_auc']:.3f}"
    text = f"{metrics['accuracy']['value']:.3f}"
    if task == "binary" and metrics["roc_auc"]["value"] is not None:
        text += f" ({metrics['roc_auc']['value']:.3f})"
    return text


def scored(report: dict | None, key: str) -> str:
    if report is None or key not in report["models"]:
        return "-"
    return figure(report["models"][key]["metrics"], report["task"])


def shortened(system: System) -> str:
    from edgecxr.config import recipe_config

    recipe = asdict(recipe_config(system.recipe))
    changes = [f"{k} {recipe[k]:g}->{v:g}" for k, v in system.shortened.items() if recipe[k] != v]
    if system.train_images:
        changes.append(f"train images ->{system.train_images}")
    return ", ".join(changes) or "-"


def system_row(system: System, data: Data, runs_root: Path) -> dict:
    from edgecxr.config import to_toml

    run = runs_root / system.name
    trained = "reused"
    if not reusable(run, system):
        train_data = data.train
        if system.train_images:
            subset = runs_root / f"kermany_train{system.train_images}.json"
            kermany_subset(subset, system.train_images)
            train_data = ("--split", subset)
        config = runs_root / f"{system.name}.toml"
        config.write_text(to_toml(planned_config(system)))
        started = time.perf_counter()
        edgecxr("train", "--config", config, *train_data, "--name", system.name, "--runs-root", runs_root, "--force")
        trained = f"{(time.perf_counter() - started) / 60:.1f} min"
    if not (run / "model_ptq_int8.tflite").exists() or (system.qat and not (run / "model_qat_int8.tflite").exists()):
        edgecxr("quantize", run, "--int8", *(["--qat"] if system.qat else []), "--force")
    val = edgecxr("evaluate", run, "--split", "val", "--force")
    ext = edgecxr("evaluate", run, *data.external, "--force") if data.external else None
    return {"paper": system.paper, "model": system.model, "recipe": system.recipe, "shortened": shortened(system),
            "paper_figure": system.reported, "val_n": val["dataset"]["n"],
            "val_float": scored(val, "keras_float"), "val_ptq": scored(val, "ptq_int8"), "val_qat": scored(val, "qat_int8"),
            "external": data.about if ext is None else f"{data.about} ({ext['dataset']['n']})",
            "ext_float": scored(ext, "keras_float"), "ext_ptq": scored(ext, "ptq_int8"), "ext_qat": scored(ext, "qat_int8"),
            "train": trained}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [s.name for s in SYSTEMS]
    p.add_argument("--systems", nargs="+", default=names, choices=names)
    p.add_argument("--runs-root", type=Path, default=REPO.parent / "runs-bench-papers")
    args = p.parse_args()
    from edgecxr.cli.common import table

    args.runs_root.mkdir(parents=True, exist_ok=True)
    covid3_split(args.runs_root / COVID3_SPLIT)
    data = data_table(args.runs_root)
    print(f"machine: {machine()}")
    rows = []
    for system in (s for s in SYSTEMS if s.name in args.systems):
        rows.append(system_row(system, data[system.data], args.runs_root))
        print(table(rows[-1:]), flush=True)
    print("\nbinary: accuracy (ROC-AUC) at the threshold chosen on validation; 3-class: accuracy; NIH multi-label: "
          "macro ROC-AUC. val = the run's patient-grouped validation split (binary thresholds chosen on it: "
          "optimistic). ptq/qat = int8 models; '-' = not made (QAT needs a foldable model; the papers' layer order "
          "is not foldable).")
    print(table(rows))


if __name__ == "__main__":
    main()

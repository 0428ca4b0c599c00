"""The published papers reproduced through the commands a user runs: each system edgecxr names,
trained with its paper's recipe (edgecxr.config.RECIPES) on the shared data, float and int8.

    python benchmarks/bench_papers.py [--systems NAME ...] [--runs-root DIR]

Per system: `edgecxr train --config` with the paper's recipe plus what had to be shortened
(a run already in --runs-root trained the same way is reused, not retrained), `edgecxr
quantize` (PTQ int8; QAT too where the model folds and it was affordable), then `edgecxr
evaluate` on the system's external images (an evaluation already in the run, newer than its
models, is reused). Printed: one table with the paper's own figure; edgecxr's validation
figure (float, from `train`; the int8 models as their float/int8 decision agreement on the
same validation images, measured by `quantize`); and the external figures, float and int8.

What "external" means differs by dataset, and says so in the table:
- Kermany-trained CNNs: covid3's Normal + Viral Pneumonia folders read as NORMAL / PNEUMONIA
  (near-copies of Kermany's separately acquired test split; 140 images, all pneumonia viral).
- Si's 3-class task: a held-out 20 % of covid3's patients (the split's `test` part), never
  used for training, thresholds or model selection.
- Mondal's NIH multi-label task: none. Its 799 images are 64x64 downscales made by a third
  party; the other NIH images are not here. Validation only, and at 64x64 (upsampled to the
  paper's 128x128 input) no figure is comparable with a paper's at full resolution.
Binary thresholds are chosen on validation only (so the validation figures of binary tasks are
optimistic). Epochs are shortened to what 2 shared cores allow (the `shortened` column): these
are not converged reproductions.
"""

from __future__ import annotations

import argparse
import json
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
    tag: str | None = None  # the folder under RUN/eval/ that `evaluate` writes for `external`


def data_table(runs_root: Path) -> dict[str, Data]:
    return {
        "kermany": Data(("--data", SHARED / "kermany224"),
                        ("--data", COVID3, "--class-map", EXTERNAL_MAP),
                        "covid3 Normal+Viral", "train"),
        "covid3": Data(("--split", runs_root / COVID3_SPLIT), ("--split", "test"),
                       "covid3 held-out 20 %", "test"),
        "nih": Data(("--data", NIH / "images", "--csv", NIH / "labels.csv"), None,
                    "none (NIH at 64x64)"),
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
    # the training and validation patients (int8 validation agreement on 1,047 images through
    # TFLite's reference kernels alone takes ~40 min for huynh_cnn3 under that load)
    shortened: dict = field(default_factory=dict)
    subset: tuple[int, int] | None = None  # (training, validation) images
    qat: bool = False  # QAT too (foldable models only, and only where affordable)


NOT_KNOWN = "not in this project's sources"
COLUMNS = ["paper", "model", "recipe", "shortened", "paper_figure", "val_n", "val_float", "val_agree_ptq",
           "val_agree_qat", "external", "ext_float", "ext_ptq", "ext_qat", "train_min"]
# Cheapest first: an interrupted benchmark still has the cheap rows. About 75 min of training
# in total on 2 cores shared with four other jobs (measured 4-30 training images/s for the
# CNNs under that load).
SYSTEMS = [
    System("si_edge_impulse", "Si (Edge Impulse)", "si-edge-impulse", "mobilenet_v1", "covid3",
           "85.5-89.3 % acc., int8 3.8 pts lower", qat=True),
    System("kirthan_cnn", "Kirthan", "kirthan", "kirthan_cnn", "kermany", NOT_KNOWN, {"epochs": 4, "bn_momentum": 0.9}),
    System("abdelaal_cnn", "Abdelaal", "abdelaal", "abdelaal_cnn", "kermany", "91.99 % acc. (Kermany test)",
           {"epochs": 3, "bn_momentum": 0.9}),
    System("huynh_cnn5", "Huynh et al.", "huynh", "huynh_cnn5", "kermany", NOT_KNOWN,
           {"epochs": 2, "bn_momentum": 0.9}, subset=(1000, 300)),
    System("mondal_xception", "Mondal et al.", "mondal", "mondal_xception", "nih", NOT_KNOWN + " (table I)",
           {"epochs": 4, "bn_momentum": 0.9}),
    System("huynh_cnn4", "Huynh et al.", "huynh", "huynh_cnn4", "kermany", NOT_KNOWN,
           {"epochs": 2, "bn_momentum": 0.9}, subset=(1000, 300)),
    System("huynh_cnn3", "Huynh et al.", "huynh", "huynh_cnn3", "kermany", NOT_KNOWN,
           {"epochs": 2, "bn_momentum": 0.9}, subset=(1000, 300)),
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


def kermany_subset(path: Path, images: tuple[int, int]) -> None:
    """Kermany split as `edgecxr train` makes it (same seed and fraction), each part then cut
    to about ``images`` (training, validation) images of whole patients, stratified by class."""
    if path.exists():
        return
    import random

    from edgecxr.config import recipe_config
    from edgecxr.data.dataset import scan_folder
    from edgecxr.data.split import split_by_patient, write_split

    dataset = scan_folder(SHARED / "kermany224")
    assignment = split_by_patient(dataset, recipe_config().val_fraction, seed=0)
    keep: set[Path] = set()
    for part, wanted in zip(("train", "val"), images):
        samples = [s for s in dataset.samples if assignment[s.path] == part]
        for k in range(len(dataset.classes)):
            of_class = [s for s in samples if s.labels[0] == k]
            patients = sorted({s.patient for s in of_class})
            random.Random(k).shuffle(patients)
            target, taken = wanted * len(of_class) / len(samples), set()
            for pid in patients:
                if len(taken) >= target:
                    break
                taken |= {s.path for s in of_class if s.patient == pid}
            keep |= taken
    subset = replace(dataset, samples=[s for s in dataset.samples if s.path in keep])
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
    if system.subset:
        changes.append("train/val images ->{}/{}".format(*system.subset))
    return ", ".join(changes) or "-"


def system_row(system: System, data: Data, runs_root: Path, train: bool = True) -> dict:
    from edgecxr.tomlio import to_toml

    run = runs_root / system.name
    if not reusable(run, system) and not train:
        return {"paper": system.paper, "model": system.model, "recipe": system.recipe, "shortened": shortened(system),
                "paper_figure": system.reported, "train_min": "not trained (--no-train)"}
    if not reusable(run, system):
        train_data = data.train
        if system.subset:
            subset = runs_root / "kermany_{}_{}.json".format(*system.subset)
            kermany_subset(subset, system.subset)
            train_data = ("--split", subset)
        config = runs_root / f"{system.name}.toml"
        config.write_text(to_toml(planned_config(system)))
        edgecxr("train", "--config", config, *train_data, "--name", system.name, "--runs-root", runs_root, "--force")
    if not (run / "model_ptq_int8.tflite").exists() or (system.qat and not (run / "model_qat_int8.tflite").exists()):
        edgecxr("quantize", run, "--int8", *(["--qat"] if system.qat else []), "--force")
    ext = external(run, data)
    task = json.loads((run / "spec.json").read_text())["task"]
    val = json.loads((run / "val_metrics.json").read_text())
    return {"paper": system.paper, "model": system.model, "recipe": system.recipe, "shortened": shortened(system),
            "paper_figure": system.reported, "val_n": val["images"], "val_float": figure(val, task),
            "val_agree_ptq": agreement(run, "ptq"), "val_agree_qat": agreement(run, "qat"),
            "external": data.about if ext is None else f"{data.about} ({ext['dataset']['n']})",
            "ext_float": scored(ext, "keras_float"), "ext_ptq": scored(ext, "ptq_int8"), "ext_qat": scored(ext, "qat_int8"),
            "train_min": f"{json.loads((run / 'manifest.json').read_text())['stages']['train']['seconds'] / 60:.1f}"}


def external(run: Path, data: Data) -> dict | None:
    """The external evaluation: the one already in the run when newer than its models, else
    `edgecxr evaluate` now."""
    if data.external is None:
        return None
    done = run / "eval" / data.tag / "eval.json"
    models = [f.stat().st_mtime for f in run.glob("model*") if f.is_file()]
    if done.exists() and done.stat().st_mtime > max(models):
        return json.loads(done.read_text())
    return edgecxr("evaluate", run, *data.external, "--force")


def agreement(run: Path, kind: str) -> str:
    """The int8 model's float/int8 decision agreement on validation, as `edgecxr quantize`
    measured it (a third pass of TFLite's reference kernels over 1,047 images would take longer
    than training the big CNNs here)."""
    from edgecxr.artifacts import recorded_agreement
    from edgecxr.runs import Run

    measured = recorded_agreement(Run.open(run)).get(f"model_{kind}_int8.tflite")
    return "-" if measured is None else f"{100 * measured['value']:.1f} %"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [s.name for s in SYSTEMS]
    p.add_argument("--systems", nargs="+", default=names, choices=names)
    p.add_argument("--runs-root", type=Path, default=REPO.parent / "runs-bench-papers")
    p.add_argument("--no-train", action="store_true", help="train nothing: systems without a run in --runs-root "
                   "get a row that says so")
    args = p.parse_args()
    from edgecxr.cli.common import table

    args.runs_root.mkdir(parents=True, exist_ok=True)
    covid3_split(args.runs_root / COVID3_SPLIT)
    data = data_table(args.runs_root)
    print(f"machine: {machine()}")
    rows = []
    for system in (s for s in SYSTEMS if s.name in args.systems):
        rows.append(system_row(system, data[system.data], args.runs_root, train=not args.no_train))
        print(table(rows[-1:], COLUMNS), flush=True)
    print("\nbinary: accuracy (ROC-AUC) at the threshold chosen on validation; 3-class: accuracy; NIH "
          "multi-label: macro ROC-AUC. val_float: the run's patient-grouped validation split; val_agree_ptq/qat: "
          "int8 decisions equal to float's on it; ext_*: the external images (covid3 Normal+Viral: its Normal and Viral "
          "Pneumonia folders read as NORMAL / PNEUMONIA; covid3 held-out: 20 % of its patients, never trained on; "
          "NIH: none, its 799 images are 64x64 third-party downscales of which no figure compares with a paper's "
          "at full resolution). '-' = not made (QAT needs a "
          "foldable model: the papers' layer order is not; Xception's QAT was not affordable here).")
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()

"""Recipes judged out of distribution: Kermany-trained models on covid3's Normal / Viral Pneumonia
folders read as NORMAL / PNEUMONIA (`evaluate --class-map`; near-copies of Kermany's separately
acquired test split, the closest thing to it here).

    python benchmarks/bench_external.py [--variants default mixup ...] [--runs-root DIR] [--qat]

Each variant is `edgecxr train --data KERMANY` with the overrides below on top of the default
recipe as it was when these were measured (40 epochs; a run already in --runs-root is reused,
not retrained), then `edgecxr quantize` (PTQ; --qat adds QAT), then `edgecxr evaluate` on the
external folders twice: one view (`--no-tta`) and the test-time zooms (`--tta`). Printed per
variant and view count: validation ROC-AUC (Keras, in process); external accuracy /
sensitivity / specificity / ROC-AUC (95 % intervals) at the threshold evaluate applies, chosen
on validation by the run's rule ("rule"; a run trained without test-time views gets its 3-view
threshold re-chosen on validation by that rule); external specificity / accuracy at the
maximum-Youden threshold on validation (never on the external images); and which int8 model
the run ships (edgecxr.artifacts.choose_int8) with its float/int8 agreement on the external
images.
Only 140 external images (70 / 70), and all of the pneumonia ones viral: the intervals are wide
and sensitivity there is lower than on Kermany's test, whose pneumonia is mostly bacterial.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_train_throughput import REPO, machine  # the sibling script (benchmarks/ is on sys.path)

SHARED = REPO.parent / "shared" / "data"
EXTERNAL_MAP = "Viral Pneumonia=PNEUMONIA,Normal=NORMAL,Covid="
# what every variant starts from on top of the default recipe (edgecxr.config.DEFAULT_RECIPE):
# the recipe as it was when the variants were measured (it is 80 epochs now, after `epochs80`,
# with pretraining and weight averaging, after `ssl_swa_epochs80`)
BASE = {"epochs": 40, "pretrain_epochs": 0, "average_fraction": 0.0}
# name -> TrainConfig overrides on top of BASE
VARIANTS = {
    "default": {},
    "strong_aug": {"aspect": 0.1, "sharpness": 0.5, "noise": 0.03, "rotation": 5.0, "shift": 0.05},
    "mixup": {"mixup": 0.2},
    "size128": {"size": 128},
    "ema": {"ema": 0.99},
    "intensity": {"gamma": 0.5, "contrast": 0.4, "brightness": 0.15, "sharpness": 0.3},
    "seed1": {"seed": 1},
    "epochs80": {"epochs": 80},  # twice as long (the cosine schedule stretched over 80 epochs)
    "epochs80_seed1": {"epochs": 80, "seed": 1},
    "seed2": {"seed": 2},
    # started from SimCLR weights pretrained on the training images without labels (benchmarks/bench_ssl.py
    # writes them under --runs-root first)
    "ssl": {"weights": "{root}/ssl-pretrain.keras"},
    "ssl_seed1": {"weights": "{root}/ssl-pretrain-seed1.keras", "seed": 1},  # pretrained on seed 1's training part
    # the mean of the second half's epochs, batch-norm statistics recomputed (average_fraction)
    "swa_epochs80": {"epochs": 80, "average_fraction": 0.5},
    "swa_epochs80_seed1": {"epochs": 80, "average_fraction": 0.5, "seed": 1},
    # SimCLR weights (as `ssl`) with 80 epochs, then also averaged: the default's two phases
    # (the default pretrains inside `train`, pretrain_epochs; these load bench_ssl.py's weights)
    "ssl_epochs80": {"weights": "{root}/ssl-pretrain.keras", "epochs": 80},
    "ssl_epochs80_seed1": {"weights": "{root}/ssl-pretrain-seed1.keras", "epochs": 80, "seed": 1},
    "ssl_swa_epochs80": {"weights": "{root}/ssl-pretrain.keras", "epochs": 80, "average_fraction": 0.5},
    "ssl_swa_epochs80_seed1": {"weights": "{root}/ssl-pretrain-seed1.keras", "epochs": 80, "average_fraction": 0.5,
                               "seed": 1},
    # the student of the six runs above averaged (they must exist under --runs-root first)
    "distill6": {"teacher": ",".join(f"{{root}}/{n}" for n in ("default", "strong_aug", "mixup", "size128",
                                                               "intensity", "seed1"))},
}


def edgecxr(*args) -> dict:
    proc = subprocess.run([sys.executable, "-m", "edgecxr", *map(str, args), "--json"], stdout=subprocess.PIPE,
                          text=True, cwd=REPO)
    if proc.returncode != 0:
        sys.exit(f"edgecxr {' '.join(map(str, args))} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scores(eval_dir: Path, key: str = "keras_float") -> tuple[list[int], list[float]]:
    """(true PNEUMONIA?, P(PNEUMONIA)) of one evaluation's predictions.csv."""
    rows = list(csv.DictReader((eval_dir / "predictions.csv").open()))
    return [int(r["true"] == "PNEUMONIA") for r in rows], [float(r[f"{key}:PNEUMONIA"]) for r in rows]


def val_scores(run: Path, zooms: list[float]) -> tuple[list[int], list[float]]:
    """(true PNEUMONIA?, Keras P(PNEUMONIA)) on the run's validation split, averaged over ``zooms``
    (in process: evaluate would also run every int8 model and kernel family on ~1000 images)."""
    from edgecxr.data.cache import load_pixels
    from edgecxr.device import tta
    from edgecxr.device.preprocess import to_float
    from edgecxr.runs import Run

    r = Run.open(run)
    spec, model = r.spec(), r.keras_model()
    dataset, assignment = r.split()
    val = [s for s in dataset.samples if assignment[s.path] == "val"]
    px = load_pixels([s.path for s in val], spec, progress=False)
    label = {str(s.path): s.labels[0] for s in val}
    p = tta.averaged(lambda x: model.predict(to_float(x), batch_size=128, verbose=0), zooms or [1.0])(px.x)
    return [label[str(f)] for f in px.paths], list(p[:, spec.labels.index("PNEUMONIA")])


def ci(m: dict) -> str:
    return "-" if m.get("value") is None else f"{m['value']:.3f} ({m['ci95'][0]:.2f}-{m['ci95'][1]:.2f})"


def variant_rows(name: str, run: Path, qat: bool) -> list[dict]:
    """The variant scored twice: one view, and test-time augmentation (`evaluate --tta`)."""
    if not (run / "model_ptq_int8.tflite").exists() or (qat and not (run / "model_qat_int8.tflite").exists()):
        edgecxr("quantize", run, *(["--qat"] if qat else []), "--force")
    return [scored(name, run, tta) for tta in ("--no-tta", "--tta")]


def scored(name: str, run: Path, tta: str) -> dict:
    from edgecxr.stats import binary_metrics, choose_threshold, roc_auc

    ext = edgecxr("evaluate", run, "--data", SHARED / "covid3" / "train", "--class-map", EXTERNAL_MAP, tta, "--force")
    y_val, p_val = val_scores(run, ext["tta_zooms"])
    f = ext["models"]["keras_float"]["metrics"]
    at_youden = binary_metrics(*scores(Path(ext["out_dir"])), choose_threshold(y_val, p_val, "youden"))
    chosen = ext["int8_model"]
    i8 = ext["models"][chosen["model"]]["metrics"]
    # the rule training recorded, or the one evaluate applied to views the run has no threshold for
    rule = ext["threshold"].get("rule") or json.loads((run / "val_metrics.json").read_text()).get("threshold_rule")
    return {"variant": name, "views": len(ext["tta_zooms"]) or 1,
            "rule": rule,
            "val_auc": f"{roc_auc(y_val, p_val):.4f}",
            "ext_acc": ci(f["accuracy"]), "ext_sens": ci(f["sensitivity"]), "ext_spec": ci(f["specificity"]),
            "ext_auc": ci(f["roc_auc"]), "youden_spec": f"{at_youden['specificity']['value']:.3f}",
            "youden_acc": f"{at_youden['accuracy']['value']:.3f}",
            "int8": chosen["model"], "int8_acc": f"{i8['accuracy']['value']:.3f}",
            "agree_ext": f"{ext['comparisons'][chosen['model']]['agreement']['value']:.4f}"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--data", type=Path, default=SHARED / "kermany224")
    p.add_argument("--runs-root", type=Path, default=REPO.parent / "runs-bench-external")
    p.add_argument("--qat", action="store_true", help="also QAT int8 (the choice rule then compares both)")
    args = p.parse_args()

    from edgecxr.cli.common import table
    from edgecxr.config import DEFAULT_RECIPE
    from edgecxr.tomlio import to_toml

    print(f"machine: {machine()}")
    print(f"recipe under test: {DEFAULT_RECIPE} + the overrides of each variant; external: {SHARED / 'covid3/train'} "
          f"--class-map \"{EXTERNAL_MAP}\"")
    rows = []
    for name in args.variants:
        run = args.runs_root / name
        if not (run / "model.keras").exists():
            from edgecxr.config import recipe_config

            overrides = {k: v.format(root=args.runs_root) if isinstance(v, str) else v
                         for k, v in {**BASE, **VARIANTS[name]}.items()}
            with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
                f.write(to_toml(recipe_config(DEFAULT_RECIPE, **overrides)))
            started = time.perf_counter()
            edgecxr("train", "--data", args.data, "--config", f.name, "--backbone", "none", "--name", name,
                    "--runs-root", args.runs_root, "--force")
            print(f"{name}: trained in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
        rows += variant_rows(name, run, args.qat)
        print(table(rows[-2:]), flush=True)
    print("\nexternal = covid3 Normal (70) + Viral Pneumonia (70); thresholds chosen on validation only:")
    print(table(rows))


if __name__ == "__main__":
    main()

"""Recipe ablation: which part of the cxr recipe helps, on validation and on a shifted validation.

    python benchmarks/bench_recipe_ablation.py [DATA] [--epochs 8] [--variants ei equalize ...]

The first four variants each add one change to the one before; the last two each add one
change to "+schedule_bn_auc" (edgecxr.config.RECIPES holds the endpoints). Each
trains MobileNetV1 0.25 96x96 on DATA (default ../shared/data/kermany224/train, patient-grouped
20 % validation, the same split for all) for ``--epochs`` (capped: a comparison, not the full
recipe) and prints, at each run's own validation-chosen threshold, accuracy / sensitivity /
specificity / ROC-AUC on validation and on the same images re-exposed (edgecxr.shift: random
gamma 0.6-1.6, contrast 0.7-1.3, brightness +-0.1 on the raw pixels, a proxy for another
scanner). Validation is carved from train/: it flatters; the shifted column is the warning light.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_train_throughput import REPO, machine  # the sibling script (benchmarks/ is on sys.path)

# (name, recipe, overrides). The cxr recipe's label smoothing is the last row's change, so it is
# switched off in the rows before it.
NO_SMOOTHING = {"label_smoothing": 0.0}
VARIANTS = [
    ("ei", "edge-impulse", {}),
    ("+equalize", "edge-impulse", {"normalize": "equalize"}),
    ("+cxr_aug", "edge-impulse", {"normalize": "equalize", "flip": False, "zoom_max": 1.15, "brightness": 0.1,
                                  "contrast": 0.2, "gamma": 0.25}),
    ("+schedule_bn_auc", "cxr", NO_SMOOTHING),  # + warm-up/cosine to 2e-3, BN 0.9, best epoch by val AUC
    ("+rotate_shift", "cxr", {**NO_SMOOTHING, "rotation": 5.0, "shift": 0.05}),  # not kept
    ("+label_smoothing", "cxr", {"label_smoothing": 0.1}),  # = the cxr recipe
]


def row(name: str, result, report: dict, seconds: float) -> dict:
    out = {"variant": name, "best_ep": result.best_epoch, "thr": f"{result.threshold:.3f}", "s": f"{seconds:.0f}"}
    for split, short in (("val", "val"), ("shifted_val", "shift")):
        m = report[split]
        for key, col in (("accuracy", "acc"), ("sensitivity", "sens"), ("specificity", "spec"), ("roc_auc", "auc")):
            out[f"{short}_{col}"] = f"{m[key]['value']:.3f}"
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "kermany224" / "train")
    p.add_argument("--epochs", type=int, default=8, help="epochs per variant (all variants the same)")
    p.add_argument("--variants", nargs="+", default=[v[0] for v in VARIANTS], choices=[v[0] for v in VARIANTS])
    p.add_argument("--runs-root", type=Path, default=None, help="keep the runs here (default: a temp folder)")
    args = p.parse_args()

    from edgecxr.cli.common import table
    from edgecxr.config import recipe_config
    from edgecxr.data.dataset import scan_folder
    from edgecxr.shift import run_val_report
    from edgecxr.train import train

    print(f"machine: {machine()}")
    print(f"data: {args.data}, {args.epochs} epochs per variant, MobileNetV1 0.25 96x96x1")
    dataset = scan_folder(args.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs_root or Path(tmp)
        for name, recipe, overrides in (v for v in VARIANTS if v[0] in args.variants):
            config = recipe_config(recipe, **{**overrides, "epochs": args.epochs})
            started = time.perf_counter()
            result = train(config, dataset, runs_root=root, name=name.strip("+"), force=True, progress=False)
            seconds = time.perf_counter() - started
            rows.append(row(name, result, run_val_report(result.run_dir), seconds))
            print(table(rows[-1:], list(rows[-1])), flush=True)
    print()
    print(table(rows, list(rows[0])))
    print("threshold: each run's own rule on validation (edge-impulse: Youden; cxr: highest with sens >= 0.95).")
    print("Validation comes from train/ and flatters; shifted = the same images re-exposed. Not a test result.")


if __name__ == "__main__":
    main()

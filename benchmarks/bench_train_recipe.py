"""The default training recipe (Edge Impulse's: 150 cycles, Adam 0.0005, batch 32, augmentation,
class balance) on Kermany's train folder with a 20 % patient-grouped validation split: wall
time and validation accuracy, sensitivity, specificity and ROC-AUC with 95 % intervals.

    python benchmarks/bench_train_recipe.py [DATA] [--model mobilenet_v1 ...] [--epochs N]
    python benchmarks/bench_train_recipe.py --published     # every published CNN, paper order

DATA defaults to ../shared/data/kermany224/train relative to the repository. Each model runs
at its own input size (``edgecxr models``). ``--epochs`` caps the recipe's 150 (early stopping
may end it sooner); say so when quoting the numbers. Targets (issue 3): the full recipe in
<= 20 minutes on a 2-core machine (the Edge Impulse paper: 20 minutes for 1,448 images).
Validation is carved from train/ and flatters every model: it is not a test result.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from bench_train_throughput import (  # the sibling script (benchmarks/ is on sys.path)
    REPO,
    machine,
)

PUBLISHED = ["huynh_cnn5", "huynh_cnn4", "huynh_cnn3", "abdelaal_cnn", "kirthan_cnn"]


def fmt(m: dict) -> str:
    if m.get("value") is None:
        return "-"
    return f"{m['value']:.3f} ({m['ci95'][0]:.3f}-{m['ci95'][1]:.3f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "kermany224" / "train")
    p.add_argument("--model", nargs="+", default=["mobilenet_v1"], help="models from `edgecxr models`")
    p.add_argument("--published", action="store_true", help="run every published CNN (paper layer order)")
    p.add_argument("--epochs", type=int, default=None, help="cap the recipe's 150 epochs")
    p.add_argument("--runs-root", type=Path, default=None, help="keep the runs here (default: a temp folder)")
    args = p.parse_args()

    from edgecxr.cli.common import table
    from edgecxr.config import TrainConfig
    from edgecxr.train import train

    models = PUBLISHED if args.published else args.model
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs_root or Path(tmp)
        for name in models:
            config = replace(TrainConfig(), model=name, **({"epochs": args.epochs} if args.epochs else {}))
            r = train(config, args.data, runs_root=root, name=f"recipe-{name}", force=True)
            m = r.val_metrics
            rows.append({"model": name, "input": "x".join(map(str, r.input_shape)), "params": r.params,
                         "epochs": f"{r.epochs_run}/{config.epochs} (best {r.best_epoch})",
                         "wall_min": round(r.seconds / 60, 1), "val_accuracy": fmt(m["accuracy"]),
                         "sensitivity": fmt(m["sensitivity"]), "specificity": fmt(m["specificity"]),
                         "roc_auc": fmt(m["roc_auc"]), "threshold": round(r.threshold, 3)})
            print(f"{name}: done in {r.seconds / 60:.1f} min", flush=True)
    print(f"machine: {machine()}")
    print(f"data: {args.data}; validation = 20 % of patients (seed 0); metrics at the validation-chosen threshold "
          "(Youden); 95 % CIs: Wilson (rates), bootstrap (ROC-AUC); wall_min = fit time (decoding excluded)")
    print(table(rows))


if __name__ == "__main__":
    main()

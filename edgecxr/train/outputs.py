"""What a finished training writes into its run: model.keras, spec.json, history (JSON and
CSV), val_metrics.json and curves.png, each atomically."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from edgecxr.artifacts import KERAS_MODEL
from edgecxr.device.spec import SPEC_FILE, ModelSpec
from edgecxr.files import write_json, write_text
from edgecxr.runs import Run


def write_outputs(run: Run, model, spec: ModelSpec, history: list[dict], metrics: dict) -> None:
    tmp = run.file(".model.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, run.file(KERAS_MODEL))
    finally:
        tmp.unlink(missing_ok=True)
    write_json(run.file(SPEC_FILE), spec.to_dict())
    write_json(run.file("history.json"), history)
    columns = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns)
    writer.writeheader()
    writer.writerows(history)
    write_text(run.file("history.csv"), buf.getvalue())
    write_json(run.file("val_metrics.json"), metrics)
    plot_curves(history, run.file("curves.png"))


def plot_curves(history: list[dict], out: Path) -> None:
    """Loss and AUC/accuracy per epoch, training vs validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key in zip(axes, ("loss", "accuracy", "auc")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = [h.get(prefix + key) for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, style, label=f"{'validation' if prefix else 'training'}")
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    tmp = out.with_name(f".{out.stem}.tmp.png")
    try:
        fig.savefig(tmp, dpi=90)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)

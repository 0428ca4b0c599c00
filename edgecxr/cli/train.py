"""`edgecxr train` and `edgecxr models`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, RunsRootOpt, emit, flag, table
from edgecxr.cli.root import app
from edgecxr.config import DEFAULT_RECIPE, RECIPES
from edgecxr.runs import DEFAULT_RUNS_ROOT


@app.command("train")
def train_command(
    data: Annotated[Path | None, typer.Option("--data", help="Dataset folder: CLASS/*.jpeg, or train|val|test/CLASS/*.jpeg (Kaggle's Kermany layout).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name from `edgecxr models` (default: mobilenet_v1).")] = None,
    alpha: Annotated[float | None, typer.Option("--alpha", help="MobileNetV1 width multiplier: 0.1 0.2 0.25 0.35 0.5 0.75 1.0 (default: 0.25).")] = None,
    size: Annotated[int | None, typer.Option("--size", help="Input width = height in pixels (default: the model's, 96 for mobilenet_v1).")] = None,
    channels: Annotated[int | None, typer.Option("--channels", help="1 (gray) or 3 (default: the model's).")] = None,
    recipe: Annotated[str | None, typer.Option("--recipe", help="Recipe (edgecxr.config.RECIPES): cxr (default; equalized input, SimCLR pretraining on the training images, X-ray augmentation, warm-up + cosine, the mean of the second half's epochs) edge-impulse (Edge Impulse's defaults), or a published paper's own, which trains that paper's model: abdelaal, kirthan, huynh, si-edge-impulse, mondal. --config and flags override it.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help=f"Training cycles (default: the recipe's, {RECIPES[DEFAULT_RECIPE]['epochs']} for {DEFAULT_RECIPE}).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Images per step (default: 32).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help=f"Adam (peak) learning rate (default: the recipe's, {RECIPES[DEFAULT_RECIPE]['learning_rate']} for {DEFAULT_RECIPE}).")] = None,
    val_fraction: Annotated[float | None, typer.Option("--val-fraction", help="Share of patients held out for validation (default: 0.2).")] = None,
    no_augment: Annotated[bool, flag("--no-augment", help="Turn augmentation off (all of the recipe's).")] = False,
    flip: Annotated[bool | None, flag("--flip/--no-flip", help="Random horizontal flip (cxr: off, it moves the heart; edge-impulse: on).")] = None,
    teacher: Annotated[str | None, typer.Option("--teacher", help="Distil from this finished run, or several comma-separated (their averaged outputs; same labels, task and normalization; each its own input size).")] = None,
    distill_alpha: Annotated[float | None, typer.Option("--distill-alpha", help="Weight of the labels in the distillation loss; 1 - alpha goes to the teacher (default: 0.5).")] = None,
    distill_temperature: Annotated[float | None, typer.Option("--distill-temperature", help="Softening temperature T of the distillation loss (default: 2).")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Labels from this CSV (one row per image; NIH ChestX-ray14 style) instead of class folders; --data is the image folder.")] = None,
    image_col: Annotated[str, typer.Option("--image-col", help="CSV column of the image file name.")] = "Image Index",
    label_col: Annotated[str, typer.Option("--label-col", help="CSV column of the labels.")] = "Finding Labels",
    patient_col: Annotated[str | None, typer.Option("--patient-col", help="CSV column of the patient id (default 'Patient ID'; pass '' to take it from file names).")] = "Patient ID",
    label_sep: Annotated[str, typer.Option("--label-sep", help="Separator of several labels in one cell (multi-label).")] = "|",
    no_balance: Annotated[bool, flag("--no-balance", help="Do not weight classes by inverse frequency.")] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed; the same seed gives the same run (default: 0).")] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="Pretrained backbone (.h5/.keras), loaded by layer name; mismatches are skipped and listed.")] = None,
    backbone: Annotated[str | None, typer.Option("--backbone", help="Start from a cached chest X-ray backbone "
                                                 "(`edgecxr backbone list`): NAME, none, or auto (default: the "
                                                 "default backbone when the training split is small).")] = None,
    pretrain_epochs: Annotated[int | None, typer.Option("--pretrain-epochs", help=f"Self-supervised (SimCLR) epochs on the training images, labels unused, before training; only a run that starts from no backbone or weights (default: the recipe's, {RECIPES[DEFAULT_RECIPE]['pretrain_epochs']} for {DEFAULT_RECIPE}; 0 skips it).")] = None,
    average_fraction: Annotated[float | None, typer.Option("--average-fraction", help=f"Keep the mean of the weights after each epoch of this last fraction of the run, batch-norm statistics recomputed (default: the recipe's, {RECIPES[DEFAULT_RECIPE]['average_fraction']} for {DEFAULT_RECIPE}; 0 keeps the best epoch by the monitor).")] = None,
    split: Annotated[Path | None, typer.Option("--split", help="Use this split.json (from `edgecxr data split`) instead of splitting --data.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file of TrainConfig keys (e.g. a run's config.toml); flags override it.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run name (default: run-<date>-<time>).")] = None,
    runs_root: RunsRootOpt = DEFAULT_RUNS_ROOT,
    force: ForceOpt = False,
    resume: Annotated[bool, flag("--resume", help="Continue run --name from its last checkpoint, with its own config and split.")] = False,
    as_json: JsonOpt = False,
):
    """Train a float model into runs/<name>/ (the cxr recipe by default). Not a medical device."""
    from edgecxr.config import load_train_config
    from edgecxr.train import train

    overrides = {"model": model, "alpha": alpha, "size": size, "channels": channels, "epochs": epochs,
                 "batch_size": batch_size, "learning_rate": lr, "val_fraction": val_fraction, "seed": seed,
                 "weights": str(weights) if weights else None, "backbone": backbone, "pretrain_epochs": pretrain_epochs,
                 "average_fraction": average_fraction,
                 "augment": False if no_augment else None, "balance": False if no_balance else None,
                 "flip": flip, "teacher": teacher, "distill_alpha": distill_alpha,
                 "distill_temperature": distill_temperature}
    if pretrain_epochs and (weights or backbone not in (None, "none", "auto")):
        from edgecxr.errors import ConfigError

        raise ConfigError(f"--pretrain-epochs {pretrain_epochs} with --{'weights' if weights else 'backbone'}: "
                          "pretraining runs only on a run that starts from no weights",
                          "drop --pretrain-epochs, or pass --backbone none to pretrain from scratch")
    cfg = load_train_config(config, overrides, recipe)
    if csv is not None and not resume:
        from edgecxr.data.dataset import load_dataset

        data = load_dataset(data or csv.parent, csv, image_col=image_col, label_col=label_col,
                            patient_col=patient_col or None, sep=label_sep)
    result = train(cfg, data, runs_root=runs_root, name=name, force=force, resume=resume, split=split)
    emit(result.to_dict(), as_json, _print_result)


def _kept(r: dict) -> str:
    """Which weights the run kept: the mean of its last epochs, or its best epoch."""
    averaged = r["val_metrics"].get("averaged_epochs")
    return f"mean of epochs {averaged[0]}-{averaged[1]}" if averaged else f"best {r['best_epoch']}"


def _print_result(r: dict) -> None:
    m = r["val_metrics"]
    if m.get("pretrained"):
        p = m["pretrained"]
        typer.echo(f"pretrained: SimCLR on {p['images']} training images, {p['epochs']} epochs, {p['seconds']:.0f} s "
                   "(--pretrain-epochs 0 skips it)")
    if r.get("backbone") and r["backbone"] != "none":
        typer.echo(f"started from backbone {r['backbone']} (`edgecxr backbone show {r['backbone']}`; "
                   "--backbone none trains from scratch)")
    typer.echo(f"run: {r['run_dir']}  ({r['model']}, {r['recipe']} recipe, {r['task']}, {r['epochs_run']} epochs, {_kept(r)}, "
               f"{r['seconds']:.0f} s, {r['images_per_second']:.0f} images/s)")
    typer.echo(f"validation ({r['val_images']} images, patient-grouped):")
    for key in ("accuracy", "sensitivity", "specificity", "roc_auc", "macro_roc_auc"):
        if key in m:
            v = m[key] if isinstance(m[key], dict) else {"value": m[key], "ci95": [None, None]}
            ci = f"  (95% CI {v['ci95'][0]:.3f}-{v['ci95'][1]:.3f})" if v["ci95"][0] is not None else ""
            typer.echo(f"  {key:<12} {v['value']:.3f}{ci}" if v["value"] is not None else f"  {key:<12} -")
    if r["threshold"] is not None:
        typer.echo(f"  threshold    {r['threshold']:.4f} on P({m.get('positive_label')}), chosen on validation "
                   f"({m.get('threshold_rule')})")
    typer.echo("Validation comes from the training folder and flatters; measure on a held-out test set. "
               "Not a medical device.")


@app.command("models")
def models_command(as_json: JsonOpt = False):
    """List the model table: input, output, parameters, MACs, int8 size estimate, paper."""
    from edgecxr.models.zoo import MODELS, describe

    rows = [describe(name) for name in MODELS]
    emit({"models": rows}, as_json, _print_models)


def _print_models(result: dict) -> None:
    typer.echo(table(result["models"], ["name", "input", "output", "params", "macs", "int8_kb", "foldable"]))
    typer.echo("foldable=False: the paper's order (activation before batch-norm); its *_foldable twin folds and "
               "takes QAT. int8_kb is an estimate.")

"""`edgecxr backbone build|list|show`: chest X-ray backbones cached on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, emit, table
from edgecxr.cli.root import app as root_app

backbone_app = typer.Typer(help="Build, list and inspect the chest X-ray backbones `train --backbone` starts from.",
                           no_args_is_help=True)
root_app.add_typer(backbone_app, name="backbone")
NameArg = Annotated[str, typer.Argument(help="Backbone name (see `edgecxr backbone list`).")]


@backbone_app.command("build")
def build_cmd(
    name: NameArg = "kermany-mnv1",
    data: Annotated[Path | None, typer.Option("--data", help="The dataset folder (default: EDGECXR_SHARED_DATA/"
                                                 "<folder> or ../shared/data/<folder>).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Override the recipe's epochs.")] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
):
    """Build a backbone from its public dataset (its recipe, or SimCLR) and cache it (with provenance)."""
    from edgecxr.backbone import build
    from edgecxr.train import train

    emit(build(train, name, data, force=force, epochs=epochs), as_json, _show)


@backbone_app.command("list")
def list_cmd(as_json: JsonOpt = False):
    """Every backbone edgecxr knows, and whether it is built on this machine."""
    from edgecxr.backbone import cache_root, cached

    emit({"cache": str(cache_root()), "backbones": cached()}, as_json,
         lambda r: (typer.echo(f"cache: {r['cache']}"),
                    typer.echo(table(r["backbones"], ["name", "state", "method", "dataset", "license",
                                                      "val_roc_auc", "val_accuracy", "about"]))))


@backbone_app.command("show")
def show_cmd(name: NameArg, as_json: JsonOpt = False):
    """A built backbone's provenance: dataset, license, recipe, seed, figures, checksum."""
    from edgecxr.backbone import info

    emit(info(name), as_json, _show)


# backbone.json figures -> how `show` names them (split and train_images have their own places)
FIGURE_NAMES = {"roc_auc": "ROC-AUC", "accuracy": "accuracy", "best_epoch": "best epoch",
                "nt_xent": "NT-Xent loss (last epoch)"}


def _show(m: dict) -> None:
    i, f = m["input"], m["figures"]
    labels = f"labels {', '.join(m['labels'])}" if m["labels"] else "no labels"
    typer.echo(f"{m['name']}: {m['model']} alpha {m['alpha']}, {i['width']}x{i['height']}x{i['channels']}, "
               f"{i['normalize']} / {i['resize_mode']}; {labels}")
    typer.echo(f"dataset: {m['dataset']} ({m['license']}) from {m['data']}")
    typer.echo(f"recipe: {m['recipe']}, method {m.get('method', 'supervised')}, {m['config']['epochs']} epochs, "
               f"seed {m['seed']}, {f['train_images']} training images, {m['seconds']:.0f} s, built {m['created']}")
    averaged = f.get("averaged_epochs")  # then the best epoch is not the model's
    typer.echo(f"{f['split']}: " + ", ".join(f"{name} {f[k]:.4f}" if isinstance(f[k], float) else f"{name} {f[k]}"
                                           for k, name in FIGURE_NAMES.items()
                                           if k in f and not (averaged and k == "best_epoch")))
    if f.get("pretrained"):
        typer.echo(f"pretrained: SimCLR, {f['pretrained']['epochs']} epochs on the training images")
    if averaged:
        typer.echo(f"weights: the mean of epochs {averaged[0]}-{averaged[1]}")
    typer.echo(f"file: {m['path']} (sha256 {m['sha256'][:16]}...)")

"""`edgecxr demo`: the whole pipeline on a built-in synthetic dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, SeedOpt
from edgecxr.cli.root import app


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the synthetic data, the run and the bundle.")]
    = Path("edgecxr-demo"),
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs (the demo is meant to be quick).")]
    = 20,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
):
    """Make a synthetic chest X-ray set and run every stage on it: data, train, quantize,
    evaluate, bench, export. Takes a few minutes on 2 cores."""
    from edgecxr.demo import run_demo

    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not force:
        from edgecxr.errors import RunError

        raise RunError(f"{out} already exists", "pass --force to run the demo again there, or choose --out")
    from edgecxr.cli.common import emit

    emit(run_demo(out, epochs=epochs, seed=seed, force=force), as_json, _print)


def _print(s: dict) -> None:
    d, t, e, b, x = s["data"], s["train"], s["evaluate"], s["bench"], s["export"]
    counts = ", ".join(f"{split}: " + "/".join(str(v) for v in row.values()) for split, row in d["counts"].items())
    typer.echo(f"data      {d['folder']}  ({counts}; {d['patients']} patients)")
    val = t["val"]
    auc = val.get("roc_auc", {})
    typer.echo(f"train     {t['run']}  {t['epochs']} epochs in {t['seconds']} s; val ROC-AUC "
               f"{_v(auc)}")
    for f, a in s["quantize"].items():
        typer.echo(f"quantize  {f}: {a['bytes'] / 1024:.0f} KB in {a['seconds']} s")
    typer.echo(f"evaluate  {e['images']} held-out images, threshold {e['threshold']:.3f} (chosen on validation)")
    for key, m in e["models"].items():
        agree = m["agreement_with_keras"]
        typer.echo(f"          {key:<14} accuracy {m['accuracy']:.3f}"
                   + (f"  agreement with Keras float {agree:.3f}" if agree is not None else ""))
    typer.echo(f"          report: {e['report']}")
    for row in b["host"]["results"]:
        typer.echo(f"bench     host {row.get('model')} {row.get('runtime')} ({row.get('kernels')} kernels) "
                   f"p50 {row.get('p50_ms', float('nan')):.3f} ms")
    board = b["board"]
    typer.echo(f"bench     {board['board']}: {board['verdict']} "
               f"(RAM {board['ram_needed_kb']:.0f}/{board['ram_available_kb']:.0f} KB, "
               f"flash {board['flash_needed_kb']:.0f}/{board['flash_kb']:.0f} KB"
               + (f"; measured on {board['measured_on']}: {board['latency_ms_edgecxr']} ms with edgecxr's engine)"
                  if board.get("measured_on") else "; estimated)"))
    typer.echo(f"export    {x['folder']}  (+ {Path(x['archive']).name})")
    typer.echo(f"          ships {x['model']}: {x['model_reason']}")
    typer.echo("Not a medical device: synthetic data, for showing the pipeline only.")
    typer.echo(f"next: your own images (one folder per class): edgecxr train --data FOLDER --name mine, then "
               f"edgecxr quantize mine, edgecxr evaluate mine, edgecxr export mine; open {e['report']} to see "
               "what evaluate reports")


def _v(metric) -> str:
    if isinstance(metric, dict) and metric.get("value") is not None:
        lo, hi = metric.get("ci95", [None, None]) if isinstance(metric.get("ci95"), list) else (None, None)
        return f"{metric['value']:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
    return str(metric)

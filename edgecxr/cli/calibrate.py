"""`edgecxr calibrate RUN --data SITE`: the operating point chosen on a site's own labelled images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, RunArg, RunsRootOpt, SeedOpt, emit, table
from edgecxr.cli.root import app
from edgecxr.runs import DEFAULT_RUNS_ROOT


@app.command("calibrate")
def calibrate_cmd(
    run: RunArg,
    data: Annotated[Path, typer.Option("--data", help="The site's labelled images: a folder of class folders "
                                       "(at least 20 of each class), none of them trained on.")],
    sensitivity: Annotated[float, typer.Option("--sensitivity", help="Target sensitivity: the threshold is the "
                                               "highest that reaches it on the site's images.")] = 0.95,
    class_map: Annotated[str | None, typer.Option("--class-map", help="Read the folder's classes as the model's "
                                                  "labels: 'DATA=LABEL,...'; 'DATA=' drops a class (as for "
                                                  "`edgecxr evaluate`).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Calibration name, RUN/calibration/NAME (default: "
                                             "the data folder's name); `export --calibration NAME` ships it.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Which int8 model: ptq or qat (default: the one "
                                              "export ships).")] = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    runs_root: RunsRootOpt = DEFAULT_RUNS_ROOT,
    as_json: JsonOpt = False,
):
    """Choose a binary run's threshold on a site's own images for a target sensitivity, with what it costs."""
    from edgecxr.calibrate import CalibrateOptions, calibrate
    from edgecxr.evaluate.classmap import parse_class_map
    from edgecxr.runs import Run

    options = CalibrateOptions(data, sensitivity, parse_class_map(class_map) if class_map is not None else None,
                               name, model, force, seed)
    emit(calibrate(Run.open(run, runs_root), options), as_json, _human)


def _ci(m: dict, signed: bool = False) -> str:
    if m["value"] is None:
        return "-"
    f = "{:+.3f}" if signed else "{:.3f}"
    lo, hi = m["ci95"]
    return f"{f.format(m['value'])} [{f.format(lo)}, {f.format(hi)}]"


def _human(r: dict) -> None:
    images = ", ".join(f"{n} {label}" for label, n in r["images"].items())
    typer.echo(f"site calibration {r['name']} of {r['run']} ({r['model']['kind']} int8, {r['model']['kernels']} "
               f"kernels) on {r['data']}: {images} images, {r['patients']} patients; target sensitivity "
               f"{r['target_sensitivity']:g}")
    for path, p in r["paths"].items():
        views = f" x{len(p['views'])} (zooms {', '.join(f'{z:g}' for z in p['views'])})" if p["views"] else ""
        typer.echo(f"\n{path}{views}: {p['spec_key']} for {p['runs_on']}; ROC-AUC here {_ci(p['roc_auc'])}")
        validation = p["validation_threshold"]
        rows = [{"threshold": "site", "value": p["threshold"], "sensitivity [95 % CI]": _ci(p["site"]["sensitivity"]),
                 "specificity [95 % CI]": _ci(p["site"]["specificity"])},
                {"threshold": "validation", "value": validation if validation is not None else "none (0.5)",
                 "sensitivity [95 % CI]": _ci(p["validation"]["sensitivity"]),
                 "specificity [95 % CI]": _ci(p["validation"]["specificity"])},
                {"threshold": "site - validation", "value": "",
                 "sensitivity [95 % CI]": _ci(p["change"]["sensitivity"], signed=True),
                 "specificity [95 % CI]": _ci(p["change"]["specificity"], signed=True)}]
        typer.echo(table(rows))
    for note in r["notes"]:
        typer.echo(f"note: {note}")
    typer.echo(f"\nwritten: {r['out']} (the run's spec.json is unchanged)")
    typer.echo(f"ship it: edgecxr export {r['run']} --calibration {r['name']}")

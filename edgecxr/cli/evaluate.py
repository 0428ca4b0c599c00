"""`edgecxr evaluate RUN [--data PATH]`: every model of the run side by side, float vs int8."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, RunArg, RunsRootOpt, SeedOpt, emit, flag, table
from edgecxr.cli.root import app
from edgecxr.device.runtime import ALL_KERNELS, CHAIN, DEFAULT_KERNELS


@app.command("evaluate")
def evaluate_cmd(
    run: RunArg,
    data: Annotated[Path | None, typer.Option(help="A folder of class folders to evaluate (e.g. your "
                                                  "held-out test split); default: the run's validation split.")] = None,
    split: Annotated[str | None, typer.Option(help="Which split: of the run's split.json without --data "
                                                 "(default val), or the folder's train/val/test subfolder "
                                                 "with --data (default test).")] = None,
    runtime: Annotated[str | None, typer.Option(help=f"TFLite interpreter: {' | '.join(CHAIN)} "
                                                   "(default: the first installed).")] = None,
    kernels: Annotated[str, typer.Option(help=f"Kernel family for int8 models: {' | '.join(ALL_KERNELS)}. "
                                              "reference = what a microcontroller computes, bit for bit; the "
                                              "others are also run and their differences reported.")] = DEFAULT_KERNELS,
    target_sensitivity: Annotated[float | None, typer.Option(help="Binary: choose the threshold on the "
                                                                "validation split for this sensitivity "
                                                                "(e.g. 0.95) instead of spec.json's.")] = None,
    class_map: Annotated[str | None, typer.Option(help="Read another dataset's class folders as the model's "
                                                     "labels: 'DATA=LABEL,...'; 'DATA=' drops a class (e.g. "
                                                     "\"Viral Pneumonia=PNEUMONIA,Normal=NORMAL,Covid=\"). "
                                                     "Unnamed classes keep their name if the model has it, "
                                                     "else are dropped; drops are counted.")] = None,
    tta: Annotated[bool | None, flag("--tta/--no-tta", help="Average the models over centred test-time "
                                                                  "zooms (one inference each; edgecxr.device.tta). "
                                                                  "Default: spec.json's zooms with their threshold; "
                                                                  "a run without them: the default zooms, threshold "
                                                                  "chosen on validation by the run's rule.")] = None,
    exclude_train: Annotated[bool, flag(help="Drop images that were in the run's training split "
                                                "instead of refusing the data.")] = False,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    runs_root: RunsRootOpt = Path("runs"),
):
    """Evaluate Keras float, TFLite float, PTQ int8 and QAT int8 on the same images, with 95 % intervals."""
    from edgecxr.errors import ConfigError
    from edgecxr.evaluate.classmap import parse_class_map
    from edgecxr.evaluate.stage import EvalOptions, evaluate
    from edgecxr.runs import Run
    from edgecxr.runtimes import check_kernels

    if runtime is not None and runtime not in CHAIN:
        raise ConfigError(f"unknown runtime {runtime!r}", f"choose one of {', '.join(CHAIN)}")
    check_kernels(kernels)
    result = evaluate(Run.open(run, runs_root), EvalOptions(
        data=data, split=split, runtime=runtime, kernels=kernels, target_sensitivity=target_sensitivity,
        exclude_train=exclude_train, force=force, seed=seed, tta=tta,
        class_map=parse_class_map(class_map) if class_map is not None else None))
    emit(result.to_dict(), as_json, _human)


def _human(r: dict) -> None:
    from edgecxr.evaluate.report import confusion_text, kernel_family_lines, metric_rows

    ds, th = r["dataset"], r["threshold"]
    typer.echo(f"{ds['source']}: {ds['n']} images; threshold {th['value']} ({th['source']})")
    if r.get("tta_zooms"):
        typer.echo(f"test-time augmentation: {len(r['tta_zooms'])} inferences per image, probabilities averaged "
                   f"over centred zooms {', '.join(f'{z:g}' for z in r['tta_zooms'])}")
    for note in ds["notes"]:
        typer.echo(f"note: {note}")
    text = confusion_text(r)
    if text:
        typer.echo("\n" + text)
    typer.echo("\n" + table(metric_rows(r)))
    for key, cmp in r["comparisons"].items():
        flips = cmp["flips"]
        if flips:
            shown = ", ".join(Path(f["file"]).name for f in flips[:5])
            typer.echo(f"{r['models'][key]['title']}: {len(flips)} flips vs "
                       f"{r['models'][cmp['reference']]['title']} ({shown}{', ...' if len(flips) > 5 else ''})")
    for line in kernel_family_lines(r):
        typer.echo(line)
    if r.get("int8_model"):
        m = r["int8_model"]
        typer.echo(f"int8 model of the run (what export ships): {r['models'][m['model']]['title']} -- {m['reason']}")
    typer.echo(f"\nreport: {Path(r['out_dir']) / 'report.html'}  (not a medical device)")

"""`edgecxr quantize RUN --int8 / --qat`: float32, PTQ int8 and QAT int8 .tflite files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import ForceOpt, JsonOpt, RunArg, RunsRootOpt, SeedOpt, emit, flag, table
from edgecxr.cli.root import app
from edgecxr.quantize import DEFAULT_CALIBRATION_SIZE, DEFAULT_QAT_EPOCHS, DEFAULT_QAT_LR


@app.command("quantize")
def quantize_cmd(
    run: RunArg,
    int8: Annotated[bool, flag("--int8/--no-int8", help="Post-training full-integer quantization "
                                       "(int8 input/output, int8 ops only) -> model_ptq_int8.tflite.")] = True,
    qat: Annotated[bool, flag("--qat", help="Quantization-aware training from model.keras, then int8 "
                                      "conversion -> model_qat_int8.tflite.")] = False,
    calibration_size: Annotated[int, typer.Option(help="Training images (seeded, class-stratified) used to "
                                                  "calibrate the int8 ranges.")] = DEFAULT_CALIBRATION_SIZE,
    qat_epochs: Annotated[int, typer.Option(help="QAT fine-tuning epochs on the training split.")] = DEFAULT_QAT_EPOCHS,
    qat_lr: Annotated[float, typer.Option(help="QAT learning rate (Adam); keep it low.")] = DEFAULT_QAT_LR,
    allow_float_fallback: Annotated[bool, flag(help="Keep ops that have no int8 kernel in float32 "
                                                       "instead of refusing the model.")] = False,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    runs_root: RunsRootOpt = Path("runs"),
):
    """Convert a trained run to .tflite: always float32, plus PTQ int8 (--int8) and/or QAT int8 (--qat)."""
    from edgecxr.quantize import QuantizeOptions, quantize
    from edgecxr.runs import Run

    result = quantize(Run.open(run, runs_root), QuantizeOptions(
        int8=int8, qat=qat, calibration_size=calibration_size, seed=seed, allow_float_fallback=allow_float_fallback,
        qat_epochs=qat_epochs, qat_lr=qat_lr, force=force))
    emit(result.to_dict(), as_json, _human)


def _q(d: dict | None) -> str:
    return f"{d['scale']:.6g} / {d['zero_point']}" if d else "float32"


def _human(r: dict) -> None:
    rows = [{"file": a["file"], "KB": round(a["bytes"] / 1024, 1), "seconds": a["seconds"],
             "input scale / zp": _q(a["input"]), "output scale / zp": _q(a["output"]),
             "float ops": ", ".join(a["float_ops"]) or "-",
             "agrees with float (val)": f"{100 * a['agreement']['value']:.2f} %" if a.get("agreement") else "-",
             "note": "unchanged" if a["unchanged"] else ""} for a in r["artifacts"]]
    typer.echo(table(rows))
    if r["calibration"]:
        c = r["calibration"]
        typer.echo(f"calibration: {c['size']} training images, seed {c['seed']}, per class {c['per_class']}")
    if r.get("int8_model"):
        m = r["int8_model"]
        typer.echo(f"int8 model of the run (export, bench, deploy use it): {m['file']} -- {m['reason']}")
    typer.echo(f"written to {r['run']}; next: edgecxr evaluate {r['run']}")

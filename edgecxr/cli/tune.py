"""`edgecxr tune`: search width, input size and recipe under a board's RAM, flash and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import DevicesFileOpt, ForceOpt, JsonOpt, RunsRootOpt, emit, flag, table
from edgecxr.cli.root import app
from edgecxr.runs import DEFAULT_RUNS_ROOT

COLUMNS = ["id", "status", "val_acc", "val_sens", "val_spec", "int8_kb", "arena_kb", "ram_kb", "flash_kb",
           "latency_ms", "epochs", "pareto", "reason"]


@app.command("tune")
def tune_command(
    board: Annotated[str, typer.Option("--board", help="Board of the devices file (e.g. nano33ble, nucleo-l4r5zi, pico).")],
    data: Annotated[Path | None, typer.Option("--data", help="Dataset folder (class folders); validation is a patient-grouped 20 % of it.")] = None,
    budget_minutes: Annotated[float, typer.Option("--budget-minutes", help="Wall-clock budget for measuring and training all candidates.")] = 60.0,
    short: Annotated[bool, flag("--short", help="Two tiny candidates (alpha 0.1 at 32x32, two recipes), one epoch each: a smoke test / CI.")] = False,
    max_latency_ms: Annotated[float | None, typer.Option("--max-latency-ms", help="Prune candidates whose estimated latency on the board is above this.")] = None,
    devices_file: DevicesFileOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the tune folder under --runs-root (default: tune-<board>-<date>).")] = None,
    resume: Annotated[bool, flag("--resume", help="Continue tune --name after an interruption (its own board, data and budget).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (split, training).")] = 0,
    runs_root: RunsRootOpt = DEFAULT_RUNS_ROOT,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
):
    """Train candidate models that fit BOARD, report accuracy vs RAM/flash/latency and the Pareto front. Not a medical device."""
    from edgecxr.tune import tune

    result = tune(board, data, budget_minutes=budget_minutes, short=short, resume=resume, name=name,
                  runs_root=runs_root, devices_file=devices_file, max_latency_ms=max_latency_ms, seed=seed,
                  force=force)
    emit(result.to_dict(), as_json, _print_result)


def _print_result(r: dict) -> None:
    rows = [{"id": c["id"], "status": c["status"], "val_acc": c["val"].get("accuracy"),
             "val_sens": c["val"].get("sensitivity"), "val_spec": c["val"].get("specificity"),
             "int8_kb": c["int8_kb"] or c["int8_kb_estimate"], "arena_kb": c["arena_kb"], "ram_kb": c["ram_needed_kb"],
             "flash_kb": c["flash_needed_kb"], "latency_ms": c["latency_ms"], "epochs": c["epochs"],
             "pareto": "*" if c["pareto"] else "", "reason": c["reason"]} for c in r["candidates"]]
    typer.echo(f"tune: {r['tune_dir']}  (board {r['board']}, budget {r['budget_minutes']:g} min, "
               f"{r['epochs']} epochs per candidate, {r['seconds']:.0f} s)")
    typer.echo(table(rows, COLUMNS))
    typer.echo("val_* = PTQ int8 model on the patient-grouped validation split at its validation threshold; "
               "arena = measured TFLM tensor arena; latency = MACs estimate (edgecxr.bench.mcu); * = Pareto front "
               "(accuracy up; RAM, flash, latency down). Validation flatters; not a medical device.")

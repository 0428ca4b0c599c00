"""`edgecxr bench`: latency on the host or a Raspberry Pi, and the fit on a microcontroller."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import DevicesFileOpt, IdentityOpt, JsonOpt, PortOpt, SshConfigOpt, emit, flag, table
from edgecxr.cli.root import app

HOST_COLUMNS = ["model", "input_dtype", "runtime", "runtime_version", "kernels", "threads", "p50_ms", "p90_ms", "p99_ms",
                "images_per_s", "peak_rss_mb"]
EMU_COLUMNS = ["model", "runtime", "kernels", "emulated_p50_ms", "images", "bit_exact_with_host",
               "max_step_difference", "decisions_differ_from_host"]
FAMILY_COLUMNS = ["model", "runtime", "kernels", "vs", "images", "outputs_differ", "max_step_difference",
                  "decisions_differ"]
MCU_ROWS = ["board", "core", "clock_mhz", "model", "dtype", "arena_bytes", "ram_needed_kb", "ram_available_kb",
            "ram_margin_kb", "flash_needed_kb", "flash_kb", "flash_margin_kb", "macs", "latency_ms_reference",
            "latency_ms_optimized", "optimized_library", "latency_ms_edgecxr", "verdict"]


@app.command()
def bench(
    target: Annotated[str, typer.Argument(help="A .tflite file, or a run directory (all its .tflite files).")],
    device: Annotated[str, typer.Option("--device", help="A target of the devices file: host, rpi (over SSH), an "
                                        "emulated Pi (pi4-emu, pi5-emu), a microcontroller board (e.g. nano33ble, "
                                        "nucleo-l4r5zi, pico: the fit verdict), or an emulated Cortex-M board that "
                                        "runs the firmware (e.g. qemu-m4, qemu-m55); an unknown name lists them all.")] = "host",
    host: Annotated[str | None, typer.Option("--host", help="rpi: [USER@]HOST or a Host alias of "
                                                "~/.ssh/config.")] = None,
    port: PortOpt = None,
    identity: IdentityOpt = None,
    ssh_config: SshConfigOpt = None,
    remote_python: Annotated[str, typer.Option("--remote-python", help="rpi: Python on the device "
                                               "(e.g. a venv's bin/python3).")] = "python3",
    install: Annotated[bool, flag("--install", help="rpi: pip-install ai-edge-litert (or tflite-runtime) "
                                          "on the device when it has no runtime.")] = False,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed inferences per measurement.")] = 100,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed inferences first.")] = 10,
    threads: Annotated[list[int] | None, typer.Option("--threads", help="Interpreter threads (repeat for "
                                                         "several; host default: 1 and all cores).")] = None,
    runtime: Annotated[list[str] | None, typer.Option("--runtime", help="litert, tflite-runtime, tf.lite or "
                                                         "tflite-micro (repeat; default: all installed).")] = None,
    kernels: Annotated[list[str] | None, typer.Option("--kernels", help="Kernel family: reference, builtin, "
                                                         "xnnpack or engine (edgecxr's generated C; repeat; default: reference; emulated Pi: all); "
                                                         "qemu-*: reference or cmsis-nn (default both).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="host, emulated Pi: real preprocessed images from "
                                                 "this folder instead of random (or synthetic) inputs; qemu-*: the "
                                                 "images the firmware runs (default: the run's validation split).")] = None,
    tflm: Annotated[Path | None, typer.Option("--tflm", help="qemu-*: also build the firmware with TensorFlow Lite "
                                              "Micro from this tree, beside edgecxr's own engine (default: "
                                              "$EDGECXR_TFLM_DIR).")] = None,
    images: Annotated[int, typer.Option("--images", min=1, help="qemu-*: how many images the firmware "
                                        "classifies.")] = 50,
    layers: Annotated[bool, flag("--layers", help="qemu-*: also count instructions per layer "
                                         "(first image).")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds one benchmark run may take.")] = 600,
    devices_file: DevicesFileOpt = None,
    as_json: JsonOpt = False,
):
    """How fast a model runs on this computer or a Raspberry Pi, whether it fits a microcontroller, and
    what its firmware does on an emulated Cortex-M board."""
    from edgecxr.targets.result import BenchChoices
    from edgecxr.targets.table import get_target

    the_target = get_target(device, devices_file, "device", job="bench")
    choices = BenchChoices(runs, warmup, threads, runtime, kernels, data, timeout, host, port, identity, ssh_config,
                           remote_python, install, tflm, images, layers)
    emit(the_target.call("bench", target, choices).to_dict(), as_json, PRINTERS[the_target.kind])


QEMU_COLUMNS = ["engine", "kernels", "identical", "images", "instructions_per_inference", "instructions_per_mac", "flash_bytes",
                "ram_bytes", "stack_peak_bytes", "ram_total_bytes", "arena_used_bytes"]


def _print_int8_model(result: dict) -> None:
    if "int8_model" in result:
        m = result["int8_model"]
        typer.echo(f"int8 model of the run (what export ships): {m['file']} -- {m['reason']}")


def _print_qemu(result: dict) -> None:
    _print_int8_model(result)
    typer.echo(f"{result['board']}: {result['model']}, {result['macs']} MACs, {result['images']} images from "
               f"{result['images_from']}")
    typer.echo(table(result["results"], QEMU_COLUMNS))
    for row in result["results"]:
        diff = row.get("first_difference")
        typer.echo(f"{row['engine']} {row['kernels']}: " + ("int8 outputs identical to the host's " + result["host_reference"]
                                             + f" on all {row['images']} images" if row["bit_exact"] else
                                             f"first difference on {diff['image']}: device {diff['device']}, "
                                             f"host {diff['host']}"))
        for i, layer in enumerate(row.get("layers", [])):
            typer.echo(f"  layer {i:>2} {layer['op']:<20} {layer['instructions']:>12}")
    typer.echo(f"note: {result['note']}")


def _print_emulated(result: dict) -> None:
    _print_int8_model(result)
    m = result["machine"]
    typer.echo(f"{result['device']}: {result['board']}, EMULATED by {m['emulated']} on this computer, Python {m['python']}; "
               f"outputs on {result['images']} compared with this computer")
    crashed = ["error"] if any("error" in r for r in result["results"]) else []
    typer.echo(table(result["results"], EMU_COLUMNS + crashed))
    if result["families"]:
        typer.echo("\nkernel families against the reference kernels, on the emulated board:")
        typer.echo(table(result["families"], FAMILY_COLUMNS))
    typer.echo(f"note: {result['note']}")


def _print_timings(result: dict) -> None:
    _print_int8_model(result)
    where = result.get("host", "this computer")
    m = result["machine"]
    typer.echo(f"{result['device']} ({where}): {m['cpu']}, {m['cores']} cores, Python {m['python']}"
               + (f", {m['board']}" if m.get("board") else "")
               + (f", throttled={m['throttled']}" if m.get("throttled") else "")
               + (f", EMULATED by {m['emulated']}" if m.get("emulated") else ""))
    typer.echo(table(result["results"], HOST_COLUMNS))
    if m.get("emulated"):
        typer.echo("note: timings under emulation are this computer's, not the board's")


def _print_verdict(result: dict) -> None:
    _print_int8_model(result)
    typer.echo(table([{"": k, "value": result[k]} for k in MCU_ROWS if k in result]))
    typer.echo(f"note: {result['estimate_note']}")
    typer.echo(f"operators: {', '.join(result['ops'])}")
    for line in result["advice"]:
        typer.echo(f"- {line}")


# target kind (edgecxr.targets.table.KINDS) -> how its bench result reads
PRINTERS = {"host": _print_timings, "ssh-pi": _print_timings, "emulated-pi": _print_emulated,
            "emulated-mcu": _print_qemu, "mcu": _print_verdict}

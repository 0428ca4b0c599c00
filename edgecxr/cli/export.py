"""`edgecxr export`, `edgecxr deploy`, `edgecxr flash`: the model out of the run and onto a device."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecxr.cli.common import (
    DevicesFileOpt,
    ForceOpt,
    IdentityOpt,
    JsonOpt,
    PortOpt,
    RunArg,
    RunsRootOpt,
    SshConfigOpt,
    emit,
    flag,
)
from edgecxr.cli.root import app
from edgecxr.export.formats import FORMATS, formats_help
from edgecxr.runs import DEFAULT_RUNS_ROOT

ModelOpt = Annotated[str | None, typer.Option("--model", help="Which int8 model: ptq or qat (default: the one "
                                                 "that agrees most with float on validation, as measured by "
                                                 "`edgecxr quantize`).")]


@app.command()
def export(
    run: RunArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"What to write. {formats_help()}.")] = "bundle",
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: RUN/export/<format>).")] = None,
    model: ModelOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="C name of the model array and files (default: the "
                                                "run's name; made a valid C identifier).")] = None,
    test_image: Annotated[Path | None, typer.Option("--test-image", help="Image the device self-test "
                                                       "classifies (default: the run's first validation image).")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="firmware: what runs the model, edgecxr (its own "
                                               "generated C, the default; no TFLM tree) or tflm (TensorFlow Lite "
                                               "Micro).")] = None,
    calibration: Annotated[str | None, typer.Option("--calibration", help="Ship the thresholds a site chose on "
                                                    "its own images (`edgecxr calibrate RUN --name NAME`) instead "
                                                    "of validation's, in every format.")] = None,
    force: ForceOpt = False,
    runs_root: RunsRootOpt = DEFAULT_RUNS_ROOT,
    as_json: JsonOpt = False,
):
    """Write the run's int8 model as .tflite, C header, Arduino library, Raspberry Pi folder or all (bundle)."""
    from edgecxr.export import ExportOptions
    from edgecxr.export import export as run_export
    from edgecxr.runs import Run

    result = run_export(Run.open(run, runs_root), ExportOptions(fmt, out=out, model=model, name=name,
                                                                test_image=test_image, force=force, engine=engine,
                                                                calibration=calibration))
    emit(result.to_dict(), as_json, _print_export)


def _print_export(r: dict) -> None:
    typer.echo(f"{r['format']}: {FORMATS[r['format']].writes} -> {r['out']}")
    typer.echo(f"model: {r['model']} ({r['model_reason']})")
    shipped = ", ".join(f"{path} {value:.4f}" for path, value in r["threshold"].items() if isinstance(value, float))
    typer.echo(f"threshold: {shipped or 'none'} ({r['threshold']['from']})")
    if "name" in r:
        renamed = f" (from {r['sanitized_from']!r}, made a valid C identifier)" if r.get("sanitized_from") else ""
        typer.echo(f"C name: {r['name']}{renamed}")
    if "tflm_ops" in r:
        typer.echo(f"TFLM ops: {', '.join(r['tflm_ops'])}; tensor arena {r['arena_size']} bytes")
    elif "plan" in r:
        typer.echo(f"engine: edgecxr, {r['layers']} layers, {r['macs']} MACs, static arena {r['arena_size']} bytes")
        typer.echo(r["plan"].rstrip())
    expected = r.get("expected") or r.get("selftest")
    for image in expected.get("images", [expected]) if expected else []:  # rpi: several, arduino: one
        typer.echo(f"self-test image {image['image']}: {image['label']} {image['scores']}")
    if "archive" in r:
        typer.echo(f"archive: {r['archive']}  sha256 {r['archive_sha256']}")
    if "metadata" in r:
        typer.echo(f"note: {r['metadata']}")


@app.command()
def deploy(
    run: RunArg,
    host: Annotated[str, typer.Option("--host", help="[USER@]HOST or a Host alias of ~/.ssh/config.")],
    device: Annotated[str, typer.Option("--device", help="A target of the devices file that installs over SSH "
                                        "(rpi: Linux over SSH).")] = "rpi",
    port: PortOpt = None,
    identity: IdentityOpt = None,
    ssh_config: SshConfigOpt = None,
    remote_dir: Annotated[str | None, typer.Option("--remote-dir", help="Folder on the device (default: "
                                                      "edgecxr/<run name> in the user's home).")] = None,
    install: Annotated[str, typer.Option("--install", help="venv: a venv in the folder + pip (default); python: "
                                         "pip into --python's environment; none: install nothing.")] = "venv",
    no_install: Annotated[bool, flag("--no-install", help="Same as --install none: use the device's "
                                             "existing Python and TFLite runtime.")] = False,
    python: Annotated[str, typer.Option("--python", help="Python on the device.")] = "python3",
    runtime: Annotated[str | None, typer.Option("--runtime", help="TFLite runtime for the self-test "
                                                   "(default: the first installed).")] = None,
    kernels: Annotated[str | None, typer.Option("--kernels", help="Kernel family the self-test checks: reference "
                                                   "(default), builtin or xnnpack.")] = None,
    model: ModelOpt = None,
    connect_timeout: Annotated[int, typer.Option("--connect-timeout", min=1, max=3600, help="Seconds to wait for the "
                                                 "SSH connection.")] = 10,
    runs_root: RunsRootOpt = DEFAULT_RUNS_ROOT,
    devices_file: DevicesFileOpt = None,
    as_json: JsonOpt = False,
):
    """Copy the Raspberry Pi bundle over SSH, verify its checksums, install it and run its self-test."""
    from edgecxr.deploy import DeployOptions
    from edgecxr.targets.table import get_target

    the_target = get_target(device, devices_file, "--device", job="install")
    options = DeployOptions(host, port, identity, ssh_config, remote_dir, "none" if no_install else install, python,
                            runtime, model, connect_timeout, runs_root, kernels)
    emit(the_target.call("install", run, options), as_json, _print_deploy)


def _print_deploy(r: dict) -> None:
    s = r["selftest"]
    typer.echo(f"deployed to {r['host']}:{r['remote_dir']} ({r['files_verified']} files match the manifest; "
               f"install: {r['install']})")
    typer.echo(f"self-test OK on {s['machine']}: {s['images']} images near the threshold, int8 outputs bit-exact "
               f"with {s['expected_from']} ({s['runtime']}, {s['kernels']} kernels)")
    for row in s["results"]:
        typer.echo(f"  {row['image']} -> {row['label']} {row['raw']} in {row['latency_ms']} ms")
    typer.echo(f"classify on the device: {r['python']} {r['remote_dir']}/classify.py --model "
               f"{r['remote_dir']}/model.tflite --spec {r['remote_dir']}/spec.json IMAGE...")


@app.command()
def flash(
    run: RunArg,
    board: Annotated[str, typer.Option("--board", help="A board of the devices file (e.g. nano33ble, or qemu-m4 to "
                                       "boot the firmware on QEMU).")],
    port: Annotated[str | None, typer.Option("--port", help="Serial port of the board (default: the port where "
                                                "`arduino-cli board list` finds a board of its fqbn; --dry-run "
                                                "prints /dev/ttyACM0).")] = None,
    dry_run: Annotated[bool, flag("--dry-run", help="Print the arduino-cli commands, run nothing "
                                          "(the bundle is still exported if the run has none).")] = False,
    model: ModelOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="Emulated boards: edgecxr (its own generated C, no TFLM "
                                         "tree) or tflm.")] = "edgecxr",
    tflm: Annotated[Path | None, typer.Option("--tflm", help="Emulated boards, --engine tflm: TensorFlow Lite Micro "
                                              "tree (default: $EDGECXR_TFLM_DIR).")] = None,
    kernels: Annotated[str, typer.Option("--kernels", help="Emulated boards, --engine tflm: cmsis-nn or "
                                         "reference.")] = "cmsis-nn",
    runs_root: RunsRootOpt = DEFAULT_RUNS_ROOT,
    devices_file: DevicesFileOpt = None,
    as_json: JsonOpt = False,
):
    """Build the firmware and load it: an emulated board (e.g. qemu-m4, qemu-m7, qemu-m3, qemu-m33,
    qemu-m55) boots it on QEMU and shows its serial output; a physical board gets the Arduino
    example through arduino-cli."""
    from edgecxr.targets.mcu import FlashOptions
    from edgecxr.targets.table import get_target

    the_target = get_target(board, devices_file, "board", job="flash")
    options = FlashOptions(port, dry_run, model, engine, tflm, kernels, runs_root)
    emit(the_target.call("flash", run, options), as_json, _print_flash)


def _print_flash(r: dict) -> None:
    if r.get("emulated"):
        typer.echo(f"$ {r['command']}")
        typer.echo(r["serial"].rstrip())
        same = r["selftest"]["raw"] == r["expected"]["raw"]
        typer.echo(f"host reference kernels: {r['expected']['label']} raw {r['expected']['raw']} -> "
                   + ("identical" if same else "DIFFERENT"))
        return
    if r["dry_run"]:
        typer.echo("# one-time setup (board core + TensorFlow Lite Micro library):")
        for c in r["setup"]:
            typer.echo(c)
        typer.echo(f"# build and upload to {r['board']} ({r['fqbn']}) on {r['port']}:")
    for c in r["commands"]:
        typer.echo(c)
    if not r["dry_run"]:
        typer.echo(f"flashed {r['board']}; watch it: arduino-cli monitor --port {r['port']} --config baudrate=115200")

"""`edgecxr bench MODEL --device pi4-emu|pi5-emu`: the Raspberry Pi runner on an emulated Pi
(edgecxr.bench.pi_emu), compared byte for byte with the same runner on this computer, for
each runtime and kernel family.

The int8 bytes depend on the kernel family as well as the model, so the report says, per
(runtime, family), how many images give the host's exact bytes and how many decisions change,
and how many decisions each family changes against the reference kernels. Timings are QEMU
user-mode emulation on this computer: the report labels them ``emulated_*`` so that they are
never read, or tabled, as a Pi's speed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edgecxr.bench import pi_emu, runner
from edgecxr.bench.host import model_files, spec_for
from edgecxr.device import decision
from edgecxr.device.preprocess import dequantize
from edgecxr.device.runtime import DEFAULT_KERNELS, KERNELS
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import DeviceError
from edgecxr.progress import log
from edgecxr.tflite_facts import io_quant

KERNEL_FAMILIES = list(KERNELS)
REFERENCE = DEFAULT_KERNELS  # the family every other one is compared with
SYNTHETIC_SEED = 14


@dataclass
class EmuOptions:
    runs: int = 20
    warmup: int = 2
    threads: int | None = None  # None: the runtime's default
    runtimes: list[str] | None = None  # None: pi_emu.DEFAULT_RUNTIMES
    kernels: list[str] | None = None  # None: every family
    data: Path | None = None  # folder of images; None: synthetic chest images
    images: int = 8  # how many images are compared
    timeout: float = 600  # seconds per runner call

    def __post_init__(self):
        from edgecxr.checks import check_number

        for name, flag in (("runs", "--runs"), ("warmup", "--warmup"), ("threads", "--threads"),
                           ("timeout", "--timeout")):
            check_number(name, getattr(self, name), flag)
        check_number("runs", self.images, "--images")


def synthetic_images(folder: Path, count: int, size: int) -> Path:
    """Seeded chest-like images (half with opacities), so outputs spread around the threshold."""
    from edgecxr.data.synth import chest_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SYNTHETIC_SEED)
    for i in range(count):
        Image.fromarray(chest_image(rng, size, opacities=3 * (i % 2))).save(folder / f"synth_{i:02d}.png")
    return folder


def _call(argv: list[str], where: str, runtime: str, timeout: float) -> dict:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"the runner on {where} ({runtime}) took over {timeout:g} s",
                          "raise --timeout, or use fewer --runs / --images") from None
    except OSError as e:  # the emulated board's python wrapper missing or not executable
        raise DeviceError(f"cannot start the runner on {where}: {e.strerror or e}",
                          "remove the emulated userland from the cache folder so that it is built again") from None
    return runner.parse_result(proc.returncode, proc.stdout, proc.stderr, where, runtime)


def _check_host_runtimes(runtimes: tuple[str, ...]) -> None:
    """Every runtime the board is compared on must run here too (the reference bytes): found
    before the emulated userland (hundreds of MB) is built."""
    from edgecxr.device import runtime as device_runtime

    missing = [r for r in runtimes if r in device_runtime.RUNTIMES and not device_runtime.installed(r)]
    if missing:
        wheels = " ".join(pi_emu.RUNTIME_WHEELS.get(r, r) for r in missing)
        raise DeviceError(f"runtime {', '.join(missing)} is not installed on this computer: the emulated board's "
                          "outputs are compared with this computer's", f"pip install {wheels}, or pass --runtime "
                          f"for the installed ones ({', '.join(device_runtime.available()) or 'none'})")


def _decisions(outputs: dict[str, list[int]], spec: ModelSpec, quant: dict) -> dict[str, object]:
    return {f: decision.label(dequantize(np.array(raw), quant["scale"], quant["zero_point"]), spec)
            for f, raw in outputs.items()}


def compare(device: dict[str, list[int]], host: dict[str, list[int]], spec: ModelSpec, quant: dict) -> dict:
    """Images with the same bytes, the largest difference in int8 steps, decisions that differ."""
    steps = [int(np.max(np.abs(np.array(device[f]) - np.array(host[f])))) for f in host]
    d, h = _decisions(device, spec, quant), _decisions(host, spec, quant)
    return {"images": len(host), "bit_exact": sum(s == 0 for s in steps), "max_step_difference": max(steps, default=0),
            "decisions_differ": sum(d[f] != h[f] for f in host)}


def _measure(python: Path, script: Path, args: list[str], where: str, runtime: str, timeout: float) -> tuple[dict, dict]:
    """(the emulated run's result, this computer's) for one runner call; a crash on the board is
    kept as the row's error (the other families still run), a crash here is raised."""
    host = _call([sys.executable, str(script), *args], "this computer", runtime, timeout)
    try:
        return _call([str(python), str(script), *args], where, runtime, timeout), host
    except DeviceError as e:
        if not runner.SIGNAL_NAME.search(e.message):
            raise
        return {"error": e.message.rsplit(": ", 1)[-1]}, host


def _row(model: Path, runtime: str, kernels: str, dev: dict, host: dict, spec: ModelSpec, quant: dict | None) -> dict:
    row = {"model": model.name, "runtime": runtime, "runtime_version": host["runtime_version"], "kernels": kernels}
    if "error" in dev:
        return {**row, "error": dev["error"]}
    row.update(threads=dev["threads"], emulated_p50_ms=dev["p50_ms"], emulated_p90_ms=dev["p90_ms"],
               emulated_images_per_s=dev["images_per_s"])
    if quant is not None:
        same = compare(dev["outputs"], host["outputs"], spec, quant)
        row.update(images=same["images"], bit_exact_with_host=same["bit_exact"],
                   max_step_difference=same["max_step_difference"], decisions_differ_from_host=same["decisions_differ"])
    return row


def _families(model: Path, runtime: str, on_device: dict, spec: ModelSpec, quant: dict) -> list[dict]:
    """Each family against the reference kernels, on the emulated board."""
    rows = []
    for kernels, outputs in on_device.items():
        if kernels != REFERENCE and REFERENCE in on_device:
            diff = compare(outputs, on_device[REFERENCE], spec, quant)
            rows.append({"model": model.name, "runtime": runtime, "kernels": kernels, "vs": REFERENCE,
                         "images": diff["images"], "outputs_differ": diff["images"] - diff["bit_exact"],
                         "max_step_difference": diff["max_step_difference"], "decisions_differ": diff["decisions_differ"]})
    return rows


def bench_emulated(target: str | Path, device: str, options: EmuOptions | None = None,
                   devices_file: Path | None = None) -> dict:
    """{"device", "emulated": True, "machine", "results": per (model, runtime, family), "families"}
    for ``device``, an emulated-pi row of the target table (``devices_file``, default the shipped one)."""
    from edgecxr.runtimes import check_kernels

    options = options or EmuOptions()
    for kernels in options.kernels or []:
        check_kernels(kernels)
    runtimes = tuple(options.runtimes or pi_emu.DEFAULT_RUNTIMES)
    board = pi_emu.board(device, devices_file)
    for rt in runtimes:
        pi_emu.check_runtime(rt)
    _check_host_runtimes(runtimes)
    python = pi_emu.userland(device, tuple(sorted({*pi_emu.DEFAULT_RUNTIMES, *runtimes})),  # one cached userland
                             devices_file=devices_file)
    where = f"{device} (emulated)"
    rows, families, machine = [], [], {}
    with tempfile.TemporaryDirectory(prefix="edgecxr-emu-") as tmp:
        script, _ = runner.stage(Path(tmp) / "runner")
        for model in model_files(target):
            spec_path = spec_for(model, Path(tmp))
            spec = ModelSpec.load(spec_path)
            data = options.data or synthetic_images(Path(tmp) / "images", options.images, max(spec.width, 64))
            quant = io_quant(model)[1]
            for rt in runtimes:
                on_device = {}
                for kernels in options.kernels or KERNEL_FAMILIES:
                    args = runner.bench_args(str(model), max(options.runs, options.images), options.warmup,
                                             options.threads, rt, str(spec_path), str(data), kernels)
                    log(f"{where}: {model.name} on {rt}, {kernels} kernels (emulated, then on this computer)")
                    dev, host = _measure(python, script, args, where, rt, options.timeout)
                    machine = runner.split_machine(dev) or machine
                    rows.append(_row(model, rt, kernels, dev, host, spec, quant))
                    if "outputs" in dev:
                        on_device[kernels] = dev["outputs"]
                if quant is not None:
                    families += _families(model, rt, on_device, spec, quant)
    if rows and all("error" in r for r in rows):  # nothing measured is not a result
        raise DeviceError(f"every runner call on {where} crashed ({rows[0]['error']}, {len(rows)} of {len(rows)})",
                          runner.CRASH_HINT)
    machine["emulated"] = machine.get("emulated") or f"qemu-aarch64 -cpu {board.qemu_cpu}"
    return {"device": device, "emulated": True, "board": board.model, "machine": machine,
            "images": str(options.data) if options.data else f"{options.images} synthetic chest images",
            "results": rows, "families": families,
            "note": "timings are QEMU emulation on this computer, not a Raspberry Pi's speed"}

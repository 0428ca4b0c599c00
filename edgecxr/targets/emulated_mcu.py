"""Kind ``emulated-mcu``: a Cortex-M board emulated by qemu-system-arm, its CPU flags, QEMU
machine, firmware board folder and linker script from the row. bench builds the run's bare-metal
firmware, boots it on QEMU on real images and compares it with the host (edgecxr.bench.qemu);
fit is the verdict as for a physical board; build exports and compiles the run's firmware for the
board; flash builds it and boots it once, showing its serial output beside what the host expects.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from edgecxr.errors import ConfigError
from edgecxr.targets.mcu import FlashOptions, fit  # noqa: F401 (fit: this kind's verdict is a board's)
from edgecxr.targets.result import BenchChoices, BenchResult, int8_choice


def bench(target, run, choices: BenchChoices | None = None) -> BenchResult:
    from edgecxr.bench.qemu import QemuOptions, bench_qemu
    from edgecxr.firmware.build import KERNEL_SETS

    c = choices or BenchChoices()
    options = QemuOptions(c.tflm, c.data, c.images, tuple(c.kernels or KERNEL_SETS), c.timeout, profile=c.layers)
    return BenchResult.of(target.kind, bench_qemu(run, target.key, options, target.path), int8_choice(run))


def build(target, run, options: FlashOptions | None = None) -> dict:
    """Export the run's firmware for this board (edgecxr's own engine by default; ``engine="tflm"``
    with a TFLM tree) and build it into the folder ``options.out``: {"elf", "flash_bytes", "engine",
    "kernels", "expected"}, the last what the host's reference kernels give for the self-test image."""
    from edgecxr.checks import lookup
    from edgecxr.export.source import load_source
    from edgecxr.firmware import build as fb
    from edgecxr.firmware.project import ENGINES, write_project
    from edgecxr.runs import DEFAULT_RUNS_ROOT, Run

    o = options or FlashOptions()
    if o.out is None:
        raise ConfigError("building firmware needs a folder to build in", "pass FlashOptions(out=PATH)")
    lookup(ENGINES, o.engine, "--engine")
    lookup(fb.KERNEL_SETS, o.kernels, "--kernels")
    fb.check_tools(("qemu-system-arm",), engine=o.engine)
    tree = fb.tflm_tree(o.tflm) if o.engine == "tflm" else None
    source = load_source(Run.open(run, o.runs_root or DEFAULT_RUNS_ROOT), o.model)
    kernels = o.kernels if o.engine == "tflm" else "generated"
    out = Path(o.out)
    made = write_project(source, out / "firmware", devices_file=target.path, engine=o.engine)
    if made["engine"] is not None:
        fb.check_fits(made["engine"], target.facts)
    elf = fb.build(fb.Build(out / "firmware", target.facts, kernels, tree, out / "out", engine=o.engine),
                   fb.registrations(source.graph))
    return {"elf": elf, "flash_bytes": fb.sizes(elf)["flash_bytes"], "engine": o.engine, "kernels": kernels,
            "expected": made["reference"].to_dict()}


def flash(target, run, options: FlashOptions | None = None) -> dict:
    """``build`` into a temporary folder, boot it on QEMU, return its serial output (the self-test
    image's label, score and instructions) next to what the host expects."""
    from edgecxr.firmware import emulator

    o = options or FlashOptions()
    with tempfile.TemporaryDirectory(prefix="edgecxr-flash-") as tmp:
        built = build(target, run, replace(o, out=Path(tmp)))
        serial, report = emulator.boot(target.facts, built["elf"], timeout=o.timeout)
        command = " ".join(emulator.command(target.facts, built["elf"]))
    return {"board": target.key, "name": target.facts.name, "engine": built["engine"], "kernels": built["kernels"],
            "command": command, "serial": serial, "selftest": report["results"][0], "expected": built["expected"],
            "flash_bytes": built["flash_bytes"], "dry_run": False, "emulated": True}

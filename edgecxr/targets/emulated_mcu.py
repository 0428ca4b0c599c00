"""Kind ``emulated-mcu``: a Cortex-M board emulated by qemu-system-arm, its CPU flags, QEMU
machine, firmware board folder and linker script from the row. bench builds the run's bare-metal
firmware, boots it on QEMU on real images and compares it with the host (edgecxr.bench.qemu);
fit is the verdict as for a physical board; flash builds the firmware and boots it once, showing
its serial output beside what the host expects.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgecxr.targets.mcu import FlashOptions, fit  # noqa: F401 (fit: this kind's verdict is a board's)
from edgecxr.targets.result import BenchChoices, BenchResult, int8_choice


def bench(target, run, choices: BenchChoices | None = None) -> BenchResult:
    from edgecxr.bench.qemu import QemuOptions, bench_qemu
    from edgecxr.firmware.build import KERNEL_SETS

    c = choices or BenchChoices()
    options = QemuOptions(c.tflm, c.data, c.images, tuple(c.kernels or KERNEL_SETS), c.timeout, profile=c.layers)
    return BenchResult.of(target.kind, bench_qemu(run, target.key, options, target.path), int8_choice(run))


def flash(target, run, options: FlashOptions | None = None) -> dict:
    """Export the firmware (edgecxr's own engine by default; ``engine="tflm"`` with a TFLM tree),
    build it, boot it on QEMU, return its serial output (the self-test image's label, score and
    instructions) next to what the host expects."""
    from edgecxr.checks import lookup
    from edgecxr.export.source import load_source
    from edgecxr.firmware import build as fb
    from edgecxr.firmware import emulator
    from edgecxr.firmware.project import ENGINES, write_project
    from edgecxr.runs import DEFAULT_RUNS_ROOT, Run

    o = options or FlashOptions()
    lookup(ENGINES, o.engine, "--engine")
    lookup(fb.KERNEL_SETS, o.kernels, "--kernels")
    board = target.facts
    fb.check_tools(("qemu-system-arm",), engine=o.engine)
    tree = fb.tflm_tree(o.tflm) if o.engine == "tflm" else None
    source = load_source(Run.open(run, o.runs_root or DEFAULT_RUNS_ROOT), o.model)
    kernels = o.kernels if o.engine == "tflm" else "generated"
    with tempfile.TemporaryDirectory(prefix="edgecxr-flash-") as tmp:
        project = Path(tmp) / "firmware"
        made = write_project(source, project, devices_file=target.path, engine=o.engine)
        if made["engine"] is not None:
            fb.check_fits(made["engine"], board)
        build = fb.Build(project, board, kernels, tree, Path(tmp) / "out", engine=o.engine)
        elf = fb.build(build, fb.registrations(source.model_path))
        size = fb.sizes(elf)
        serial, report = emulator.boot(board, elf, timeout=o.timeout)
    return {"board": target.key, "name": board.name, "engine": o.engine, "kernels": kernels,
            "command": " ".join(emulator.command(board, elf)), "serial": serial, "selftest": report["results"][0],
            "expected": made["reference"].to_dict(), "flash_bytes": size["flash_bytes"], "dry_run": False,
            "emulated": True}

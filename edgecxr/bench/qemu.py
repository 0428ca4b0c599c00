"""``bench RUN --device qemu-m4`` (any emulated board): the run's int8 model as bare-metal
firmware, run on QEMU on real preprocessed images, by edgecxr's own engine (always: it needs
only arm-none-eabi-gcc) and, side by side when a TFLM tree is given (--tflm or
$EDGECXR_TFLM_DIR), by TFLM with each kernel set.

Per engine (and kernel set) it reports: the int8 outputs against the host's TFLite reference
kernels, identical on every image or the first difference named; instructions per inference and
per MAC (QEMU counts instructions, not cycles); flash and RAM from the ELF plus the measured
stack peak (RAM = .data + .bss + stack peak); the arena (TFLM: its own arena_used_bytes).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecxr.errors import ConfigError, DataError, DeviceError
from edgecxr.firmware.build import KERNEL_SETS
from edgecxr.progress import log

DEFAULT_IMAGES = 50
KB = 1024
CYCLES_NOTE = ("instructions counted by QEMU (-icount shift=0), not cycles: QEMU models no pipeline, "
               "caches or flash wait states")


@dataclass(frozen=True)
class QemuOptions:
    tflm: Path | None = None
    data: Path | None = None
    images: int = DEFAULT_IMAGES
    kernels: tuple[str, ...] = tuple(KERNEL_SETS)
    timeout: float = 600
    model: str | None = None
    profile: bool = False  # per-layer instruction counts (first image)

    def __post_init__(self):
        from edgecxr.checks import check_number

        check_number("timeout", self.timeout, "--timeout")
        check_number("runs", self.images, "--images")


def image_paths(run, data: Path | None, n: int) -> list[Path]:
    """``n`` images: the first of ``data`` (sorted), else of the run's validation split."""
    from edgecxr.device.preprocess import image_files

    if data is not None:
        if not Path(data).is_dir():
            raise DataError(f"--data {data} is not a folder", "pass a folder of X-ray images")
        found = image_files(Path(data))
    else:
        dataset, assignment = run.split()
        found = sorted((s.path for s in dataset.samples if assignment[s.path] == "val" and s.path.is_file()), key=str)
    if not found:
        raise DataError(f"no images found in {data or 'the run validation split'}", "pass --data DIR with X-ray images")
    return found[:n]


def _compare(device: list[list[int]], host: np.ndarray, names: list[str]) -> dict:
    diffs = [i for i, (d, h) in enumerate(zip(device, host.tolist())) if d != h]
    out = {"images": len(device), "identical": len(device) - len(diffs), "bit_exact": not diffs}
    if diffs:
        i = diffs[0]
        out["first_difference"] = {"image": names[i], "device": device[i], "host": host[i].tolist()}
    return out


def _one_build(b, registrations: list[str], images, host, names, macs: int, opts: QemuOptions) -> dict:
    """Build ``b``, boot it on the images and compare: one row of the report."""
    from edgecxr.firmware import build as fb
    from edgecxr.firmware import emulator

    board, kernels = b.board, b.kernels
    log(f"{board.key}: building the {b.engine} firmware ({kernels} kernels; TFLM objects are compiled once, then "
        "cached: a first TFLM build takes minutes)")
    started = time.perf_counter()
    elf = fb.build(b, registrations)
    size = fb.sizes(elf)
    log(f"{board.key}: built in {time.perf_counter() - started:.0f} s; classifying {len(images)} images on QEMU")
    _, report = emulator.boot(board, elf, images, opts.timeout)
    if len(report["results"]) != len(images):
        raise DeviceError(f"the firmware classified {len(report['results'])} of {len(images)} images",
                          "run `make run` in the exported firmware folder")
    counts = [r["instructions"] for r in report["results"]]
    per_inference = int(np.median(counts))
    row = {"engine": b.engine, "kernels": kernels, **_compare([r["raw"] for r in report["results"]], host, names),
           "instructions_per_inference": per_inference, "instructions_min": min(counts), "instructions_max": max(counts),
           "instructions_per_mac": round(per_inference / macs, 2) if macs else None,
           **size, "stack_peak_bytes": report["stack_peak_bytes"],
           "ram_total_bytes": size["ram_bytes"] + report["stack_peak_bytes"],
           "arena_size": report["arena_size"], "arena_used_bytes": report["arena_used_bytes"]}
    if report["layers"]:
        row["layers"] = report["layers"]
    return row


def bench_qemu(target: str | Path, board_key: str, opts: QemuOptions, devices_file: Path | None = None,
               runs_root: Path | None = None) -> dict:
    """Build, boot and compare, per kernel set; returns the report."""
    from edgecxr import tflite_facts
    from edgecxr.device.preprocess import preprocess_file
    from edgecxr.export.source import load_source
    from edgecxr.firmware import build as fb
    from edgecxr.firmware.project import write_project
    from edgecxr.runs import DEFAULT_RUNS_ROOT, Run
    from edgecxr.runtimes import TFLiteModel
    from edgecxr.targets.table import get_target

    board = get_target(board_key, devices_file, "emulated board", kind="emulated-mcu").facts
    unknown = [k for k in opts.kernels if k not in KERNEL_SETS]
    if unknown:
        raise ConfigError(f"unknown kernel set {unknown[0]!r}", f"choose {' or '.join(KERNEL_SETS)}")
    tree = fb.tflm_tree(opts.tflm) if opts.tflm or os.environ.get(fb.TFLM_ENV) else None
    fb.check_tools(("qemu-system-arm",), engine="tflm" if tree else "edgecxr")
    run = Run.open(target, runs_root or DEFAULT_RUNS_ROOT)
    source = load_source(run, opts.model)
    paths = image_paths(run, opts.data, opts.images)
    host_model = TFLiteModel(source.model_path, kernels="reference")
    pixels = np.stack([preprocess_file(p, source.spec) for p in paths])
    images = np.concatenate([host_model.input_tensor(px) for px in pixels])
    host = host_model.raw(pixels).astype(int)
    model = source.graph
    macs = tflite_facts.count_macs(model)
    registrations = fb.registrations(model)
    names = [p.name for p in paths]
    with tempfile.TemporaryDirectory(prefix="edgecxr-firmware-") as tmp:
        project, work = Path(tmp) / "firmware", Path(tmp)
        made = write_project(source, project, test_image=paths[0], devices_file=devices_file, engine="edgecxr")
        fb.check_fits(made["engine"], board)
        builds = [fb.Build(project, board, "generated", None, work / "edgecxr", opts.profile, engine="edgecxr")]
        builds += [fb.Build(project, board, k, tree, work / k, opts.profile) for k in (opts.kernels if tree else ())]
        rows = [_one_build(b, registrations, images, host, names, macs, opts) for b in builds]
    return {"device": board.key, "board": board.name, "core": board.core, "qemu_machine": board.qemu_machine,
            "model": source.model_path.name, "run": str(run.path), "macs": macs, "images": len(paths),
            "images_from": str(opts.data) if opts.data else "the run's validation split",
            "host_reference": f"TFLite reference kernels ({host_model.runtime})", "tflm": str(tree) if tree else None,
            "results": rows, "note": CYCLES_NOTE}

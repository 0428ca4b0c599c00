"""A run's int8 model as bare-metal firmware on QEMU's emulated Cortex-M cores (M4F, M7, M3, M33,
M55), engines x cores: edgecxr's own engine (C generated from the .tflite, no TFLM tree) and,
given a TFLM tree, TFLM with its reference and CMSIS-NN kernels. Per row: int8 outputs against
the host's TFLite reference kernels on real X-rays, instructions per inference and per MAC,
flash, RAM (.data + .bss + the measured stack peak); then where the instructions go, layer by
layer, on the Cortex-M4F; next to the published anchors for this network (MobileNetV1 0.25
96x96) and the targets of issue 19.

QEMU counts instructions (-icount shift=0), not cycles: the anchors are cycles on silicon.

    python benchmarks/bench_mcu.py RUN [--data DIR] [--images 50] [--boards qemu-m4 ...] [--tflm TREE]
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from edgecxr import tflite_facts
from edgecxr.bench.qemu import QemuOptions, bench_qemu
from edgecxr.cli.common import table

BOARDS = ["qemu-m4", "qemu-m7", "qemu-m3", "qemu-m33", "qemu-m55"]
ANCHORS = [  # issue 19 (sources there and in edgecxr/boards.toml)
    {"anchor": "TFLM + CMSIS-NN, Cortex-M4 (MobileNetV1 0.25 96x96x1)", "value": "3.26 instr/MAC, 85 KB RAM, 374 KB flash"},
    {"anchor": "ST X-CUBE-AI 10 (ST model zoo, same network)", "value": "69.1 KiB RAM, 214.6 KiB weights + 70.3 KiB code"},
    {"anchor": "MLPerf Tiny VWW best Cortex-M4 (X-CUBE-AI 9.0)", "value": "1.42 cycles/MAC"},
    {"anchor": "MLPerf Tiny VWW Plumerai, Cortex-M4", "value": "1.58 cycles/MAC"},
    {"anchor": "MLPerf Tiny VWW best Cortex-M7", "value": "0.89 cycles/MAC"},
]
TARGETS = ("targets (issue 19, MobileNetV1 0.25 96x96x1): bit-exact on >= 50 real X-rays per core; "
           "RAM <= 48 KB (49152 B); Cortex-M4 <= 1.6 instr/MAC; flash <= 300 KB")
KB = 1024


def _row(board: str, result: dict, row: dict) -> dict:
    return {"board": board, "core": result["core"], "engine": row["engine"], "kernels": row["kernels"],
            "bit_exact": f"{row['identical']}/{row['images']}", "instr/inference": row["instructions_per_inference"],
            "instr/MAC": row["instructions_per_mac"], "flash_KB": round(row["flash_bytes"] / KB, 1),
            "RAM_B": row["ram_total_bytes"], "RAM_KB": round(row["ram_total_bytes"] / KB, 1),
            "stack_B": row["stack_peak_bytes"], "arena_B": row["arena_used_bytes"]}


def _layers(run: Path, model: str, results: list[dict]) -> list[dict]:
    """One row per layer: MACs, and per engine (kernel set) its instructions and instr/MAC."""
    macs = tflite_facts.layer_macs(Path(run) / model)
    out = [{"#": i, "op": op, "MACs": m} for i, (op, m) in enumerate(macs)]
    for row in results:
        name = row["engine"] if row["engine"] == "edgecxr" else f"tflm {row['kernels']}"
        if len(row.get("layers", [])) != len(out):
            continue  # a runtime that reports other events than one per operator
        for line, layer in zip(out, row["layers"]):
            line[f"{name} instr"] = layer["instructions"]
            line[f"{name} instr/MAC"] = round(layer["instructions"] / line["MACs"], 2) if line["MACs"] else "-"
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--tflm", type=Path, default=os.environ.get("EDGECXR_TFLM_DIR"),
                   help="a TFLM tree: also TFLM's rows (default: $EDGECXR_TFLM_DIR; none: the own engine only)")
    p.add_argument("--data", type=Path, help="image folder (default: the run's validation split)")
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--boards", nargs="+", default=BOARDS)
    p.add_argument("--kernels", nargs="+", default=["reference", "cmsis-nn"], help="TFLM kernel sets")
    args = p.parse_args()
    if not args.tflm:
        os.environ.pop("EDGECXR_TFLM_DIR", None)
    rows = []
    for board in args.boards:
        r = bench_qemu(args.run, board, QemuOptions(args.tflm, args.data, args.images, tuple(args.kernels), 3600))
        rows += [_row(board, r, row) for row in r["results"]]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model "
          f"{r['run']}/{r['model']} ({r['macs']} MACs); {r['images']} images from {r['images_from']}; "
          f"host reference: {r['host_reference']}; TFLM tree: {r['tflm'] or 'none (own engine only)'}")
    print("RAM = .data + .bss (arena, input and output buffers included) + measured stack peak; "
          "flash = .text + .rodata + .data + tables")
    print(table(rows, list(rows[0])))
    print(TARGETS)
    print(table(ANCHORS, ["anchor", "value"]))
    # a separate build with the per-layer hooks (they add instructions and a few hundred bytes)
    layer_result = bench_qemu(args.run, "qemu-m4", QemuOptions(args.tflm, args.data, 1, tuple(args.kernels), 3600,
                                                              profile=True))
    if layer_result:
        lines = _layers(Path(layer_result["run"]), layer_result["model"], layer_result["results"])
        print(f"\nper layer on qemu-m4 (Cortex-M4F), first image ({layer_result['macs']} MACs):")
        print(table(lines, list(max(lines, key=len))))
    print(r["note"])


if __name__ == "__main__":
    main()

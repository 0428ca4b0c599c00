"""A run's int8 model as bare-metal TFLM firmware on QEMU's emulated Cortex-M3/M4F/M7, with the
reference and the CMSIS-NN kernels: int8 outputs against the host's TFLite reference kernels on
real X-rays, instructions per inference and per MAC, flash, RAM (with the measured stack peak)
and TFLM's arena, next to the published anchors for this network (MobileNetV1 0.25 96x96),
and where the instructions go, layer by layer, for CMSIS-NN on the Cortex-M4F.

QEMU counts instructions (-icount shift=0), not cycles: the anchors are cycles on silicon.

    python benchmarks/bench_mcu.py RUN --tflm ../shared/third_party/tflm [--images 50] [--boards qemu-m4 qemu-m7]
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from edgecxr import tflite_facts
from edgecxr.bench.qemu import QemuOptions, bench_qemu
from edgecxr.cli.common import table

# MLPerf Tiny visual wake words, this network (see edgecxr/boards.toml for the derivations)
ANCHORS = [
    {"anchor": "MLPerf Tiny v0.5 VWW, TFLM reference, Cortex-M4 @120 MHz", "value": "600.6 ms, 9.62 cycles/MAC"},
    {"anchor": "MLPerf Tiny best published on Cortex-M4 (CMSIS-NN class)", "value": "~3.3 cycles/MAC"},
    {"anchor": "TFLM person_detection example arena", "value": "136 KB"},
    {"anchor": "Edge Impulse estimate, MobileNetV1 0.25 96x96 int8", "value": "105.9 KB RAM, 301.6 KB flash"},
]
TARGETS = "targets: 100 % bit-exact; CMSIS-NN on M4 <= 3.3 instructions/MAC; flash <= 400 KB; RAM <= 90 KB"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--tflm", type=Path, default=os.environ.get("EDGECXR_TFLM_DIR"))
    p.add_argument("--data", type=Path, help="image folder (default: the run's validation split)")
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--boards", nargs="+", default=["qemu-m4", "qemu-m7", "qemu-m3"])
    args = p.parse_args()
    rows = []
    for board in args.boards:
        r = bench_qemu(args.run, board, QemuOptions(args.tflm, args.data, args.images, timeout=3600))
        for row in r["results"]:
            rows.append({"board": board, "kernels": row["kernels"], "bit_exact": f"{row['identical']}/{row['images']}",
                         "instr/inference": row["instructions_per_inference"], "instr/MAC": row["instructions_per_mac"],
                         "flash_KB": round(row["flash_bytes"] / 1024, 1), "RAM_KB": round(row["ram_total_bytes"] / 1024, 1),
                         "stack_B": row["stack_peak_bytes"], "arena_used_B": row["arena_used_bytes"]})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model "
          f"{r['run']}/{r['model']} ({r['macs']} MACs); {r['images']} images from {r['images_from']}; "
          f"host reference: {r['host_reference']}")
    print("RAM = .data + .bss (arena included) + measured stack peak; flash = .text + .rodata + .data")
    print(table(rows, list(rows[0])))
    print(TARGETS)
    print(table(ANCHORS, ["anchor", "value"]))
    layers = bench_qemu(args.run, "qemu-m4", QemuOptions(args.tflm, args.data, 1, ("cmsis-nn",), profile=True))
    layers = layers["results"][0]["layers"]  # a build with the per-layer profiler (its own few hundred bytes)
    if layers:
        macs = tflite_facts.layer_macs(Path(r["run"]) / r["model"])
        print("\nCMSIS-NN on qemu-m4, first image, per layer:")
        print(table([{"#": i, "op": lay["op"], "MACs": m, "instructions": lay["instructions"],
                      "instr/MAC": round(lay["instructions"] / m, 2) if m else "-"}
                     for i, (lay, (_, m)) in enumerate(zip(layers, macs))], ["#", "op", "MACs", "instructions", "instr/MAC"]))
    print(r["note"])


if __name__ == "__main__":
    main()

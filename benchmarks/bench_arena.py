"""The TFLM tensor arena that mobilenet_v1 a=0.25 96x96x1 int8 really needs, measured with the
tflite-micro Python runtime, next to what others budget for the same architecture:

- 136 KB: `kTensorArenaSize = 136 * 1024` in TFLM's person_detection example (main_functions.cc);
- 106 KB: the RAM Edge Impulse's studio estimates for MobileNetV1 0.25 96x96 int8 (EON off).

    python benchmarks/bench_arena.py [--alphas 0.1 0.25 0.35] [--size 96]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

from bench_latency import convert  # the sibling script (benchmarks/ is on sys.path)

from edgecxr import tflite_facts
from edgecxr.cli.common import table
from edgecxr.models.zoo import build_model

PERSON_DETECTION_ARENA_KB = 136
EDGE_IMPULSE_RAM_KB = 106


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--alphas", type=float, nargs="+", default=[0.25])
    p.add_argument("--size", type=int, default=96)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for alpha in args.alphas:
            model = build_model("mobilenet_v1", "binary", 2, size=args.size, channels=1, alpha=alpha)
            path = Path(tmp) / f"mnv1_{alpha}.tflite"
            path.write_bytes(convert(model, int8=True))
            arena = tflite_facts.measure_arena(path)
            rows.append({"model": f"mobilenet_v1 a={alpha:g} {args.size}x{args.size}x1 int8",
                         "tflite_KB": round(path.stat().st_size / 1024, 1), "MACs": tflite_facts.count_macs(path),
                         "arena_KB": round(arena / 1024, 1),
                         "vs_person_detection_136KB": f"{arena / 1024 / PERSON_DETECTION_ARENA_KB:.0%}",
                         "vs_edge_impulse_106KB": f"{arena / 1024 / EDGE_IMPULSE_RAM_KB:.0%}",
                         "ops": " ".join(tflite_facts.tflm_ops(path))})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          "arena measured by the TFLM Python runtime (64-bit host build)")
    print(table(rows))


if __name__ == "__main__":
    main()

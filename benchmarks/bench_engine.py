"""edgecxr's own int8 engine on the host: bit-exactness with TFLite's reference kernels on real
X-rays, speed next to the TFLite kernel families, and the memory plan (arena vs the largest
single tensor) for a run's int8 model (MobileNetV1 0.25 96x96x1 from `edgecxr train`).

The engine is the C generated from the .tflite (edgecxr.engine), compiled by the host's C
compiler: the code a microcontroller runs. Every image's int8 outputs are compared with
np.array_equal against LiteRT's BUILTIN_REF kernels.

    python benchmarks/bench_engine.py RUN [--data ../shared/data/kermany224] [--images 1000]
    python benchmarks/bench_engine.py --zoo      # every model of the table, random weights, tiny input

RUN: a run directory with an int8 model (`edgecxr train` + `edgecxr quantize --int8`); for the
figures in the README: `edgecxr train --data ../shared/data/kermany224 --recipe si-edge-impulse
--epochs 3 --backbone none` then `edgecxr quantize RUN --int8`.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from edgecxr.cli.common import table
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_folder
from edgecxr.engine import generate
from edgecxr.runs import Run
from edgecxr.runtimes import TFLiteModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kermany224"
LARGEST_NOTE = "largest single tensor of MobileNetV1 0.25 96x96x1: 48x48x16 = 36,864 B (issue 19)"


def _images(folder: Path, n: int, seed: int) -> list[Path]:
    paths = sorted(s.path for s in scan_folder(folder).samples)
    rng = np.random.default_rng(seed)
    return [paths[i] for i in sorted(rng.choice(len(paths), min(n, len(paths)), replace=False))]


def _timed(model: TFLiteModel, tensors: np.ndarray) -> tuple[np.ndarray, float]:
    """Raw outputs of every tensor, and the median milliseconds per image."""
    outs, times = [], []
    for t in tensors:
        start = time.perf_counter()
        outs.append(model.invoke(t))
        times.append(time.perf_counter() - start)
    return np.stack(outs), 1000 * float(np.median(times))


def zoo(n: int) -> None:
    """Every model of the model table (mondal_xception included) at its smallest input, random
    weights, full int8: on how many of n inputs (saturating ones included) the engine equals
    the reference kernels. Minutes: Xception's 21 M parameters are slow to convert."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from edgecxr.models.zoo import MODELS
    from tests.test_engine_zoo import check_exact, zoo_int8

    rows = []
    for name in MODELS:
        start = time.perf_counter()
        content = zoo_int8(name)
        same, distinct = check_exact(content, None, n)
        ops = sorted({op.code for op in generate(content).graph.operators})
        rows.append({"model": name, "identical": f"{same}/{n}", "distinct_outputs": distinct,
                     "seconds": round(time.perf_counter() - start, 1), "operators": " ".join(ops)})
        print(table(rows[-1:], list(rows[0])), flush=True)
    print(table(rows, list(rows[0])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, nargs="?")
    p.add_argument("--zoo", action="store_true", help="check every model of the table instead of a run")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("EDGECXR_BENCH_DATA", DATA)))
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.zoo:
        return zoo(50)
    if args.run is None:
        p.error("pass a run directory (or --zoo)")
    run = Run.open(args.run)
    choice = run.int8()
    spec, model_file, model_path = run.spec(), choice.artifact.file, choice.path
    gen = generate(model_path)
    paths = _images(args.data, args.images, args.seed)
    pixels = load_pixels(paths, spec, progress=False)
    families = {name: TFLiteModel(model_path, runtime="litert" if name != "engine" else None, threads=1, kernels=name)
                for name in ("reference", "engine", "builtin", "xnnpack")}
    tensors = np.stack([families["reference"].input_tensor(px) for px in pixels.x])
    raw, ms = {}, {}
    for name, model in families.items():
        raw[name], ms[name] = _timed(model, tensors)
    ref = raw["reference"]
    rows = []
    for name in families:
        same = int(sum(np.array_equal(a, b) for a, b in zip(raw[name], ref)))
        steps = int(np.max(np.abs(raw[name].astype(int) - ref.astype(int))))
        rows.append({"kernels": name, "images": len(ref), "identical_to_reference": same,
                     "max_step_difference": steps, "median_ms": round(ms[name], 3)})
    # saturating inputs (all -128, all 127) too: the clamps and the softmax table's ends
    extremes = [np.full(tensors.shape[1:], v, np.int8) for v in (-128, 127)]
    extreme_same = sum(np.array_equal(families["engine"].invoke(x), families["reference"].invoke(x)) for x in extremes)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; run {run.path}; "
          f"model {model_file} ({sum(k.macs for k in gen.kernels)} MACs, {len(gen.kernels)} layers); "
          f"{len(ref)} X-rays from {args.data} (seed {args.seed}), 1 thread")
    print(table(rows, list(rows[0])))
    print(f"saturating inputs (all -128, all 127): engine identical on {extreme_same}/2")
    print(f"\nmemory plan (edgecxr.engine.plan): arena {gen.plan.arena} B = largest tensor "
          f"{gen.plan.largest_tensor} B + {gen.plan.arena - gen.plan.largest_tensor} B "
          f"({100 * (gen.plan.arena / gen.plan.largest_tensor - 1):.1f} % over); {LARGEST_NOTE}")
    print(gen.plan_table())


if __name__ == "__main__":
    main()

"""Host latency of mobilenet_v1 and the published CNNs, float and int8, every runtime side by side.

Weights from a few steps on synthetic chest-like images (latency does not depend on them), int8
by post-training quantization calibrated on those images. Each measurement runs the Raspberry Pi runner in a fresh process
(`edgecxr.bench.host`), so peak memory is per runtime. Prints the machine, one table, and the
LiteRT / tflite-runtime p50 ratio per model.

    python benchmarks/bench_latency.py [--data ../shared/data/kermany224/val] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from edgecxr.bench.host import BenchOptions, bench_host
from edgecxr.cli.common import table
from edgecxr.data.synth import chest_image
from edgecxr.models.zoo import MODELS, build_model, count_macs
from edgecxr.tfenv import tf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["mobilenet_v1", "huynh_cnn5", "huynh_cnn3", "abdelaal_cnn", "kirthan_cnn", "mondal_xception"]


def chest_like(shape, n: int = 64) -> np.ndarray:
    """Synthetic chest-like images in [0, 1] of ``shape`` (H, W, C)."""
    rng = np.random.default_rng(0)
    images = [chest_image(rng, max(shape[0], shape[1]), 3 * (i % 2))[: shape[0], : shape[1], None] for i in range(n)]
    return np.repeat(np.stack(images), shape[2], axis=3).astype(np.float32) / 255.0


def settle(model, x: np.ndarray) -> None:
    """A few training steps so that activation ranges are those of a working model: with
    untrained weights they shrink toward zero layer by layer, the int8 scales underflow
    (~1e-12) and TFLM aborts. Latency and arena do not depend on the weights' values."""
    units = model.output_shape[-1]
    y = (np.arange(len(x)) % 2).astype(np.float32)
    y = np.eye(units, dtype=np.float32)[(np.arange(len(x)) % units)] if units > 1 else y[:, None]
    softmax = "softmax" in str(model.layers[-1].get_config().get("activation", ""))
    model.compile("adam", "categorical_crossentropy" if softmax else "binary_crossentropy")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)


def convert(model, int8: bool) -> bytes:
    conv = tf().lite.TFLiteConverter.from_keras_model(model)
    if int8:
        x = chest_like(model.input_shape[1:])
        settle(model, x)
        conv.optimizations = [tf().lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(len(x)))
        conv.target_spec.supported_ops = [tf().lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf().int8
    return conv.convert()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "kermany224" / "val",
                   help="images to time on (random inputs when the folder is absent)")
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS))
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--runtimes", nargs="+", default=None,
                   help="runtimes to time (default: every installed one; the TFLM Python runtime runs the "
                        "reference kernels and takes seconds per image on the large CNNs)")
    p.add_argument("--kernels", nargs="+", default=["xnnpack"], choices=["reference", "builtin", "xnnpack"],
                   help="kernel families to time (default: xnnpack, what the runtimes apply unless told; the "
                        "TFLM Python runtime has only its reference kernels)")
    args = p.parse_args()
    data = args.data if args.data.is_dir() else None
    rows, ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            entry = MODELS[name]
            model = build_model(name, entry.default_task, entry.default_classes)
            folder = Path(tmp) / name
            folder.mkdir()
            for kind in ("float", "int8"):
                (folder / f"{name}_{kind}.tflite").write_bytes(convert(model, kind == "int8"))
            out = bench_host(folder, BenchOptions(runs=args.runs, warmup=5, threads=args.threads, data=data,
                                                    runtimes=args.runtimes, kernels=args.kernels))
            for r in out.results:
                rows.append({"model": r["model"], "MACs": count_macs(model), "runtime": r["runtime"],
                             "kernels": r["kernels"],
                             "threads": r["threads"], "p50_ms": r["p50_ms"], "p90_ms": r["p90_ms"],
                             "p99_ms": r["p99_ms"], "img/s": r["images_per_s"], "peak_MB": r["peak_rss_mb"]})
            by = {(r["model"], r["runtime"], r["threads"]): r["p50_ms"] for r in out.results}
            for (m, rt, th), ms in by.items():
                if rt == "litert" and (m, "tflite-runtime", th) in by:
                    ratios.append({"model": m, "threads": th, "litert_p50_ms": ms,
                                   "tflite_runtime_p50_ms": by[(m, "tflite-runtime", th)],
                                   "litert/tflite-runtime": round(ms / by[(m, "tflite-runtime", th)], 3)})
    m = out.machine
    print(f"machine: {m['cpu']}, {m['cores']} cores ({os.cpu_count()} visible), Python {m['python']}; "
          f"inputs: {'images from ' + str(data) if data else 'random pixels'}; {args.runs} timed runs")
    print(table(rows))
    print()
    print(table(ratios))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Classify chest X-ray images with a .tflite model on a Raspberry Pi (or any Linux box).

Self-contained: python3 + numpy + Pillow + one TFLite interpreter (ai_edge_litert,
tflite_runtime, tensorflow or tflite_micro). The device's rules are NOT re-implemented here:
preprocessing, image suffixes, the interpreter chain and its kernel families, the decision
rule and the exit statuses come from the edgecxr_device package that edgecxr ships whole next
to this file, so the device feeds the model and reads its answer exactly as training and
evaluation did.

    classify.py --model model.tflite --spec spec.json image1.png image2.jpg   # one JSON line each
    classify.py --model model.tflite --spec spec.json --watch incoming/       # new files as they land
    classify.py --model model.tflite --bench 100 --warmup 10 --threads 4      # one JSON object
    classify.py --model model.tflite --spec spec.json --kernels xnnpack image.png
    classify.py --model model.tflite --spec spec.json --no-tta image.png    # one view, spec's threshold

--kernels picks the kernel family, which decides the int8 bytes, not only the speed:
"reference" (the default; TFLite's reference kernels: the same bytes on every CPU and on
TFLite Micro), "builtin" (optimized kernels without XNNPACK: bytes differ between x86 and
ARM) or "xnnpack" (the runtime's default: fastest). Every output line names the family used.

Exit status: 0 ok, 2 bad input (model, image, spec), 3 no TFLite runtime, 4 numpy/Pillow missing.
Not a medical device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no __pycache__: the folder stays exactly what SHA256SUMS lists

from edgecxr_device.exits import EXIT_BAD_INPUT, EXIT_MISSING_DEPENDENCY, Failure  # noqa: E402

try:
    import numpy as np
    from edgecxr_device.decision import label
    from edgecxr_device.preprocess import image_files, preprocess_file
    from edgecxr_device.runtime import DEFAULT_KERNELS, KERNELS, RUNTIMES, Model, version
    from edgecxr_device.spec import ModelSpec
    from edgecxr_device.tta import views, zoom_view
except ImportError as e:  # numpy or Pillow is missing
    print(f"error: {e}", file=sys.stderr)
    print("hint: pip install numpy pillow", file=sys.stderr)
    sys.exit(EXIT_MISSING_DEPENDENCY)


def open_model(path: Path, runtime: str | None, threads: int | None, kernels: str = DEFAULT_KERNELS) -> Model:
    """The model on the runtime asked for, or on the first one of the chain that is installed."""
    return Model(path.read_bytes() if path.is_file() else b"", runtime, threads, kernels, name=str(path))


# -- inputs and outputs --------------------------------------------------------------------------
def scores(model: Model, raw) -> list[float]:
    return [round(float(v), 6) for v in model.scores(raw)]


def raw_bytes(raw) -> list[int] | None:
    """The int8 outputs themselves (what kernel families and devices are compared on)."""
    raw = np.asarray(raw)
    return [int(v) for v in raw] if raw.dtype in (np.int8, np.uint8) else None


def classify(model, spec, path: Path, zooms: list[float] = ()) -> dict:
    """One image's line; with ``zooms`` the scores are averaged over those views (one inference
    each, ``latency_ms`` is their sum, ``raw`` the first view's) and ``tta_threshold`` decides."""
    pixels = preprocess_file(path, spec)
    views = [zoom_view(pixels[None], z)[0] for z in zooms] or [pixels]
    t0 = time.perf_counter()
    raws = [model.invoke(model.input_tensor(v)) for v in views]
    ms = (time.perf_counter() - t0) * 1000
    probs = [round(float(v), 6) for v in np.mean([model.scores(r) for r in raws], axis=0)]  # averaged, then rounded
    deciding = dataclasses.replace(spec, threshold=spec.tta_threshold) if zooms else spec
    return {"file": str(path), "label": label(probs, deciding), "scores": probs, "raw": raw_bytes(raws[0]),
            "runtime": model.runtime, "kernels": model.kernels, "latency_ms": round(ms, 3),
            **({"tta_zooms": list(zooms)} if zooms else {})}


def watch(model, spec, folder: Path, interval: float, zooms: list[float]) -> None:
    """Classify each image that appears in ``folder`` (existing ones are skipped); Ctrl-C stops."""
    seen = set(image_files(folder))
    while True:
        time.sleep(interval)
        for path in image_files(folder):
            if path not in seen:
                seen.add(path)
                emit_line(classify(model, spec, path, zooms))


def emit_line(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# -- benchmark -----------------------------------------------------------------------------------
def bench_inputs(model, spec, data: Path | None, limit: int) -> tuple[list, str]:
    if data is not None:
        if spec is None:
            raise Failure("--data needs --spec (how to preprocess the images)", "pass --spec spec.json")
        files = image_files(data)[:limit]
        if not files:
            raise Failure(f"no images found under {data}", "pass a folder that holds .png/.jpg images")
        return [model.input_tensor(preprocess_file(f, spec)) for f in files], [str(f.relative_to(data)) for f in files]
    rng = np.random.default_rng(0)
    h, w, c = model.input_shape[1:]
    return [model.input_tensor(rng.integers(0, 256, (h, w, c), dtype=np.uint8)) for _ in range(8)], []


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 4)


def bench(model: Model, inputs: list, runs: int, warmup: int) -> dict:
    for i in range(warmup):
        model.invoke(inputs[i % len(inputs)])
    times = []
    for i in range(runs):
        x = inputs[i % len(inputs)]
        t0 = time.perf_counter()
        model.invoke(x)
        times.append((time.perf_counter() - t0) * 1000)
    p50 = percentile(times, 50)
    return {"runtime": model.runtime, "runtime_version": version(model.runtime), "kernels": model.kernels,
            "threads": model.threads,
            "runs": runs, "warmup": warmup, "p50_ms": p50, "p90_ms": percentile(times, 90),
            "p99_ms": percentile(times, 99), "mean_ms": round(float(np.mean(times)), 4),
            "images_per_s": round(1000.0 / float(np.mean(times)), 2),
            "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to this program's memory
    map; ru_maxrss is not used there because it survives exec, so a runner started from a
    big parent (one that loaded TensorFlow) would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def machine() -> dict:
    """What ran the benchmark: CPU, cores, Python, on a Raspberry Pi its model and throttling, and
    whether it was an emulation (whose timings are not the board's)."""
    info = {"python": platform.python_version(), "machine": platform.machine(), "cores": os.cpu_count(),
            "cpu": _cpu_name(), "board": None, "throttled": None,
            "emulated": os.environ.get("EDGECXR_EMULATED")}  # set by edgecxr's emulated-Pi python3
    model_file = Path("/proc/device-tree/model")
    if model_file.exists():
        info["board"] = model_file.read_bytes().rstrip(b"\0").decode(errors="replace")
    if shutil.which("vcgencmd"):
        out = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True).stdout.strip()
        info["throttled"] = out.split("=", 1)[-1] or None  # "0x0" = never throttled
    return info


def _cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(ln.split(":", 1) for ln in lines if ":" in ln)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return fields.get("model name") or fields.get("Model") or fields.get("Hardware") or platform.machine()


# -- command line --------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="*", type=Path, help="image files to classify")
    p.add_argument("--model", type=Path, required=True, help=".tflite model")
    p.add_argument("--spec", type=Path, help="spec.json written by edgecxr (preprocessing, labels)")
    p.add_argument("--runtime", choices=list(RUNTIMES), help="interpreter to use (default: first installed)")
    p.add_argument("--kernels", choices=list(KERNELS), default=DEFAULT_KERNELS,
                   help="kernel family (default: %(default)s, the same int8 bytes on every CPU)")
    p.add_argument("--threads", type=int, help="interpreter threads (default: the runtime's choice)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="average the scores over spec.json's test-time zooms (one inference each); "
                        "default: when spec.json names them with their own threshold")
    p.add_argument("--watch", type=Path, help="classify new images that appear in this folder")
    p.add_argument("--interval", type=float, default=0.5, help="--watch polling period, seconds")
    p.add_argument("--bench", type=int, metavar="N", help="time N inferences, print one JSON object")
    p.add_argument("--warmup", type=int, default=10, help="untimed inferences before --bench")
    p.add_argument("--data", type=Path, help="--bench on real images from this folder (needs --spec); "
                   "also prints their int8 outputs")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        spec = ModelSpec.load(args.spec) if args.spec else None
        model = open_model(args.model, args.runtime, args.threads, args.kernels)
        if args.bench:
            inputs, files = bench_inputs(model, spec, args.data, limit=max(args.bench, 1))
            result = bench(model, inputs, args.bench, args.warmup)
            source = f"{len(files)} images from {args.data}" if files else "random pixels"
            outputs = {"outputs": {f: raw_bytes(model.invoke(x)) for f, x in zip(files, inputs)}} if files else {}
            emit_line({"model": args.model.name, "input_dtype": np.dtype(model.input["dtype"]).name,
                       "inputs": source, **result, **outputs, **machine()})
            return 0
        if spec is None:
            raise Failure("classifying images needs --spec", "pass the spec.json exported with the model")
        zooms = views(spec, args.tta)  # the one rule (edgecxr_device.tta): never views without a threshold
        for path in args.images:
            emit_line(classify(model, spec, path, zooms))
        if args.watch:
            watch(model, spec, args.watch, args.interval, zooms)
        return 0
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return e.code
    except (ValueError, OSError) as e:  # unreadable image or spec (ImageError, SpecError, TTAError are ValueErrors)
        print(f"error: {e}", file=sys.stderr)
        if getattr(e, "hint", ""):
            print(f"hint: {e.hint}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

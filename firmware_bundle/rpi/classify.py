#!/usr/bin/env python3
"""Classify chest X-ray images with a .tflite model on a Raspberry Pi (or any Linux box).

Self-contained: python3 + numpy + Pillow + one TFLite interpreter (ai_edge_litert,
tflite_runtime, tensorflow or tflite_micro). The device's rules are NOT re-implemented here:
preprocessing, image suffixes, the decision rule and the exit statuses come from the
edgecxr_device package that edgecxr ships whole next to this file, so the device feeds the
model and reads its answer exactly as training and evaluation did.

    classify.py --model model.tflite --spec spec.json image1.png image2.jpg   # one JSON line each
    classify.py --model model.tflite --spec spec.json --watch incoming/       # new files as they land
    classify.py --model model.tflite --bench 100 --warmup 10 --threads 4      # one JSON object
    classify.py --model model.tflite --spec spec.json --kernels xnnpack image.png

--kernels picks the kernel family, which decides the int8 bytes, not only the speed:
"reference" (the default; TFLite's reference kernels: the same bytes on every CPU and on
TFLite Micro), "builtin" (optimized kernels without XNNPACK: bytes differ between x86 and
ARM) or "xnnpack" (the runtime's default: fastest). Every output line names the family used.

Exit status: 0 ok, 2 bad input (model, image, spec), 3 no TFLite runtime, 4 numpy/Pillow missing.
Not a medical device.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no __pycache__: the folder stays exactly what SHA256SUMS lists

from edgecxr_device.exits import EXIT_BAD_INPUT, EXIT_MISSING_DEPENDENCY, EXIT_NO_RUNTIME  # noqa: E402

INSTALL_HINT = "pip install ai-edge-litert   (or: pip install tflite-runtime)"

try:
    import numpy as np
    from edgecxr_device.decision import label
    from edgecxr_device.preprocess import dequantize, image_files, preprocess_file, to_float, to_int8
    from edgecxr_device.spec import ModelSpec
except ImportError as e:  # numpy or Pillow is missing
    print(f"error: {e}", file=sys.stderr)
    print("hint: pip install numpy pillow", file=sys.stderr)
    sys.exit(EXIT_MISSING_DEPENDENCY)


class Failure(Exception):
    """A one-line error with a hint and an exit status."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.hint, self.code = hint, code


# -- interpreters: one adapter per runtime, tried in this order --------------------------------
class _TFLite:
    """The TFLite Interpreter API shared by LiteRT, tflite-runtime and tf.lite."""

    def __init__(self, cls, content: bytes, threads: int | None, resolver):
        self.it = cls(model_content=content, num_threads=threads, experimental_op_resolver_type=resolver)
        self.it.allocate_tensors()
        self.inp, self.out = self.it.get_input_details()[0], self.it.get_output_details()[0]
        self.input_shape, self.input_dtype = tuple(self.inp["shape"]), self.inp["dtype"]
        self.input_quant, self.output_quant = self.inp["quantization"], self.out["quantization"]

    def __call__(self, x):
        self.it.set_tensor(self.inp["index"], x)
        self.it.invoke()
        return self.it.get_tensor(self.out["index"])


class _Micro:
    """TensorFlow Lite Micro's Python interpreter (single-threaded by design)."""

    fixed_threads = 1

    def __init__(self, cls, content: bytes, threads: int | None, resolver):
        self.it = cls.from_bytes(content, arena_size=64 * 1024 * 1024)
        inp, out = self.it.get_input_details(0), self.it.get_output_details(0)
        self.input_shape, self.input_dtype = tuple(inp["shape"]), inp["dtype"]
        self.input_quant, self.output_quant = self._q(inp), self._q(out)

    @staticmethod
    def _q(d):
        q = d.get("quantization_parameters") or {}
        scales, zps = q.get("scales", []), q.get("zero_points", [])
        return (float(scales[0]), int(zps[0])) if len(scales) else (0.0, 0)

    def __call__(self, x):
        self.it.set_input(x, 0)
        self.it.invoke()
        return self.it.get_output(0)


# name -> (module, attribute holding the Interpreter class, distribution for the version, adapter)
RUNTIMES = {
    "litert": ("ai_edge_litert.interpreter", "Interpreter", "ai-edge-litert", _TFLite),
    "tflite-runtime": ("tflite_runtime.interpreter", "Interpreter", "tflite-runtime", _TFLite),
    "tf.lite": ("tensorflow", "lite.Interpreter", "tensorflow", _TFLite),
    "tflite-micro": ("tflite_micro.python.tflite_micro.runtime", "Interpreter", "tflite-micro", _Micro),
}
DEFAULT_ORDER = ["litert", "tflite-runtime", "tf.lite"]  # TFLM only when asked for
# kernel family -> member of the runtime's OpResolverType (the names of edgecxr.runtimes.KERNELS)
KERNELS = {"reference": "BUILTIN_REF", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "xnnpack": "AUTO"}
DEFAULT_KERNELS = "reference"
MICRO_KERNELS = "reference"  # TFLite Micro has only its own reference kernels
# where each runtime keeps OpResolverType
RESOLVER_ENUMS = {"litert": ("ai_edge_litert.interpreter", "OpResolverType"),
                  "tflite-runtime": ("tflite_runtime.interpreter", "OpResolverType"),
                  "tf.lite": ("tensorflow", "lite.experimental.OpResolverType")}


def _attribute(module: str, attr: str):
    if module == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _resolver(name: str, kernels: str):
    """The runtime's OpResolverType member for a kernel family (None for TFLite Micro)."""
    if name not in RESOLVER_ENUMS:
        if kernels != MICRO_KERNELS:
            raise Failure(f"{name} has only its {MICRO_KERNELS} kernels, not {kernels}",
                          f"pass --kernels {MICRO_KERNELS} with --runtime {name}")
        return None
    return getattr(_attribute(*RESOLVER_ENUMS[name]), KERNELS[kernels])


def open_model(path: Path, runtime: str | None, threads: int | None, kernels: str = DEFAULT_KERNELS):
    """(runtime name, adapter) for the first runtime that is installed, or the one asked for."""
    content = path.read_bytes() if path.is_file() else b""
    if content[4:8] != b"TFL3":
        raise Failure(f"{path} is not a TFLite model", "pass the .tflite file that edgecxr exported")
    for name in [runtime] if runtime else DEFAULT_ORDER:
        try:
            cls = _attribute(*RUNTIMES[name][:2])
        except ImportError:
            continue
        model = RUNTIMES[name][3](cls, content, threads, _resolver(name, kernels))
        model.runtime, model.kernels = name, kernels
        return name, model
    wanted = f"the {runtime} runtime is" if runtime else "no TFLite runtime is"
    hint = f"pip install {RUNTIMES[runtime][2]}" if runtime else INSTALL_HINT
    raise Failure(f"{wanted} installed for {sys.executable}", hint, EXIT_NO_RUNTIME)


def runtime_version(name: str) -> str:
    try:
        return metadata.version(RUNTIMES[name][2])
    except metadata.PackageNotFoundError:
        return "unknown"


# -- inputs and outputs --------------------------------------------------------------------------
def model_input(model, pixels):
    """uint8 pixels (H, W, C) -> the model's input tensor, with the model's own quantization."""
    if model.input_dtype == np.int8:
        scale, zp = model.input_quant
        return to_int8(pixels, scale, zp)[None]
    return to_float(pixels)[None]


def scores(model, raw) -> list[float]:
    raw = np.asarray(raw)[0]
    if raw.dtype in (np.int8, np.uint8):
        raw = dequantize(raw, *model.output_quant)
    return [round(float(v), 6) for v in raw]


def raw_bytes(raw) -> list[int] | None:
    """The int8 outputs themselves (what kernel families and devices are compared on)."""
    raw = np.asarray(raw)[0]
    return [int(v) for v in raw] if raw.dtype in (np.int8, np.uint8) else None


def classify(model, spec, path: Path) -> dict:
    pixels = preprocess_file(path, spec)
    t0 = time.perf_counter()
    raw = model(model_input(model, pixels))
    ms = (time.perf_counter() - t0) * 1000
    probs = scores(model, raw)
    return {"file": str(path), "label": label(probs, spec), "scores": probs, "raw": raw_bytes(raw),
            "runtime": model.runtime, "kernels": model.kernels, "latency_ms": round(ms, 3)}


def watch(model, spec, folder: Path, interval: float) -> None:
    """Classify each image that appears in ``folder`` (existing ones are skipped); Ctrl-C stops."""
    seen = set(image_files(folder))
    while True:
        time.sleep(interval)
        for path in image_files(folder):
            if path not in seen:
                seen.add(path)
                emit_line(classify(model, spec, path))


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
        return [model_input(model, preprocess_file(f, spec)) for f in files], [str(f.relative_to(data)) for f in files]
    rng = np.random.default_rng(0)
    h, w, c = model.input_shape[1:]
    return [model_input(model, rng.integers(0, 256, (h, w, c), dtype=np.uint8)) for _ in range(8)], []


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 4)


def bench(model, runtime: str, inputs: list, runs: int, warmup: int, threads: int | None) -> dict:
    threads = getattr(model, "fixed_threads", threads)
    for i in range(warmup):
        model(inputs[i % len(inputs)])
    times = []
    for i in range(runs):
        x = inputs[i % len(inputs)]
        t0 = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t0) * 1000)
    p50 = percentile(times, 50)
    return {"runtime": runtime, "runtime_version": runtime_version(runtime), "kernels": model.kernels,
            "threads": threads,
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
        runtime, model = open_model(args.model, args.runtime, args.threads, args.kernels)
        if args.bench:
            inputs, files = bench_inputs(model, spec, args.data, limit=max(args.bench, 1))
            result = bench(model, runtime, inputs, args.bench, args.warmup, args.threads)
            source = f"{len(files)} images from {args.data}" if files else "random pixels"
            outputs = {"outputs": {f: raw_bytes(model(x)) for f, x in zip(files, inputs)}} if files else {}
            emit_line({"model": args.model.name, "input_dtype": np.dtype(model.input_dtype).name,
                       "inputs": source, **result, **outputs, **machine()})
            return 0
        if spec is None:
            raise Failure("classifying images needs --spec", "pass the spec.json exported with the model")
        for path in args.images:
            emit_line(classify(model, spec, path))
        if args.watch:
            watch(model, spec, args.watch, args.interval)
        return 0
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return e.code
    except (ValueError, OSError) as e:  # unreadable image or spec (ImageError is a ValueError)
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The TFLite interpreter chain and the kernel families, written once: the host (evaluate,
bench, export, through edgecxr.runtimes) and the Raspberry Pi runner open a model here.

    chain     LiteRT -> tflite-runtime -> tf.lite, the first one installed (TFLite Micro only when asked)
    kernels   reference (default) | builtin | xnnpack: the runtime's OpResolverType member
              engine: edgecxr's own C engine generated from the model and built for this computer
              (host only: the code generator and the C compiler live outside this package, which
              the Raspberry Pi gets; they register a factory in NATIVE_ENGINES)

int8 results depend on the kernels, not only on the model: XNNPACK (what the runtimes apply
by default) and TFLite's optimized builtin kernels round differently from the reference
kernels, and the builtin ones even differ between x86 and aarch64. The reference kernels are
what TFLite Micro runs on a Cortex-M, bit for bit, on any host; they are the default, so every
figure that describes a device comes from kernels that agree with it.

Part of edgecxr.device: standard library, numpy and (through preprocess) Pillow; relative imports only.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from importlib import metadata

import numpy as np

from .exits import EXIT_NO_RUNTIME, Failure
from .preprocess import dequantize, to_float, to_int8


@dataclass(frozen=True)
class Runtime:
    name: str
    module: str  # the module that holds the Interpreter class
    attr: str  # dotted path of the Interpreter class inside it
    distribution: str  # what pip installs (and reports the version of)
    resolver_enum: str | None  # dotted path of OpResolverType inside ``module``; None: one kernel family only
    note: str = ""  # what limits the install

    @property
    def install(self) -> str:
        return f"pip install {self.distribution}{self.note}"


RUNTIMES = {
    "litert": Runtime("litert", "ai_edge_litert.interpreter", "Interpreter", "ai-edge-litert", "OpResolverType"),
    "tflite-runtime": Runtime("tflite-runtime", "tflite_runtime.interpreter", "Interpreter", "tflite-runtime",
                              "OpResolverType", " (Python <= 3.11, numpy < 2)"),
    "tf.lite": Runtime("tf.lite", "tensorflow", "lite.Interpreter", "tensorflow", "lite.experimental.OpResolverType"),
    "tflite-micro": Runtime("tflite-micro", "tflite_micro.python.tflite_micro.runtime", "Interpreter",
                            "tflite-micro", None),
}
CHAIN = ("litert", "tflite-runtime", "tf.lite")  # tried in this order; TFLite Micro only when asked for
INSTALL_HINT = "pip install ai-edge-litert   (or: pip install tflite-runtime)"
MICRO_ARENA_BYTES = 64 * 1024 * 1024  # TFLite Micro on a host or a Pi: large enough for any model a microcontroller holds


@dataclass(frozen=True)
class Kernels:
    name: str
    resolver: str  # the member of the runtime's OpResolverType enum
    about: str


KERNELS = {
    "reference": Kernels("reference", "BUILTIN_REF",
                         "TFLite's reference kernels: bit-exact with TFLite Micro, the same on every host"),
    "builtin": Kernels("builtin", "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
                       "optimized builtin kernels without XNNPACK: results differ between x86 and aarch64"),
    "xnnpack": Kernels("xnnpack", "AUTO",
                       "the runtime's default (XNNPACK applied): fastest, what a Pi runs unless told"),
}
# kernel families that are not a TFLite resolver: generated code, built where edgecxr is installed
NATIVE_KERNELS = {
    "engine": Kernels("engine", "", "edgecxr's own int8 engine: C generated from the model, the code a "
                                    "microcontroller runs, bit-exact with the reference kernels"),
}
ALL_KERNELS = {**KERNELS, **NATIVE_KERNELS}
NATIVE_ENGINES: dict = {}  # kernels name -> factory(content: bytes) -> an engine like _TFLite (host only)
DEFAULT_KERNELS = "reference"
MICRO_KERNELS = "reference"  # TFLite Micro has only its own reference kernels


def check_kernels(name: str) -> str:
    """``name`` if it is a kernel family, else a Failure listing them."""
    if name not in ALL_KERNELS:
        raise Failure(f"unknown kernels {name!r}", f"choose one of {', '.join(ALL_KERNELS)}")
    return name


def check_runtime(name: str) -> str:
    if name not in RUNTIMES:
        raise Failure(f"unknown runtime {name!r}", f"choose one of {', '.join(RUNTIMES)}")
    return name


def installed(name: str) -> bool:
    """Whether runtime ``name``'s package is installed (found, not imported: tf.lite is big)."""
    return importlib.util.find_spec(RUNTIMES[name].module.split(".")[0]) is not None


def available() -> list[str]:
    """Installed runtimes of the chain, in the order it tries them."""
    return [n for n in CHAIN if installed(n)]


def version(name: str) -> str:
    try:
        return metadata.version(RUNTIMES[name].distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _attribute(module: str, attr: str):
    if module == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _resolver(rt: Runtime, kernels: str):
    """The runtime's OpResolverType member for a kernel family (None for TFLite Micro)."""
    if rt.resolver_enum is None:
        if kernels != MICRO_KERNELS:
            raise Failure(f"{rt.name} has only its {MICRO_KERNELS} kernels, not {kernels}",
                          f"pass --kernels {MICRO_KERNELS} with --runtime {rt.name}")
        return None
    return getattr(_attribute(rt.module, rt.resolver_enum), KERNELS[kernels].resolver)


def _quant(details: dict) -> dict | None:
    """{"scale", "zero_point"} of an int8 tensor's details; None for a float one."""
    q = details.get("quantization_parameters") or {}
    scales, zero_points = q.get("scales", []), q.get("zero_points", [])
    if np.dtype(details["dtype"]) not in (np.int8, np.uint8) or not len(scales):
        return None
    return {"scale": float(scales[0]), "zero_point": int(zero_points[0])}


def _first_installed(runtime: str | None):
    """(name, Interpreter class) of ``runtime``, or of the chain's first installed runtime."""
    for name in [check_runtime(runtime)] if runtime else CHAIN:
        try:
            return name, _attribute(RUNTIMES[name].module, RUNTIMES[name].attr)
        except ImportError:
            continue
    if runtime:
        raise Failure(f"runtime {runtime} is not installed for {sys.executable}", RUNTIMES[runtime].install,
                      EXIT_NO_RUNTIME)
    raise Failure(f"no TFLite runtime is installed for {sys.executable}", INSTALL_HINT, EXIT_NO_RUNTIME)


def _register_host_engines() -> None:
    """Where edgecxr itself is installed (the host, also when this package runs as the bench
    runner's copy), its runtimes module registers the native engines; on a Pi nothing happens."""
    try:
        importlib.import_module("edgecxr.runtimes")
        NATIVE_ENGINES.update(importlib.import_module("edgecxr.device.runtime").NATIVE_ENGINES)
    except ImportError:
        pass


class _TFLite:
    """The TFLite Interpreter API shared by LiteRT, tflite-runtime and tf.lite."""

    def __init__(self, cls, content: bytes, threads: int | None, resolver):
        self.it = cls(model_content=content, num_threads=threads, experimental_op_resolver_type=resolver)
        self.it.allocate_tensors()
        self.input, self.output = self.it.get_input_details()[0], self.it.get_output_details()[0]

    def __call__(self, x):
        self.it.set_tensor(self.input["index"], x)
        self.it.invoke()
        return self.it.get_tensor(self.output["index"])


class _Micro:
    """TensorFlow Lite Micro's Python interpreter (single-threaded by design)."""

    def __init__(self, cls, content: bytes, threads: int | None, resolver):
        self.it = cls.from_bytes(content, arena_size=MICRO_ARENA_BYTES)
        self.input, self.output = self.it.get_input_details(0), self.it.get_output_details(0)

    def __call__(self, x):
        self.it.set_input(x, 0)
        self.it.invoke()
        return self.it.get_output(0)


class Model:
    """One .tflite model on one runtime and kernel family: feed uint8 pixels, get its int8
    outputs or probabilities, quantized and dequantized with the model's own scale and zero point."""

    def __init__(self, content: bytes, runtime: str | None = None, threads: int | None = None,
                 kernels: str = DEFAULT_KERNELS, name: str = "the model"):
        self.kernels = check_kernels(kernels)
        if content[4:8] != b"TFL3":
            raise Failure(f"{name} is not a TFLite model", "pass the .tflite file that edgecxr exported")
        if kernels in NATIVE_KERNELS:
            self._native(content, kernels)
            return
        self.runtime, cls = _first_installed(runtime)
        rt = RUNTIMES[self.runtime]
        engine = _Micro if rt.resolver_enum is None else _TFLite
        try:
            self.engine = engine(cls, content, threads, _resolver(rt, kernels))
        except (ValueError, RuntimeError) as e:
            raise Failure(f"{name} cannot be loaded by {self.runtime}: {(str(e) or type(e).__name__).splitlines()[0]}",
                          "the file may be truncated or corrupt; quantize or export it again") from None
        self.threads = 1 if engine is _Micro else threads
        self.input, self.output = self.engine.input, self.engine.output  # shape, dtype, quantization
        self.input_quant, self.output_quant = _quant(self.input), _quant(self.output)

    def _native(self, content: bytes, kernels: str) -> None:
        if kernels not in NATIVE_ENGINES:
            _register_host_engines()
        if kernels not in NATIVE_ENGINES:
            raise Failure(f"the {kernels} kernels are built from the model by edgecxr itself, which is not here",
                          f"run them on a computer with edgecxr and a C compiler, or pass --kernels {DEFAULT_KERNELS}")
        self.runtime, self.threads = kernels, 1
        self.engine = NATIVE_ENGINES[kernels](content)
        self.input, self.output = self.engine.input, self.engine.output
        self.input_quant, self.output_quant = _quant(self.input), _quant(self.output)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input["shape"])

    @property
    def is_int8(self) -> bool:
        return self.input_quant is not None

    def input_tensor(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (H, W, C) -> exactly what goes into the interpreter (a batch of one)."""
        if self.is_int8:
            return to_int8(pixels, **self.input_quant)[None]
        return to_float(pixels)[None]

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """One input tensor (a batch of one) -> its raw output row (int8 for an int8 model)."""
        return np.asarray(self.engine(tensor))[0]

    def raw(self, pixels: np.ndarray) -> np.ndarray:
        """Raw outputs for a batch of uint8 pixels (N, H, W, C)."""
        out = np.zeros((len(pixels), *self.output["shape"][1:]), self.output["dtype"])
        for i, px in enumerate(pixels):
            out[i] = self.invoke(self.input_tensor(px))
        return out

    def scores(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs -> probabilities (dequantized for an int8 model)."""
        if self.output_quant is not None:
            return dequantize(np.asarray(raw), **self.output_quant)
        return np.asarray(raw).astype(np.float32)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities for a batch of uint8 pixels."""
        return self.scores(self.raw(pixels))

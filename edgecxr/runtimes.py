"""The TFLite interpreter chain (LiteRT -> tflite-runtime -> tf.lite) and the kernel families.

Every stage that runs a .tflite (evaluate, bench, export, the tests) goes through
``TFLiteModel`` so that quantizing inputs and dequantizing outputs happens one way, with the
model's own scale and zero point.

int8 results depend on the kernels, not only on the model: XNNPACK (what the runtimes apply
by default) and TFLite's optimized builtin kernels round differently from the reference
kernels, and the builtin ones even differ between x86 and aarch64. The reference kernels are
what TFLite Micro runs on a Cortex-M, bit for bit, on any host; they are the default here, so
every figure that describes a device comes from kernels that agree with it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecxr.device.preprocess import dequantize, to_float, to_int8
from edgecxr.errors import ModelError
from edgecxr.tflite_facts import check_tflite, io_quant


@dataclass(frozen=True)
class Runtime:
    name: str
    module: str  # the module that holds `Interpreter`
    attr: str  # dotted path of the Interpreter class inside it
    install: str  # how a user gets it


RUNTIMES = {
    "litert": Runtime("litert", "ai_edge_litert.interpreter", "Interpreter", "pip install ai-edge-litert"),
    "tflite-runtime": Runtime("tflite-runtime", "tflite_runtime.interpreter", "Interpreter",
                              "pip install tflite-runtime (Python <= 3.11, numpy < 2)"),
    "tf.lite": Runtime("tf.lite", "tensorflow", "lite.Interpreter", "pip install tensorflow"),
}


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
DEFAULT_KERNELS = "reference"


def check_kernels(name: str) -> str:
    """``name`` if it is a kernel family, else an error listing them."""
    if name not in KERNELS:
        raise ModelError(f"unknown kernels {name!r}", f"choose one of {', '.join(KERNELS)}")
    return name


def _interpreter_class(rt: Runtime):
    if rt.module == "tensorflow":
        from edgecxr.tfenv import tf

        mod = tf()
    else:
        mod = importlib.import_module(rt.module)
    cls = mod
    for part in rt.attr.split("."):
        cls = getattr(cls, part)
    return cls


def _resolver_type(rt: Runtime, kernels: str):
    """The runtime's OpResolverType member for a kernel family."""
    if rt.module == "tensorflow":
        from edgecxr.tfenv import tf

        enum = tf().lite.experimental.OpResolverType
    else:
        enum = importlib.import_module(rt.module).OpResolverType
    return getattr(enum, KERNELS[kernels].resolver)


def is_available(name: str) -> bool:
    try:
        _interpreter_class(RUNTIMES[name])
        return True
    except ImportError:
        return False


def available() -> list[str]:
    """Installed runtimes, in the order the chain tries them."""
    return [n for n in RUNTIMES if is_available(n)]


class TFLiteModel:
    """A .tflite model on one runtime and kernel family: feed uint8 pixels, get probabilities."""

    def __init__(self, path: str | Path, runtime: str | None = None, threads: int | None = None,
                 kernels: str = DEFAULT_KERNELS):
        self.path = Path(path)
        self.kernels = check_kernels(kernels)
        content = check_tflite(self.path)
        names = [runtime] if runtime else available()
        if runtime and runtime not in RUNTIMES:
            raise ModelError(f"unknown runtime {runtime!r}", f"choose one of {', '.join(RUNTIMES)}")
        if runtime and not is_available(runtime):
            raise ModelError(f"runtime {runtime} is not installed", RUNTIMES[runtime].install)
        if not names:
            raise ModelError("no TFLite runtime is installed", RUNTIMES["litert"].install)
        self.runtime = names[0]
        rt = RUNTIMES[self.runtime]
        cls = _interpreter_class(rt)
        from edgecxr.tfenv import quiet_stderr

        try:
            with quiet_stderr():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
                self.interpreter = cls(model_content=content, num_threads=threads,
                                       experimental_op_resolver_type=_resolver_type(rt, kernels))
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{self.path} cannot be loaded by {self.runtime}: {str(e).splitlines()[0]}",
                             "the file may be truncated or corrupt; re-run `edgecxr quantize`") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_quant, self.output_quant = io_quant(content)  # {"scale", "zero_point"}; None if float

    @property
    def is_int8(self) -> bool:
        return self.input["dtype"] == np.int8

    def input_tensor(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (H, W, C) -> exactly what goes into the interpreter."""
        if self.is_int8:
            return to_int8(pixels, self.input_quant["scale"], self.input_quant["zero_point"])[None]
        return to_float(pixels)[None]

    def raw(self, pixels: np.ndarray) -> np.ndarray:
        """Raw outputs (int8 for an int8 model) for a batch of uint8 pixels (N, H, W, C)."""
        out = np.zeros((len(pixels), *self.output["shape"][1:]), self.output["dtype"])
        for i, px in enumerate(pixels):
            self.interpreter.set_tensor(self.input["index"], self.input_tensor(px))
            self.interpreter.invoke()
            out[i] = self.interpreter.get_tensor(self.output["index"])[0]
        return out

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (dequantized for int8 models) for a batch of uint8 pixels."""
        raw = self.raw(pixels)
        if self.output_quant is not None:
            return dequantize(raw, self.output_quant["scale"], self.output_quant["zero_point"])
        return raw.astype(np.float32)

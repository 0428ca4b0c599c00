"""What every operator's lowering returns (a Kernel) and the helpers they share: C arrays,
TFLite's padding rule, the checks that turn an unsupported option into one error line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgecxr.engine.parse import Graph, Operator, Tensor
from edgecxr.errors import ModelError

TFLM_HINT = "use --engine tflm (TensorFlow Lite Micro runs every TFLite operator)"


def unsupported(what: str) -> ModelError:
    return ModelError(f"the edgecxr engine does not support {what}", TFLM_HINT)


@dataclass
class Kernel:
    """One operator lowered to C.

    ``body(inplace)`` returns the statements of ``static void layer_N(const int8_t *in0,
    const int8_t *in1, int8_t *out, int8_t *scratch)``; ``inplace_input`` is the activation
    input the output may overwrite (same start address), and ``scratch(inplace)`` the bytes of
    working memory the body needs either way. ``fast`` / ``fast_scratch``: an optional faster
    body whose larger scratch the plan grants only where it costs no arena (it fits in the
    unused tail of the output's buffer at that operator)."""

    op: Operator
    reads: tuple[int, ...]  # activation tensors read, in1 second (constants are baked in)
    writes: int
    arrays: list[str] = field(default_factory=list)  # C definitions of the layer's constants
    body: Callable[[bool], str] = lambda inplace: ""
    scratch: Callable[[bool], int] = lambda inplace: 0
    inplace_input: int | None = None
    fast: Callable[[bool], str] | None = None
    fast_scratch: Callable[[bool], int] = lambda inplace: 0
    alias: bool = False  # the output IS the input's memory (RESHAPE)
    macs: int = 0
    note: str = ""  # what the plan prints about the layer (e.g. "in place, backwards")


def c_array(ctype: str, name: str, values, per_line: int = 24) -> str:
    vals = [str(int(v)) for v in np.asarray(values).ravel()]
    if ctype == "int32_t":
        vals = [v if int(v) != -2**31 else "(-2147483647 - 1)" for v in vals]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)] or ["0"]
    return f"static const {ctype} {name}[{max(len(vals), 1)}] = {{\n    " + ",\n    ".join(lines) + "\n};\n"


def c_float_array(name: str, values) -> str:
    vals = [np.format_float_scientific(np.float32(v), unique=True, exp_digits=2) + "f" for v in values]
    lines = [", ".join(vals[i:i + 6]) for i in range(0, len(vals), 6)]
    return f"static const float {name}[{len(vals)}] = {{\n    " + ",\n    ".join(lines) + "\n};\n"


def padding(kind: str, stride: int, dilation: int, in_size: int, filt: int, out_size: int) -> int:
    """TFLite ComputePaddingWithOffset: the leading (top/left) padding."""
    effective = (filt - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + effective - in_size)
    return total // 2


def nhwc(t: Tensor) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise unsupported(f"a {len(t.shape)}-D input to a 2-D operator ({t.name})")
    return tuple(t.shape)  # type: ignore[return-value]


def require_int8(graph: Graph, op: Operator, *tensors: Tensor | None) -> None:
    for t in tensors:
        if t is None:
            continue
        if t.dtype != "int8":
            raise unsupported(f"{op.code} on {t.dtype} tensors (operator {op.index}; it runs int8 models only)")
        if t.quant is None:
            raise unsupported(f"{op.code} on an int8 tensor without quantization (operator {op.index})")


def activation_of(op: Operator) -> str:
    act = op.options.get("fusedActivationFunction", "NONE")
    if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise unsupported(f"the fused activation {act} of {op.code} (operator {op.index})")
    return act


def layer_prefix(op: Operator) -> str:
    return f"L{op.index}"

"""Facts of a .tflite, read once for every stage: its operators and their TFLM resolver names,
MACs, input/output quantization, the operators that compute in float, and the TFLM arena.

Everything but the arena is read from the flatbuffer itself (the schema TFLM ships), not from
an interpreter: no private TFLite API, and the same answer whichever runtime is installed.
The flatbuffer is parsed once, by edgecxr.engine.parse (the typed description the engine's
code generator reads too), and every fact here is a question to that description.
A model is a path, the bytes of one (quantize asks before it writes the file), or its
description (``describe``), which a caller asking several facts parses once.

The arena is measured, not guessed: the `tflite-micro` Python runtime allocates the model
in a generous arena and ``print_allocations()`` reports what was used. That report goes to
C-level stderr, so it is captured by redirecting file descriptor 2. The host build of TFLM
has 64-bit pointers, so the figure is a slight over-estimate for a 32-bit microcontroller.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgecxr.device.runtime import MICRO_ARENA_BYTES, RUNTIMES
from edgecxr.errors import ModelError
from edgecxr.firmware.resolver import registration
from edgecxr.tflite_file import check_tflite

_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_ARENAS: dict[str, int] = {}  # sha256 of a model -> its measured arena (measure_arena)
ARENA_ALIGN = 16  # TFLM aligns the arena to 16 bytes; the arena that works is the measured size rounded up


def _tflm_runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise ModelError("the TFLite Micro Python runtime (tflite-micro) is not installed",
                         RUNTIMES["tflite-micro"].install) from None
    return runtime


def describe(model):
    """The one typed description of a .tflite (edgecxr.engine.parse.Graph): a path or bytes are
    parsed, a description is returned as it is. Every fact below takes any of the three, so a
    caller that asks several reads and parses the model once: ``g = describe(path)``."""
    from edgecxr.engine.parse import Graph, parse

    return model if isinstance(model, Graph) else parse(_bytes(model))


def _bytes(model: str | Path | bytes) -> bytes:
    return model if isinstance(model, bytes) else check_tflite(Path(model))


def builtin_ops(model: str | Path | bytes) -> dict[str, bool]:
    """{builtin operator: True when every use of it is int8 in and out}, sorted by name.

    An operator used only on int8 tensors can be registered with its int8-only kernel
    (``Register_CONV_2D_INT8``), which leaves the other dtypes' code out of the firmware."""
    g = describe(model)
    found: dict[str, bool] = {}
    for op in g.operators:
        ends = [g.tensors[i].dtype for i in (op.inputs[0], op.outputs[0]) if i >= 0]
        found[op.code] = found.get(op.code, True) and all(t == "int8" for t in ends)
    return dict(sorted(found.items()))


def tflm_ops(model: str | Path | bytes) -> list[str]:
    """The resolver methods the model needs ("AddConv2D", "AddSoftmax", ...), sorted, unique,
    named by TFLM's own resolver header (edgecxr.firmware.resolver)."""
    return sorted({registration(op)["method"] for op in builtin_ops(model)})


def arena_size(measured: int) -> int:
    """The tensor arena to reserve for ``measured`` bytes, rounded up to 16. ``measured`` is the
    64-bit host's figure, a little above what a 32-bit core uses (the firmware reports its own)."""
    return -(-measured // ARENA_ALIGN) * ARENA_ALIGN


def _per_sample(shape) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else int(np.prod(shape))


# operator -> multiplies per output element from its weight tensor, in TFLite's layout;
# pooling, means and element-wise operators do additions only and are left out, as MLPerf
# Tiny and most papers count
_MACS_PER_OUTPUT = {
    "CONV_2D": lambda w: int(np.prod(w[1:])),  # filter (Cout, Kh, Kw, Cin / groups)
    "DEPTHWISE_CONV_2D": lambda w: int(w[1] * w[2]),  # filter (1, Kh, Kw, Cout)
    "FULLY_CONNECTED": lambda w: int(w[1]),  # weights (Out, In)
}


def op_macs(op: str, out_shape, weight_shape) -> int:
    """MACs per image of one operator from its output shape (batch first) and weight shape.
    The one rule: the Keras model table (edgecxr.models.zoo.count_macs) counts with it too."""
    return _per_sample(list(out_shape)) * _MACS_PER_OUTPUT[op](list(weight_shape))


def layer_macs(model: str | Path | bytes) -> list[tuple[str, int]]:
    """(operator, MACs) of every operator in execution order (0 for operators without weights)."""
    g = describe(model)
    return [(op.code, op_macs(op.code, g.tensors[op.outputs[0]].shape, g.tensors[op.inputs[1]].shape)
             if op.code in _MACS_PER_OUTPUT else 0) for op in g.operators]


def count_macs(model: str | Path | bytes) -> int:
    """Multiply-accumulates of one inference (batch of 1) from conv, depthwise and FC operators."""
    return sum(macs for _, macs in layer_macs(model))


# operators that only move values between float and int8; any other touching float32 computes in float
_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}


def float_ops(model: str | Path | bytes) -> list[str]:
    """Operators that compute in float32, in order of first use (an int8 model has none; a float
    one needs an FPU, and an int8 conversion with float fallback lists what it left in float)."""
    g = describe(model)
    found = [op.code for op in g.operators if op.code not in _BOUNDARY_OPS
             and any(g.tensors[i].dtype == "float32" for i in (*op.inputs, *op.outputs) if i >= 0)]
    return sorted(set(found), key=found.index)


def io_quant(model: str | Path | bytes) -> tuple[dict | None, dict | None]:
    """(input, output) {"scale", "zero_point"} of the model's first input and output; None for
    a float tensor."""
    g = describe(model)

    def quant(t) -> dict | None:
        if t.dtype not in ("int8", "uint8") or t.quant is None:
            return None
        return {"scale": t.scale, "zero_point": t.zero_point}

    return quant(g.input), quant(g.output)


def measure_arena(model_path: str | Path) -> int:
    """Bytes of tensor arena TFLM allocates for this model (the `kTensorArenaSize` to use).

    Measured in a child process: TFLM aborts the whole process (C++ abort, no exception) on some
    models it cannot plan, and that must become a one-line error, not a dead CLI. Measured once
    per model content in a process (an export writes several formats of one model)."""
    digest = hashlib.sha256(check_tflite(Path(model_path))).hexdigest()
    if digest not in _ARENAS:
        _ARENAS[digest] = _measure_arena(model_path)
    return _ARENAS[digest]


def _measure_arena(model_path: str | Path) -> int:
    _tflm_runtime()
    proc = subprocess.run([sys.executable, "-m", "edgecxr.tflite_facts", str(model_path)],
                          capture_output=True, text=True, timeout=300)
    found = _ARENA_TOTAL.search(proc.stdout)
    if proc.returncode != 0 or not found:
        said = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ModelError(f"TFLite Micro could not allocate {model_path}: {said}",
                         "TFLM aborts on near-zero quantization scales (an untrained model, or one calibrated "
                         "on inputs unlike X-rays: quantize a trained run) and on operators it lacks "
                         f"(this model uses {', '.join(tflm_ops(model_path))})")
    return int(found.group(1))


def _print_arena_report(model_path: str) -> None:
    """The child process of ``measure_arena``: TFLM's allocation report, on stdout."""
    interpreter = _tflm_runtime().Interpreter.from_bytes(check_tflite(Path(model_path)),
                                                        arena_size=MICRO_ARENA_BYTES)
    sys.stdout.write(_capture_fd2(interpreter.print_allocations))


def _capture_fd2(fn) -> str:
    """Run ``fn`` and return what it wrote to file descriptor 2 (C code bypasses sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode("utf-8", "replace")


def io_bytes(model: str | Path | bytes) -> dict[str, int]:
    """Bytes of the model's input and output tensors (what the application must buffer)."""
    g = describe(model)
    return {"input": sum(g.tensors[i].nbytes for i in g.inputs), "output": sum(g.tensors[i].nbytes for i in g.outputs)}


if __name__ == "__main__":
    _print_arena_report(sys.argv[1])

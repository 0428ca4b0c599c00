"""TensorFlow Lite Micro facts of a .tflite: the arena it really needs, its operators, its MACs.

The arena is measured, not guessed: the `tflite-micro` Python runtime allocates the model
in a generous arena and ``print_allocations()`` reports what was used. That report goes to
C-level stderr, so it is captured by redirecting file descriptor 2. The host build of TFLM
has 64-bit pointers, so the figure is a slight over-estimate for a 32-bit microcontroller.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgecxr.errors import ModelError
from edgecxr.runtimes import check_tflite

TFLM_INSTALL = "pip install tflite-micro"
MEASURE_ARENA_BYTES = 64 * 1024 * 1024  # large enough for any model a microcontroller could hold
_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
ARENA_ALIGN = 16  # TFLM aligns the arena to 16 bytes; the arena that works is the measured size rounded up


def _schema():
    """The TFLite flatbuffer schema module (TFLM ships one; TensorFlow's is the fallback)."""
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    except ImportError:
        from edgecxr.tfenv import tf

        tf()
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _tflm_runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise ModelError("the TFLite Micro Python runtime (tflite-micro) is not installed", TFLM_INSTALL) from None
    return runtime


@lru_cache(maxsize=1)
def _builtin_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def _model(model_path: str | Path):
    schema = _schema()
    data = check_tflite(Path(model_path))
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def _opcode(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return _builtin_names()[max(code.builtinCode, code.deprecatedBuiltinCode)]


def builtin_ops(model_path: str | Path) -> dict[str, bool]:
    """{builtin operator: True when every use of it is int8 in and out}, sorted by name.

    An operator used only on int8 tensors can be registered with its int8-only kernel
    (``Register_CONV_2D_INT8``), which leaves the other dtypes' code out of the firmware."""
    model = _model(model_path)
    int8 = _schema().TensorType.INT8
    found: dict[str, bool] = {}
    for g in model.subgraphs:
        for op in g.operators or []:
            name = _opcode(model, op)
            ends = [g.tensors[i].type for i in (op.inputs[0], op.outputs[0]) if i >= 0]
            found[name] = found.get(name, True) and all(t == int8 for t in ends)
    return dict(sorted(found.items()))


def tflm_ops(model_path: str | Path) -> list[str]:
    """The resolver methods the model needs ("AddConv2D", "AddSoftmax", ...), sorted, unique,
    named by TFLM's own resolver header (edgecxr.firmware.resolver)."""
    from edgecxr.firmware.resolver import registration

    return sorted({registration(op)["method"] for op in builtin_ops(model_path)})


def arena_size(measured: int) -> int:
    """The tensor arena to reserve for ``measured`` bytes, rounded up to 16. ``measured`` is the
    64-bit host's figure, a little above what a 32-bit core uses (the firmware reports its own)."""
    return -(-measured // ARENA_ALIGN) * ARENA_ALIGN


def _per_sample(shape) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else int(np.prod(shape))


def _conv_macs(out_shape, filt_shape) -> int:  # filter (Cout, Kh, Kw, Cin)
    return _per_sample(out_shape) * int(np.prod(filt_shape[1:]))


def _depthwise_macs(out_shape, filt_shape) -> int:  # filter (1, Kh, Kw, Cout)
    return _per_sample(out_shape) * int(filt_shape[1] * filt_shape[2])


def _fc_macs(out_shape, filt_shape) -> int:  # weights (Out, In)
    return _per_sample(out_shape) * int(filt_shape[1])


# operator -> MACs per image from (output shape, weight shape); pooling, means and element-wise
# operators do additions only and are left out, as MLPerf Tiny and most papers count
_MAC_RULES = {"CONV_2D": _conv_macs, "DEPTHWISE_CONV_2D": _depthwise_macs, "FULLY_CONNECTED": _fc_macs}


def layer_macs(model_path: str | Path) -> list[tuple[str, int]]:
    """(operator, MACs) of every operator in execution order (0 for operators without weights)."""
    model = _model(model_path)
    layers = []
    for g in model.subgraphs:
        for op in g.operators or []:
            name = _opcode(model, op)
            rule = _MAC_RULES.get(name)
            macs = rule(list(g.tensors[op.outputs[0]].shape), list(g.tensors[op.inputs[1]].shape)) if rule else 0
            layers.append((name, int(macs)))
    return layers


def count_macs(model_path: str | Path) -> int:
    """Multiply-accumulates of one inference (batch of 1) from conv, depthwise and FC operators."""
    return sum(macs for _, macs in layer_macs(model_path))


def measure_arena(model_path: str | Path) -> int:
    """Bytes of tensor arena TFLM allocates for this model (the `kTensorArenaSize` to use).

    Measured in a child process: TFLM aborts the whole process (C++ abort, no exception) on some
    models it cannot plan, and that must become a one-line error, not a dead CLI."""
    check_tflite(Path(model_path))
    _tflm_runtime()
    proc = subprocess.run([sys.executable, "-m", "edgecxr.bench.micro", str(model_path)],
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
                                                        arena_size=MEASURE_ARENA_BYTES)
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


def io_bytes(model_path: str | Path) -> dict[str, int]:
    """Bytes of the model's input and output tensors (what the application must buffer)."""
    model = _model(model_path)
    g = model.subgraphs[0]
    itemsize = {v: np.dtype(n.lower()).itemsize for n, v in vars(_schema().TensorType).items()
                if not n.startswith("_") and n.lower() in ("float32", "int8", "uint8", "int16", "int32", "float16")}

    def size(index: int) -> int:
        t = g.tensors[index]
        return int(np.prod(t.shape)) * itemsize[t.type]

    return {"input": sum(size(i) for i in g.inputs), "output": sum(size(i) for i in g.outputs)}


def is_float_model(model_path: str | Path) -> bool:
    """True when any operator computes in float (weights float32), i.e. the model needs an FPU."""
    model = _model(model_path)
    schema = _schema()
    for g in model.subgraphs:
        for op in g.operators or []:
            if _opcode(model, op) in _MAC_RULES and g.tensors[op.inputs[1]].type == schema.TensorType.FLOAT32:
                return True
    return False


if __name__ == "__main__":
    _print_arena_report(sys.argv[1])

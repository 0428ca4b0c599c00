"""parse: a .tflite flatbuffer -> a typed, read-only description of its graph.

Read once, with the schema module TFLite Micro ships (edgecxr.tflite_file.schema), and then
used by everything that asks about a model (operators, MACs, input/output quantization, the
engine's planner and code generator), so no stage walks the flatbuffer on its own.

Scales stay float32 values (held as Python floats, which represent them exactly): TFLite
computes its requantization multipliers from those float32 values in double, and the engine
must start from the very same numbers to be bit-exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

# schema TensorType name -> numpy dtype name (the types an int8 or float model carries)
_DTYPES = {"FLOAT32": "float32", "FLOAT16": "float16", "INT32": "int32", "UINT8": "uint8", "INT64": "int64",
           "INT16": "int16", "INT8": "int8", "BOOL": "bool", "FLOAT64": "float64", "UINT32": "uint32"}
# option fields whose integers are enums of the schema: field -> schema enum class
_ENUM_FIELDS = {"padding": "Padding", "fusedActivationFunction": "ActivationFunctionType"}


@dataclass(frozen=True)
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor (one value) or per channel
    along ``axis``."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "int8", "int32", "float32", ...
    quant: Quant | None
    data: np.ndarray | None = field(default=None, repr=False, compare=False)  # constant tensors only

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @property
    def scale(self) -> float:
        return self.quant.scale[0]

    @property
    def zero_point(self) -> int:
        return self.quant.zero_point[0]


@dataclass(frozen=True)
class Operator:
    index: int
    code: str  # builtin operator name: "CONV_2D", "SOFTMAX", ...
    inputs: tuple[int, ...]  # tensor indices; -1 marks an absent optional input
    outputs: tuple[int, ...]
    options: dict  # the builtin options, schema field names, enums as names ("SAME", "RELU6")


@dataclass(frozen=True)
class Graph:
    """The model's (first) subgraph: tensors, operators in execution order, inputs, outputs."""

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int = 1  # how many the file has (the engine runs single-subgraph models only)

    def inputs_of(self, op: Operator) -> list[Tensor | None]:
        return [self.tensors[i] if i >= 0 else None for i in op.inputs]

    def outputs_of(self, op: Operator) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs]

    @property
    def input(self) -> Tensor:
        return self.tensors[self.inputs[0]]

    @property
    def output(self) -> Tensor:
        return self.tensors[self.outputs[0]]


def _schema():
    from edgecxr.tflite_file import schema

    return schema()


@lru_cache(maxsize=1)
def _enum_names() -> dict[str, dict[int, str]]:
    s = _schema()
    names = {"BuiltinOperator": s.BuiltinOperator, "TensorType": s.TensorType, **{
        k: getattr(s, v) for k, v in _ENUM_FIELDS.items()}}
    return {key: {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}
            for key, cls in names.items()}


def _options(obj) -> dict:
    if obj is None:
        return {}
    enums = _enum_names()
    return {k: enums[k].get(v, v) if k in enums else v for k, v in vars(obj).items()}


def _quant(q) -> Quant | None:
    if q is None or q.scale is None or not len(q.scale):
        return None
    zero = q.zeroPoint if q.zeroPoint is not None else np.zeros(len(q.scale), np.int64)
    return Quant(tuple(float(s) for s in np.asarray(q.scale, np.float32)), tuple(int(z) for z in zero),
                 int(q.quantizedDimension))


def _tensor(i: int, t, buffers) -> Tensor:
    dtype = _DTYPES.get(_enum_names()["TensorType"][t.type], _enum_names()["TensorType"][t.type].lower())
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
    raw = buffers[t.buffer].data if 0 < t.buffer < len(buffers) else None
    data = None
    if raw is not None and len(raw):
        data = np.frombuffer(np.asarray(raw, np.uint8).tobytes(), dtype=np.dtype(dtype).newbyteorder("<"))
        data = data.astype(dtype).reshape(shape)
        data.setflags(write=False)
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name or "")
    return Tensor(i, name, shape, dtype, _quant(t.quantization), data)


@lru_cache(maxsize=16)
def _parse_bytes(content: bytes) -> Graph:
    s = _schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))
    codes = _enum_names()["BuiltinOperator"]
    g = model.subgraphs[0]
    tensors = tuple(_tensor(i, t, model.buffers) for i, t in enumerate(g.tensors))
    ops = []
    for n, op in enumerate(g.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        name = codes.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        if name == "CUSTOM" and code.customCode:
            name = f"CUSTOM:{code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode}"
        ops.append(Operator(n, name, tuple(int(i) for i in op.inputs), tuple(int(i) for i in op.outputs),
                            _options(op.builtinOptions)))
    return Graph(tensors, tuple(ops), tuple(int(i) for i in g.inputs), tuple(int(i) for i in g.outputs),
                 len(model.subgraphs))


def parse(model: str | Path | bytes) -> Graph:
    """The graph of a .tflite (a path or its bytes); a ModelError when it is not one."""
    from edgecxr.tflite_file import check_tflite

    return _parse_bytes(model if isinstance(model, bytes) else check_tflite(Path(model)))

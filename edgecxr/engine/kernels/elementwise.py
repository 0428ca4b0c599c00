"""ADD and MUL of two int8 tensors (NumPy-style broadcasting up to 4-D), RESHAPE, and the
table-driven LOGISTIC and SOFTMAX, as LiteRT's reference kernels compute them.

ADD rescales both inputs to 2^20 times the larger input scale and back (reference
integer_ops::AddFunc); MUL multiplies the offset inputs and requantizes once. LOGISTIC is a
256-entry int8 table and SOFTMAX a 256-entry float32 table of expf(-scale * beta * d), built
at generation time as TFLite builds them at Prepare; SOFTMAX then sums and normalizes in
float32 exactly as TFLite's quantized Softmax does."""

from __future__ import annotations

from edgecxr.engine import quant
from edgecxr.engine.kernels.base import (
    Kernel,
    activation_of,
    c_array,
    c_float_array,
    layer_prefix,
    require_int8,
    unsupported,
)
from edgecxr.engine.parse import Graph, Operator


def _shape4(shape) -> list[int]:
    if len(shape) > 4:
        raise unsupported(f"a {len(shape)}-D elementwise operator")
    return [1] * (4 - len(shape)) + list(shape)


def _strides(shape4, out4) -> list[int]:
    strides, acc = [0] * 4, 1
    for i in range(3, -1, -1):
        strides[i] = 0 if shape4[i] == 1 and out4[i] != 1 else acc
        acc *= shape4[i]
    return strides


def _binary(graph: Graph, op: Operator, kind: str) -> Kernel:
    a, b, out = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.outputs_of(op)[0]
    require_int8(graph, op, a, b, out)
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    p = layer_prefix(op)
    o4 = _shape4(out.shape)
    sa, sb = _strides(_shape4(a.shape), o4), _strides(_shape4(b.shape), o4)
    arrays, src = [], {}
    for name, t in (("A", a), ("B", b)):
        if t.data is not None:
            arrays.append(c_array("int8_t", f"{p}_{name}", t.data))
            src[name] = f"{p}_{name}"
    reads = tuple(t.index for t in (a, b) if t.data is None)
    if not reads:
        raise unsupported(f"{op.code} of two constants (operator {op.index})")
    for name, t in (("A", a), ("B", b)):
        if t.data is None:
            src[name] = "in0" if t.index == reads[0] and (name == "A" or a.data is not None) else "in1"
    if kind == "mul":
        m, s = quant.quantize_multiplier(float(a.scale) * float(b.scale) / float(out.scale))
        compute = (f"int32_t acc = ecx_requant((x + ({-a.zero_point})) * (y + ({-b.zero_point})), {m}, {s})"
                   f" + ({out.zero_point});")
    else:
        twice = 2.0 * float(max(quant.f32(a.scale), quant.f32(b.scale)))
        m1, s1 = quant.quantize_multiplier(float(a.scale) / twice)
        m2, s2 = quant.quantize_multiplier(float(b.scale) / twice)
        mo, so = quant.quantize_multiplier(twice / float(quant.f32((1 << 20) * quant.f32(out.scale))))
        if max(s1, s2, so) > 0:
            raise unsupported(f"ADD with a rescale above 1 (operator {op.index})")
        compute = (f"int32_t acc = ecx_requant(ecx_requant((x + ({-a.zero_point})) * (1 << 20), {m1}, {s1})"
                   f" + ecx_requant((y + ({-b.zero_point})) * (1 << 20), {m2}, {s2}), {mo}, {so}) + ({out.zero_point});")

    def body(inplace: bool) -> str:
        return (f"    int i0, i1, i2, i3;\n    int8_t *o = out;\n    (void)in1; (void)scratch;\n"
                f"    for (i0 = 0; i0 < {o4[0]}; ++i0) for (i1 = 0; i1 < {o4[1]}; ++i1)\n"
                f"    for (i2 = 0; i2 < {o4[2]}; ++i2) for (i3 = 0; i3 < {o4[3]}; ++i3) {{\n"
                f"        const int32_t x = {src['A']}[i0 * {sa[0]} + i1 * {sa[1]} + i2 * {sa[2]} + i3 * {sa[3]}];\n"
                f"        const int32_t y = {src['B']}[i0 * {sb[0]} + i1 * {sb[1]} + i2 * {sb[2]} + i3 * {sb[3]}];\n"
                f"        {compute}\n"
                f"        *o++ = (int8_t)(acc < {lo} ? {lo} : (acc > {hi} ? {hi} : acc));\n    }}\n")

    same = reads and graph.tensors[reads[0]].shape == out.shape
    return Kernel(op, reads, out.index, arrays, body, inplace_input=reads[0] if same else None,
                  note="in place" if same else "")


def add(graph: Graph, op: Operator) -> Kernel:
    return _binary(graph, op, "add")


def mul(graph: Graph, op: Operator) -> Kernel:
    return _binary(graph, op, "mul")


def reshape(graph: Graph, op: Operator) -> Kernel:
    inp, out = graph.tensors[op.inputs[0]], graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    n = out.nbytes

    def body(inplace: bool) -> str:
        return f"    (void)in1; (void)scratch;\n    if (out != in0) memmove(out, in0, {n});\n"

    return Kernel(op, (inp.index,), out.index, [], body, alias=True)


def logistic(graph: Graph, op: Operator) -> Kernel:
    inp, out = graph.tensors[op.inputs[0]], graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    p = layer_prefix(op)
    table = quant.logistic_table(inp.scale, inp.zero_point, out.scale, out.zero_point)

    def body(inplace: bool) -> str:
        return (f"    int i;\n    (void)in1; (void)scratch;\n"
                f"    for (i = 0; i < {inp.size}; ++i) out[i] = {p}_lut[(uint8_t)in0[i]];\n")

    return Kernel(op, (inp.index,), out.index, [c_array("int8_t", f"{p}_lut", table)], body,
                  inplace_input=inp.index)


def softmax(graph: Graph, op: Operator) -> Kernel:
    inp, out = graph.tensors[op.inputs[0]], graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    p = layer_prefix(op)
    depth = inp.shape[-1]
    rows = inp.size // depth
    table = quant.softmax_table(inp.scale, op.options.get("beta", 1.0))
    oscale = float(quant.f32(out.scale))

    def body(inplace: bool) -> str:
        return (f"    int r, j;\n    (void)in1; (void)scratch;\n"
                f"    for (r = 0; r < {rows}; ++r) {{\n"
                f"        const int8_t *x = in0 + r * {depth};\n"
                f"        int8_t *o = out + r * {depth};\n"
                f"        int32_t mx = -128;\n        float sum = 0.0f, inv;\n        const float *t;\n"
                f"        for (j = 0; j < {depth}; ++j) if (x[j] > mx) mx = x[j];\n"
                f"        t = {p}_exp + 255 - mx;\n"
                f"        for (j = 0; j < {depth}; ++j) sum += t[x[j]];\n"
                f"        inv = 1.0f / (sum * {oscale!r}f);\n"
                f"        for (j = 0; j < {depth}; ++j) {{\n"
                f"            const int32_t q = (int32_t)ecx_roundf(t[x[j]] * inv) + ({out.zero_point});\n"
                f"            o[j] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));\n"
                f"        }}\n    }}\n")

    return Kernel(op, (inp.index,), out.index, [c_float_array(f"{p}_exp", table)], body)


def _clamp_op(graph: Graph, op: Operator, low: float, high: float | None) -> Kernel:
    """RELU / RELU6 / RELU_N1_TO_1 as separate operators: requantize (input scale / output
    scale) and clamp to the activation's range (LiteRT's QuantizedReluX)."""
    inp, out = graph.tensors[op.inputs[0]], graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    m, s = quant.quantize_multiplier(float(inp.scale) / float(out.scale))

    def bound(f: float) -> int:
        return out.zero_point + int(quant.tflite_round(float(quant.f32(f) / quant.f32(out.scale))))

    lo = max(-128, bound(low))
    hi = 127 if high is None else min(127, bound(high))

    def body(inplace: bool) -> str:
        return (f"    int i;\n    (void)in1; (void)scratch;\n"
                f"    for (i = 0; i < {inp.size}; ++i) {{\n"
                f"        int32_t v = ({out.zero_point}) + ecx_requant(in0[i] - ({inp.zero_point}), {m}, {s});\n"
                f"        out[i] = (int8_t)(v < {lo} ? {lo} : (v > {hi} ? {hi} : v));\n    }}\n")

    return Kernel(op, (inp.index,), out.index, [], body, inplace_input=inp.index, note="in place")


def relu(graph: Graph, op: Operator) -> Kernel:
    return _clamp_op(graph, op, 0.0, None)


def relu6(graph: Graph, op: Operator) -> Kernel:
    return _clamp_op(graph, op, 0.0, 6.0)


def relu_n1_to_1(graph: Graph, op: Operator) -> Kernel:
    return _clamp_op(graph, op, -1.0, 1.0)

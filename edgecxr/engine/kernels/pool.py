"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN, as TFLite's int8 reference kernels compute them.

MEAN: with the same scale and zero point in and out, the integer sum divided by the count
(truncated); otherwise LiteRT's integer QuantizedMeanOrSum, whose multiplier absorbs 1/count
(checked against the interpreter; the float32 and keep_dims-only paths of older TFLite releases
differ on about one output in ten)."""

from __future__ import annotations

from edgecxr.engine import quant
from edgecxr.engine.kernels.base import (
    Kernel,
    activation_of,
    nhwc,
    padding,
    require_int8,
    unsupported,
)
from edgecxr.engine.parse import Graph, Operator


def _pool(graph: Graph, op: Operator, kind: str) -> Kernel:
    inp, out = graph.tensors[op.inputs[0]], graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    if (inp.scale, inp.zero_point) != (out.scale, out.zero_point):
        raise unsupported(f"{op.code} that requantizes (operator {op.index})")
    _, H, W, C = nhwc(inp)
    _, OH, OW, _ = nhwc(out)
    o = op.options
    SH, SW, FH, FW = o["strideH"], o["strideW"], o["filterHeight"], o["filterWidth"]
    PT, PL = padding(o["padding"], SH, 1, H, FH, OH), padding(o["padding"], SW, 1, W, FW, OW)
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    init, step = ("-128", "if (v > acc) acc = v;") if kind == "max" else ("0", "acc += v; ++count;")
    finish = ("" if kind == "max" else
              "            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;\n")

    def body(inplace: bool) -> str:
        return (f"    int oy, ox, c, fy, fx;\n    (void)in1; (void)scratch;\n"
                f"    for (oy = 0; oy < {OH}; ++oy) for (ox = 0; ox < {OW}; ++ox) {{\n"
                f"        const int iy0 = oy * {SH} - {PT}, ix0 = ox * {SW} - {PL};\n"
                f"        const int fy0 = iy0 < 0 ? -iy0 : 0, fy1 = {FH} < {H} - iy0 ? {FH} : {H} - iy0;\n"
                f"        const int fx0 = ix0 < 0 ? -ix0 : 0, fx1 = {FW} < {W} - ix0 ? {FW} : {W} - ix0;\n"
                f"        for (c = 0; c < {C}; ++c) {{\n"
                f"            int32_t acc = {init}, count = 0;\n"
                f"            for (fy = fy0; fy < fy1; ++fy) for (fx = fx0; fx < fx1; ++fx) {{\n"
                f"                const int32_t v = in0[((size_t)(iy0 + fy) * {W} + (ix0 + fx)) * {C} + c];\n"
                f"                {step}\n"
                f"            }}\n"
                f"            (void)count;\n{finish}"
                f"            acc = acc < {lo} ? {lo} : (acc > {hi} ? {hi} : acc);\n"
                f"            out[((size_t)oy * {OW} + ox) * {C} + c] = (int8_t)acc;\n"
                f"        }}\n    }}\n")

    return Kernel(op, (inp.index,), out.index, [], body)


def max_pool(graph: Graph, op: Operator) -> Kernel:
    return _pool(graph, op, "max")


def average_pool(graph: Graph, op: Operator) -> Kernel:
    return _pool(graph, op, "avg")


def mean(graph: Graph, op: Operator) -> Kernel:
    inp, axes_t, out = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    if axes_t.data is None:
        raise unsupported(f"MEAN over non-constant axes (operator {op.index})")
    dims = list(inp.shape)
    if len(dims) > 4:
        raise unsupported(f"MEAN of a {len(dims)}-D tensor (operator {op.index})")
    dims = [1] * (4 - len(dims)) + dims
    shift_axes = 4 - len(inp.shape)
    axes = sorted({(int(a) % len(inp.shape)) + shift_axes for a in axes_t.data.ravel()})
    keep = [d if i not in axes else 1 for i, d in enumerate(dims)]
    count = 1
    for a in axes:
        count *= dims[a]
    n_out = keep[0] * keep[1] * keep[2] * keep[3]
    strides_in = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1]
    strides_out = [keep[1] * keep[2] * keep[3], keep[2] * keep[3], keep[3], 1]
    ostride = [0 if i in axes else strides_out[i] for i in range(4)]
    zi, zo = inp.zero_point, out.zero_point
    if (inp.scale, zi) == (out.scale, zo):
        finish = f"        out[i] = (int8_t)(sums[i] / {count});\n"
    else:
        # QuantizedMeanOrSum: the multiplier of in/out absorbs 1/count as (m << k) / count
        m, s = quant.quantize_multiplier(float(inp.scale) / float(out.scale))
        k = min(count.bit_length() - 1, 32, 31 + s)
        m, s = (m << k) // count, s - k
        finish = (f"        int32_t acc = ecx_requant(sums[i] - ({zi * count}), {m}, {s}) + ({zo});\n"
                  "        out[i] = (int8_t)(acc < -128 ? -128 : (acc > 127 ? 127 : acc));\n")

    def body(inplace: bool) -> str:
        return (f"    int32_t *sums = (int32_t *)(void *)scratch;\n    int i, a, b, c, d;\n    (void)in1;\n"
                f"    for (i = 0; i < {n_out}; ++i) sums[i] = 0;\n"
                f"    for (a = 0; a < {dims[0]}; ++a) for (b = 0; b < {dims[1]}; ++b)\n"
                f"    for (c = 0; c < {dims[2]}; ++c) for (d = 0; d < {dims[3]}; ++d)\n"
                f"        sums[a * {ostride[0]} + b * {ostride[1]} + c * {ostride[2]} + d * {ostride[3]}] +=\n"
                f"            in0[a * {strides_in[0]} + b * {strides_in[1]} + c * {strides_in[2]} + d];\n"
                f"    for (i = 0; i < {n_out}; ++i) {{\n{finish}    }}\n")

    return Kernel(op, (inp.index,), out.index, [], body, scratch=lambda inplace: 4 * n_out)

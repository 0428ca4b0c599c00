"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN, as TFLite's int8 reference kernels compute them.

MEAN takes one of LiteRT's three reference paths, chosen the way its reduce.cc chooses:
keep_dims over H and W -> integer multiplier then rounded division; the same scale and zero
point in and out -> integer sum / count (truncated); otherwise float32 arithmetic, which the
generated C repeats operation for operation (build with -ffp-contract=off, C99's default)."""

from __future__ import annotations

from edgecxr.engine import quant
from edgecxr.engine.kernels.base import (Kernel, activation_of, c_array, layer_prefix, nhwc, padding, require_int8,
                                         unsupported)
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
    p = layer_prefix(op)
    raw_axes = [int(a) for a in axes_t.data.ravel()]
    special = (op.options.get("keepDims", False) and len(inp.shape) == 4 and len(raw_axes) == 2
               and sorted(raw_axes) == [1, 2])
    zi, zo = inp.zero_point, out.zero_point
    if special:
        m, s = quant.quantize_multiplier(float(inp.scale) / float(out.scale))
        finish = (f"        int32_t acc = ecx_requant(sums[i] - {zi} * {count}, {m}, {s});\n"
                  f"        acc = acc > 0 ? (acc + {count // 2}) / {count} : (acc - {count // 2}) / {count};\n"
                  f"        acc += {zo};\n"
                  "        out[i] = (int8_t)(acc < -128 ? -128 : (acc > 127 ? 127 : acc));\n")
    elif (inp.scale, zi) == (out.scale, zo):
        finish = f"        out[i] = (int8_t)(sums[i] / {count});\n"
    else:
        scale = quant.f32(inp.scale) / quant.f32(out.scale)
        bias = quant.f32(-zi) * scale
        finish = (f"        const float m = (float)sums[i] / {float(count)!r}f;\n"
                  f"        float r = ecx_roundf(m * {float(scale)!r}f + ({float(bias)!r}f)) + {float(zo)!r}f;\n"
                  "        r = r < 127.0f ? r : 127.0f;\n        r = r > -128.0f ? r : -128.0f;\n"
                  "        out[i] = (int8_t)r;\n")

    def body(inplace: bool) -> str:
        return (f"    int32_t *sums = (int32_t *)(void *)scratch;\n    int i, a, b, c, d;\n    (void)in1;\n"
                f"    for (i = 0; i < {n_out}; ++i) sums[i] = 0;\n"
                f"    for (a = 0; a < {dims[0]}; ++a) for (b = 0; b < {dims[1]}; ++b)\n"
                f"    for (c = 0; c < {dims[2]}; ++c) for (d = 0; d < {dims[3]}; ++d)\n"
                f"        sums[a * {ostride[0]} + b * {ostride[1]} + c * {ostride[2]} + d * {ostride[3]}] +=\n"
                f"            in0[a * {strides_in[0]} + b * {strides_in[1]} + c * {strides_in[2]} + d];\n"
                f"    for (i = 0; i < {n_out}; ++i) {{\n{finish}    }}\n")

    del p
    return Kernel(op, (inp.index,), out.index, [], body, scratch=lambda inplace: 4 * n_out)

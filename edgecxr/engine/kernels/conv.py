"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: int8 x int8 -> int32 sums, then
requantization exactly as LiteRT's reference kernels do it: ConvPerChannel and
DepthwiseConvPerChannel with the integer multiplier and shift per channel, FullyConnected
(per tensor or per channel) with round(acc * in * filter / out) in double.

The input offset (minus the input zero point) is added to every input value before the
multiply, and a padded position contributes nothing, as in the reference kernels: the
column buffer holds (x - zero_point) as int16, with 0 for padding, so each output is one
dot product of int16 columns with int8 weights.

In place: a 1x1, stride-1 convolution walks pixel by pixel, copying each input pixel to the
column buffer before writing that pixel's outputs; walked backwards when it expands the
channels and forwards otherwise, it never overwrites an input pixel it still needs. A
depthwise convolution with one output channel per input channel keeps the input rows it
still needs in a ring of line buffers, so its output can overwrite its input.
"""

from __future__ import annotations

import numpy as np

from edgecxr.engine import quant
from edgecxr.engine.kernels.base import (
    Kernel,
    activation_of,
    c_array,
    layer_prefix,
    nhwc,
    padding,
    require_int8,
    unsupported,
)
from edgecxr.engine.parse import Graph, Operator


def _requant_arrays(p: str, graph: Graph, inp, filt, out, channels: int) -> list[str]:
    if filt.quant is None or any(z != 0 for z in filt.quant.zero_point):
        raise unsupported(f"weights with a non-zero zero point (tensor {filt.name})")
    mult, shift = quant.conv_multipliers(inp.scale, filt.quant.scale, out.scale, channels)
    return [c_array("int32_t", f"{p}_mult", mult), c_array("int8_t", f"{p}_shift", shift)]


def _bias(graph: Graph, op: Operator, channels: int) -> np.ndarray:
    b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if b is None:
        return np.zeros(channels, np.int64)
    if b.dtype != "int32" or b.data is None:
        raise unsupported(f"a {b.dtype} or non-constant bias in {op.code} (operator {op.index})")
    return b.data.astype(np.int64)


def _weights(graph: Graph, op: Operator):
    w = graph.tensors[op.inputs[1]]
    if w.data is None:
        raise unsupported(f"non-constant weights in {op.code} (operator {op.index})")
    if w.dtype != "int8":
        raise unsupported(f"{w.dtype} weights in {op.code} (operator {op.index})")
    return w


def _requant_tail(p: str, oc: str, lo: int, hi: int, zp: int) -> str:
    return (f"acc = ecx_requant(acc, {p}_mult[{oc}], {p}_shift[{oc}]) + ({zp});\n"
            f"            acc = acc < {lo} ? {lo} : (acc > {hi} ? {hi} : acc);\n")


def conv2d(graph: Graph, op: Operator) -> Kernel:
    inp = graph.tensors[op.inputs[0]]
    w = _weights(graph, op)
    out = graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    _, H, W, CIN = nhwc(inp)
    _, OH, OW, COUT = nhwc(out)
    _, KH, KW, WC = w.shape
    if WC != CIN:
        raise unsupported(f"grouped convolution (operator {op.index}: {CIN} input channels, filters of {WC})")
    o = op.options
    SH, SW, DH, DW = o["strideH"], o["strideW"], o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    PT = padding(o["padding"], SH, DH, H, KH, OH)
    PL = padding(o["padding"], SW, DW, W, KW, OW)
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    p, K = layer_prefix(op), KH * KW * CIN
    bias = _bias(graph, op, COUT)
    arrays = [c_array("int8_t", f"{p}_w", w.data), c_array("int32_t", f"{p}_bias", bias),
              *_requant_arrays(p, graph, inp, w, out, COUT)]
    IN_OFF, OUT_ZP = -inp.zero_point, out.zero_point
    pointwise = KH == KW == 1 and SH == SW == 1 and PT == PL == 0 and (H, W) == (OH, OW)

    dot = (f"        {{\n"
           f"            const int8_t *wr = {p}_w;\n"
           f"            int8_t *o = out + (size_t)pix * {COUT};\n"
           f"            int oc, k;\n"
           f"            for (oc = 0; oc < {COUT}; ++oc, wr += {K}) {{\n"
           f"            int32_t acc = {p}_bias[oc];\n"
           f"            for (k = 0; k < {K}; ++k) {{ acc += (int32_t)col[k] * wr[k]; }}\n"
           f"            {_requant_tail(p, 'oc', lo, hi, OUT_ZP)}"
           f"            o[oc] = (int8_t)acc;\n"
           f"            }}\n"
           f"        }}\n")

    def body(inplace: bool) -> str:
        head = "    int16_t *col = (int16_t *)(void *)scratch;\n    int pix;\n    (void)in1;\n"
        if pointwise:
            order = (f"for (pix = {OH * OW - 1}; pix >= 0; --pix)" if COUT > CIN else
                     f"for (pix = 0; pix < {OH * OW}; ++pix)")
            gather = (f"        {{ const int8_t *x = in0 + (size_t)pix * {CIN}; int c;\n"
                      f"          for (c = 0; c < {CIN}; ++c) {{ col[c] = (int16_t)(x[c] + ({IN_OFF})); }} }}\n")
            return head + f"    {order} {{\n{gather}{dot}    }}\n"
        gather = (f"        {{ int ky, kx, c, k = 0;\n"
                  f"          const int oy = pix / {OW}, ox = pix % {OW};\n"
                  f"          for (ky = 0; ky < {KH}; ++ky) {{\n"
                  f"            const int iy = oy * {SH} - {PT} + ky * {DH};\n"
                  f"            for (kx = 0; kx < {KW}; ++kx) {{\n"
                  f"              const int ix = ox * {SW} - {PL} + kx * {DW};\n"
                  f"              if (iy < 0 || iy >= {H} || ix < 0 || ix >= {W}) {{\n"
                  f"                for (c = 0; c < {CIN}; ++c) {{ col[k++] = 0; }}\n"
                  f"              }} else {{\n"
                  f"                const int8_t *x = in0 + ((size_t)iy * {W} + ix) * {CIN};\n"
                  f"                for (c = 0; c < {CIN}; ++c) {{ col[k++] = (int16_t)(x[c] + ({IN_OFF})); }}\n"
                  f"              }}\n"
                  f"            }}\n"
                  f"          }} }}\n")
        return head + f"    for (pix = 0; pix < {OH * OW}; ++pix) {{\n{gather}{dot}    }}\n"

    return Kernel(op, (inp.index,), out.index, arrays, body, scratch=lambda inplace: 2 * K,
                  inplace_input=inp.index if pointwise else None,
                  macs=OH * OW * COUT * K,
                  note=("1x1 " + ("backwards" if COUT > CIN else "forwards")) if pointwise else "")


def depthwise(graph: Graph, op: Operator) -> Kernel:
    inp = graph.tensors[op.inputs[0]]
    w = _weights(graph, op)
    out = graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    _, H, W, CIN = nhwc(inp)
    _, OH, OW, COUT = nhwc(out)
    _, KH, KW, _ = w.shape
    o = op.options
    M = COUT // CIN
    SH, SW, DH, DW = o["strideH"], o["strideW"], o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    PT = padding(o["padding"], SH, DH, H, KH, OH)
    PL = padding(o["padding"], SW, DW, W, KW, OW)
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    p = layer_prefix(op)
    arrays = [c_array("int8_t", f"{p}_w", w.data), c_array("int32_t", f"{p}_bias", _bias(graph, op, COUT)),
              *_requant_arrays(p, graph, inp, w, out, COUT)]
    IN_OFF, OUT_ZP = -inp.zero_point, out.zero_point
    RING = (KH - 1) * DH + 1  # input rows one output row spans
    ROW = W * CIN

    def safe_inplace() -> bool:
        """Whether writing output rows 0..y never touches an input row not yet copied to the ring."""
        if M != 1:
            return False
        for y in range(OH):
            last = min(H - 1, y * SH - PT + (KH - 1) * DH)
            if last < H - 1 and (y + 1) * OW * COUT > (last + 1) * ROW:
                return False
        return True

    inplace_ok = safe_inplace()

    def body(inplace: bool) -> str:
        s = ["    int oy, ox, c, ky, kx;", f"    const int8_t *rows[{KH}];", "    (void)in1; (void)scratch;"]
        if inplace:
            s.append("    int next = 0;")
        s.append(f"    for (oy = 0; oy < {OH}; ++oy) {{")
        s.append(f"        const int iy0 = oy * {SH} - {PT};")
        if inplace:
            s += [f"        const int need = iy0 + {(KH - 1) * DH} < {H - 1} ? iy0 + {(KH - 1) * DH} : {H - 1};",
                  "        while (next <= need) {",
                  f"            memcpy(scratch + (next % {RING}) * {ROW}, in0 + (size_t)next * {ROW}, {ROW});",
                  "            ++next;", "        }"]
        s.append(f"        for (ky = 0; ky < {KH}; ++ky) {{")
        s.append(f"            const int iy = iy0 + ky * {DH};")
        src = f"scratch + (iy % {RING}) * {ROW}" if inplace else f"in0 + (size_t)iy * {ROW}"
        s.append(f"            rows[ky] = (iy < 0 || iy >= {H}) ? 0 : {src};")
        s.append("        }")
        s += [f"        for (ox = 0; ox < {OW}; ++ox) {{",
              f"            const int ix0 = ox * {SW} - {PL};",
              f"            int8_t *o = out + ((size_t)oy * {OW} + ox) * {COUT};",
              f"            for (c = 0; c < {COUT}; ++c) {{",
              f"                int32_t acc = {p}_bias[c];",
              f"                for (ky = 0; ky < {KH}; ++ky) {{",
              "                    if (!rows[ky]) continue;",
              f"                    for (kx = 0; kx < {KW}; ++kx) {{",
              f"                        const int ix = ix0 + kx * {DW};",
              f"                        if (ix < 0 || ix >= {W}) continue;",
              f"                        acc += (rows[ky][ix * {CIN} + c / {M}] + ({IN_OFF})) * {p}_w[(ky * {KW} + kx) * {COUT} + c];",
              "                    }", "                }",
              "                " + _requant_tail(p, "c", lo, hi, OUT_ZP).replace("\n            ", "\n                ").rstrip(),
              "                o[c] = (int8_t)acc;",
              "            }", "        }", "    }"]
        return "\n".join(s) + "\n"

    return Kernel(op, (inp.index,), out.index, arrays, body,
                  scratch=lambda inplace: RING * ROW if inplace else 0,
                  inplace_input=inp.index if inplace_ok else None,
                  macs=OH * OW * COUT * KH * KW, note="line buffer" if inplace_ok else "")


def fully_connected(graph: Graph, op: Operator) -> Kernel:
    inp = graph.tensors[op.inputs[0]]
    w = _weights(graph, op)
    out = graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    if op.options.get("weightsFormat", 0) not in (0, "DEFAULT"):
        raise unsupported(f"FULLY_CONNECTED with shuffled weights (operator {op.index})")
    N, D = w.shape
    rows = inp.size // D
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    p = layer_prefix(op)
    if any(z != 0 for z in w.quant.zero_point):
        raise unsupported(f"weights with a non-zero zero point (tensor {w.name})")
    scales = list(w.quant.scale) if w.quant.per_channel else [w.quant.scale[0]] * N
    # LiteRT's reference FULLY_CONNECTED requantizes in double: round(acc * in * filter / out)
    effective = [float(inp.scale) * float(s) / float(out.scale) for s in scales]
    arrays = [c_array("int8_t", f"{p}_w", w.data), c_array("int32_t", f"{p}_bias", _bias(graph, op, N)),
              f"static const double {p}_scale[{N}] = {{\n    " + ",\n    ".join(repr(e) for e in effective) + "\n};\n"]
    IN_OFF, OUT_ZP = -inp.zero_point, out.zero_point

    def body(inplace: bool) -> str:
        return (f"    int r, n, d;\n    (void)in1; (void)scratch;\n"
                f"    for (r = 0; r < {rows}; ++r) {{\n"
                f"        const int8_t *x = in0 + (size_t)r * {D};\n"
                f"        for (n = 0; n < {N}; ++n) {{\n"
                f"            const int8_t *wr = {p}_w + (size_t)n * {D};\n"
                f"            int32_t acc = {p}_bias[n];\n"
                f"            for (d = 0; d < {D}; ++d) {{ acc += (x[d] + ({IN_OFF})) * wr[d]; }}\n"
                f"            acc = ecx_requant_double(acc, {p}_scale[n]) + ({OUT_ZP});\n"
                f"            acc = acc < {lo} ? {lo} : (acc > {hi} ? {hi} : acc);\n"
                f"            out[(size_t)r * {N} + n] = (int8_t)acc;\n"
                f"        }}\n    }}\n")

    return Kernel(op, (inp.index,), out.index, arrays, body, macs=rows * N * D)

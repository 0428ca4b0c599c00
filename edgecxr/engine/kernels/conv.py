"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: int8 x int8 -> int32 sums, then
requantization exactly as LiteRT's reference kernels do it: ConvPerChannel and
DepthwiseConvPerChannel with the integer multiplier and shift per channel, FullyConnected
(per tensor or per channel) with round(acc * in * filter / out) in double.

The reference kernels add the input offset (minus the input zero point) to every input value
before the multiply, and a padded position contributes nothing. CONV_2D gets the same sums
with the offset times each output channel's weight sum folded into the bias at generation
time: its column buffer holds the input values as int16 and the zero point itself at a padded
position, so each output is one dot product of int16 columns with int8 weights.

In place: a 1x1, stride-1 convolution walks groups of pixels, copying a group's inputs to the
column buffer before writing its outputs; walked backwards when it expands the channels and
forwards otherwise, it never overwrites an input pixel it still needs. A
depthwise convolution with one output channel per input channel keeps the input rows it
still needs in a ring of line buffers, so its output can overwrite its input.
"""

from __future__ import annotations

import numpy as np

from edgecxr.engine import quant
from edgecxr.engine.kernels import dw_wide
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

GROUP_BYTES = 2048  # the most column buffer a convolution takes (groups of 8 pixels, else fewer)


def _requant_arrays(p: str, graph: Graph, inp, filt, out, channels: int, terms: int,
                    bias: np.ndarray) -> tuple[list[str], str]:
    """The per-channel multiplier and shift arrays, and the ECX_SHIFT_* mode ecx_out takes.

    ``terms`` products of at most 255 * 128 plus the bias bound every sum; SRDHM never grows it
    (multipliers < 2^31), so when that bound plus 255 * 2^(e-1) stays below 2^31 the short
    rounding divide with the zero point folded in cannot overflow; below 2^30, twice the sum
    fits too (the SMMULR form)."""
    if filt.quant is None or any(z != 0 for z in filt.quant.zero_point):
        raise unsupported(f"weights with a non-zero zero point (tensor {filt.name})")
    mult, shift = quant.conv_multipliers(inp.scale, filt.quant.scale, out.scale, channels)
    arrays = [c_array("int32_t", f"{p}_mult", mult)]
    if max(shift) > 0:
        return arrays + [c_array("int8_t", f"{p}_shift", shift)], "ECX_SHIFT_ANY"
    acc = terms * 255 * 128 + int(np.abs(bias).max(initial=0)) + 1
    e = -min(shift)  # the largest right shift; (2 zp + 1) << e must fit in int32 too
    if max(shift) > -1 or acc + 255 * (1 << max(0, e - 1)) >= 2**31 or 255 << e >= 2**31:
        return arrays + [c_array("int8_t", f"{p}_shift", shift)], "ECX_SHIFT_RIGHT"
    # RIGHT1 / RIGHT1S: the right shift itself is stored (ecx_out's convention in these modes)
    arrays.append(c_array("int8_t", f"{p}_shift", [-s for s in shift]))
    return arrays, "ECX_SHIFT_RIGHT1S" if acc < 2**30 else "ECX_SHIFT_RIGHT1"


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



def _operands(graph: Graph, op: Operator):
    """A convolution's int8 input, weights and output, and the input's and output's NHWC shapes."""
    inp = graph.tensors[op.inputs[0]]
    w = _weights(graph, op)
    out = graph.outputs_of(op)[0]
    require_int8(graph, op, inp, out)
    return inp, w, out, nhwc(inp), nhwc(out)

def conv2d(graph: Graph, op: Operator) -> Kernel:
    """CONV_2D as one output channel x a group of up to 8 pixels at a time (ecx_dot_1xn), so each
    weight word is sign-extended once for the whole group.

    Each group's receptive fields go to one interleaved column buffer as they are (no offset
    add; a padded tap holds the input zero point): the input offset times each row's weight sum
    is folded into the bias at generation time. Rows are padded with zero weights to whole
    words. Groups hold 8 pixels while their columns fit in GROUP_BYTES of scratch (fewer for
    very long rows); the pixels left over form one smaller group. A 1x1, stride-1 layer runs in
    place: walked backwards when it expands the channels (pixel p's output then covers only
    input pixels >= p) and forwards otherwise, each group gathered before any output of it."""
    inp, w, out, (_, H, W, CIN), (_, OH, OW, COUT) = _operands(graph, op)
    _, KH, KW, WC = w.shape
    if WC != CIN:
        raise unsupported(f"grouped convolution (operator {op.index}: {CIN} input channels, filters of {WC})")
    o = op.options
    SH, SW, DH, DW = o["strideH"], o["strideW"], o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    PT = padding(o["padding"], SH, DH, H, KH, OH)
    PL = padding(o["padding"], SW, DW, W, KW, OW)
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    p, K, P = layer_prefix(op), KH * KW * CIN, OH * OW
    K4 = -(-K // 4) * 4
    bias = _bias(graph, op, COUT)
    wrows = w.data.reshape(COUT, K)
    wpad = np.zeros((COUT, K4), np.int8)
    wpad[:, :K] = wrows
    biasf = bias - inp.zero_point * wrows.astype(np.int64).sum(axis=1)
    requant, left = _requant_arrays(p, graph, inp, w, out, COUT, K, bias)
    arrays = [c_array("int8_t", f"{p}_w", wpad).replace("static const int8_t", "static const int8_t __attribute__((aligned(4)))"),
              c_array("int32_t", f"{p}_biasf", biasf), *requant]
    pointwise = KH == KW == 1 and SH == SW == 1 and PT == PL == 0 and (H, W) == (OH, OW)
    back = pointwise and COUT > CIN
    PX = min(P, next((n for n in (8, 4, 2) if 2 * n * K4 <= GROUP_BYTES), 1))
    full, tail = divmod(P, PX)
    ZP = inp.zero_point

    def gather(n: int) -> list[str]:
        """Pixel base + j's receptive field into its slots of an n-pixel group."""
        slot = f"col[ECX_COL({n}, {K4}, j, k)]"
        if pointwise and CIN % 4 == 0:
            return [f"            ecx_pw_gather(col, j, in0 + (size_t)(base + j) * {CIN}, {CIN}, {n});"]
        if pointwise:
            return [f"            const int8_t *x = in0 + (size_t)(base + j) * {CIN};",
                    f"            for (k = 0; k < {K4}; ++k) {slot} = k < {CIN} ? x[k] : 0;"]
        # a small receptive field wholly inside the input (most pixels): unrolled, no bounds checks
        unrolled = [f"                col[ECX_COL({n}, {K4}, j, {k})] = "
                    f"x[{(k // (KW * CIN) * DH * W + k // CIN % KW * DW) * CIN + k % CIN}];" for k in range(K)] if K <= 64 else []
        lines = [f"            const int oy = (base + j) / {OW}, ox = (base + j) % {OW};",
                 f"            const int iy0 = oy * {SH} - {PT}, ix0 = ox * {SW} - {PL};"]
        slow = [f"for (k = 0; k < {K}; ++k) {{",
                f"    const int iy = iy0 + k / {KW * CIN} * {DH}, ix = ix0 + k / {CIN} % {KW} * {DW};",
                f"    {slot} = (iy < 0 || iy >= {H} || ix < 0 || ix >= {W}) ? ({ZP}) : in0[((size_t)iy * {W} + ix) * {CIN} + k % {CIN}];",
                "}"]
        if unrolled:
            lines += [f"            if (iy0 >= 0 && iy0 + {(KH - 1) * DH} < {H} && ix0 >= 0 && ix0 + {(KW - 1) * DW} < {W}) {{",
                      f"                const int8_t *x = in0 + ((size_t)iy0 * {W} + ix0) * {CIN};", *unrolled,
                      "            } else {", *("                " + t for t in slow), "            }"]
        else:
            lines += ["            " + t for t in slow]
        if K4 > K:
            lines.append(f"            for (k = {K}; k < {K4}; ++k) {slot} = 0;")
        return lines

    def group(base: str, n: int) -> list[str]:
        outs = [f"                o[{j * COUT}] = ecx_out(r[{j}], m, s, {left}, {out.zero_point}, {lo}, {hi});"
                for j in range(n)]
        return ["    {", f"        const int base = {base};", f"        int8_t *o = out + (size_t)base * {COUT};",
                f"        for (j = 0; j < {n}; ++j) {{", *gather(n), "        }",
                f"        for (oc = 0; oc < {COUT}; ++oc, ++o) {{",
                f"            const int32_t m = {p}_mult[oc], s = {p}_shift[oc];",
                "            int32_t r[8];",
                f"            r[0] = r[1] = r[2] = r[3] = r[4] = r[5] = r[6] = r[7] = {p}_biasf[oc];",
                f"            ecx_dot_1xn(col, {p}_w + (size_t)oc * {K4}, {K4}, {n}, r);",
                "            {", *outs, "            }", "        }", "    }"]

    def body(inplace: bool) -> str:
        lines = ["    int16_t *col = (int16_t *)(void *)scratch;",
                 "    int g, j, oc;" + ("" if pointwise and CIN % 4 == 0 else " int k;"), "    (void)in1;",
                 f"    for (g = 0; g < {full}; ++g)", *group(f"{P - PX} - {PX} * g" if back else f"{PX} * g", PX)]
        if tail:
            lines += group("0" if back else str(full * PX), tail)
        return "\n".join(lines) + "\n"

    return Kernel(op, (inp.index,), out.index, arrays, body, scratch=lambda inplace: 2 * PX * K4,
                  inplace_input=inp.index if pointwise else None, macs=P * COUT * K,
                  note=("1x1 " + ("backwards" if back else "forwards")) if pointwise else "")


def _dw_pairs(w: np.ndarray) -> np.ndarray:
    """Depthwise weights (taps, channels) as the int16 pairs ecx_dw_pixel reads: for each whole
    group of four channels and each tap, the words (c0 | c2 << 16) and (c1 | c3 << 16)."""
    taps, ch = w.shape
    g = w[:, :ch // 4 * 4].astype(np.int64).reshape(taps, -1, 4).transpose(1, 0, 2)  # group, tap, 4
    lo, hi = g[..., [0, 1]] & 0xFFFF, (g[..., [2, 3]] & 0xFFFF) << 16
    return (lo | hi).astype(np.uint32).view(np.int32).ravel()


def depthwise(graph: Graph, op: Operator) -> Kernel:
    inp, w, out, (_, H, W, CIN), (_, OH, OW, COUT) = _operands(graph, op)
    _, KH, KW, _ = w.shape
    o = op.options
    M = COUT // CIN
    SH, SW, DH, DW = o["strideH"], o["strideW"], o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    PT = padding(o["padding"], SH, DH, H, KH, OH)
    PL = padding(o["padding"], SW, DW, W, KW, OW)
    lo, hi = quant.activation_range(activation_of(op), out.scale, out.zero_point)
    p = layer_prefix(op)
    bias = _bias(graph, op, COUT)
    IN_OFF, OUT_ZP = -inp.zero_point, out.zero_point
    # interior pixels: the input offset times the sum of the weights folded into the bias
    biasf = bias + IN_OFF * w.data.reshape(KH * KW, COUT).astype(np.int64).sum(axis=0)
    aligned = "static const int8_t __attribute__((aligned(4)))"
    requant, left = _requant_arrays(p, graph, inp, w, out, COUT, KH * KW, bias)
    arrays = [c_array("int8_t", f"{p}_w", w.data).replace("static const int8_t", aligned), *requant]
    if M != 1:
        arrays.append(c_array("int32_t", f"{p}_bias", bias))
    else:
        # a padded tap reads the input zero point, which the folded bias turns into 0
        arrays += [c_array("int32_t", f"{p}_biasf", biasf), c_array("int8_t", f"{p}_pad", [inp.zero_point] * CIN),
                   c_array("int32_t", f"{p}_w16", _dw_pairs(w.data.reshape(KH * KW, COUT)))
                   .replace("static const int32_t", "static const int32_t __attribute__((aligned(8)))")]
    ROW = W * CIN
    C4 = COUT // 4 * 4 if M == 1 else 0
    # In place: before output row y is written, the input rows its bytes cover are copied to a
    # ring of line buffers (only those a later output row still reads). upto[y]: rows covered
    # so far; lo(y): the first input row output row y reads; the ring holds rows [lo, upto).
    upto = [min(H, -(-(y + 1) * OW * COUT // ROW)) for y in range(OH)]
    ring = max([upto[y] - max(0, y * SH - PT) for y in range(OH)] + [0])
    inplace_ok = ring * ROW < out.nbytes
    slots = max(ring, 1)

    def body(inplace: bool) -> str:
        s = ["    int oy, ox, ky;" if M == 1 else "    int oy, ox, c, ky, kx;", f"    const int8_t *rows[{KH}];", "    (void)in1; (void)scratch;"]
        if inplace:
            s += ["    int saved = 0;", f"    static const uint16_t upto[{OH}] = {{{', '.join(map(str, upto))}}};"]
        s.append(f"    for (oy = 0; oy < {OH}; ++oy) {{")
        s.append(f"        const int iy0 = oy * {SH} - {PT};")
        if inplace:
            s += ["        while (saved < upto[oy]) {",
                  f"            if (saved >= iy0) memcpy(scratch + (saved % {slots}) * {ROW}, in0 + (size_t)saved * {ROW}, {ROW});",
                  "            ++saved;", "        }"]
        s.append(f"        for (ky = 0; ky < {KH}; ++ky) {{")
        s.append(f"            const int iy = iy0 + ky * {DH};")
        if inplace:
            s.append(f"            rows[ky] = (iy < 0 || iy >= {H}) ? 0 : iy < saved ? scratch + (iy % {slots}) * {ROW}"
                     f" : in0 + (size_t)iy * {ROW};")
        else:
            s.append(f"            rows[ky] = (iy < 0 || iy >= {H}) ? 0 : in0 + (size_t)iy * {ROW};")
        s.append("        }")
        s += [f"        for (ox = 0; ox < {OW}; ++ox) {{",
              f"            const int ix0 = ox * {SW} - {PL};",
              f"            int8_t *o = out + ((size_t)oy * {OW} + ox) * {COUT};"]
        if M == 1:
            starts = ", ".join(f"rows[{ky}] + ix0 * {CIN}" for ky in range(KH))
            inside = " && ".join([f"rows[{ky}]" for ky in range(KH)] + ["ix0 >= 0", f"ix0 + {(KW - 1) * DW} < {W}"])
            if KH == KW == 3 and 2 * DW * CIN <= 4095:  # LDR's immediate offsets reach the third column
                call = (f"ecx_dw3x3_pixel({starts}, {DW * CIN}, {p}_w16, {p}_w, {COUT}, {C4}, {p}_biasf, "
                        f"{p}_mult, {p}_shift, {left}, {OUT_ZP}, {lo}, {hi}, o);")
            else:
                call = (f"{{ const int8_t *const r[{KH}] = {{{starts}}};\n"
                        f"                ecx_dw_pixel(r, {KH}, {KW}, {DW * CIN}, {p}_w16, {p}_w, {COUT}, {C4}, {p}_biasf, "
                        f"{p}_mult, {p}_shift, {left}, {OUT_ZP}, {lo}, {hi}, o); }}")
            s += [f"            if ({inside}) {{", f"                {call}", "                continue;", "            }"]
            taps = ", ".join(f"rows[{ky}] && ix0 + {kx * DW} >= 0 && ix0 + {kx * DW} < {W} ? "
                             f"rows[{ky}] + (ix0 + {kx * DW}) * {CIN} : {p}_pad"
                             for ky in range(KH) for kx in range(KW))
            s += ["            {",
                  f"                const int8_t *const x[{KH * KW}] = {{{taps}}};",
                  f"                ecx_dw_pixel(x, {KH * KW}, 1, 0, {p}_w16, {p}_w, {COUT}, {C4}, {p}_biasf, "
                  f"{p}_mult, {p}_shift, {left}, {OUT_ZP}, {lo}, {hi}, o);",
                  "            }", "        }", "    }"]
            return "\n".join(s) + "\n"
        s += [f"            for (c = 0; c < {COUT}; ++c) {{",
              f"                int32_t acc = {p}_bias[c];",
              f"                for (ky = 0; ky < {KH}; ++ky) {{",
              "                    if (!rows[ky]) continue;",
              f"                    for (kx = 0; kx < {KW}; ++kx) {{",
              f"                        const int ix = ix0 + kx * {DW};",
              f"                        if (ix < 0 || ix >= {W}) continue;",
              f"                        acc += (rows[ky][ix * {CIN} + c / {M}] + ({IN_OFF})) * {p}_w[(ky * {KW} + kx) * {COUT} + c];",
              "                    }", "                }",
              f"                o[c] = ecx_out(acc, {p}_mult[c], {p}_shift[c], {left}, {OUT_ZP}, {lo}, {hi});",
              "            }", "        }", "    }"]
        return "\n".join(s) + "\n"

    def plain_scratch(inplace: bool) -> int:
        return ring * ROW if inplace else 0

    fast = fast_scratch = None
    if M == 1 and KH == KW == 3 and DH == DW == 1 and CIN % 4 == 0 and left == "ECX_SHIFT_RIGHT1S":
        mult, shift = quant.conv_multipliers(inp.scale, w.quant.scale, out.scale, COUT)
        shape = {"H": H, "W": W, "C": CIN, "OH": OH, "OW": OW, "SH": SH, "SW": SW, "PT": PT, "PL": PL}
        plain_arrays = tuple(f"{p}_{a}" for a in ("w", "mult", "shift", "biasf", "pad", "w16"))
        variant = dw_wide.pair_variant(
            p, shape, inp.zero_point, lo, hi, body, plain_scratch, upto,
            dw_wide.pair_blocks(w.data.reshape(9, COUT), biasf, mult, shift, OUT_ZP),
            plain_arrays) if SH == SW == 1 else None
        wide, fast, fast_scratch = variant or dw_wide.wide_variant(
            p, shape, inp.zero_point, lo, hi, body, plain_scratch, upto,
            dw_wide.blocks(_dw_pairs(2 * w.data.reshape(9, COUT).astype(np.int64)).reshape(-1, 18),
                           biasf, mult, shift, OUT_ZP), plain_arrays)
        arrays += wide
        plain = body

        def body(inplace: bool) -> str:  # the variant's constants unused by the plain path
            return f"#if ECX_DSP\n    (void){p}_{'pblk' if variant else 'blk'};\n#endif\n" + plain(inplace)

    return Kernel(op, (inp.index,), out.index, arrays, body, scratch=plain_scratch,
                  inplace_input=inp.index if inplace_ok else None,
                  macs=OH * OW * COUT * KH * KW, note=f"{ring}-row line buffer" if inplace_ok else "",
                  fast=fast, fast_scratch=fast_scratch or (lambda inplace: 0))


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

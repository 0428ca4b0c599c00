"""The fast 3x3 depthwise variants for Cortex-M cores with DSP (ecx_dw3x3_wide and, for stride 1
and an even number of output rows, ecx_dw3x3_pair in edgecxr_ops.h).

The plain depthwise path sign-extends every input word once per tap (nine times) and sends
border pixels through a slower per-tap path. This variant widens each input row once into a
ring of padded int16 rows (group-major, the padding columns and one row of the input zero point
filled at the start), so that every output pixel, the borders too, is nine taps at constant
offsets, and requantizes with one SMMLAR (doubled sums, the zero point inside the rounding
term). Its ring is larger than the plain line buffer, so the plan takes it only where the
ring fits in memory the arena already has (Kernel.fast); the portable build keeps the plain
path (the variant's body is that path under ``#if !ECX_DSP``).

It applies to 3x3 kernels without dilation, one output channel per input channel, channels a
multiple of 4, and layers whose requantization is RIGHT1S (the generator proved 2 acc fits in
int32).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgecxr.engine.kernels.base import c_array

BLOCK = 32  # ECX_DW_BLOCK: int32 words of constants per group of four channels


def blocks(pairs2: np.ndarray, biasf: np.ndarray, mult, shift, zp: int) -> np.ndarray:
    """One block per group of four channels: the nine taps' doubled weights, the doubled folded
    bias (c0..c3), (multiplier, R = ((2 zp + 1) << e) >> 1) per channel, the right shifts e as
    four bytes, one spare word (blocks stay 8-byte aligned). Doubled: the sums come out as
    2 acc, which SMMLAR takes directly (RIGHT1S proved 2 acc fits; 2 w fits an int16 half).
    ``pairs2``: the doubled weights' int16 pairs, 18 words per group (conv._dw_pairs)."""
    ch = 4 * len(pairs2)
    out = np.zeros((ch // 4, BLOCK), np.int64)
    out[:, :18] = pairs2
    for g in range(ch // 4):
        c = range(4 * g, 4 * g + 4)
        e = [-int(shift[k]) for k in c]
        out[g, 18:22] = [2 * int(biasf[k]) for k in c]
        out[g, 22:30] = [v for k, ek in zip(c, e) for v in (int(mult[k]), ((2 * zp + 1) << ek) >> 1)]
        out[g, 30] = sum(ek << (8 * j) for j, ek in enumerate(e))
    return np.where(out >= 2**31, out - 2**32, out)


def wide_variant(p: str, shape: dict, zp: int, lo: int, hi: int, plain: Callable[[bool], str],
                 plain_scratch: Callable[[bool], int], upto: list[int], blk: np.ndarray,
                 plain_arrays: tuple[str, ...]):
    """(arrays, body, scratch) of the variant: ``shape`` holds H, W, C, OH, OW, SH, SW, PT, PL;
    ``zp`` is the input zero point (the padding), ``blk`` the blocks (built with the output's)."""
    H, W, C, OH, OW, SH, SW, PT, PL = (shape[k] for k in ("H", "W", "C", "OH", "OW", "SH", "SW", "PT", "PL"))
    G = C // 4
    PW = PL + W + max(0, (OW - 1) * SW + 3 - W - PL)
    GW = 2 * PW  # int32 words of one group of one ring row
    zpair = ((zp & 0xFFFF) | (zp << 16))
    zpair = zpair - 2**32 if zpair >= 2**31 else zpair
    padded_rows = any(y * SH - PT < 0 or y * SH - PT + 3 > H for y in range(OH))

    def geometry(inplace: bool) -> tuple[list[int], int]:
        """rows widened before output row y (all it reads; in place also all it overwrites), ring slots"""
        ready, top = [], 0
        for y in range(OH):
            top = max(top, min(H, y * SH - PT + 3), upto[y] if inplace else 0)
            ready.append(top)
        return ready, max(max(r - max(0, y * SH - PT) for y, r in enumerate(ready)), 1)

    def scratch(inplace: bool) -> int:
        slots = geometry(inplace)[1]
        return max(plain_scratch(inplace), 4 * GW * G * (slots + padded_rows))

    def body(inplace: bool) -> str:
        ready, S = geometry(inplace)
        row = G * GW  # words of one ring row
        zrow = f"ring + {S * row}" if padded_rows else "ring"
        s = ["#if ECX_DSP",
             "    int32_t *ring = (int32_t *)(void *)scratch;",
             "    int oy, ox, k, next = 0;",
             f"    static const uint16_t ready[{OH}] = {{{', '.join(map(str, ready))}}};",
             "    (void)in1;", *[f"    (void){a};" for a in plain_arrays]]
        pads = [*range(2 * PL), *range(2 * (PL + W), GW)]
        if pads:
            s += [f"    for (k = 0; k < {S * G}; ++k) {{  /* every ring row's padding columns: the zero point */",
                  f"        int32_t *d = ring + k * {GW};", *[f"        d[{j}] = {zpair};" for j in pads], "    }"]
        if padded_rows:
            s.append(f"    for (k = 0; k < {row}; ++k) ring[{S * row} + k] = {zpair};  /* the padding row */")
        s += [f"    for (oy = 0; oy < {OH}; ++oy) {{",
              "        const int32_t *r[3];",
              "        int8_t *o;",
              "        for (; next < ready[oy]; ++next)",
              f"            ecx_dw_widen(ring + (next % {S}) * {row} + {2 * PL}, in0 + (size_t)next * {W * C}, {W}, {G}, {GW}, {C});",
              "        for (k = 0; k < 3; ++k) {",
              f"            const int iy = oy * {SH} - {PT} + k;",
              f"            r[k] = (iy < 0 || iy >= {H}) ? {zrow} : ring + (iy % {S}) * {row};",
              "        }",
              f"        o = out + (size_t)oy * {OW * C};",
              f"        for (ox = 0; ox < {OW}; ++ox, o += {C})",
              f"            ecx_dw3x3_wide(r[0] + {2 * SW} * ox, r[1] + {2 * SW} * ox, r[2] + {2 * SW} * ox, {GW}, "
              f"{p}_blk, {G}, {lo}, {hi}, o);",
              "    }",
              "#else",
              plain(inplace).rstrip("\n"),
              "#endif"]
        return "\n".join(t for t in s if t) + "\n"

    arrays = ["#if ECX_DSP\n" + c_array("int32_t", f"{p}_blk", blk)
              .replace("static const int32_t", "static const int32_t __attribute__((aligned(8)))") + "#endif\n"]
    return arrays, body, scratch


PAIR_BLOCK = 20  # ECX_DWP_BLOCK: int32 words of constants per pair of channels


def pair_blocks(w: np.ndarray, biasf: np.ndarray, mult, shift, zp: int) -> np.ndarray:
    """ecx_dw3x3_pair's constants, one block per pair of channels (c, c + 1): for kx = 0..2 the
    doubled (w0, w1) of both channels (tap rows 0 and 1 as int16 halves), then (w1, w2), the
    doubled folded biases, (multiplier, R) of both, the shifts e0 | e1 << 8, one spare word."""
    w2 = 2 * w.astype(np.int64).reshape(3, 3, -1)  # ky, kx, channel
    ch = w2.shape[2]
    out = np.zeros((ch // 2, PAIR_BLOCK), np.int64)
    for p in range(ch // 2):
        c = (2 * p, 2 * p + 1)
        for kx in range(3):
            for j, k in enumerate(c):
                out[p, 2 * kx + j] = (w2[0, kx, k] & 0xFFFF) | ((w2[1, kx, k] & 0xFFFF) << 16)
                out[p, 6 + 2 * kx + j] = (w2[1, kx, k] & 0xFFFF) | ((w2[2, kx, k] & 0xFFFF) << 16)
        e = [-int(shift[k]) for k in c]
        out[p, 12:14] = [2 * int(biasf[k]) for k in c]
        out[p, 14:18] = [v for k, ek in zip(c, e) for v in (int(mult[k]), ((2 * zp + 1) << ek) >> 1)]
        out[p, 18] = e[0] | e[1] << 8
    return np.where(out >= 2**31, out - 2**32, out)


def pair_variant(p: str, shape: dict, zp: int, lo: int, hi: int, plain: Callable[[bool], str],
                 plain_scratch: Callable[[bool], int], upto: list[int], blk: np.ndarray,
                 plain_arrays: tuple[str, ...]):
    """(arrays, body, scratch) of the two-rows-at-a-time variant for stride 1 (ecx_dw3x3_pair), or
    None for an odd number of output rows (a last band of one row would waste half its work:
    the 3x3 layers of MobileNet, 3 rows, run faster on ecx_dw3x3_wide) or where its two pair
    rows could not stay ahead of the in-place output. Band b writes output rows 2b and 2b + 1
    from pair rows b and b + 1 (input rows 2b - PT .. 2b + 3 - PT); a row outside the input
    reads a row of the zero point."""
    H, W, C, OH, OW, PT, PL = (shape[k] for k in ("H", "W", "C", "OH", "OW", "PT", "PL"))
    bands = OH // 2
    PW = PL + W + max(0, OW + 2 - W - PL)
    GW = 2 * PW  # int32 words of one channel pair of one pair row
    slot = C // 2 * GW
    zpair = ((zp & 0xFFFF) | (zp << 16))
    zpair = zpair - 2**32 if zpair >= 2**31 else zpair


    def scratch(inplace: bool) -> int:
        return max(plain_scratch(inplace), 8 * slot + W * C)

    def body(inplace: bool) -> str:
        rows = [(2 * j - PT, 2 * j + 1 - PT) for j in range(bands + 1)]

        def src(r: int) -> str:
            return f"in0 + {r * W * C}" if 0 <= r < H else "zrow"

        s = ["#if ECX_DSP",
             "    int32_t *ring = (int32_t *)(void *)scratch;",
             f"    int8_t *zrow = scratch + {8 * slot};",
             "    int b, ox;",
             "    (void)in1;", *[f"    (void){a};" for a in plain_arrays]]
        pads = [*range(2 * PL), *range(2 * (PL + W), GW)]
        if pads:
            s += ["    int k;", f"    for (k = 0; k < {C}; ++k) {{  /* both pair rows' padding columns: the zero point */",
                  f"        int32_t *d = ring + k * {GW};", *[f"        d[{j}] = {zpair};" for j in pads], "    }"]
        s += [f"    memset(zrow, {zp}, {W * C});",
              f"    static const int16_t top[{bands + 1}] = {{{', '.join(str(r0) for r0, _ in rows)}}};",
              f"    ecx_dw_pack_pair(ring + {2 * PL}, {src(rows[0][0])}, {src(rows[0][1])}, {W}, {C // 4}, {GW}, {C});",
              f"    for (b = 0; b < {bands}; ++b) {{",
              "        const int r0 = top[b + 1], r1 = r0 + 1;",
              f"        int32_t *const next = ring + ((b + 1) & 1) * {slot};",
              f"        const int32_t *const a = ring + (b & 1) * {slot};",
              f"        int8_t *const o0 = out + (size_t)b * {2 * OW * C};",
              f"        ecx_dw_pack_pair(next + {2 * PL}, r0 >= 0 && r0 < {H} ? in0 + (size_t)r0 * {W * C} : zrow,",
              f"                         r1 >= 0 && r1 < {H} ? in0 + (size_t)r1 * {W * C} : zrow, {W}, {C // 4}, {GW}, {C});",
              f"        for (ox = 0; ox < {OW}; ++ox)",
              f"            ecx_dw3x3_pair(a + 2 * ox, next + 2 * ox, {GW}, {p}_pblk, {C // 2}, {lo}, {hi}, "
              f"o0 + ox * {C}, o0 + {OW * C} + ox * {C});",
              "    }",
              "#else",
              plain(inplace).rstrip("\n"),
              "#endif"]
        return "\n".join(t for t in s if t) + "\n"

    # in place, band b's outputs must overwrite no input row that pair rows b + 2 on still read
    if OH % 2 or PT > 1 or any(upto[2 * b + 1] > 2 * b + 4 - PT for b in range(bands)):
        return None
    arrays = ["#if ECX_DSP\n" + c_array("int32_t", f"{p}_pblk", blk)
              .replace("static const int32_t", "static const int32_t __attribute__((aligned(8)))") + "#endif\n"]
    return arrays, body, scratch

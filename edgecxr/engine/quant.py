"""quant: the constants TFLite derives from a model's scales, computed here once at generation
time exactly as TFLite's Prepare functions compute them, so the generated C only does integer
(and, where TFLite itself does, float32) arithmetic with the same numbers.

    QuantizeMultiplier      double scale -> (int32 multiplier in [2^30, 2^31), shift)
    activation_range        fused activation -> (min, max) in the output's int8 steps
    lookup tables           LOGISTIC (int8 -> int8) and SOFTMAX (exp of 256 differences, float32)

The tables call the C library's ``expf`` through ctypes, the function TFLite's kernels call,
so they hold the very float32 values TFLite computes rather than numpy's approximation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import lru_cache

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def tflite_round(x: float) -> float:
    """std::round: halves away from zero (Python's round() goes to even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier (double rounding build): real ~= multiplier * 2^(shift - 31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = int(tflite_round(q * (1 << 31)))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def f32(x) -> np.float32:
    return np.float32(x)


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: the bounds TFLite clamps the output to
    (``f / scale`` in float32, rounded half away from zero)."""
    def q(f: float) -> int:
        return zero_point + int(tflite_round(float(f32(f) / f32(scale))))

    bounds = {"NONE": (INT8_MIN, INT8_MAX), "RELU": (max(INT8_MIN, q(0.0)), INT8_MAX),
              "RELU6": (max(INT8_MIN, q(0.0)), min(INT8_MAX, q(6.0))),
              "RELU_N1_TO_1": (max(INT8_MIN, q(-1.0)), min(INT8_MAX, q(1.0)))}
    return bounds[activation]


def conv_multipliers(input_scale: float, filter_scales, output_scale: float, channels: int):
    """Per-output-channel (multiplier, shift) lists: effective scale = in * filter / out, in double
    (PopulateConvolutionQuantizationParams; a per-tensor filter scale is broadcast)."""
    scales = list(filter_scales) if len(filter_scales) > 1 else [filter_scales[0]] * channels
    pairs = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale)) for s in scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


@lru_cache(maxsize=1)
def _expf():
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    fn = libm.expf
    fn.argtypes, fn.restype = [ctypes.c_float], ctypes.c_float
    return fn


def expf(x) -> np.float32:
    return f32(_expf()(float(f32(x))))


def logistic_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> list[int]:
    """LOGISTIC's int8 table, indexed by the input byte (uint8 of the int8 value), as TFLite's
    LUTPopulate builds it: dequantize, 1 / (1 + expf(-x)), requantize, all in float32."""
    inverse = f32(1.0) / f32(out_scale)
    table = [0] * 256
    for v in range(INT8_MIN, INT8_MAX + 1):
        x = f32(in_scale) * f32(v - in_zp)
        y = f32(1.0) / (f32(1.0) + expf(-x))
        q = int(tflite_round(float(y * inverse)) + out_zp)
        table[v & 0xFF] = min(INT8_MAX, max(INT8_MIN, q))
    return table


def softmax_table(in_scale: float, beta: float) -> list[np.float32]:
    """PopulateSoftmaxLookupTable: table[255 - d] = expf(-in_scale * beta * d), d = 0..255."""
    scale = -f32(in_scale) * f32(beta)
    table = [f32(0.0)] * 256
    for d in range(256):
        table[255 - d] = expf(scale * f32(d))
    return table

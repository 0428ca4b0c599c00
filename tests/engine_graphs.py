"""Small random int8 graphs for the engine's tests, built with tf.keras and converted by the
real TFLite converter, plus the reference interpreter they are compared with.

Weights are random and batch-norm statistics are randomized too, so that every layer's
activations spread over the int8 range (an untrained net with default BN statistics
collapses to near-zero scales, which TFLite itself refuses to run)."""

from __future__ import annotations

import numpy as np


def randomize(model, seed: int) -> None:
    """Random BN statistics and conv/dense weights spread enough to keep activations alive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0.2, 0.5, n), rng.normal(0, 0.3, n),
                               rng.uniform(0.5, 2.0, n)])
        elif layer.weights and kind in ("Conv2D", "DepthwiseConv2D", "Dense", "SeparableConv2D"):
            ws = layer.get_weights()
            out = []
            for w in ws:
                if w.ndim == 1:
                    out.append(rng.normal(0, 0.3, w.shape).astype(w.dtype))
                else:
                    fan_in = int(np.prod(w.shape[:-1])) if kind != "DepthwiseConv2D" else int(np.prod(w.shape[:2]))
                    out.append(rng.normal(0, 1.5 / np.sqrt(max(fan_in, 1)), w.shape).astype(w.dtype))
            layer.set_weights(out)


def convert(model, seed: int = 0, per_channel: bool = True, low: float = 0.0, high: float = 1.0,
            samples: int = 12) -> bytes:
    """Full-int8 conversion (int8 input and output) calibrated on uniform inputs in [low, high)."""
    from edgecxr.tfenv import tf

    t = tf()
    rng = np.random.default_rng(seed)
    shape = tuple(model.input_shape[1:])

    def representative():
        for _ in range(samples):
            yield [rng.uniform(low, high, (1, *shape)).astype(np.float32)]

    conv = t.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [t.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [t.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = t.int8
    conv.inference_output_type = t.int8
    if not per_channel:
        conv._experimental_disable_per_channel = True
    from edgecxr.quantize import _convert

    return _convert(conv, "engine test conversion")


class Reference:
    """TFLite's reference kernels (BUILTIN_REF) on one model: int8 in, int8 out."""

    def __init__(self, content: bytes):
        from edgecxr.device.runtime import Model

        self.model = Model(content, kernels="reference")
        self.shape = self.model.input_shape

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.engine(x.reshape(self.shape)))


def inputs(shape, n: int, seed: int = 0) -> np.ndarray:
    """int8 inputs that include the extremes: all -128, all 127, alternating, uniform noise and
    smooth images (what X-rays look like), so saturating paths are exercised too."""
    rng = np.random.default_rng(seed)
    xs = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
          np.where(np.indices(shape).sum(0) % 2 == 0, 127, -128).astype(np.int8)]
    while len(xs) < n:
        if len(xs) % 2:
            xs.append(rng.integers(-128, 128, shape, dtype=np.int8))
        else:
            ramp = np.linspace(-128, 127, int(np.prod(shape))).reshape(shape)
            xs.append(np.clip(ramp * rng.uniform(0.3, 1.2) + rng.normal(0, 20, shape), -128, 127).astype(np.int8))
    return np.stack(xs[:n])

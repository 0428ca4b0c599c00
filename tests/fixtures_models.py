"""Tiny real .tflite models (float and full int8) shared by the bench and export tests.

Conv -> BN -> ReLU -> GAP -> Dense(softmax), 32x32x1 input, 2 classes: small enough to convert
in a few seconds, yet it has the operators every real model here has (conv, mean, FC, softmax).
"""

from pathlib import Path

import numpy as np
import pytest

TINY_SHAPE = (32, 32, 1)
TINY_CLASSES = 2
TINY_FILTERS = 4


def _tiny_keras():
    from edgecxr.tfenv import keras, set_seed

    set_seed(0)
    k = keras()
    inp = k.Input(TINY_SHAPE)
    x = k.layers.Conv2D(TINY_FILTERS, 3, strides=2, padding="same", use_bias=False)(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    out = k.layers.Dense(TINY_CLASSES, activation="softmax")(x)
    return k.Model(inp, out)


def _convert(model, int8: bool) -> bytes:
    from edgecxr.tfenv import tf

    t = tf()
    conv = t.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)

        def representative():
            for _ in range(16):
                yield [rng.random((1, *TINY_SHAPE), dtype=np.float32)]

        conv.optimizations = [t.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [t.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = t.int8
        conv.inference_output_type = t.int8
    return conv.convert()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """{"float": path, "int8": path} of the same tiny model (converted once per session)."""
    folder = tmp_path_factory.mktemp("tiny_models")
    model = _tiny_keras()
    paths = {}
    for kind, int8 in (("float", False), ("int8", True)):
        paths[kind] = folder / f"tiny_{kind}.tflite"
        paths[kind].write_bytes(_convert(model, int8))
    return paths


@pytest.fixture(scope="session")
def tiny_float_tflite(tiny_models) -> Path:
    """A float32 .tflite, 32x32x1 -> softmax over 2 classes."""
    return tiny_models["float"]


@pytest.fixture(scope="session")
def tiny_int8_tflite(tiny_models) -> Path:
    """A full-int8 .tflite (int8 input and output), 32x32x1 -> softmax over 2 classes."""
    return tiny_models["int8"]

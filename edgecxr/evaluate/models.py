"""The models of a run, as a table, and one way to get probabilities out of each.

Keras runs in TensorFlow; every .tflite goes through the interpreter chain
(``edgecxr.runtimes``: LiteRT -> tflite-runtime -> tf.lite), int8 input quantized and output
dequantized with the model's own scale and zero point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgecxr.preprocess import to_float
from edgecxr.quantize import ARTIFACTS, KERAS_MODEL, load_keras_model
from edgecxr.runs import Run
from edgecxr.runtimes import DEFAULT_KERNELS, TFLiteModel


@dataclass(frozen=True)
class RunModel:
    key: str
    file: str
    title: str
    int8: bool


# in report order; the first is the reference every other model is compared with
RUN_MODELS = [
    RunModel("keras_float", KERAS_MODEL, "Keras float", False),
    RunModel("tflite_float", ARTIFACTS["float"], "TFLite float", False),
    RunModel("ptq_int8", ARTIFACTS["ptq"], "PTQ int8", True),
    RunModel("qat_int8", ARTIFACTS["qat"], "QAT int8", True),
]
REFERENCE = RUN_MODELS[0]


def present(run: Run) -> list[RunModel]:
    """The run's models that exist; the Keras model is required (a RunError says so)."""
    run.require(KERAS_MODEL, "train a model first: `edgecxr train --data DATA`")
    return [m for m in RUN_MODELS if run.has(m.file)]


@dataclass
class Predictor:
    model: RunModel
    runtime: str  # "tensorflow" for Keras, else the interpreter that ran the .tflite
    kernels: str | None  # the kernel family of a .tflite (edgecxr.runtimes.KERNELS); None for Keras
    predict: Callable[[np.ndarray], np.ndarray]  # uint8 pixels (N, H, W, C) -> probabilities (N, K)


def load_predictor(run: Run, model: RunModel, runtime: str | None = None, threads: int | None = None,
                   kernels: str = DEFAULT_KERNELS) -> Predictor:
    if model.file == KERAS_MODEL:
        keras_model = load_keras_model(run)
        return Predictor(model, "tensorflow", None,
                         lambda px: keras_model.predict(to_float(px), batch_size=64, verbose=0).astype(np.float32))
    # kernel families matter for int8 (rounding); a float .tflite runs on the runtime's default kernels
    tfl = TFLiteModel(run.file(model.file), runtime=runtime, threads=threads,
                      kernels=kernels if model.int8 else "xnnpack")
    return Predictor(model, tfl.runtime, tfl.kernels, tfl.predict)

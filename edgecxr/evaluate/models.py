"""One way to get probabilities out of each model of a run (edgecxr.artifacts.ARTIFACTS).

Keras runs in TensorFlow; every .tflite goes through the interpreter chain
(``edgecxr.device.runtime``: LiteRT -> tflite-runtime -> tf.lite), int8 input quantized and output
dequantized with the model's own scale and zero point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgecxr.artifacts import KERAS_MODEL, REFERENCE, Artifact
from edgecxr.device import tta
from edgecxr.device.preprocess import to_float
from edgecxr.device.runtime import DEFAULT_KERNELS
from edgecxr.errors import ModelError
from edgecxr.runs import Run
from edgecxr.runtimes import TFLiteModel

__all__ = ["REFERENCE", "Predictor", "load_predictor"]


@dataclass
class Predictor:
    model: Artifact
    runtime: str  # "tensorflow" for Keras, else the interpreter that ran the .tflite
    kernels: str | None  # the kernel family of a .tflite (edgecxr.device.runtime.KERNELS); None for Keras
    predict: Callable[[np.ndarray], np.ndarray]  # uint8 pixels (N, H, W, C) -> probabilities (N, K)
    quant: dict | None = None  # int8: {"input", "output"} scale and zero point, read from the model file


def load_predictor(run: Run, model: Artifact, runtime: str | None = None, threads: int | None = None,
                   kernels: str = DEFAULT_KERNELS, tta_zooms: Sequence[float] = ()) -> Predictor:
    """The model checked against the run's manifest (and an int8 slot for int8 input) first;
    with ``tta_zooms`` its probabilities are averaged over those views (edgecxr.device.tta)."""
    p = _load(run, model, runtime, threads, kernels)
    if tta_zooms:
        p.predict = tta.averaged(p.predict, tta_zooms)
    return p


def _load(run: Run, model: Artifact, runtime: str | None, threads: int | None, kernels: str) -> Predictor:
    again = "re-run `edgecxr quantize RUN --force`" if model.file != KERAS_MODEL else "re-run `edgecxr train`"
    path = run.verified(model.file, again)
    if model.file == KERAS_MODEL:
        keras_model = run.keras_model()
        return Predictor(model, "tensorflow", None,
                         lambda px: keras_model.predict(to_float(px), batch_size=64, verbose=0).astype(np.float32))
    # kernel families matter for int8 (rounding); a float .tflite runs on the runtime's default kernels
    tfl = TFLiteModel(path, runtime=runtime, threads=threads, kernels=kernels if model.int8 else "xnnpack")
    if model.int8 and not (tfl.is_int8 and tfl.output_quant is not None):
        raise ModelError(f"{path} is not an int8 model (its input is {np.dtype(tfl.input['dtype']).name}), so it "
                         f"cannot be reported as {model.title}", again)
    quant = {"input": tfl.input_quant, "output": tfl.output_quant} if tfl.input_quant is not None else None
    return Predictor(model, tfl.runtime, tfl.kernels, tfl.predict, quant)

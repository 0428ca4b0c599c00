"""A shifted validation set: a proxy for an X-ray taken on another machine.

The hold-out test split of Kermany comes from another acquisition than its train split: a model
that only fits the train distribution scores well on validation and loses specificity there.
Validation images re-exposed with a random gray curve (gamma), contrast and brightness -- applied
to the RAW pixels, before the run's own preprocessing, as another scanner would -- show whether
a recipe depends on the gray curve of the training films. Seeded: the same seed gives the same
shifted images, so recipes are compared on one shifted set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edgecxr.artifacts import REFERENCE
from edgecxr.device.preprocess import open_gray, preprocess_image
from edgecxr.device.spec import ModelSpec
from edgecxr.evaluate.models import load_predictor
from edgecxr.evaluate.validation import score, validation_images
from edgecxr.runs import Run


@dataclass(frozen=True)
class Shift:
    gamma: tuple[float, float] = (0.6, 1.6)
    contrast: tuple[float, float] = (0.7, 1.3)
    brightness: float = 0.1


def shift_image(img: Image.Image, rng: np.random.Generator, shift: Shift = Shift()) -> Image.Image:
    """One grayscale image re-exposed: x ** gamma, contrast about the mean, + brightness."""
    x = np.asarray(img, np.float32) / 255.0
    x = x ** rng.uniform(*shift.gamma)
    mean = x.mean()
    x = (x - mean) * rng.uniform(*shift.contrast) + mean + rng.uniform(-shift.brightness, shift.brightness)
    return Image.fromarray(np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8), mode="L")


def shifted_pixels(paths: list[Path], spec: ModelSpec, seed: int = 0, shift: Shift = Shift()) -> np.ndarray:
    """uint8 model inputs (N, H, W, C) of ``paths`` shifted, then prepared with ``spec``."""
    rng = np.random.default_rng(seed)
    return np.stack([preprocess_image(shift_image(open_gray(p), rng, shift), spec) for p in paths])


def run_val_report(run_dir: str | Path, seed: int = 0) -> dict:
    """The Keras float model's validation figures at the run's own threshold, as trained and
    shifted: {"val": metrics, "shifted_val": metrics} (edgecxr.evaluate.validation.score), on
    the validation images that decode."""
    run = Run.open(run_dir)
    spec = run.spec()
    model = load_predictor(run, REFERENCE)
    images = validation_images(run, spec, progress=True)
    shifted = shifted_pixels(images.paths, spec, seed)
    return {name: score(images, model.predict(x), spec, seed) for name, x in (("val", images.x),
                                                                               ("shifted_val", shifted))}

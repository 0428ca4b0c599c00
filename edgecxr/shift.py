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

from edgecxr import stats
from edgecxr.device.decision import positive_score
from edgecxr.device.preprocess import open_gray, preprocess_image, to_float
from edgecxr.device.spec import ModelSpec


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
    """A binary run's validation figures at its own threshold, as trained and shifted:
    {"val": metrics, "shifted_val": metrics} (edgecxr.stats.binary_metrics)."""
    from edgecxr.data.cache import load_pixels
    from edgecxr.data.split import read_split
    from edgecxr.tfenv import keras

    run_dir = Path(run_dir)
    spec = ModelSpec.load(run_dir / "spec.json")
    dataset, assignment = read_split(run_dir / "split.json")
    val = [s for s in dataset.samples if assignment[s.path] == "val"]
    positive = spec.labels.index(spec.positive_label)
    y = np.array([positive in s.labels for s in val])
    model = keras().models.load_model(run_dir / "model.keras", compile=False)
    clean = load_pixels([s.path for s in val], spec)
    out = {}
    for name, x in (("val", clean.x), ("shifted_val", shifted_pixels([s.path for s in val], spec, seed))):
        probs = model.predict(to_float(x), batch_size=128, verbose=0)
        p_pos = positive_score(probs)
        out[name] = stats.binary_metrics(y, p_pos, spec.threshold, seed)
    return out

"""Test-time augmentation: the model sees each image at a few centred zooms and its
probabilities are averaged.

Training shows the model every image zoomed in by a random 1.0-``zoom_max`` (edgecxr.train.augment's
zoom-crop), so at test time a single unzoomed view is the edge of what it saw. The views here
are the same centred windows, resampled the same bilinear way, on the preprocessed pixels
(after resize and equalization, as in training), then rounded back to uint8 so that a float
and an int8 model get the same input. Cost: one inference per view.

Which views a host runs is decided here once (``views``), for evaluate and the Pi runner alike.

Part of edgecxr.device (standard library and numpy only; imports no sibling module).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# the default views: no zoom, the middle and the top of the cxr recipe's training zoom (1.0-1.15)
ZOOMS = (1.0, 1.075, 1.15)
MAX_ZOOM = 4.0  # the training augmentation's own limit (config LIMITS zoom_max)


def check_zooms(zooms: Sequence[float]) -> list[float]:
    """``zooms`` as floats, each in [1, MAX_ZOOM]; else ValueError naming the bad one."""
    out = []
    for z in zooms:
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not 1.0 <= z <= MAX_ZOOM:
            raise ValueError(f"test-time zoom {z!r} is not a number from 1 to {MAX_ZOOM:g}")
        out.append(float(z))
    return out


class TTAError(ValueError):
    """Test-time views asked for that this spec cannot decide (``hint`` says what to do)."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


def views(spec, asked: bool | None, validation: bool = False) -> list[float]:
    """The zooms to average for ``spec`` (``asked``: --tta True, --no-tta False, None unsaid).

    Averaged scores need a binary threshold of their own: the single-view ``threshold`` was
    chosen for other scores, and applying it to averaged ones would be a threshold nobody
    chose. So the spec's zooms are used (unasked too) when they have one (``tta_threshold``,
    chosen by train on validation; multiclass and multilabel need none). Asked for views a
    spec has no threshold for, only a host holding the run's validation split
    (``validation``: evaluate) can honestly choose one, by the run's own rule: it averages the
    spec's zooms or the default ZOOMS (answering "would TTA help this run?"). A device has no
    validation images, so it refuses rather than decide by the wrong threshold; unasked, it
    and evaluate both run one view with ``threshold``, which is what the spec promises.
    """
    binary = spec.task == "binary"
    if asked is False:
        return []
    if spec.tta_zooms and (spec.tta_threshold is not None or not binary):
        return check_zooms(spec.tta_zooms)
    if asked is None:
        return []
    if binary and not validation:
        raise TTAError(f"this spec.json has no threshold for test-time views (tta_zooms {list(spec.tta_zooms)}, "
                       f"tta_threshold {spec.tta_threshold})",
                       "drop --tta, or export a run trained with tta_zooms (its spec.json carries their threshold)")
    return check_zooms(spec.tta_zooms or ZOOMS)


def _bilinear(size: int, zoom: float) -> np.ndarray:
    """(size, size) weights: output pixel i samples the centred window of 1/zoom of the side at
    its centre, with linear interpolation (edgecxr.train.augment._bilinear_matrix, window centred)."""
    side = 1.0 / zoom
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    source = np.clip(((1.0 - side) / 2.0 + side * centres) * size - 0.5, 0.0, size - 1.0)
    return np.maximum(0.0, 1.0 - np.abs(source[:, None] - np.arange(size, dtype=np.float32)[None, :]))


def zoom_view(pixels: np.ndarray, zoom: float) -> np.ndarray:
    """uint8 pixels (N, H, W, C) -> the same images zoomed in by ``zoom`` about the centre."""
    if zoom == 1.0:
        return pixels
    rows, cols = _bilinear(pixels.shape[1], zoom), _bilinear(pixels.shape[2], zoom)
    x = np.moveaxis(pixels.astype(np.float32), 3, 1)  # (N, C, H, W): two matrix products per image
    out = np.moveaxis(rows @ x @ cols.T, 1, 3)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def averaged(predict: Callable[[np.ndarray], np.ndarray], zooms: Sequence[float]) -> Callable[[np.ndarray], np.ndarray]:
    """``predict`` (uint8 pixels (N, H, W, C) -> probabilities (N, K)) over every view, averaged."""
    zooms = check_zooms(zooms)

    def predict_tta(pixels: np.ndarray) -> np.ndarray:
        return np.mean([predict(zoom_view(pixels, z)) for z in zooms], axis=0).astype(np.float32)

    return predict_tta

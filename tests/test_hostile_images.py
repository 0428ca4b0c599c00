"""Issue 22's images that decoded wrong without a word: an EXIF orientation ignored, a float
TIFF turned black, a 12-bit PNG cut to a few grey levels. Every loader (the preprocessing the
device package ships, and the pixel cache train and evaluate read) decodes them one way."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgecxr.data.cache import load_pixels
from edgecxr.device.preprocess import preprocess_file
from edgecxr.device.spec import ModelSpec

SPEC = ModelSpec(width=32, height=48, resize_mode="squash")


def _gradient(h: int = 48, w: int = 32) -> np.ndarray:
    """Bright top-left, dark bottom-right: any rotation or flip changes it."""
    y, x = np.mgrid[0:h, 0:w]
    return (255 - (y * 160 // h + x * 95 // w)).astype(np.uint8)


def _both_loaders(path) -> list[np.ndarray]:
    return [preprocess_file(path, SPEC)[..., 0],
            load_pixels([path], SPEC, strict=True, use_cache=False, progress=False).x[0, ..., 0]]


@pytest.mark.parametrize("orientation, undo", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
                                               (8, Image.Transpose.ROTATE_270), (2, Image.Transpose.FLIP_LEFT_RIGHT)])
def test_the_exif_orientation_is_applied(tmp_path, orientation, undo):
    upright = Image.fromarray(_gradient(), "L")
    stored = upright.transpose(undo)  # what a camera stores, with the tag that says how to show it
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "tagged.png"
    stored.save(path, exif=exif.tobytes())
    for x in _both_loaders(path):
        assert np.abs(x.astype(int) - np.asarray(upright, dtype=int)).max() <= 1


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.2, 0.6), (-1000.0, 3000.0), (1e-6, 2e-6)])
def test_a_float_tiff_keeps_its_picture(tmp_path, low, high):
    g = _gradient().astype(np.float64) / 255.0
    values = (low + g * (high - low)).astype(np.float32)
    path = tmp_path / "float.tif"
    Image.fromarray(values, "F").save(path)
    expected = (g - g.min()) / (g.max() - g.min()) * 255  # its own min..max: a float has no bit depth
    for x in _both_loaders(path):
        assert len(np.unique(x)) > 50, "the picture was flattened"
        assert np.abs(x.astype(float) - expected).max() <= 1.5


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_a_high_bit_depth_png_keeps_its_grey_levels(tmp_path, bits):
    top = 2 ** bits - 1
    values = np.round(_gradient().astype(np.float64) / 255.0 * top).astype(np.uint16)
    path = tmp_path / f"gray{bits}.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    for x in _both_loaders(path):
        assert len(np.unique(x)) == len(np.unique(_gradient()))
        assert np.abs(x.astype(float) - values / top * 255).max() <= 0.51


def test_a_float_image_of_nan_and_infinity_is_black_not_a_crash(tmp_path):
    values = np.full((48, 32), np.nan, np.float32)
    values[0, 0] = np.inf
    path = tmp_path / "nan.tif"
    Image.fromarray(values, "F").save(path)
    for x in _both_loaders(path):
        assert not x.any()

"""Image file -> model input, the one implementation of the model spec's preprocessing.

Training, evaluation, the Raspberry Pi runner and the C headers (which mirror it) all feed a
model through this module, following the run's ``spec.json`` (spec.py).

Part of edgecxr.device, which ships whole (as edgecxr_device) next to the Raspberry Pi runner (firmware_bundle/rpi):
it imports only the standard library, numpy and Pillow -- never anything else from edgecxr.

Data flow: file -> turned upright by its EXIF orientation -> grayscale 8-bit (any mode; 16-bit
and 32-bit integers scaled from the bit depth their values use, so a 12-bit PNG keeps its 4096
levels' range; float images from their own min..max) -> resize (squash | crop |
pad) -> optional histogram equalization -> uint8 HxWxC -> float x/255 (float model) or
int8 q = round(x/scale) + zero_point (int8 model; with scale 1/255, zp -128 this is u8-128).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# relative imports only: this package also ships as edgecxr_device
from .spec import RESIZE_MODES

if TYPE_CHECKING:
    from .spec import ModelSpec

# the file suffixes read as images: by the dataset scanner, the importer and the runner's folders
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}
MAX_PIXELS = 64_000_000  # a chest X-ray is ~3000x3000 = 9 MP; beyond this is a mistake or a bomb
# changes whenever a file decodes to other pixels (the pixel cache keys on it): 2 = EXIF
# orientation applied, float and high-bit-depth images scaled by their real range
DECODER_VERSION = 2
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class ImageError(ValueError):
    """An image that cannot be used; the message names the file and what to do."""


def image_files(folder: Path) -> list[Path]:
    """Every image file under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def open_gray(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open any common image (JPEG, PNG 8/16-bit, RGB(A), palette, gray) as 8-bit grayscale."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes); delete it or re-download the dataset")
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ImageError(f"{path}: {w}x{h} pixels is over the {max_pixels:,} limit; "
                                 "downscale it first")
            img.load()
            return _to_gray8(ImageOps.exif_transpose(img))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path}: not an image Pillow can read ({type(e).__name__}); remove or replace it") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: corrupt or truncated image ({e}); remove or replace it") from None


def wide_to_uint8(a: np.ndarray, is_float: bool) -> np.ndarray:
    """A 16/32-bit integer or float image -> uint8 over its real range: integers from 0 to the
    top of the bit depth their values use (at least 8 bits: 0..4095 for a 12-bit image); floats,
    which have no bit depth, from their own min..max (as do negative integers). NaN and
    infinity become black, and so does an image of one value."""
    finite = np.isfinite(a)
    a = np.where(finite, a, 0.0)
    if not finite.any():
        return np.zeros(a.shape, np.uint8)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if not is_float and lo >= 0.0:
        lo, top = 0.0, float(2 ** max(8, int(np.ceil(np.log2(hi + 1)))) - 1)
    else:
        top = hi if hi > lo else np.inf  # one value: black
    return np.clip(np.round((a - lo) * 255.0 / (top - lo)), 0, 255).astype(np.uint8)


def _to_gray8(img: Image.Image) -> Image.Image:
    if img.mode in WIDE_MODES:
        return Image.fromarray(wide_to_uint8(np.asarray(img, dtype=np.float64), img.mode == "F"), "L")
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, img)
    if img.mode != "L":
        img = img.convert("RGB").convert("L")
    return img


def resize(img: Image.Image, width: int, height: int, mode: str) -> Image.Image:
    w, h = img.size
    if mode == "squash":
        return img.resize((width, height), Image.BILINEAR)
    if mode == "crop":
        s = max(width / w, height / h)
        img = img.resize((max(width, round(w * s)), max(height, round(h * s))), Image.BILINEAR)
        left, top = (img.width - width) // 2, (img.height - height) // 2
        return img.crop((left, top, left + width, top + height))
    if mode == "pad":
        s = min(width / w, height / h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
        canvas = Image.new("L", (width, height), 0)
        canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
        return canvas
    raise ImageError(f"unknown resize mode {mode!r}; choose one of {', '.join(RESIZE_MODES)}")


def preprocess_image(img: Image.Image, spec: ModelSpec) -> np.ndarray:
    """A grayscale PIL image -> uint8 array of shape spec.input_shape."""
    img = resize(img, spec.width, spec.height, spec.resize_mode)
    if spec.normalize == "equalize":
        img = ImageOps.equalize(img)
    a = np.asarray(img, dtype=np.uint8)[:, :, None]
    if spec.channels == 3:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a)


def preprocess_file(path: str | Path, spec: ModelSpec) -> np.ndarray:
    return preprocess_image(open_gray(path), spec)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> the float model's input, in [0, 1]."""
    return pixels.astype(np.float32) / np.float32(255.0)


def to_int8(pixels: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """uint8 pixels -> an int8 model's input, quantized with the model's own scale/zero point."""
    q = np.round(to_float(pixels) / np.float32(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * np.float32(scale)

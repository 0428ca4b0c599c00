"""Deterministic synthetic chest-like grayscale images, for the demo and the tests.

Each image: dark lung fields in a bright body, rib arcs, a heart shadow, noise; the abnormal
classes add soft bright opacities in the lungs (one class per pattern). The same seed gives
byte-identical files. File names carry a patient id in Kermany's style
(``person12_synth_3.png``) so patient-grouped splitting is exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgecxr.errors import DataError
from edgecxr.files import staged_folder

# class name -> number of opacities (0 = normal), in the order of the demo's classes
SYNTH_CLASSES = {"NORMAL": 0, "PNEUMONIA": 3}
MULTICLASS = {"Normal": 0, "Viral Pneumonia": 2, "Covid": 5}
MAX_TOTAL_PIXELS = 2e9  # a synthetic set beyond this takes hours and gigabytes: a typo, not a demo


def chest_image(rng: np.random.Generator, size: int, opacities: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.75 - 0.25 * ((xx - 0.5) ** 2 * 3 + (yy - 0.55) ** 2 * 2)  # body
    for cx in (0.32, 0.68):  # lung fields
        cx += rng.normal(0, 0.015)
        lung = ((xx - cx) / 0.15) ** 2 + ((yy - 0.5) / 0.32) ** 2 < 1
        img = np.where(lung, img - 0.45, img)
    for k in range(6):  # ribs
        y0 = 0.25 + 0.09 * k + rng.normal(0, 0.005)
        img += 0.08 * np.exp(-(((yy - y0 - 0.15 * (xx - 0.5) ** 2) / 0.012) ** 2))
    heart = ((xx - 0.57) / 0.12) ** 2 + ((yy - 0.66) / 0.12) ** 2 < 1  # heart shadow
    img = np.where(heart, img + 0.35, img)
    for _ in range(opacities):
        cx, cy = rng.choice([0.32, 0.68]) + rng.normal(0, 0.05), rng.uniform(0.35, 0.7)
        r = rng.uniform(0.05, 0.1)
        img += 0.35 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / r**2))
    img *= rng.uniform(0.85, 1.15)  # exposure differs between images
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def make_dataset(out: Path, per_class: int = 40, size: int = 128, seed: int = 0,
                 classes: dict[str, int] | None = None, splits: dict[str, float] | None = None,
                 images_per_patient: int = 2, force: bool = False) -> Path:
    """Write ``out/[split/]CLASS/personP_synth_I.png``; returns ``out``."""
    from edgecxr.checks import check_number

    check_number("per_class", per_class, "--per-class")
    check_number("image_size", size, "--size")
    check_number("seed", seed, "--seed")
    classes = classes or SYNTH_CLASSES
    pixels = per_class * len(classes) * size * size * sum((splits or {None: 1.0}).values())
    if pixels > MAX_TOTAL_PIXELS:
        raise DataError(f"{per_class} images per class at {size}x{size} is {pixels / 1e9:.1f} gigapixels",
                        f"stay under {MAX_TOTAL_PIXELS / 1e9:g} gigapixels: fewer --per-class or a smaller --size")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise DataError(f"{out} already exists and is not empty", "choose another folder or pass --force")
    rng = np.random.default_rng(seed)
    patient = 0
    with staged_folder(out, force, "dataset") as tmp:  # all images or none (a full disk leaves nothing)
        for split, fraction in (splits or {None: 1.0}).items():
            for name, opacities in classes.items():
                folder = tmp / split / name if split else tmp / name
                folder.mkdir(parents=True, exist_ok=True)
                n = max(1, round(per_class * fraction))
                for i in range(n):
                    if i % images_per_patient == 0:
                        patient += 1
                    img = chest_image(rng, size, opacities)
                    Image.fromarray(img, "L").save(folder / f"person{patient}_synth_{i}.png")
    return out

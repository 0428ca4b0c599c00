"""The device self-test's images and the bytes a device must give for them, per kernel family.

An image whose outputs sit at the int8 limits ([127, -128]) is the same on every device and
every kernel family, so a self-test on it cannot fail. These images are the run's own images
whose outputs are nearest to the decision threshold and not saturated: there, one kernel
family's rounding moves the bytes and can flip the label.

    chosen = choose_images(source, explicit=None)            # up to COUNT images
    doc = expected(source, {"01-x.png": chosen[0], ...})    # selftest/expected.json
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from edgecxr.data.split import SPLIT_FILE
from edgecxr.device import decision
from edgecxr.device.preprocess import dequantize, preprocess_file
from edgecxr.export.source import ExportSource, choose_test_image

COUNT = 4  # images in the self-test: a few seconds on a Pi, enough to catch a kernel mismatch
CANDIDATES = 200  # images of the run looked at (sorted by path): a bounded cost at export
SPLIT_ORDER = ("val", "train", "test")
INT8_LIMITS = (-128, 127)
ARCH_DEPENDENT = ("builtin",)  # families whose bytes differ between x86 and aarch64 (issue 14's probe)


def saturated(raw: np.ndarray) -> bool:
    return bool(np.all(np.isin(raw, INT8_LIMITS)))


def _candidates(source: ExportSource) -> list[Path]:
    if not source.run.has(SPLIT_FILE):
        return []
    dataset, assignment = source.run.split()
    ordered = sorted(dataset.samples, key=lambda s: (SPLIT_ORDER.index(assignment[s.path])
                                                     if assignment[s.path] in SPLIT_ORDER else 9, str(s.path)))
    return [s.path for s in ordered if s.path.is_file()][:CANDIDATES]


def choose_images(source: ExportSource, explicit: Path | None = None, count: int = COUNT) -> list[Path]:
    """``explicit`` alone, else the ``count`` run images nearest the threshold, saturated ones last,
    taking the labels in turn so that both sides of the threshold are tested."""
    from edgecxr.runtimes import TFLiteModel

    if explicit is not None:
        return [choose_test_image(source, explicit)]
    paths = _candidates(source)
    if not paths:
        return [choose_test_image(source)]  # its error says what to do
    tfl = TFLiteModel(source.model_path)
    q = source.output_quant
    ranked = []
    for path in paths:
        raw = tfl.raw(preprocess_file(path, source.spec)[None])[0]
        scores = dequantize(raw, q["scale"], q["zero_point"])
        ranked.append((saturated(raw), decision.margin(scores, source.spec), str(decision.label(scores, source.spec)), path))
    ranked.sort(key=lambda r: (r[0], r[1], str(r[3])))
    by_label: dict[str, list[Path]] = {}
    for _, _, label, path in ranked:
        by_label.setdefault(label, []).append(path)
    chosen: list[Path] = []
    while len(chosen) < min(count, len(ranked)):
        for queue in by_label.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def expected(source: ExportSource, images: dict[str, Path]) -> dict:
    """What each kernel family gives for each image on this computer (selftest/expected.json)."""
    from edgecxr.runtimes import DEFAULT_KERNELS, KERNELS, TFLiteModel, available

    models = {name: TFLiteModel(source.model_path, kernels=name) for name in KERNELS}
    q = source.output_quant
    rows = []
    for name, image in images.items():
        pixels = preprocess_file(image, source.spec)
        raw = {name: m.raw(pixels[None])[0].astype(int).tolist() for name, m in models.items()}
        scores = {name: dequantize(np.array(r), q["scale"], q["zero_point"]) for name, r in raw.items()}
        ref = scores[DEFAULT_KERNELS]
        rows.append({"image": name, "label": decision.label(ref, source.spec),
                     "scores": [round(float(s), 6) for s in ref], "raw": raw,
                     "labels": {name: decision.label(s, source.spec) for name, s in scores.items()},
                     "margin": round(decision.margin(ref, source.spec), 6), "saturated": saturated(np.array(raw[DEFAULT_KERNELS]))})
    return {"runtime": models[DEFAULT_KERNELS].runtime, "runtimes_here": available(),
            "machine": platform.machine(), "default_kernels": DEFAULT_KERNELS,
            "kernels": {name: k.about for name, k in KERNELS.items()},
            "arch_dependent": list(ARCH_DEPENDENT), "images": rows}

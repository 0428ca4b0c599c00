"""Images with their labels, decoded once, and one way to score a model on them.

``score_on_validation`` is the one "how does this model do on the run's validation split":
evaluate chooses its threshold there, tune ranks its int8 candidates by it, shift compares
clean and re-exposed images with it. An image that fails to decode is skipped and its label
dropped with it (``decode``), so predictions and labels always describe the same images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import Sample
from edgecxr.data.split import SPLIT_FILE
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import DataError
from edgecxr.evaluate.metrics import classification_metrics
from edgecxr.runs import Run


@dataclass
class Decoded:
    """``x[i]`` is ``samples[i]``'s image; the images that failed to decode are in ``errors``."""

    samples: list[Sample]
    x: np.ndarray  # uint8 (N, H, W, C), as spec.json prepares it
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, what is wrong)

    @property
    def paths(self) -> list[Path]:
        return [s.path for s in self.samples]


def decode(samples: list[Sample], spec: ModelSpec, progress: bool = True) -> Decoded:
    """``samples`` decoded per ``spec``; the unreadable ones dropped with their labels."""
    pixels = load_pixels([s.path for s in samples], spec, progress=progress)
    keep = {str(p) for p in pixels.paths}
    return Decoded([s for s in samples if str(s.path) in keep], pixels.x, pixels.errors)


def relabel(samples: list[Sample], classes: list[str], spec: ModelSpec) -> list[Sample]:
    """Class indices of the data -> indices in the model's label order (matched by name)."""
    index = [spec.labels.index(c) for c in classes]
    return [Sample(s.path, tuple(index[k] for k in s.labels), s.patient, s.split) for s in samples]


def run_split(run: Run, spec: ModelSpec, split: str) -> list[Sample]:
    """The images ``split.json`` puts in ``split``, labelled in ``spec.labels`` order."""
    dataset, assignment = run.split()
    return relabel([s for s in dataset.samples if assignment[s.path] == split], dataset.classes, spec)


def targets(samples: list[Sample], spec: ModelSpec) -> np.ndarray:
    """Class indices (N,), or (N, K) 0/1 for multilabel."""
    if spec.task == "multilabel":
        y = np.zeros((len(samples), len(spec.labels)), np.int64)
        for i, s in enumerate(samples):
            y[i, list(s.labels)] = 1
        return y
    return np.array([s.labels[0] for s in samples], np.int64)


def validation_images(run: Run, spec: ModelSpec, progress: bool = False) -> Decoded:
    """The run's validation images that decode; a DataError when none does."""
    images = decode(run_split(run, spec, "val"), spec, progress)
    if not images.samples:
        why = f"none of its {len(images.errors)} validation images could be read" if images.errors \
            else "it lists no validation images"
        raise DataError(f"{run.file(SPLIT_FILE)}: {why}",
                        "check that the dataset folder named in split.json still exists, or re-run `edgecxr train`")
    return images


def score(images: Decoded, probs: np.ndarray, spec: ModelSpec, seed: int = 0) -> dict:
    """edgecxr.evaluate.metrics.classification_metrics at spec.json's threshold."""
    return classification_metrics(targets(images.samples, spec), probs, spec.labels, spec.task, spec.threshold, seed)


def score_on_validation(run: Run, spec: ModelSpec, predict: Callable[[np.ndarray], np.ndarray],
                        seed: int = 0) -> dict:
    """``predict`` (uint8 pixels -> probabilities, e.g. a Predictor's) scored on the run's
    validation images at spec.json's threshold."""
    images = validation_images(run, spec)
    return score(images, predict(images.x), spec, seed)

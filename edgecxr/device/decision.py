"""Scores -> decision, the one rule. Evaluation, the export's reference outputs, the self-test
and the Raspberry Pi runner call it; the C app (firmware_bundle/firmware/app/edgecxr_app.cc)
mirrors it and its tests compare the two:

    multilabel                                   every label whose score >= threshold (0.5 when none)
    binary, one sigmoid output                   labels[1] when P >= threshold (0.5 when none)
    binary, softmax pair, threshold chosen       labels[1] when P(labels[1]) >= threshold
    otherwise (multiclass, or no threshold)      argmax
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5


def positive_score(probs) -> np.ndarray:
    """P(labels[1]) of a binary model, per row: column 1 of a softmax pair, or the one sigmoid."""
    probs = np.asarray(probs)
    return probs[..., 1] if probs.shape[-1] == 2 else probs[..., 0]


def decide(probs, task: str, threshold: float | None = None) -> np.ndarray:
    """Class index per row of ``probs`` (N, K); multilabel: (N, K) booleans."""
    probs = np.asarray(probs)
    cut = DEFAULT_THRESHOLD if threshold is None else threshold
    if task == "multilabel":
        return probs >= cut
    if _by_threshold(probs.shape[-1], task, threshold):
        return (positive_score(probs) >= cut).astype(int)
    return probs.argmax(axis=-1)


def _by_threshold(outputs: int, task: str, threshold: float | None) -> bool:
    """A binary decision is P(positive) against a threshold for one sigmoid or a chosen threshold."""
    return task == "binary" and (outputs == 1 or threshold is not None)


def label(scores, spec) -> str | list[str]:
    """The label one image's scores mean, named from ``spec.labels`` (class numbers when absent)."""
    scores = np.asarray(scores)
    labels = spec.labels or [str(i) for i in range(max(2, len(scores)))]
    picked = decide(scores[None], spec.task, spec.threshold)[0]
    if spec.task == "multilabel":
        return [name for name, on in zip(labels, picked) if on]
    return labels[int(picked)]


def margin(scores, spec) -> float:
    """How far one image's decision is from flipping, in probability (0: on the threshold)."""
    scores = np.asarray(scores, np.float64)
    cut = DEFAULT_THRESHOLD if spec.threshold is None else spec.threshold
    if spec.task == "multilabel":
        return float(np.min(np.abs(scores - cut)))
    if _by_threshold(len(scores), spec.task, spec.threshold):
        return abs(float(positive_score(scores)) - cut)
    top = np.sort(scores)[::-1]
    return float(top[0] - top[1]) if len(top) > 1 else 1.0

"""The statistics training and evaluation share: accuracy, sensitivity, specificity (Wilson 95 %
intervals), ROC-AUC (seeded bootstrap 95 % interval), and the rule that picks the decision
threshold on validation. One module, so the figures training reports and the ones evaluation
reports can never disagree; edgecxr.evaluate.metrics builds the full report on top.
"""

from __future__ import annotations

import math

import numpy as np

from edgecxr.device.decision import decide

Z95 = 1.959963984540054
BOOTSTRAP = 1000


def wilson(successes: int, n: int) -> dict:
    """Proportion with its Wilson score 95 % interval (sound near 0 and 1, unlike Wald)."""
    if n == 0:
        return {"value": None, "ci95": [None, None], "n": 0}
    p = successes / n
    denom = 1 + Z95**2 / n
    center = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return {"value": p, "ci95": [max(0.0, center - half), min(1.0, center + half)], "n": n}


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get their average rank."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2.0)[inverse]


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Mann-Whitney ROC-AUC; None when only one class is present."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    r = _ranks(np.asarray(score, np.float64))
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def group_members(groups) -> list[np.ndarray]:
    """The image indices of each group (patient), in order of first appearance."""
    index: dict = {}
    for i, g in enumerate(groups):
        index.setdefault(g, []).append(i)
    return [np.asarray(v) for v in index.values()]


def resample(rng: np.random.Generator, n: int, members: list[np.ndarray] | None = None) -> np.ndarray:
    """Image indices of one bootstrap draw: ``n`` images with replacement or, with ``members``
    (``group_members``), as many whole patients with replacement, so that the follow-up images
    of one patient, which are not independent, move together and the interval is not too narrow."""
    if members is None:
        return rng.integers(0, n, n)
    return np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])


def bootstrap_ci(statistic, y: np.ndarray, score: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP,
                 groups=None) -> dict:
    """``statistic(y, score)`` with a percentile-bootstrap 95 % interval (resampling images, or
    the patients ``groups`` names per image; seeded); resamples where the statistic is undefined
    (one class only) are dropped."""
    y, score = np.asarray(y).astype(bool), np.asarray(score, np.float64)
    value = statistic(y, score)
    if value is None:
        return {"value": None, "ci95": [None, None], "n": len(y)}
    rng = np.random.default_rng(seed)
    members = group_members(groups) if groups is not None else None
    samples = []
    for _ in range(resamples):
        idx = resample(rng, len(y), members)
        v = statistic(y[idx], score[idx])
        if v is not None:
            samples.append(v)
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return {"value": value, "ci95": [float(lo), float(hi)], "n": len(y)}


def roc_auc_ci(y: np.ndarray, score: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP) -> dict:
    """ROC-AUC with a seeded bootstrap 95 % interval."""
    return bootstrap_ci(roc_auc, y, score, seed, resamples)


def choose_threshold(y: np.ndarray, p_pos: np.ndarray, rule: str = "youden",
                     target_sensitivity: float = 0.95) -> float:
    """Threshold on P(positive), chosen on validation: max Youden's J (sens + spec - 1), or the
    highest threshold that still reaches ``target_sensitivity``.

    The cut is returned midway between the chosen validation score and the next lower one, never
    on a score itself: the same decisions on validation, but a runtime that computes that image's
    score a few ulps lower (TFLite float vs Keras) no longer flips it."""
    y, p_pos = np.asarray(y).astype(bool), np.asarray(p_pos, np.float64)
    if y.all() or not y.any():
        return 0.5
    candidates = np.unique(np.r_[p_pos, 0.5])
    sens = np.array([(p_pos[y] >= t).mean() for t in candidates])
    spec = np.array([(p_pos[~y] < t).mean() for t in candidates])
    if rule == "sensitivity":
        ok = np.flatnonzero(sens >= target_sensitivity)
        chosen = float(candidates[ok[-1]]) if len(ok) else float(candidates[0])
    else:
        chosen = float(candidates[int(np.argmax(sens + spec - 1))])
    return _off_the_samples(chosen, p_pos)


def _off_the_samples(cut: float, p_pos: np.ndarray) -> float:
    """``cut`` moved down to midway to the next lower score when it equals a score (no score lies
    in between, so every validation decision stays the same)."""
    if not np.any(p_pos == cut):
        return cut
    lower = p_pos[p_pos < cut]
    return float((cut + (lower.max() if len(lower) else 0.0)) / 2)


def binary_metrics(y: np.ndarray, p_pos: np.ndarray, threshold: float, seed: int = 0) -> dict:
    """Accuracy / sensitivity / specificity at ``threshold`` and ROC-AUC, each with a 95 % CI."""
    y, p_pos = np.asarray(y).astype(bool), np.asarray(p_pos, np.float64)
    pred = decide(p_pos[:, None], "binary", threshold) == 1
    tp, tn = int((pred & y).sum()), int((~pred & ~y).sum())
    fp, fn = int((pred & ~y).sum()), int((~pred & y).sum())
    return {"threshold": threshold, "accuracy": wilson(tp + tn, len(y)), "sensitivity": wilson(tp, tp + fn),
            "specificity": wilson(tn, tn + fp), "roc_auc": roc_auc_ci(y, p_pos, seed),
            "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn}}


def multiclass_metrics(y: np.ndarray, probs: np.ndarray, labels: list[str], seed: int = 0) -> dict:
    """Accuracy (argmax) and one-vs-rest ROC-AUC per class, with 95 % CIs."""
    y = np.asarray(y)
    pred = decide(probs, "multiclass")
    per_class = {}
    for k, name in enumerate(labels):
        per_class[name] = {"recall": wilson(int(((pred == k) & (y == k)).sum()), int((y == k).sum())),
                           "roc_auc": roc_auc_ci(y == k, probs[:, k], seed)}
    aucs = [c["roc_auc"]["value"] for c in per_class.values() if c["roc_auc"]["value"] is not None]
    return {"accuracy": wilson(int((pred == y).sum()), len(y)), "macro_roc_auc": float(np.mean(aucs)) if aucs else None,
            "per_class": per_class}


def multilabel_metrics(y: np.ndarray, probs: np.ndarray, labels: list[str], seed: int = 0) -> dict:
    """Per-label ROC-AUC with 95 % CIs and their mean (labels with one class only are None)."""
    per_class = {name: roc_auc_ci(y[:, k], probs[:, k], seed) for k, name in enumerate(labels)}
    aucs = [m["value"] for m in per_class.values() if m["value"] is not None]
    return {"macro_roc_auc": float(np.mean(aucs)) if aucs else None, "per_class": per_class}

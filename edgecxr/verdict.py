"""Whether a recipe change enters the default: paired differences over seeds and patients.

A recipe variant and the default are trained with the same seeds and scored on the same
external images. The variant's difference to the default on a metric is the mean over seeds
of (variant - default). Its 95 % interval comes from a paired bootstrap that redraws, in each
resample, the patients (every run is scored on the same redrawn images) and the seeds (a
seed's two runs stay a pair): it holds both the test set's sampling noise and the seed noise
of training, the two things that made 19 variants on a 140-image proxy look different. The
rule (benchmarks/protocol.py applies it): a change enters the default only when that interval
lies above zero on every external set, with at least ``MIN_SEEDS`` pairs on each; fewer pairs
are a partial result, never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecxr.device.decision import decide
from edgecxr.stats import BOOTSTRAP, group_members, resample, roc_auc

MIN_SEEDS = 3


@dataclass(frozen=True)
class Scored:
    """One run's scores on one external set, in the set's image order."""

    y: np.ndarray  # 1 = positive (PNEUMONIA)
    p: np.ndarray  # P(positive)
    threshold: float  # chosen on the run's validation split


def _rates(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool)
    return y, decide(np.asarray(p, np.float64)[:, None], "binary", threshold) == 1


def _mean_or_none(x: np.ndarray) -> float | None:
    return float(x.mean()) if x.size else None


# metric -> value on (y, p, threshold); None where undefined (no image of a class)
METRICS = {
    "accuracy": lambda y, p, t: _mean_or_none(np.equal(*_rates(y, p, t))),
    "sensitivity": lambda y, p, t: (lambda yy, pred: _mean_or_none(pred[yy]))(*_rates(y, p, t)),
    "specificity": lambda y, p, t: (lambda yy, pred: _mean_or_none(~pred[~yy]))(*_rates(y, p, t)),
    "roc_auc": lambda y, p, t: roc_auc(y, p),
}


def point(metric: str, run: Scored, idx: np.ndarray | None = None) -> float | None:
    """``metric`` of one run, on the images ``idx`` (default all)."""
    y, p = (run.y, run.p) if idx is None else (run.y[idx], run.p[idx])
    return METRICS[metric](y, p, run.threshold)


def paired_difference(default: dict[int, Scored], variant: dict[int, Scored], metric: str, groups=None,
                      resamples: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Mean over the seeds both have of (variant - default) on ``metric``, with its paired
    bootstrap 95 % interval (patients ``groups`` and seeds redrawn together; images when
    ``groups`` is None). Runs must be scored on the same images in the same order."""
    seeds = sorted(set(default) & set(variant))
    if not seeds:
        return {"value": None, "ci95": [None, None], "seeds": []}
    y = default[seeds[0]].y
    if any(not np.array_equal(r[s].y, y) for r in (default, variant) for s in seeds):
        raise ValueError("paired runs must be scored on the same images (their labels differ)")

    def diff(s: int, idx: np.ndarray | None) -> float | None:
        a, b = point(metric, variant[s], idx), point(metric, default[s], idx)
        return None if a is None or b is None else a - b

    per_seed = [diff(s, None) for s in seeds]
    if any(d is None for d in per_seed):
        return {"value": None, "ci95": [None, None], "seeds": seeds}
    rng = np.random.default_rng(seed)
    members = group_members(groups) if groups is not None else None
    samples = []
    for _ in range(resamples):
        idx = resample(rng, len(y), members)
        drawn = [diff(seeds[k], idx) for k in rng.integers(0, len(seeds), len(seeds))]
        if all(d is not None for d in drawn):
            samples.append(np.mean(drawn))
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return {"value": float(np.mean(per_seed)), "ci95": [float(lo), float(hi)], "seeds": seeds,
            "per_seed": dict(zip(seeds, per_seed))}


# decision -> what the report says (SETS: the external sets concerned)
DECISIONS = {
    "partial": "partial ({seeds} paired seeds on {sets}; {min_seeds} needed): no verdict",
    "enters": "enters the default: better beyond noise on every set",
    "worse": "worse beyond noise on {sets}: the default is kept",
    "kept": "not better beyond noise on {sets}: the default is kept",
}


def verdict(differences: dict[str, dict], min_seeds: int = MIN_SEEDS) -> dict:
    """The protocol's rule, from ``paired_difference`` per external set: ``enters`` only when
    every set's interval lies above zero with ``min_seeds`` pairs; ``worse`` when one lies below
    zero, ``kept`` otherwise; ``partial`` (no verdict) while a set has fewer pairs or no value."""
    if not differences:
        raise ValueError("a verdict needs at least one external set")
    short = {name: len(d["seeds"]) for name, d in differences.items()
             if len(d["seeds"]) < min_seeds or d["value"] is None}
    if short:
        decision, sets = "partial", list(short)
    elif below := [n for n, d in differences.items() if d["ci95"][1] < 0]:
        decision, sets = "worse", below
    elif not_above := [n for n, d in differences.items() if d["ci95"][0] <= 0]:
        decision, sets = "kept", not_above
    else:
        decision, sets = "enters", list(differences)
    text = DECISIONS[decision].format(sets=", ".join(sets), min_seeds=min_seeds,
                                      seeds="/".join(str(n) for n in short.values()))
    return {"decision": decision, "sets": sets, "text": text}

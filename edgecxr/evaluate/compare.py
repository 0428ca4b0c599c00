"""Float vs int8 on the same images: how often they agree, which files flip, how far apart
the probabilities are. The question a user asks before putting int8 on a device."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecxr.evaluate.metrics import wilson


def compare_models(files: list[Path | str], labels: list[str], ref_probs: np.ndarray, ref_pred: np.ndarray,
                   other_probs: np.ndarray, other_pred: np.ndarray) -> dict:
    """Agreement of ``other`` with the reference model (Wilson 95 % CI), the files whose predicted
    class flips, and mean / max |probability difference| over all outputs."""
    ref_pred, other_pred = np.asarray(ref_pred), np.asarray(other_pred)
    same = (ref_pred == other_pred) if ref_pred.ndim == 1 else (ref_pred == other_pred).all(axis=1)
    diff = np.abs(np.asarray(ref_probs, np.float64) - np.asarray(other_probs, np.float64))
    flips = [{"file": str(files[i]), "reference": _name(ref_pred[i], labels), "other": _name(other_pred[i], labels),
              "reference_probs": np.round(ref_probs[i], 4).tolist(), "other_probs": np.round(other_probs[i], 4).tolist()}
             for i in np.flatnonzero(~same)]
    return {"agreement": wilson(int(same.sum()), len(same)), "flips": flips,
            "mean_abs_prob_diff": float(diff.mean()) if diff.size else None,
            "max_abs_prob_diff": float(diff.max()) if diff.size else None}


def _name(pred, labels: list[str]) -> str:
    if np.ndim(pred) == 0:
        return labels[int(pred)]
    return "+".join(labels[k] for k in np.flatnonzero(pred)) or "(none)"

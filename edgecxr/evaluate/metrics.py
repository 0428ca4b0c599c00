"""Classification metrics with 95 % intervals, for one model's probabilities on one dataset.

Rates (accuracy, sensitivity, specificity, precision, recall, agreement) carry Wilson score
intervals; ROC-AUC and PR-AUC carry seeded percentile-bootstrap intervals. Every figure is
``{"value", "ci95": [lo, hi], "n"}`` -- the format of ``edgecxr.stats``, whose
Wilson, ROC-AUC and threshold rules are reused so training and evaluation never disagree.

Confusion matrices: rows are the true class, columns the predicted class.
"""

from __future__ import annotations

import numpy as np

from edgecxr.device.decision import decide, positive_score
from edgecxr.stats import BOOTSTRAP, bootstrap_ci, choose_threshold, roc_auc, roc_auc_ci, wilson

__all__ = [
    "average_precision",
    "average_precision_ci",
    "averages",
    "choose_threshold",
    "classification_metrics",
    "confusion_matrix",
    "per_class_table",
    "roc_auc",
    "roc_auc_ci",
    "roc_curve",
    "wilson",
]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def row_percent(cm: np.ndarray) -> np.ndarray:
    """Each row as percent of its true-class total (the Edge Impulse paper's table 3)."""
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(100.0 * cm, totals, out=np.zeros(cm.shape), where=totals > 0)


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def per_class_table(cm: np.ndarray, labels: list[str]) -> list[dict]:
    """Precision, recall, F1, specificity (one-vs-rest) and support for every class."""
    total = int(cm.sum())
    rows = []
    for k, name in enumerate(labels):
        tp = int(cm[k, k])
        fn = int(cm[k].sum()) - tp
        fp = int(cm[:, k].sum()) - tp
        tn = total - tp - fn - fp
        precision, recall = wilson(tp, tp + fp), wilson(tp, tp + fn)
        rows.append({"class": name, "precision": precision, "recall": recall,
                     "f1": _f1(precision["value"], recall["value"]), "specificity": wilson(tn, tn + fp),
                     "support": tp + fn})
    return rows


def averages(rows: list[dict]) -> dict:
    """Macro (plain mean over classes) and support-weighted averages of the per-class table."""
    support = np.array([r["support"] for r in rows], float)
    out = {}
    for kind in ("macro", "weighted"):
        avg = {}
        for key in ("precision", "recall", "f1", "specificity"):
            vals = [r[key]["value"] if isinstance(r[key], dict) else r[key] for r in rows]
            ok = [i for i, v in enumerate(vals) if v is not None]
            if not ok:
                avg[key] = None
                continue
            w = np.ones(len(ok)) if kind == "macro" else support[ok]
            avg[key] = float(np.average([vals[i] for i in ok], weights=w)) if w.sum() > 0 else None
        out[kind] = avg
    return out


def roc_curve(y: np.ndarray, score: np.ndarray) -> dict:
    """False/true positive rates at every distinct score, from (0, 0) to (1, 1)."""
    y, score = np.asarray(y).astype(bool), np.asarray(score, np.float64)
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps, fps = np.cumsum(yy)[last_of_tie], np.cumsum(~yy)[last_of_tie]
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return {"fpr": np.r_[0.0, fps / n_neg].tolist(), "tpr": np.r_[0.0, tps / n_pos].tolist(),
            "thresholds": np.r_[np.inf, s[last_of_tie]].tolist()}


def pr_curve(y: np.ndarray, score: np.ndarray) -> dict:
    """Recall and precision at every distinct score (highest first)."""
    y, score = np.asarray(y).astype(bool), np.asarray(score, np.float64)
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(yy)[last_of_tie]
    return {"recall": (tps / max(int(y.sum()), 1)).tolist(), "precision": (tps / (last_of_tie + 1)).tolist(),
            "thresholds": s[last_of_tie].tolist()}


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    """PR-AUC as average precision: sum over thresholds of (recall step) x precision."""
    y, score = np.asarray(y).astype(bool), np.asarray(score, np.float64)
    if not y.any() or y.all():
        return None
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(yy)[last_of_tie]
    precision = tps / (last_of_tie + 1)
    recall = tps / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def average_precision_ci(y: np.ndarray, score: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP) -> dict:
    """PR-AUC with a seeded bootstrap 95 % interval."""
    return bootstrap_ci(average_precision, y, score, seed, resamples)


def classification_metrics(y: np.ndarray, probs: np.ndarray, labels: list[str], task: str,
                           threshold: float | None = None, seed: int = 0) -> dict:
    """Everything the report shows for one model. ``y``: class indices (N,), or (N, K) 0/1 for
    multilabel. Binary: ``labels[1]`` is the positive class and ``threshold`` applies to it."""
    if task == "multilabel":
        return _multilabel(np.asarray(y).astype(bool), np.asarray(probs), labels, threshold, seed)
    y = np.asarray(y, int)
    pred = decide(probs, task, threshold)
    cm = confusion_matrix(y, pred, len(labels))
    rows = per_class_table(cm, labels)
    out = {"n": len(y), "accuracy": wilson(int(np.trace(cm)), int(cm.sum())),
           "confusion_matrix": cm.tolist(), "confusion_matrix_row_percent": row_percent(cm).round(2).tolist(),
           "per_class": rows, "averages": averages(rows)}
    if task == "binary":
        score = positive_score(probs)
        out.update(threshold=threshold, positive=labels[1], sensitivity=rows[1]["recall"],
                   specificity=rows[1]["specificity"], roc_auc=roc_auc_ci(y == 1, score, seed),
                   pr_auc=average_precision_ci(y == 1, score, seed))
    else:
        probs = np.asarray(probs)
        aucs = {name: roc_auc_ci(y == k, probs[:, k], seed) for k, name in enumerate(labels)}
        aps = {name: average_precision_ci(y == k, probs[:, k], seed) for k, name in enumerate(labels)}
        for row in rows:
            row["roc_auc"], row["pr_auc"] = aucs[row["class"]], aps[row["class"]]
        out["roc_auc_macro"] = _mean_value(aucs.values())
        out["pr_auc_macro"] = _mean_value(aps.values())
    return out


def _mean_value(items) -> float | None:
    vals = [m["value"] for m in items if m["value"] is not None]
    return float(np.mean(vals)) if vals else None


def _multilabel(y: np.ndarray, probs: np.ndarray, labels: list[str], threshold: float | None, seed: int) -> dict:
    """Per-finding ROC-AUC (Mondal et al. table I) plus sensitivity/specificity at the threshold."""
    pred = decide(probs, "multilabel", threshold)
    rows = []
    for k, name in enumerate(labels):
        t, p = y[:, k], pred[:, k]
        rows.append({"class": name, "roc_auc": roc_auc_ci(t, probs[:, k], seed),
                     "pr_auc": average_precision_ci(t, probs[:, k], seed),
                     "sensitivity": wilson(int((p & t).sum()), int(t.sum())),
                     "specificity": wilson(int((~p & ~t).sum()), int((~t).sum())), "support": int(t.sum())})
    exact = int((pred == y).all(axis=1).sum())
    return {"n": len(y), "threshold": 0.5 if threshold is None else threshold, "per_label": rows,
            "roc_auc_macro": _mean_value(r["roc_auc"] for r in rows), "exact_match": wilson(exact, len(y))}

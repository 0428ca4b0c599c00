"""Metrics on cases small enough to check by hand (no TensorFlow)."""

import numpy as np
import pytest

from edgecxr.evaluate.compare import compare_models
from edgecxr.evaluate.metrics import (
    average_precision,
    average_precision_ci,
    averages,
    choose_threshold,
    classification_metrics,
    confusion_matrix,
    per_class_table,
    roc_auc,
    roc_auc_ci,
    roc_curve,
    row_percent,
    wilson,
)

LABELS = ["a", "b", "c"]
Y = np.array([0, 0, 1, 1, 1, 2])
PRED = np.array([0, 1, 1, 1, 0, 2])


def test_confusion_matrix_equals_hand_count():
    # rows true, columns predicted: a->a, a->b, b->b, b->b, b->a, c->c
    assert confusion_matrix(Y, PRED, 3).tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    assert row_percent(confusion_matrix(Y, PRED, 3))[1].round(2).tolist() == [33.33, 66.67, 0.0]


def test_per_class_precision_recall_f1_specificity_support():
    rows = per_class_table(confusion_matrix(Y, PRED, 3), LABELS)
    b = rows[1]
    assert b["precision"]["value"] == pytest.approx(2 / 3)  # predicted b: 3, right 2
    assert b["recall"]["value"] == pytest.approx(2 / 3)  # true b: 3, found 2
    assert b["f1"] == pytest.approx(2 / 3)
    assert b["specificity"]["value"] == pytest.approx(2 / 3)  # not-b: 3, called b once
    assert [r["support"] for r in rows] == [2, 3, 1]
    avg = averages(rows)
    assert avg["macro"]["recall"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert avg["weighted"]["recall"] == pytest.approx((2 * 1 / 2 + 3 * 2 / 3 + 1 * 1) / 6)  # = accuracy


def test_wilson_interval_known_value_and_containment():
    r = wilson(8, 10)
    assert r["value"] == 0.8
    assert r["ci95"] == pytest.approx([0.4902, 0.9433], abs=1e-4)
    for k, n in [(0, 5), (5, 5), (3, 7), (500, 1000)]:
        lo, hi = wilson(k, n)["ci95"]
        assert 0 <= lo <= k / n <= hi <= 1
    assert wilson(50, 100)["ci95"][1] - wilson(50, 100)["ci95"][0] > wilson(500, 1000)["ci95"][1] - wilson(500, 1000)["ci95"][0]
    assert wilson(0, 0)["value"] is None


def test_roc_auc_pr_auc_and_curve_by_hand():
    y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    assert roc_auc(y, s) == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ordered right
    assert average_precision(y, s) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    c = roc_curve(y, s)
    assert c["fpr"] == [0.0, 0.0, 0.5, 0.5, 1.0] and c["tpr"] == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5  # ties count half


def test_bootstrap_intervals_contain_estimate_and_are_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    for fn in (roc_auc_ci, average_precision_ci):
        a, b = fn(y, s, seed=3), fn(y, s, seed=3)
        assert a == b
        lo, hi = a["ci95"]
        assert lo <= a["value"] <= hi and hi - lo < 0.3
    assert roc_auc_ci(np.ones(5), np.ones(5))["value"] is None


def test_threshold_youden_and_target_sensitivity():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
    # separates perfectly (J = 1) at the score 0.5; the cut sits midway below it, on no image
    assert choose_threshold(y, s, "youden") == pytest.approx(0.4)
    t = choose_threshold(y, s, "sensitivity", 2 / 3)
    assert t == pytest.approx(0.6)  # the highest cut that still finds 2 of 3 positives, off the 0.7 image
    assert ((s >= t) & (y == 1)).sum() == 2


def test_threshold_never_sits_on_a_validation_score():
    """A score a few ulps lower in another runtime must not flip a validation decision."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.integers(0, 2, 40)
        s = np.round(rng.random(40), 2)  # ties and repeated scores on purpose
        for rule in ("youden", "sensitivity"):
            t = choose_threshold(y, s, rule, 0.9)
            assert not np.any(s == t)
            assert np.array_equal(s >= t, np.nextafter(s, -1) >= t)


def test_binary_metrics_apply_the_given_threshold():
    y = np.array([0, 0, 0, 1, 1, 1])
    p_pos = np.array([0.1, 0.2, 0.6, 0.5, 0.7, 0.9])
    probs = np.stack([1 - p_pos, p_pos], axis=1)
    m = classification_metrics(y, probs, ["NORMAL", "PNEUMONIA"], "binary", threshold=0.55, seed=0)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["sensitivity"]["value"] == pytest.approx(2 / 3) and m["specificity"]["value"] == pytest.approx(2 / 3)
    assert m["accuracy"]["value"] == pytest.approx(4 / 6)
    assert m["roc_auc"]["value"] == pytest.approx(8 / 9)
    m2 = classification_metrics(y, probs, ["NORMAL", "PNEUMONIA"], "binary", threshold=0.45, seed=0)
    assert m2["confusion_matrix"] == [[2, 1], [0, 3]]


def test_multilabel_per_finding_auc():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    probs = np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.3], [0.2, 0.4]])
    m = classification_metrics(y, probs, ["effusion", "nodule"], "multilabel")
    aucs = {r["class"]: r["roc_auc"]["value"] for r in m["per_label"]}
    assert aucs == {"effusion": 1.0, "nodule": pytest.approx(0.75)}  # 3 of 4 pairs
    assert m["exact_match"]["value"] == pytest.approx(3 / 4)  # row 3 misses its nodule


def test_compare_lists_flipped_files_and_prob_differences():
    ref = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    other = np.array([[0.85, 0.15], [0.55, 0.45], [0.2, 0.8]])
    c = compare_models(["x.png", "y.png", "z.png"], ["N", "P"], ref, ref.argmax(1), other, other.argmax(1))
    assert c["agreement"]["value"] == pytest.approx(2 / 3)
    assert [(f["file"], f["reference"], f["other"]) for f in c["flips"]] == [("y.png", "P", "N")]
    assert c["max_abs_prob_diff"] == pytest.approx(0.15)
    assert c["mean_abs_prob_diff"] == pytest.approx((0.05 * 2 + 0.15 * 2) / 6)

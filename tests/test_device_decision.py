"""The one decision rule (edgecxr.device.decision), case by case, as the C app mirrors it."""

from types import SimpleNamespace

import numpy as np
import pytest

from edgecxr.device.decision import decide, label, margin, positive_score


def spec(task="binary", threshold=None, labels=("NORMAL", "PNEUMONIA")):
    return SimpleNamespace(task=task, threshold=threshold, labels=list(labels))


@pytest.mark.parametrize("scores, s, want", [
    ([0.3], spec(threshold=0.25), "PNEUMONIA"),  # one sigmoid against the chosen threshold
    ([0.3], spec(), "NORMAL"),  # one sigmoid, no threshold: 0.5
    ([0.6, 0.4], spec(threshold=0.3), "PNEUMONIA"),  # softmax pair, chosen threshold on P(labels[1])
    ([0.49, 0.5], spec(), "PNEUMONIA"),  # softmax pair without a threshold: argmax
    ([0.5, 0.5], spec(), "NORMAL"),  # ... whose tie goes to the first class, as in the C loop
    ([0.1, 0.7, 0.2], spec("multiclass", labels="abc"), "b"),
    ([0.6, 0.2, 0.9], spec("multilabel", threshold=0.5, labels="abc"), ["a", "c"]),
    ([0.2, 0.8], spec(labels=()), "1"),  # a bare model: classes by number
])
def test_label(scores, s, want):
    assert label(np.float32(scores), s) == want


def test_decide_is_label_row_by_row_and_positive_score_picks_labels_1():
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.55, 0.45]], np.float32)
    assert decide(probs, "binary", 0.4).tolist() == [0, 1, 1]
    assert positive_score(probs).tolist() == pytest.approx([0.3, 0.8, 0.45])
    assert positive_score(np.array([[0.1], [0.9]])).tolist() == [0.1, 0.9]
    assert margin([0.2, 0.8], spec(threshold=0.6)) == pytest.approx(0.2)

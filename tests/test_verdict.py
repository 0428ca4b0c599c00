"""The recipe protocol's statistics (edgecxr.verdict, edgecxr.stats): paired intervals over seeds
and patients, and the rule that admits a change to the default. Synthetic scores only."""

import numpy as np
import pytest

from edgecxr.stats import bootstrap_ci, group_members, resample, roc_auc
from edgecxr.verdict import MIN_SEEDS, Scored, paired_difference, point, verdict


def scores(rng, y, separation, noise=1.0):
    """P(positive) whose ROC-AUC grows with ``separation``."""
    z = separation * y + rng.normal(0, noise, len(y))
    return 1 / (1 + np.exp(-z))


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(200), np.ones(200)].astype(int)
    return rng, y


def runs(rng, y, separation, seeds=(0, 1, 2)):
    return {s: Scored(y, scores(rng, y, separation), 0.5) for s in seeds}


def test_point_metrics_count_decisions_at_the_threshold():
    y = np.array([0, 0, 0, 1, 1])
    run = Scored(y, np.array([0.1, 0.6, 0.2, 0.7, 0.4]), 0.5)
    assert point("accuracy", run) == pytest.approx(3 / 5)
    assert point("sensitivity", run) == pytest.approx(1 / 2)
    assert point("specificity", run) == pytest.approx(2 / 3)
    assert point("roc_auc", run) == pytest.approx(roc_auc(y, run.p))


def test_a_clearly_better_variant_wins_beyond_noise(images):
    rng, y = images
    d = paired_difference(runs(rng, y, 1.0), runs(rng, y, 3.0), "roc_auc", resamples=300)
    assert d["seeds"] == [0, 1, 2] and d["value"] > 0.1
    assert 0 < d["ci95"][0] <= d["value"] <= d["ci95"][1]


def test_the_same_recipe_again_is_within_noise(images):
    rng, y = images
    d = paired_difference(runs(rng, y, 1.5), runs(rng, y, 1.5), "roc_auc", resamples=300)
    assert d["ci95"][0] < 0 < d["ci95"][1]


def test_pairing_removes_what_both_runs_share(images):
    """A variant = the default's scores plus a small gain: paired, the interval excludes zero
    although each run's own interval is far wider than the gain."""
    rng, y = images
    default = runs(rng, y, 1.0)
    variant = {s: Scored(y, np.clip(r.p + 0.02 * y, 0, 1), 0.5) for s, r in default.items()}
    d = paired_difference(default, variant, "roc_auc", resamples=300)
    own = bootstrap_ci(roc_auc, y, default[0].p, resamples=300)["ci95"]
    assert d["ci95"][0] > 0 and (own[1] - own[0]) > 5 * (d["ci95"][1] - d["ci95"][0])


def test_patients_widen_the_interval_when_their_images_agree():
    """Ten copies of each patient's image are one piece of evidence, not ten."""
    rng = np.random.default_rng(1)
    y1 = np.r_[np.zeros(20), np.ones(20)].astype(int)
    p1 = scores(rng, y1, 1.0)
    y, p = np.repeat(y1, 10), np.repeat(p1, 10)
    patients = np.repeat(np.arange(40), 10)
    by_image = bootstrap_ci(roc_auc, y, p, resamples=300)["ci95"]
    by_patient = bootstrap_ci(roc_auc, y, p, resamples=300, groups=patients)["ci95"]
    assert (by_patient[1] - by_patient[0]) > 2 * (by_image[1] - by_image[0])


def test_a_patient_draw_keeps_its_images_together():
    members = group_members(["a", "b", "a", "c", "b"])
    assert [m.tolist() for m in members] == [[0, 2], [1, 4], [3]]
    idx = resample(np.random.default_rng(0), 5, members)
    drawn = {tuple(m) for m in members if set(m) & set(idx.tolist())}
    assert all(sum(i in m for i in idx.tolist()) % len(m) == 0 for m in drawn)


def test_runs_on_other_images_cannot_be_paired(images):
    rng, y = images
    other = {0: Scored(y[::-1].copy(), scores(rng, y, 1.0), 0.5)}
    with pytest.raises(ValueError, match="same images"):
        paired_difference(runs(rng, y, 1.0, seeds=(0,)), other, "accuracy")


def diff(lo, hi, seeds=MIN_SEEDS):
    return {"value": (lo + hi) / 2, "ci95": [lo, hi], "seeds": list(range(seeds))}


@pytest.mark.parametrize("sets, decision", [
    ({"covid3": diff(0.01, 0.05), "nih": diff(0.002, 0.03)}, "enters"),
    ({"covid3": diff(0.01, 0.05), "nih": diff(-0.01, 0.03)}, "kept"),  # wins on one set only
    ({"covid3": diff(0.0, 0.05), "nih": diff(0.01, 0.03)}, "kept"),  # touching zero is not beyond noise
    ({"covid3": diff(0.01, 0.05), "nih": diff(-0.05, -0.01)}, "worse"),
    ({"covid3": diff(0.01, 0.05), "nih": diff(0.01, 0.03, seeds=2)}, "partial"),  # 2 seeds: no verdict
])
def test_verdict_rule(sets, decision):
    v = verdict(sets)
    assert v["decision"] == decision
    if decision != "enters":
        assert "nih" in v["sets"] or (decision == "kept" and "covid3" in v["sets"])


def test_partial_results_name_their_seed_count():
    v = verdict({"covid3": diff(0.01, 0.05, seeds=1), "nih": diff(0.01, 0.05, seeds=1)})
    assert v["decision"] == "partial" and "1/1 paired seeds" in v["text"] and "no verdict" in v["text"]

"""The one "score a model on the run's validation split" (edgecxr.evaluate.validation) and the
stages that use it: an image that fails to decode is dropped WITH its label, so the figures
describe the images the model saw (shift's copy once kept every label and scored misaligned)."""

import shutil

import numpy as np
import pytest

from edgecxr.artifacts import REFERENCE
from edgecxr.data.split import read_split
from edgecxr.device.decision import decide
from edgecxr.evaluate.models import load_predictor
from edgecxr.evaluate.validation import score_on_validation, validation_images
from edgecxr.shift import run_val_report
from tests.fixtures_run import build_run


@pytest.fixture(scope="module")
def run_with_broken_val_image(synth_binary, tmp_path_factory):
    """A tiny trained run whose data folder is a copy in which one validation image (the first
    NORMAL one, so the labels after it shift if not re-aligned) no longer decodes."""
    root = tmp_path_factory.mktemp("broken-val")
    data = shutil.copytree(synth_binary, root / "data")
    run = build_run(root / "runs", data)
    dataset, assignment = read_split(run.file("split.json"))
    val = [s for s in dataset.samples if assignment[s.path] == "val"]
    broken = next(s for s in val if s.labels == (0,))
    broken.path.write_bytes(b"not an image")
    return run, val, broken


def test_an_undecodable_validation_image_is_dropped_with_its_label(run_with_broken_val_image):
    run, val, broken = run_with_broken_val_image
    images = validation_images(run, run.spec())
    assert len(images.x) == len(images.samples) == len(val) - 1
    assert broken.path not in images.paths and [e[0] for e in images.errors] == [str(broken.path)]
    by_path = {s.path: s.labels for s in val}
    assert all(s.labels == by_path[s.path] for s in images.samples)


def test_shift_report_scores_the_images_that_decoded_against_their_own_labels(run_with_broken_val_image):
    run, val, broken = run_with_broken_val_image
    spec = run.spec()
    images = validation_images(run, spec)
    probs = load_predictor(run, REFERENCE).predict(images.x)
    y = np.array([s.labels[0] for s in images.samples])
    expected = float((decide(probs, spec.task, spec.threshold) == y).mean())

    report = run_val_report(run.path)
    assert set(report) == {"val", "shifted_val"}
    for figures in report.values():
        assert figures["n"] == len(val) - 1
        assert {"accuracy", "sensitivity", "specificity", "roc_auc"} <= set(figures)
    assert report["val"]["accuracy"]["value"] == pytest.approx(expected)
    assert score_on_validation(run, spec, load_predictor(run, REFERENCE).predict)["accuracy"]["value"] == \
        pytest.approx(expected)

"""Test-time augmentation (edgecxr.device.tta): the views are the training zoom's windows, the
threshold training writes for them is the one evaluate and the Pi runner decide with, and bad
zooms are one error with a hint."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.config import recipe_config
from edgecxr.device import tta
from edgecxr.errors import ConfigError
from tests.fixtures_run import TINY_RUN_CONFIG

ZOOMS = [1.0, 1.15]


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def test_views_are_the_training_zoom_window_centred():
    from edgecxr.tfenv import tf
    from edgecxr.train.augment import _bilinear_matrix

    x = np.random.default_rng(0).integers(0, 256, (3, 24, 20, 1), dtype=np.uint8)
    side = tf().constant([1 / 1.15] * 3)
    rows, cols = _bilinear_matrix((1 - side) / 2, side, 24), _bilinear_matrix((1 - side) / 2, side, 20)
    want = tf().einsum("bih,bhwc,bjw->bijc", rows, tf().constant(x, tf().float32), cols).numpy()
    got = tta.zoom_view(x, 1.15)
    assert got.dtype == np.uint8 and got.shape == x.shape
    assert np.abs(got.astype(np.float32) - want).max() <= 0.5 + 1e-3  # rounded to uint8, nothing else
    assert tta.zoom_view(x, 1.0) is x


def test_probabilities_are_averaged_over_the_views():
    x = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 1), dtype=np.uint8)

    def predict(px):  # a "model" whose output depends on the pixels it sees
        m = px.reshape(len(px), -1).mean(axis=1, keepdims=True) / 255.0
        return np.hstack([1 - m, m]).astype(np.float32)

    got = tta.averaged(predict, ZOOMS)(x)
    np.testing.assert_allclose(got, (predict(x) + predict(tta.zoom_view(x, 1.15))) / 2, rtol=1e-6)
    assert not np.allclose(got, predict(x))  # the zoomed view did change something


@pytest.mark.parametrize("zooms", [[0.5], [1.0, 9.0], ["1.1"], [True]])
def test_bad_zooms_are_a_config_error_with_a_hint(zooms, tmp_path):
    with pytest.raises(ConfigError) as e:
        recipe_config(tta_zooms=zooms)
    assert "tta_zooms" in str(e.value) and "tta_zooms = [1.0, 1.075, 1.15]" in e.value.hint
    bad = tmp_path / "bad.toml"
    bad.write_text(f"tta_zooms = {json.dumps(zooms)}\n")
    r = cli("train", "--config", bad, "--data", tmp_path, "--runs-root", tmp_path / "runs")
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 2, r.output
    assert lines[0].startswith("error:") and "tta_zooms" in lines[0] and lines[1].startswith("hint:")
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def tta_run(synth_binary, tmp_path_factory) -> Path:
    from edgecxr.train import train

    return train(replace(TINY_RUN_CONFIG, tta_zooms=ZOOMS), synth_binary, runs_root=tmp_path_factory.mktemp("runs"),
                 name="tta", progress=False).run_dir


@pytest.mark.slow
def test_training_chooses_a_threshold_for_the_averaged_views(tta_run):
    from edgecxr.device.spec import ModelSpec
    from edgecxr.stats import choose_threshold

    spec = ModelSpec.load(tta_run / "spec.json")
    metrics = json.loads((tta_run / "val_metrics.json").read_text())
    assert spec.tta_zooms == ZOOMS and metrics["tta"]["zooms"] == ZOOMS
    assert spec.tta_threshold is not None and metrics["tta"]["roc_auc"]["value"] is not None
    # evaluate: by default the run's views and their threshold; --no-tta one view and spec.threshold
    r = cli("evaluate", tta_run, "--json")
    assert r.exit_code == 0, r.output
    on = json.loads(r.stdout.strip().splitlines()[-1])
    assert on["tta_zooms"] == ZOOMS and on["threshold"]["value"] == pytest.approx(spec.tta_threshold)
    assert "test-time augmentation x2" in on["threshold"]["source"]
    r = cli("evaluate", tta_run, "--no-tta", "--force", "--json")
    off = json.loads(r.stdout.strip().splitlines()[-1])
    assert off["tta_zooms"] == [] and off["threshold"]["value"] == pytest.approx(spec.threshold)
    # the TTA threshold is what the run's rule (Youden's J) picks on the averaged validation scores
    assert spec.tta_threshold == pytest.approx(choose_threshold(*val_scores(tta_run, ZOOMS), "youden"))


def val_scores(run_dir: Path, zooms) -> tuple[np.ndarray, np.ndarray]:
    """(label index, Keras P(positive) averaged over ``zooms``) of the run's validation images."""
    from edgecxr.data.cache import load_pixels
    from edgecxr.data.split import read_split
    from edgecxr.device.preprocess import to_float
    from edgecxr.device.spec import ModelSpec
    from edgecxr.tfenv import keras

    dataset, assignment = read_split(run_dir / "split.json")
    val = [s for s in dataset.samples if assignment[s.path] == "val"]
    model = keras().models.load_model(run_dir / "model.keras", compile=False)
    p_val = tta.averaged(lambda px: model.predict(to_float(px), verbose=0), zooms)(
        load_pixels([s.path for s in val], ModelSpec.load(run_dir / "spec.json")).x)[:, 1]
    return np.array([s.labels[0] for s in val]), p_val


@pytest.mark.slow
def test_evaluate_chooses_the_threshold_of_views_the_run_has_none_for_by_its_own_rule(synth_binary, tmp_path):
    """A run trained without test-time views, whose rule is a sensitivity target: `evaluate --tta`
    averages the default zooms and chooses their threshold on validation by that rule, as
    training would have (it was Youden's J whatever the run said)."""
    from edgecxr.stats import choose_threshold
    from tests.fixtures_run import TINY_CONFIG, build_run

    run = build_run(tmp_path, synth_binary, "rule", replace(TINY_CONFIG, threshold_rule="sensitivity",
                                                             target_sensitivity=0.5))
    r = cli("evaluate", run.path, "--tta", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    y, p_val = val_scores(run.path, tta.ZOOMS)
    want = choose_threshold(y, p_val, "sensitivity", 0.5)
    assert out["tta_zooms"] == list(tta.ZOOMS) and out["threshold"]["value"] == pytest.approx(want)
    assert out["threshold"]["rule"] == "sensitivity" and "sensitivity >= 0.5" in out["threshold"]["source"]
    assert want != pytest.approx(choose_threshold(y, p_val, "youden"))  # the two rules differ here


def _spec(**change):
    from edgecxr.device.spec import ModelSpec

    return ModelSpec(width=32, height=32, labels=["NORMAL", "PNEUMONIA"], **change)


WITH_THRESHOLD = {"tta_zooms": ZOOMS, "tta_threshold": 0.4}
# spec, --tta/--no-tta/unsaid -> the views evaluate averages, and the device's ("refused": TTAError)
VIEWS = [
    (WITH_THRESHOLD, None, ZOOMS, ZOOMS),  # the spec's views with their own threshold: used unasked
    (WITH_THRESHOLD, True, ZOOMS, ZOOMS),
    (WITH_THRESHOLD, False, [], []),
    ({}, None, [], []),  # a spec without views: one view and its threshold, unless asked
    ({}, True, list(tta.ZOOMS), "refused"),  # asked: only evaluate can choose their threshold (validation)
    ({"tta_zooms": ZOOMS}, None, [], []),  # views nobody chose a threshold for are never used unasked
    ({"tta_zooms": ZOOMS}, True, ZOOMS, "refused"),
    ({"task": "multiclass"}, True, list(tta.ZOOMS), list(tta.ZOOMS)),  # argmax needs no threshold
    ({"task": "multiclass", "tta_zooms": ZOOMS}, None, ZOOMS, ZOOMS),
]


@pytest.mark.parametrize("change, asked, on_host, on_device", VIEWS)
def test_one_rule_picks_the_views_for_evaluate_and_the_device(change, asked, on_host, on_device):
    spec = _spec(**change)
    assert tta.views(spec, asked, validation=True) == on_host
    if on_device == "refused":
        with pytest.raises(tta.TTAError, match="no threshold for test-time views") as e:
            tta.views(spec, asked)
        assert "drop --tta" in e.value.hint
    else:
        assert tta.views(spec, asked) == on_device


@pytest.mark.slow
def test_pi_runner_decides_with_the_tta_threshold(exported_bundle, synth_binary, tmp_path):
    rpi = tmp_path / "rpi"
    shutil.copytree(exported_bundle / "rpi", rpi)
    images = sorted(synth_binary.rglob("*.png"))[:3]

    def classify(*args):
        return subprocess.run([sys.executable, "classify.py", "--model", "model.tflite", "--spec", "spec.json", *args,
                               *map(str, images)], check=False, cwd=rpi, capture_output=True, text=True, timeout=120)

    refused = classify("--tta")  # the tiny run was trained without test-time views
    assert refused.returncode == 2 and refused.stderr.startswith("error:") and "hint:" in refused.stderr
    one = [json.loads(line) for line in classify().stdout.splitlines()]
    spec = json.loads((rpi / "spec.json").read_text())
    positive = spec["labels"][1]
    (rpi / "spec.json").write_text(json.dumps({**spec, "tta_zooms": ZOOMS, "tta_threshold": 0.0}))
    views = [json.loads(line) for line in classify().stdout.splitlines()]
    assert all(d["tta_zooms"] == ZOOMS and d["label"] == positive for d in views)  # threshold 0: all positive
    assert [d["raw"] for d in views] == [d["raw"] for d in one]  # the first view is the unzoomed image
    assert [d["label"] for d in map(json.loads, classify("--no-tta").stdout.splitlines())] == [d["label"] for d in one]
    # zooms without a threshold of their own are not used unasked: one view, decided by spec.threshold
    (rpi / "spec.json").write_text(json.dumps({**spec, "tta_zooms": ZOOMS, "tta_threshold": None}))
    assert [{**json.loads(line), "latency_ms": 0} for line in classify().stdout.splitlines()] == \
        [{**d, "latency_ms": 0} for d in one]

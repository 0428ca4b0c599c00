"""`edgecxr evaluate`: all models of a tiny real run, side by side, thresholds from validation."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.artifacts import file_of
from edgecxr.data.synth import make_dataset
from edgecxr.device.preprocess import to_float
from edgecxr.device.spec import ModelSpec
from edgecxr.evaluate.metrics import choose_threshold, confusion_matrix
from tests.fixtures_run import copy_run, file_hashes

pytestmark = pytest.mark.slow
runner = CliRunner()


def cli(*args):
    return runner.invoke(edgecxr.cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """New patients, same classes: a stand-in for a user's held-out test folder."""
    return make_dataset(tmp_path_factory.mktemp("heldout") / "xray_test", per_class=10, size=64, seed=7)


def test_val_split_report_side_by_side(quantized_run, tmp_path):
    run = copy_run(quantized_run[0], tmp_path / "run")
    r = cli("evaluate", run.path)
    assert r.exit_code == 0, r.output
    for title in ("Keras float", "TFLite float", "PTQ int8", "QAT int8"):
        assert title in r.stdout
    assert "pred PNEUMONIA" in r.stdout and "same validation images" in r.stdout
    out = run.file("eval") / "val"
    report = json.loads((out / "eval.json").read_text())
    assert list(report["models"]) == ["keras_float", "tflite_float", "ptq_int8", "qat_int8"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "not a medical device" in html
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    # the reported matrix is the one the saved probabilities and threshold give
    t = report["threshold"]["value"]
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    y = [report["labels"].index(r["true"]) for r in rows]
    for key, m in report["models"].items():
        pred = [int(float(r[f"{key}:PNEUMONIA"]) >= t) for r in rows]
        assert m["metrics"]["confusion_matrix"] == confusion_matrix(y, pred, 2).tolist()
    assert report["comparisons"]["tflite_float"]["agreement"]["value"] == 1.0
    # int8 figures come from the reference kernels; the other families are run and compared
    for key in ("ptq_int8", "qat_int8"):
        m = report["models"][key]
        assert m["kernels"] == "reference" and set(m["kernel_families"]) == {"builtin", "xnnpack", "engine"}
        assert m["kernel_families"]["engine"]["images_with_different_outputs"] == 0  # the generated C is bit-exact
        assert m["kernel_families"]["engine"]["images_identical"] == report["dataset"]["n"]
        assert all(0 <= d["decisions_differ"] <= d["images_with_different_outputs"] <= report["dataset"]["n"]
                   for d in m["kernel_families"].values())
    assert "with xnnpack kernels instead of reference" in r.stdout
    assert "evaluate" in run.read_manifest()["stages"] and run.verify() == []
    # a second evaluation does not overwrite the first without --force
    before = file_hashes(run.path)
    again = cli("evaluate", run.path)
    assert again.exit_code == 2 and "already exists" in again.output and file_hashes(run.path) == before


def test_threshold_chosen_on_val_is_applied_to_test_data(quantized_run, heldout, tmp_path):
    run = copy_run(quantized_run[0], tmp_path / "run")
    r = cli("evaluate", run.path, "--data", heldout, "--target-sensitivity", "0.9", "--runtime", "tf.lite", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["dataset"]["tag"] == "xray_test" and report["dataset"]["n"] == 20
    assert "validation split" in report["threshold"]["source"] and not report["dataset"]["notes"]
    # recompute the threshold from the run's validation images, independently
    from edgecxr.data.cache import load_pixels
    from edgecxr.data.split import read_split

    spec = ModelSpec.load(run.file("spec.json"))
    dataset, assignment = read_split(run.file("split.json"))
    val = [s for s in dataset.samples if assignment[s.path] == "val"]
    p_val = run.keras_model().predict(to_float(load_pixels([s.path for s in val], spec).x), verbose=0)[:, 1]
    t = choose_threshold(np.array([s.labels[0] for s in val]), p_val, "sensitivity", 0.9)
    assert report["threshold"]["value"] == pytest.approx(t)
    assert all(m["runtime"] in ("tf.lite", "tensorflow") for m in report["models"].values())
    assert (run.file("eval") / "xray_test" / "report.md").exists()


def test_classes_that_differ_are_named(quantized_run, synth_multiclass):
    run = quantized_run[0]
    before = file_hashes(run.path)
    r = cli("evaluate", run.path, "--data", synth_multiclass)
    assert r.exit_code == 2
    line = next(ln for ln in r.output.splitlines() if ln.startswith("error:"))
    assert "Covid" in line and "PNEUMONIA" in line
    assert file_hashes(run.path) == before


def test_training_images_do_not_count_as_test_data(quantized_run, synth_binary, tmp_path):
    run = copy_run(quantized_run[0], tmp_path / "run")
    r = cli("evaluate", run.path, "--data", synth_binary)
    assert r.exit_code == 2 and "training split" in r.output and not run.has("eval")
    ok = cli("evaluate", run.path, "--data", synth_binary, "--exclude-train", "--json")
    assert ok.exit_code == 0, ok.output
    ds = json.loads(ok.stdout)["dataset"]
    assert ds["excluded_train_images"] > 0 and ds["n"] == 80 - ds["excluded_train_images"]


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_tflite_is_one_line(quantized_run, tmp_path, damage):
    run = copy_run(quantized_run[0], tmp_path / "run")
    path = run.file(file_of("ptq"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a model at all")
    before = file_hashes(run.path)
    r = cli("evaluate", run.path)
    assert r.exit_code == 2, r.output
    assert file_of("ptq") in next(ln for ln in r.output.splitlines() if ln.startswith("error:"))
    assert file_hashes(run.path) == before and not run.has("eval")

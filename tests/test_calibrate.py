"""`edgecxr calibrate` and `export --calibration`: a site's operating point on a tiny int8 run
with test-time views, chosen on synthetic site images the tests make."""

import csv
import json
import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.calibrate import CALIBRATION_DIR, MIN_PER_CLASS
from edgecxr.data.synth import make_dataset
from edgecxr.device import decision
from edgecxr.device.preprocess import dequantize, preprocess_file
from edgecxr.device.spec import ModelSpec
from tests.fixtures_export import PTQ_ONLY
from tests.fixtures_run import TINY_CONFIG, build_run, copy_run, file_hashes
from tests.test_firmware_engine import HOST_BOARD  # a host main() printing edgecxr_report.c's decisions

pytestmark = pytest.mark.slow
ZOOMS = [1.0, 1.15]
PATHS = {"one view": "threshold", "test-time views": "tta_threshold"}


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def one_error(r, words: str):
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2, r.output
    assert lines[-2].startswith("error:") and words in lines[-2] and lines[-1].startswith("hint:"), r.output


@pytest.fixture(scope="module")
def tta_run(tmp_path_factory, synth_binary):
    """A tiny PTQ int8 run whose spec.json has test-time zooms with their own threshold (read-only)."""
    return build_run(tmp_path_factory.mktemp("runs"), synth_binary, "site-run",
                     config=replace(TINY_CONFIG, tta_zooms=ZOOMS), quantize=PTQ_ONLY)


@pytest.fixture
def run(tta_run, tmp_path):
    return copy_run(tta_run, tmp_path / "site-run")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site's own images: 24 per class, drawn apart from the run's (another seed)."""
    return make_dataset(tmp_path_factory.mktemp("site") / "clinic", per_class=24, size=64, seed=7)


def calibrate(run, site, *args):
    r = cli("calibrate", run.path, "--data", site, *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_threshold_reaches_the_sensitivity_on_the_site_images_for_each_path(run, site):
    spec_before = run.file("spec.json").read_text()
    out = calibrate(run, site, "--sensitivity", 0.9)
    assert set(out["paths"]) == set(PATHS) and out["images"] == {"NORMAL": 24, "PNEUMONIA": 24}
    folder = run.file(CALIBRATION_DIR) / "clinic"
    assert folder == run.path / out["out"].removeprefix(str(run.path) + "/") and (folder / ".edgecxr").is_file()
    rows = list(csv.DictReader((folder / "scores.csv").open()))
    y = np.array([row["label"] == "PNEUMONIA" for row in rows])
    spec = ModelSpec.from_dict(json.loads(spec_before))
    from edgecxr.runtimes import TFLiteModel

    tfl = TFLiteModel(run.file("model_ptq_int8.tflite"))
    for path, key in PATHS.items():
        p = out["paths"][path]
        score = np.array([float(row[f"score ({path})"]) for row in rows])
        sens = (score[y] >= p["threshold"]).mean()
        assert sens >= 0.9 and abs(p["site"]["sensitivity"]["value"] - sens) < 1e-9
        # the highest such threshold: the next positive score above it no longer reaches the target
        above = score[y][score[y] > p["threshold"]]
        assert not len(above) or (score[y] >= above.min() + 1e-9).mean() < 0.9
        assert not np.any(np.isclose(score, p["threshold"], rtol=0, atol=1e-7))  # never on a sample
        assert p["validation_threshold"] == getattr(spec, key) and p["spec_key"] == key
        lo, hi = p["change"]["specificity"]["ci95"]
        assert lo <= p["change"]["specificity"]["value"] <= hi
    # the one-view scores are the shipped int8 model's own, image by image
    pixels = np.stack([preprocess_file(row["image"], spec) for row in rows])
    assert np.allclose(decision.positive_score(tfl.predict(pixels)), [float(r["score (one view)"]) for r in rows],
                       atol=1e-6)
    assert run.file("spec.json").read_text() == spec_before
    assert "clinic" in run.read_manifest()["stages"]["calibrate"] and not run.verify()


def test_too_few_images_or_a_missing_class_is_one_error_and_writes_nothing(run, site, tmp_path):
    few = make_dataset(tmp_path / "few", per_class=MIN_PER_CLASS - 1, size=64, seed=8)
    before = file_hashes(run.path)
    one_error(cli("calibrate", run.path, "--data", few), f"at least {MIN_PER_CLASS} images of each class")
    one_error(cli("calibrate", run.path, "--data", site, "--class-map", "PNEUMONIA="), "0 PNEUMONIA")
    assert file_hashes(run.path) == before


def _corrupt(site, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(site, bad)
    next((bad / "NORMAL").iterdir()).write_bytes(b"not a png")
    return bad


def _empty(site, tmp_path):
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def _one_class(site, tmp_path):
    shutil.copytree(site / "NORMAL", tmp_path / "one" / "NORMAL")
    return tmp_path / "one"


def _other_labels(site, tmp_path):
    shutil.copytree(site / "NORMAL", tmp_path / "other" / "Normal")
    shutil.copytree(site / "PNEUMONIA", tmp_path / "other" / "Covid")
    return tmp_path / "other"


@pytest.mark.parametrize("make, words", [
    (lambda site, tmp: tmp / "missing", "does not exist"),
    (_empty, "no class folders"),
    (_one_class, "only one class"),
    (_other_labels, "the model's labels are"),
    (_corrupt, "1 of the 48 images"),
], ids=["missing", "empty", "one-class", "unknown-labels", "corrupt"])
def test_bad_site_data_is_one_error_and_writes_nothing(run, site, tmp_path, make, words):
    data = make(site, tmp_path)
    before = file_hashes(run.path)
    one_error(cli("calibrate", run.path, "--data", data), words)
    assert file_hashes(run.path) == before


def test_training_images_a_bad_target_and_a_multiclass_run_are_refused(run, synth_binary, synth_multiclass, site,
                                                                         tmp_path):
    one_error(cli("calibrate", run.path, "--data", synth_binary), "were in the run's training split")
    one_error(cli("calibrate", run.path, "--data", site, "--sensitivity", 1.5), "--sensitivity")
    multi = build_run(tmp_path, synth_multiclass, "multi", config=replace(TINY_CONFIG, epochs=1))
    one_error(cli("calibrate", multi.path, "--data", synth_multiclass), "is a multiclass model")


def test_an_earlier_calibration_is_kept_unless_forced(run, site):
    first = calibrate(run, site, "--name", "a")
    one_error(cli("calibrate", run.path, "--data", site, "--name", "a", "--sensitivity", 0.8), "already exists")
    assert json.loads((run.file(CALIBRATION_DIR) / "a" / "calibration.json").read_text())["target_sensitivity"] == 0.95
    again = calibrate(run, site, "--name", "a", "--sensitivity", 0.8, "--force")
    assert again["target_sensitivity"] == 0.8 and first["created"] <= again["created"]


def _define(header: str, name: str) -> str:
    return re.search(rf"#define EDGECXR_{name} (\S+)", header).group(1)


def test_export_ships_the_site_thresholds_everywhere_and_keeps_validations(run, site, tmp_path):
    from edgecxr.export.c_header import c_float

    cal = calibrate(run, site, "--name", "clinic")
    run_spec = json.loads(run.file("spec.json").read_text())
    r = cli("export", run.path, "--format", "bundle", "--calibration", "clinic", "--out", tmp_path / "b", "--json")
    assert r.exit_code == 0, r.output
    shipped = json.loads(r.stdout.strip().splitlines()[-1])["threshold"]
    assert shipped["one view"] == cal["paths"]["one view"]["threshold"] and "site calibration clinic" in shipped["from"]
    bundle = tmp_path / "b"
    for spec_file in (bundle / "tflite" / "spec.json", bundle / "rpi" / "spec.json"):
        spec = json.loads(spec_file.read_text())
        for path, key in PATHS.items():
            assert spec[key] == cal["paths"][path]["threshold"]
            assert spec["calibration"]["validation"][key] == run_spec[key]  # beside it, unchanged
        assert spec["calibration"]["images"] == {"NORMAL": 24, "PNEUMONIA": 24}
        assert spec["calibration"]["target_sensitivity"] == 0.95 and spec["calibration"]["data"] == str(site)
    headers = [bundle / "c-header" / "model_settings.h", *bundle.glob("arduino/*/src/model_settings.h")]
    assert len(headers) == 2
    for header in headers:
        text = header.read_text()
        assert _define(text, "THRESHOLD") == c_float(cal["paths"]["one view"]["threshold"])
        assert "site calibration clinic" in text
    assert json.loads((bundle / "manifest.json").read_text())["threshold"] == shipped
    assert json.loads(run.file("spec.json").read_text()) == run_spec  # the run's own stays validation's
    plain = cli("export", run.path, "--format", "c-header", "--out", tmp_path / "c", "--json")
    assert json.loads(plain.stdout.strip().splitlines()[-1])["threshold"]["one view"] == run_spec["threshold"]
    assert _define((tmp_path / "c" / "model_settings.h").read_text(), "THRESHOLD") == c_float(run_spec["threshold"])
    one_error(cli("export", run.path, "--format", "c-header", "--calibration", "elsewhere", "--out", tmp_path / "d"),
              "has no calibration 'elsewhere' (it has clinic)")
    assert not (tmp_path / "d").exists()




def test_the_c_decision_at_the_exported_threshold_is_decision_pys(run, site, tmp_path):
    """edgecxr_report.c with the exported model_settings.h, on the int8 outputs of the site's images."""
    from edgecxr.export.folder import templates_root
    from edgecxr.runtimes import TFLiteModel

    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler on this computer")
    calibrate(run, site, "--name", "clinic", "--sensitivity", 0.9)
    out = tmp_path / "c"
    assert cli("export", run.path, "--format", "c-header", "--calibration", "clinic", "--out", out).exit_code == 0
    tflite = tmp_path / "t"
    assert cli("export", run.path, "--format", "tflite", "--calibration", "clinic", "--out", tflite).exit_code == 0
    spec = ModelSpec.load(tflite / "spec.json")
    tfl = TFLiteModel(tflite / "model.tflite")
    images = sorted(site.rglob("*.png"))
    raw = tfl.raw(np.stack([preprocess_file(p, spec) for p in images])).astype(int)
    (out / "main.c").write_text(HOST_BOARD.replace("RAW", ", ".join("{" + ", ".join(map(str, r)) + "}" for r in raw)))
    app = templates_root() / "firmware" / "app"
    exe = tmp_path / "decide"
    proc = subprocess.run([cc, "-std=c99", "-I", str(out), "-I", str(app), str(app / "edgecxr_report.c"),
                           str(out / "main.c"), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    said = [line.split(" label=")[1].split(" ")[0] for line in
            subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()]
    q = tfl.output_quant
    expected = [decision.label(dequantize(r, q["scale"], q["zero_point"]), spec) for r in raw]
    assert said == expected and len(set(said)) == 2
    # and the site's threshold, not validation's, is what decided
    assert spec.threshold != spec.calibration["validation"]["threshold"]

"""`evaluate --class-map`: another dataset's folder names read as the model's labels."""

import json
import os

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.dataset import Sample
from edgecxr.data.synth import make_dataset
from edgecxr.errors import ConfigError, DataError
from edgecxr.evaluate.classmap import apply_class_map, parse_class_map
from tests.fixtures_run import copy_run, file_hashes

LABELS = ["NORMAL", "PNEUMONIA"]
CLASSES = ["Covid", "Normal", "Viral Pneumonia"]


def _samples(counts):
    return [Sample(f"{k}-{i}.png", (k,), f"p{k}-{i}") for k, n in enumerate(counts) for i in range(n)]


def test_parse_keeps_spaces_and_empty_targets_drop():
    m = parse_class_map(" Viral Pneumonia = PNEUMONIA , Normal=NORMAL, Covid=")
    assert m == {"Viral Pneumonia": "PNEUMONIA", "Normal": "NORMAL", "Covid": None}


@pytest.mark.parametrize("text, words", [("Normal", "no '='"), ("=NORMAL", "names no data class"),
                                          ("A=X,A=Y", "twice"), (" , ", "empty")])
def test_parse_refuses_malformed_maps(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_class_map(text)


def test_apply_relabels_and_counts_dropped_classes():
    mapped = apply_class_map(_samples([3, 2, 4]), CLASSES, LABELS,
                             {"Viral Pneumonia": "PNEUMONIA", "Normal": "NORMAL"})
    assert [s.labels for s in mapped.samples] == [(0,)] * 2 + [(1,)] * 4
    assert mapped.dropped == {"Covid": 3} and mapped.mapping["Covid"] is None
    assert any("dropped 3 images of class 'Covid'" in n for n in mapped.notes())


def test_apply_refuses_unknown_names_and_empty_results():
    with pytest.raises(ConfigError, match="'Viral', not a class"):
        apply_class_map(_samples([1, 1, 1]), CLASSES, LABELS, {"Viral": "PNEUMONIA"})
    with pytest.raises(ConfigError, match="'PNEUMONA', not a label"):
        apply_class_map(_samples([1, 1, 1]), CLASSES, LABELS, {"Viral Pneumonia": "PNEUMONA"})
    with pytest.raises(DataError, match="leaves no images"):
        apply_class_map(_samples([1, 1, 1]), CLASSES, LABELS, {c: None for c in CLASSES})
    with pytest.raises(DataError, match="but the model.s labels are"):
        apply_class_map(_samples([1, 1, 1]), CLASSES, LABELS, None)


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """Held-out images under another dataset's folder names (symlinks, like covid3's layout)."""
    src = make_dataset(tmp_path_factory.mktemp("src") / "d", per_class=6, size=64, seed=9)
    root = tmp_path_factory.mktemp("foreign") / "covid3"
    for theirs, ours in (("Normal", "NORMAL"), ("Viral Pneumonia", "PNEUMONIA"), ("Covid", "PNEUMONIA")):
        (root / theirs).mkdir(parents=True)
        for f in sorted((src / ours).iterdir()):
            os.symlink(f, root / theirs / f"{theirs[0]}{f.name}")
    return root


@pytest.mark.slow
def test_evaluate_with_a_class_map(quantized_run, foreign, tmp_path):
    run = copy_run(quantized_run[0], tmp_path / "run")
    r = CliRunner().invoke(edgecxr.cli.app, ["evaluate", str(run.path), "--data", str(foreign),
                                             "--class-map", "Viral Pneumonia=PNEUMONIA,Normal=NORMAL,Covid="])
    assert r.exit_code == 0, r.output
    assert "dropped 6 images of class 'Covid'" in r.stdout
    report = json.loads((run.file("eval") / "covid3" / "eval.json").read_text())
    assert report["dataset"]["n"] == 12 and report["dataset"]["dropped_by_class_map"] == {"Covid": 6}
    assert report["int8_model"]["file"] in ("model_ptq_int8.tflite", "model_qat_int8.tflite")
    assert "what export ships" in r.stdout


@pytest.mark.slow
def test_class_map_naming_a_missing_class_is_one_error(quantized_run, foreign, tmp_path):
    run = copy_run(quantized_run[0], tmp_path / "run")
    before = file_hashes(run.path)
    r = CliRunner().invoke(edgecxr.cli.app, ["evaluate", str(run.path), "--data", str(foreign),
                                             "--class-map", "Viral=PNEUMONIA,Normal=NORMAL"])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and lines[0].startswith("error: class map names 'Viral'") and lines[1].startswith("hint:")
    assert len(lines) == 2 and file_hashes(run.path) == before

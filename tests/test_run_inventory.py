"""A run reads back what train wrote through one door each: ``run.spec()``, ``run.split()``,
``run.models()`` / ``run.int8()``; a missing, changed, damaged or invalid spec is one RunError."""

import json

import pytest

from edgecxr.artifacts import BY_KIND
from edgecxr.data.dataset import scan_folder
from edgecxr.data.split import SPLIT_FILE, split_by_patient, write_split
from edgecxr.device.spec import SPEC_FILE, ModelSpec, SpecError
from edgecxr.errors import RunError
from edgecxr.files import write_json
from edgecxr.runs import Run

SPEC = {"width": 32, "height": 32, "channels": 1, "resize_mode": "squash", "normalize": "none",
        "labels": ["NORMAL", "PNEUMONIA"], "task": "binary", "output": "softmax", "threshold": 0.4}


def _run(tmp_path, spec: dict) -> Run:
    run = Run.create("r", tmp_path)
    write_json(run.file(SPEC_FILE), spec)
    run.update_manifest("train")
    return run


def test_the_spec_reads_back_as_train_wrote_it(tmp_path):
    assert _run(tmp_path, SPEC).spec() == ModelSpec(**SPEC)


def test_an_old_run_whose_spec_has_quant_still_loads(tmp_path):
    """Runs quantized before the model files carried their own record wrote a ``quant`` key."""
    old = {**SPEC, "quant": {"model_ptq_int8.tflite": {"input": {"scale": 0.0039, "zero_point": -128},
                                                       "output": {"scale": 0.0039, "zero_point": -128}}}}
    spec = _run(tmp_path, old).spec()
    assert spec == ModelSpec(**SPEC) and "quant" not in spec.to_dict()


@pytest.mark.parametrize("change, message", [
    ({"resize_mode": "zoom"}, "unknown resize mode 'zoom'"),
    ({"normalize": "x"}, "unknown normalization 'x'"),
    ({"channels": 2}, "channels must be 1 or 3"),
    ({"width": "96"}, "width must be a whole number"),
    ({"height": 0}, "height must be a whole number"),
    ({"labels": "NORMAL,PNEUMONIA"}, "labels must be a list"),
    ({"task": "regression"}, "unknown task 'regression'"),
    ({"output": "relu"}, "unknown output 'relu'"),
    ({"threshold": "0.5"}, "threshold must be a number"),
    ({"tta_zooms": [1.0, 9.0]}, "tta_zooms must be a list of test-time zooms: test-time zoom 9.0 is not a number from 1 to 4"),
    ({"tta_zooms": 1.1}, "tta_zooms must be a list"),
])
def test_a_spec_value_a_device_cannot_follow_is_one_run_error(tmp_path, change, message):
    with pytest.raises(RunError, match=f"spec.json is damaged: {message}"):
        _run(tmp_path, {**SPEC, **change}).spec()


@pytest.mark.parametrize("key", list(SPEC))
def test_a_spec_without_a_key_edgecxr_always_wrote_is_refused_not_guessed(tmp_path, key):
    """A default would feed the model a guessed input (96x96, no labels); only the keys added
    later (test-time views) may be absent, as in the old runs SPEC stands for."""
    with pytest.raises(RunError, match=f"spec.json is damaged: the spec has no {key}$"):
        _run(tmp_path, {k: v for k, v in SPEC.items() if k != key}).spec()
    with pytest.raises(SpecError) as e:
        ModelSpec.from_dict({k: v for k, v in SPEC.items() if k != key})
    assert "spec.json" in e.value.hint


def test_a_missing_empty_or_changed_spec_is_one_run_error(tmp_path):
    run = _run(tmp_path, SPEC)
    run.file(SPEC_FILE).write_text(json.dumps({**SPEC, "threshold": 0.9}))
    with pytest.raises(RunError, match="changed since edgecxr wrote it"):
        run.spec()
    run.file(SPEC_FILE).write_text("")
    run.update_manifest("train")
    with pytest.raises(RunError, match="is damaged: empty"):
        run.spec()
    run.file(SPEC_FILE).write_text("[1, 2]")
    run.update_manifest("train")
    with pytest.raises(RunError, match="not a JSON object"):
        run.spec()
    run.file(SPEC_FILE).unlink()
    with pytest.raises(RunError, match="has no spec.json"):
        run.spec()


def test_split_models_and_int8_are_the_runs(tmp_path, synth_binary):
    run = _run(tmp_path, SPEC)
    with pytest.raises(RunError, match="has no split.json"):
        run.split()
    dataset = scan_folder(synth_binary)
    assignment = split_by_patient(dataset, 0.25, seed=0)
    write_split(dataset, assignment, run.file(SPLIT_FILE), seed=0, val_fraction=0.25)
    run.file("model.keras").write_bytes(b"k")
    run.file(BY_KIND["ptq"].file).write_bytes(b"x")
    run.update_manifest("quantize")
    got_dataset, got_assignment = run.split()
    assert got_dataset.classes == dataset.classes and got_assignment == assignment
    assert [a.kind for a in run.models()] == ["keras", "ptq"]
    assert run.int8().kind == "ptq" and run.int8("ptq").path == run.file(BY_KIND["ptq"].file)
    run.file(SPLIT_FILE).write_text(run.file(SPLIT_FILE).read_text().replace('"val"', '"train"'))
    with pytest.raises(RunError, match="changed since edgecxr wrote it"):
        run.split()

"""One rule picks a run's int8 model: the highest float/int8 agreement measured by quantize."""

import pytest

from edgecxr.artifacts import ARTIFACTS, BY_KIND, choose_int8
from edgecxr.errors import ConfigError, RunError
from edgecxr.runs import Run


def _run(tmp_path, agreement: dict[str, float | None]) -> Run:
    """A run with the given int8 files and, where not None, a recorded agreement."""
    run = Run.create("r", tmp_path)
    models = {}
    for kind, value in agreement.items():
        run.file(BY_KIND[kind].file).write_bytes(b"x")
        models[BY_KIND[kind].file] = {"agreement": {"value": value, "n": 200, "split": "validation"}} \
            if value is not None else {}
    run.update_manifest("quantize", {"models": models})
    return run


def test_one_table_names_every_model_file_once():
    files = [a.file for a in ARTIFACTS]
    assert len(set(files)) == len(files) and [a.key for a in ARTIFACTS][0] == "keras_float"


@pytest.mark.parametrize("agreement, expected", [
    ({"ptq": 0.990, "qat": 0.995}, "qat"),  # QAT only when it measurably agrees more
    ({"ptq": 0.995, "qat": 0.990}, "ptq"),
    ({"ptq": 0.995, "qat": 0.995}, "ptq"),  # a tie goes to PTQ (no extra training)
    ({"ptq": None, "qat": 0.9}, "qat"),  # measured beats unmeasured
    ({"qat": None}, "qat"),
])
def test_highest_measured_agreement_wins(tmp_path, agreement, expected):
    choice = choose_int8(_run(tmp_path, agreement))
    assert choice.kind == expected and choice.path.name == BY_KIND[expected].file
    assert choice.reason  # always says why


def test_reason_names_the_figures(tmp_path):
    choice = choose_int8(_run(tmp_path, {"ptq": 0.9925, "qat": 0.95}))
    assert "99.25 % of 200 validation images" in choice.reason and "QAT int8 95.00 %" in choice.reason


def test_unmeasured_runs_say_how_to_measure(tmp_path):
    choice = choose_int8(_run(tmp_path, {"ptq": None, "qat": None}))
    assert choice.kind == "ptq" and "quantize RUN --force" in choice.reason


def test_explicit_and_missing_models(tmp_path):
    run = _run(tmp_path, {"ptq": 0.99})
    assert choose_int8(run, "ptq").reason == "--model ptq asked for it"
    with pytest.raises(RunError, match="no model_qat_int8.tflite"):
        choose_int8(run, "qat")
    with pytest.raises(ConfigError, match="unknown --model"):
        choose_int8(run, "fp16")
    with pytest.raises(RunError, match="has no int8 model"):
        choose_int8(Run.create("empty", tmp_path))


@pytest.mark.slow
def test_quantize_records_agreement_and_the_choice(quantized_run):
    run, result = quantized_run
    models = run.read_manifest()["stages"]["quantize"]["models"]
    for kind in ("ptq", "qat"):
        a = models[BY_KIND[kind].file]["agreement"]
        assert 0.0 <= a["value"] <= 1.0 and a["n"] > 0 and a["split"] == "validation"
    assert result.int8_model == choose_int8(run).to_dict()


@pytest.mark.slow
def test_bench_and_export_of_a_run_use_the_same_choice(quantized_run, tmp_path):
    import json

    from typer.testing import CliRunner

    import edgecxr.cli

    run, _ = quantized_run
    chosen = choose_int8(run)
    r = CliRunner().invoke(edgecxr.cli.app, ["bench", str(run.path), "--device", "nano33ble", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["int8_model"] == chosen.to_dict() and report["model"] == chosen.path.name
    r = CliRunner().invoke(edgecxr.cli.app, ["export", str(run.path), "--format", "tflite", "--out",
                                             str(tmp_path / "t")])
    assert r.exit_code == 0 and f"model: {chosen.artifact.key} ({chosen.reason})" in r.stdout  # ptq_int8, as bench names it

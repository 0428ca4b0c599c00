"""`edgecxr demo`: the main job runs every stage end to end on synthetic data."""

import json

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.export.bundle import verify_bundle

pytestmark = pytest.mark.slow


def test_demo_runs_every_stage_and_leaves_a_verifiable_bundle(tmp_path, capsys):
    out = tmp_path / "demo"
    result = CliRunner().invoke(edgecxr.cli.app, ["demo", "--out", str(out), "--epochs", "3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary) == ["data", "train", "quantize", "evaluate", "bench", "export", "run"]
    assert summary["data"]["unreadable"] == 0
    assert summary["train"]["epochs"] == 3
    assert set(summary["quantize"]) == {"model_float.tflite", "model_ptq_int8.tflite", "model_qat_int8.tflite"}
    assert set(summary["evaluate"]["models"]) == {"keras_float", "tflite_float", "ptq_int8", "qat_int8"}
    assert summary["evaluate"]["images"] == 150  # the held-out synthetic test folder, never trained on
    assert (out / "runs" / "demo" / "eval" / "test" / "report.html").is_file()
    assert summary["bench"]["board"]["fits"] is True
    assert {r["model"] for r in summary["bench"]["host"]["results"]} >= {"model_ptq_int8.tflite"}
    assert verify_bundle(out / "runs" / "demo" / "export" / "bundle") == []
    from edgecxr.cli.demo import _print

    _print(summary)  # what the demo prints without --json ends with the next step
    assert capsys.readouterr().out.splitlines()[-1].startswith("next: your own images")


def test_demo_refuses_an_existing_folder_without_force(tmp_path):
    (tmp_path / "keep.txt").write_text("earlier results")
    result = CliRunner().invoke(edgecxr.cli.app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert (tmp_path / "keep.txt").read_text() == "earlier results"

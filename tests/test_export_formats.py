"""The formats table drives the CLI; names become valid C identifiers; bad input is one line."""

import json

import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.errors import ConfigError
from edgecxr.export.formats import FORMATS, get_format
from edgecxr.export.source import c_identifier

runner = CliRunner()


def error_line(result) -> str:
    """The one `error:` line (stdout carries nothing else on failure)."""
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_table_names_every_required_format_and_its_help_reaches_the_cli():
    assert {"tflite", "c-header", "arduino", "rpi", "bundle"} <= set(FORMATS)
    result = runner.invoke(app, ["export", "--help"], terminal_width=400)
    assert result.exit_code == 0
    for f in FORMATS.values():
        assert f"{f.name}:" in " ".join(result.output.split())


@pytest.mark.parametrize("typo, nearest", [("c-heder", "c-header"), ("tflit", "tflite"), ("bundel", "bundle"),
                                           ("ardiuno", "arduino")])
def test_unknown_format_suggests_the_nearest(typo, nearest):
    with pytest.raises(ConfigError) as e:
        get_format(typo)
    assert f"did you mean {nearest!r}" in str(e.value) and "c-header" in e.value.hint


def test_unknown_format_on_the_cli_is_one_line_with_a_suggestion(export_run):
    result = runner.invoke(app, ["export", str(export_run.path), "--format", "c-heder"])
    assert result.exit_code == 2
    assert "unknown export format 'c-heder'" in error_line(result)
    assert "did you mean 'c-header'" in result.output


def test_an_option_the_format_does_not_take_is_refused(export_run, tmp_path):
    result = runner.invoke(app, ["export", str(export_run.path), "--format", "tflite", "--name", "x",
                                 "--out", str(tmp_path / "t")])
    assert result.exit_code == 2
    assert "--name does not apply to --format tflite" in error_line(result)
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("name, ident", [
    ("run-20261121-2320", "run_20261121_2320"), ("2 bad name!", "m_2_bad_name"), ("int", "int_model"),
    ("__Reserved", "Reserved"), ("Ünïcode-model", "n_code_model"), ("", "model"), ("ok_name", "ok_name"),
])
def test_c_identifier(name, ident):
    assert c_identifier(name) == ident


def test_tflite_export_writes_the_converter_bytes_with_labels_and_spec(export_run, tmp_path):
    out = tmp_path / "tfl"
    result = runner.invoke(app, ["export", str(export_run.path), "--format", "tflite", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == "ptq_int8" and doc["format"] == "tflite"  # as bench and evaluate name it
    assert (out / "model.tflite").read_bytes() == export_run.file("model_ptq_int8.tflite").read_bytes()
    assert (out / "labels.txt").read_text().split() == ["NORMAL", "PNEUMONIA"]
    # the run's spec exactly as train wrote it: the model file carries its own quantization
    assert (out / "spec.json").read_bytes() == export_run.file("spec.json").read_bytes()
    assert "quant" not in json.loads((out / "spec.json").read_text())
    assert "not embedded" in doc["metadata"]


def test_existing_output_is_not_overwritten_without_force(export_run, tmp_path):
    out = tmp_path / "tfl"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(export_run.path), "--format", "tflite", "--out", str(out)])
    assert result.exit_code == 2
    assert "already exists" in error_line(result)
    assert (out / "keep.txt").read_text() == "mine"
    # --force replaces only an earlier export, never a folder of someone's files (issue 13)
    result = runner.invoke(app, ["export", str(export_run.path), "--format", "tflite", "--out", str(out), "--force"])
    assert result.exit_code == 2 and "did not write" in error_line(result)
    assert (out / "keep.txt").read_text() == "mine"
    ours = tmp_path / "ours"
    for force in ([], ["--force"]):
        result = runner.invoke(app, ["export", str(export_run.path), "--format", "tflite", "--out", str(ours), *force])
        assert result.exit_code == 0, result.output
    assert (ours / "model.tflite").exists()


def test_a_run_without_int8_model_says_how_to_make_one(tmp_path, export_run):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(export_run.path, bare)
    (bare / "model_ptq_int8.tflite").unlink()
    result = runner.invoke(app, ["export", str(bare), "--format", "c-header", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "has no int8 model" in error_line(result)
    assert "edgecxr quantize" in result.output
    result = runner.invoke(app, ["export", str(export_run.path), "--model", "qat", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no model_qat_int8.tflite" in error_line(result)

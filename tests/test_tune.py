"""`edgecxr tune --board`: the short search end to end (measured TFLM arena, PTQ int8 on
validation, Pareto front), resume after an interruption, and one-line errors for a board no
candidate fits and a budget too small for one candidate."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.targets.table import DEVICES_FILE
from edgecxr.tune import STATE_FILE


def invoke(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def short_tune(synth_binary, tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    result = invoke("tune", "--board", "nano33ble", "--data", synth_binary, "--short", "--budget-minutes", 15,
                    "--name", "t", "--runs-root", root, "--json")
    assert result.exit_code == 0, result.output
    return root / "t", json.loads(result.stdout)


@pytest.mark.slow
def test_short_tune_reports_every_candidate_measured_and_the_pareto_front(short_tune):
    folder, out = short_tune
    assert out["board"] == "nano33ble" and out["epochs"] == 1
    cands = out["candidates"]
    assert [c["id"] for c in cands] == ["a0.1-32px-cxr", "a0.1-32px-cxr-rotate"]
    assert all(c["status"] == "trained" for c in cands)
    for c in cands:
        assert c["arena_kb"] > 1 and c["ram_needed_kb"] > c["arena_kb"] and c["latency_ms"] > 0
        assert c["flash_needed_kb"] > c["int8_kb_estimate"] > 10
        assert 0.0 <= c["val"]["accuracy"] <= 1.0 and {"sensitivity", "specificity"} <= set(c["val"])
        assert (folder / "candidates" / c["id"] / "model_ptq_int8.tflite").stat().st_size / 1024 == \
            pytest.approx(c["int8_kb"], abs=0.1)
        # the quantize stage made it, without the float .tflite a candidate does not need
        assert not (folder / "candidates" / c["id"] / "model_float.tflite").exists()
        manifest = json.loads((folder / "candidates" / c["id"] / "manifest.json").read_text())
        assert list(manifest["stages"]["quantize"]["models"]) == ["model_ptq_int8.tflite"]
    # same architecture: the front is the most accurate (both when they tie)
    best = max(c["val"]["accuracy"] for c in cands)
    assert [c["pareto"] for c in cands] == [c["val"]["accuracy"] == best for c in cands]
    state = json.loads((folder / STATE_FILE).read_text())
    assert [c["status"] for c in state["candidates"]] == ["trained", "trained"]


@pytest.mark.slow
def test_resume_trains_only_what_the_interruption_left(short_tune, tmp_path):
    folder, _ = short_tune
    copy = tmp_path / "t"
    shutil.copytree(folder, copy)
    state = json.loads((copy / STATE_FILE).read_text())
    state["candidates"][1].update(status="planned", val={}, seconds=None, pareto=False)  # killed while training
    (copy / STATE_FILE).write_text(json.dumps(state))
    result = invoke("tune", "--board", "nano33ble", "--resume", "--name", "t", "--runs-root", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["resumed"] and [c["status"] for c in out["candidates"]] == ["trained", "trained"]
    assert out["candidates"][0]["seconds"] == state["candidates"][0]["seconds"]  # not trained again
    assert out["candidates"][1]["val"]


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = next(li for li in result.output.splitlines() if li.startswith("error: "))
    for fragment in fragments:
        assert fragment in line, line


def test_board_no_candidate_fits_says_which_limit_and_by_how_much(synth_binary, tmp_path):
    devices = tmp_path / "devices.toml"
    tiny = '[boards.tiny]\nname = "Tiny"\nmcu = "X"\ncore = "cortex-m0plus"\nclock_mhz = 48\nram_kb = 32\n'
    devices.write_text(Path(DEVICES_FILE).read_text() + "\n" + tiny + "flash_kb = 128\nreserved_ram_kb = 8\n")
    result = invoke("tune", "--board", "tiny", "--devices-file", devices, "--data", synth_binary, "--short",
                    "--runs-root", tmp_path / "runs")
    # alpha 0.1 at 32x32: ~76 KB of int8 weights (estimate) + 60 KB of runtime > 128 KB of flash
    _one_line_error(result, "no candidate fits tiny", "KB of flash, the limit is 128 KB", "KB over")
    assert not (tmp_path / "runs").exists()


def test_budget_too_small_for_one_candidate(synth_binary, tmp_path):
    result = invoke("tune", "--board", "nano33ble", "--data", synth_binary, "--short", "--budget-minutes", 0.01,
                    "--runs-root", tmp_path / "runs")
    _one_line_error(result, "budget too small for one candidate")
    assert not (tmp_path / "runs").exists()


def test_unknown_board(synth_binary, tmp_path):
    result = invoke("tune", "--board", "nano34", "--data", synth_binary, "--runs-root", tmp_path / "runs")
    _one_line_error(result, "unknown device 'nano34'")
    assert not (tmp_path / "runs").exists()

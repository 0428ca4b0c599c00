"""Issue 22's hostile cases for the emulated boards: a bad --timeout, a runner on the board that
hangs, crashes or is killed by a signal on every call, and a runtime missing on this computer
(found before hundreds of MB of userland are built). The board's python is replaced by a real
program that misbehaves (the host side is the real runner), so no userland is needed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from edgecxr.bench import pi_emu
from tests.test_cli_contract import invoke
from tests.test_hostile_inputs import error_line

BENCH = ("--device", "pi4-emu", "--runtime", "litert", "--kernels", "reference", "--runs", "2", "--warmup", "0",
         "--images", "2")


def _board_python(tmp_path: Path, body: str, monkeypatch) -> Path:
    script = tmp_path / "pi4-emu-python3"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(pi_emu, "userland", lambda *a, **k: script)
    return script


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
@pytest.mark.parametrize("device", ["pi4-emu", "qemu-m4"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(tiny_int8_tflite, device, value):
    assert "--timeout" in error_line(invoke("bench", tiny_int8_tflite, "--device", device, "--timeout", value))


@pytest.mark.parametrize("body, expected", [
    ("sleep 30", "took over"),
    ("echo 'Fatal Python error' >&2; exit 1", "failed on pi4-emu"),
    ("echo not json", "printed no JSON"),
], ids=["hangs", "exits-1", "no-json"])
def test_a_misbehaving_runner_on_the_board_is_one_error(tmp_path, tiny_int8_tflite, monkeypatch, body, expected):
    _board_python(tmp_path, body, monkeypatch)
    assert expected in error_line(invoke("bench", tiny_int8_tflite, *BENCH, "--timeout", "3"))


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_every_call_killed_by_a_signal_is_a_failure_not_a_result(tmp_path, tiny_int8_tflite, monkeypatch, as_json):
    _board_python(tmp_path, "kill -SEGV $$", monkeypatch)
    result = invoke("bench", tiny_int8_tflite, *BENCH, *as_json)
    assert "SIGSEGV" in error_line(result)
    assert result.stdout.strip() == "" or "error" not in json.loads(result.stdout)


def test_a_runtime_missing_here_is_found_before_the_userland_is_built(tiny_int8_tflite, monkeypatch):
    from edgecxr.device import runtime as device_runtime

    built = []
    monkeypatch.setattr(pi_emu, "userland", lambda *a, **k: built.append(a))
    installed = device_runtime.installed
    monkeypatch.setattr(device_runtime, "installed", lambda name: name != "tflite-runtime" and installed(name))
    line = error_line(invoke("bench", tiny_int8_tflite, "--device", "pi4-emu"))
    assert "tflite-runtime is not installed" in line and not built

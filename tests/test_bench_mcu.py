"""Board verdicts: fits on a big board, does not fit on a tiny one (with margin and advice)."""

import json

import pytest
from typer.testing import CliRunner

from edgecxr.bench.mcu import mcu_report
from edgecxr.cli import app
from edgecxr.errors import DeviceError
from edgecxr.resources import resource
from edgecxr.targets.table import DEVICES_FILE, load_boards

TINY_BOARD = """
[cores.m4]
fpu = true
cycles_per_mac_reference = 10.0
cycles_per_mac_optimized = 5.0
optimized_library = "CMSIS-NN"
runtime_code_kb = 80

[boards.crumb]
name = "Crumb"
mcu = "X"
core = "m4"
clock_mhz = 100
ram_kb = 6
flash_kb = 64
reserved_ram_kb = 2
"""


def test_shipped_boards_cite_their_coefficients():
    boards = load_boards()
    assert {"nano33ble", "nucleo-l4r5zi", "stm32f746-disco", "portenta-h7", "esp32-s3", "pico"} <= set(boards)
    assert boards["nucleo-l4r5zi"].clock_mhz == 120 and boards["nucleo-l4r5zi"].ram_kb == 640
    assert not boards["pico"].fpu
    text = resource(DEVICES_FILE).read_text()
    assert "1.665 inf/s" in text and "MLPerf Tiny" in text  # the derivations are next to the numbers


def test_fits_on_a_big_board(tiny_int8_tflite):
    r = mcu_report(tiny_int8_tflite, "portenta-h7")
    assert r["fits"] and r["verdict"] == "fits" and r["advice"] == []
    assert r["arena_bytes"] > 0 and r["macs"] == 9224
    assert r["ram_needed_kb"] == pytest.approx((r["arena_bytes"] + 1024 + 2) / 1024, abs=0.1)
    assert r["latency_ms_optimized"] < r["latency_ms_reference"]
    # latency = MACs x cycles/MAC / clock
    assert r["latency_ms_reference"] == pytest.approx(9224 * 5.11 / 480e3, abs=1e-3)


def test_does_not_fit_on_a_tiny_board(tiny_int8_tflite, tmp_path):
    devices = tmp_path / "devices.toml"
    devices.write_text(TINY_BOARD)
    r = mcu_report(tiny_int8_tflite, "crumb", devices)
    assert not r["fits"] and r["verdict"] == "does not fit"
    assert r["ram_margin_kb"] < 0 and r["flash_margin_kb"] < 0
    assert any("smaller input" in a for a in r["advice"]) and any("alpha" in a for a in r["advice"])


def test_cli_board_json_and_table(tiny_int8_tflite):
    result = CliRunner().invoke(app, ["bench", str(tiny_int8_tflite), "--device", "nano33ble", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["board"] == "Arduino Nano 33 BLE Sense"
    result = CliRunner().invoke(app, ["bench", str(tiny_int8_tflite), "--device", "nano33ble"])
    assert "verdict" in result.stdout and "AddConv2D" in result.stdout


def test_unknown_board_lists_known_ones(tiny_int8_tflite):
    result = CliRunner().invoke(app, ["bench", str(tiny_int8_tflite), "--device", "arduino-uno"])
    assert result.exit_code == 2
    assert "unknown device 'arduino-uno'" in result.output and "nano33ble" in result.output


def test_float_model_on_a_board_without_fpu(tiny_float_tflite):
    with pytest.raises(DeviceError, match="has no FPU"):
        mcu_report(tiny_float_tflite, "pico")
    result = CliRunner().invoke(app, ["bench", str(tiny_float_tflite), "--device", "pico"])
    assert result.exit_code == 2 and "no FPU" in result.output

"""The target table (edgecxr.targets): every place a model runs is a row of one kind, each kind's
module does what the table says it does, every bench returns one result type, bad rows and
unknown names are one error line, and a new emulated core or Pi is a row, not code."""

import importlib
import json

import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.errors import ConfigError, DeviceError
from edgecxr.resources import resource
from edgecxr.targets.result import BenchChoices, BenchResult
from edgecxr.targets.table import DEVICES_FILE, KINDS, get_target, load_targets

runner = CliRunner()
JOBS = ("fit", "bench", "build", "install", "flash")


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


def _table(tmp_path, extra: str = "", old: str = "", new: str = ""):
    text = resource(DEVICES_FILE).read_text()
    assert old in text
    path = tmp_path / "boards.toml"
    path.write_text(text.replace(old, new, 1) + extra)
    return path


def test_every_place_a_model_runs_is_a_row_of_each_kind():
    targets = load_targets()
    kinds = {t.kind for t in targets.values()}
    assert kinds == set(KINDS)
    assert {"host", "rpi", "pi4-emu", "pi5-emu", "nano33ble", "qemu-m4"} <= set(targets)
    assert all(t.facts.emulated == (t.kind == "emulated-mcu") for t in targets.values() if "mcu" in t.kind)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_module_does_exactly_the_jobs_of_the_table(kind):
    module = importlib.import_module(KINDS[kind].module)
    assert {j for j in JOBS if callable(getattr(module, j, None))} == set(KINDS[kind].jobs)


def test_host_and_board_benches_return_the_one_result_type(tiny_int8_tflite):
    host = get_target("host").call("bench", tiny_int8_tflite, BenchChoices(runs=3, warmup=1, threads=[1]))
    board = get_target("portenta-h7").call("bench", tiny_int8_tflite)
    assert isinstance(host, BenchResult) and isinstance(board, BenchResult)
    assert host.results and host.machine["python"] and board.results is None and board.facts["verdict"] == "fits"
    cli = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "portenta-h7", "--json"])
    assert cli.exit_code == 0 and json.loads(cli.stdout) == board.to_dict()


def test_an_unknown_target_names_the_close_ones(tiny_int8_tflite):
    line = error_line(runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "qemu-m5"]))
    assert "unknown device 'qemu-m5'; did you mean" in line
    flash = runner.invoke(app, ["flash", str(tiny_int8_tflite), "--board", "host"])
    assert "host (kind host) cannot be flashed" in error_line(flash)
    hint = flash.output.split("hint:")[-1]
    assert "edgecxr bench RUN --device host" in hint and "nano33ble" in hint and "rpi" not in hint


def test_a_target_of_another_kind_names_the_command_it_takes(tiny_int8_tflite):
    """A Nano 33 is flashed, not deployed over SSH; a Pi is deployed, not flashed."""
    deploy = runner.invoke(app, ["deploy", str(tiny_int8_tflite), "--device", "nano33ble", "--host", "pi"])
    assert "nano33ble (kind mcu) cannot be deployed over SSH" in error_line(deploy)
    assert "edgecxr flash RUN --board nano33ble" in deploy.output.split("hint:")[-1]
    flash = runner.invoke(app, ["flash", str(tiny_int8_tflite), "--board", "rpi"])
    assert "rpi (kind ssh-pi) cannot be flashed" in error_line(flash)
    assert "edgecxr deploy RUN --device rpi" in flash.output.split("hint:")[-1]


@pytest.mark.parametrize("old, new, message", [
    ('kind = "emulated-pi"', 'kind = "emulated-py"', r"\[boards.pi4-emu\]: unknown kind 'emulated-py'; did you mean "
                                                     r"'emulated-pi'\?"),
    ('qemu_cpu = "cortex-a72"\n', "", r"\[boards.pi4-emu\]: no 'qemu_cpu'"),
    ('kind = "emulated-mcu"', 'kind = "mcu"', r"\[boards.qemu-m4\] is kind mcu but names qemu_machine"),
    ('qemu_cpu = "cortex-a72"', 'qemu_cpu = "a72; rm -rf"', "qemu_cpu 'a72; rm -rf' is not allowed"),
])
def test_a_bad_row_is_one_error_naming_its_table(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_targets(_table(tmp_path, old=old, new=new))
    assert e.value.hint


def test_a_new_emulated_pi_is_a_row(tmp_path):
    from edgecxr.bench.pi_emu import board, cpuinfo

    path = _table(tmp_path, extra='\n[boards.pi3-emu]\nkind = "emulated-pi"\nname = "Raspberry Pi 3 (emulated)"\n'
                  'model = "Raspberry Pi 3 Model B Rev 1.2"\nqemu_cpu = "cortex-a53"\ncpu_part = "0xd03"\n'
                  'cpu_variant = "0x0"\ncpu_revision = 4\nfeatures = "fp asimd evtstrm crc32 cpuid"\n'
                  'revision = "a02082"\n')
    assert get_target("pi3-emu", path, job="bench").kind == "emulated-pi"
    assert "CPU part\t: 0xd03" in cpuinfo(board("pi3-emu", path), 2)
    with pytest.raises(DeviceError, match="unknown emulated Pi 'pi3-emu'"):
        board("pi3-emu")  # not in the shipped table


def test_a_devices_file_adds_its_rows_to_the_shipped_table(tmp_path):
    """A user's file of one board keeps host, rpi and the emulated boards; a row named as a shipped
    one replaces it (there, not elsewhere)."""
    path = tmp_path / "mine.toml"
    path.write_text('[boards.host]\nkind = "host"\nname = "my workstation"\n\n'
                    '[boards.my-board]\nkind = "mcu"\nname = "Mine"\nmcu = "X"\ncore = "cortex-m4f"\n'
                    'clock_mhz = 64\nram_kb = 256\nflash_kb = 1024\nreserved_ram_kb = 16\n')
    mine, shipped = load_targets(path), load_targets()
    assert set(mine) == set(shipped) | {"my-board"}
    assert mine["host"].facts.name == "my workstation" != shipped["host"].facts.name
    assert mine["my-board"].facts.cycles_per_mac_optimized == shipped["nano33ble"].facts.cycles_per_mac_optimized
    assert get_target("qemu-m4", path, job="bench").kind == "emulated-mcu"


def test_flash_reads_the_devices_file(deploy_run, tmp_path):
    path = _table(tmp_path, old="[boards.nano33ble]", new="[boards.my-nano]")
    args = ["flash", str(deploy_run), "--board", "my-nano", "--dry-run", "--json"]
    assert "unknown board 'my-nano'" in error_line(runner.invoke(app, args))
    result = runner.invoke(app, [*args, "--devices-file", str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["board"] == "my-nano" and doc["port"] == "/dev/ttyACM0"
    assert "--fqbn arduino:mbed_nano:nano33ble" in doc["commands"][1]


NEW_CORE = """
[cores.cortex-m4-slowclock]
fpu = true
gcc_cpu = "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
emulated_by = "qemu-m4-twin"
cycles_per_mac_reference = 9.62
cycles_per_mac_optimized = 4.82
optimized_library = "CMSIS-NN"
runtime_code_kb = 80

[boards.slow-board]
kind = "mcu"
name = "A 10 MHz Cortex-M4F board"
mcu = "X"
core = "cortex-m4-slowclock"
clock_mhz = 10
ram_kb = 256
flash_kb = 1024
reserved_ram_kb = 16
"""


def _twin_of_qemu_m4() -> str:
    """The shipped qemu-m4 row copied under a new name, for the new core."""
    row = resource(DEVICES_FILE).read_text().split("[boards.qemu-m4]\n")[1].split("\n\n")[0]
    assert 'core = "cortex-m4f"' in row
    return "\n[boards.qemu-m4-twin]\n" + row.replace('core = "cortex-m4f"', 'core = "cortex-m4-slowclock"') + "\n"


def test_a_new_emulated_core_is_measured_by_table_rows_alone(export_run, arm_toolchain, monkeypatch, tmp_path):
    """A core, its emulated board and a physical board of it, added as rows of a devices file:
    the physical board's verdict is measured on the new emulated row (firmware built for it and
    booted on QEMU), at the board's own clock, with no Python or Makefile edit."""
    monkeypatch.delenv("EDGECXR_TFLM_DIR", raising=False)
    path = _table(tmp_path, extra=NEW_CORE + _twin_of_qemu_m4())
    result = runner.invoke(app, ["bench", str(export_run.path), "--device", "slow-board", "--devices-file", str(path),
                                 "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["measured_on"] == "qemu-m4-twin" and doc["core"] == "cortex-m4-slowclock"
    assert doc["latency_ms_edgecxr"] == pytest.approx(doc["instructions_edgecxr"] / 10e3, abs=1e-3)
    assert doc["int8_model"]["file"].endswith(".tflite")


def test_a_fit_reads_and_parses_the_model_once(tiny_int8_tflite, monkeypatch):
    """One typed description (tflite_facts.describe) serves every fact of the verdict; the TFLM
    arena is measured once per model content, however many times it is asked."""
    from edgecxr import tflite_facts

    parse = importlib.import_module("edgecxr.engine.parse")  # the module (edgecxr.engine exports a function of that name)
    calls = {"parse": 0, "arena": 0}
    real_parse, real_arena = parse.parse, tflite_facts._measure_arena

    def counted_parse(model):
        calls["parse"] += 1
        return real_parse(model)

    def counted_arena(path):
        calls["arena"] += 1
        return real_arena(path)

    monkeypatch.setattr(parse, "parse", counted_parse)
    monkeypatch.setattr(tflite_facts, "_measure_arena", counted_arena)
    monkeypatch.setattr(tflite_facts, "_ARENAS", {})
    verdict = get_target("nano33ble").call("fit", tiny_int8_tflite)
    again = get_target("pico").call("fit", tiny_int8_tflite)
    assert calls == {"parse": 2, "arena": 1}  # one parse per verdict, one arena measurement in all
    assert verdict.facts["arena_bytes"] == again.facts["arena_bytes"] > 0 and verdict.facts["macs"] == 9224


def test_an_emulated_board_builds_the_runs_firmware(export_run, arm_toolchain, monkeypatch, tmp_path):
    from edgecxr.targets.mcu import FlashOptions

    monkeypatch.delenv("EDGECXR_TFLM_DIR", raising=False)
    qemu_m3 = get_target("qemu-m3", job="build")
    with pytest.raises(ConfigError, match="needs a folder"):
        qemu_m3.call("build", export_run.path)
    built = qemu_m3.call("build", export_run.path, FlashOptions(out=tmp_path / "m3"))
    assert built["elf"].is_file() and built["elf"].is_relative_to(tmp_path / "m3") and built["flash_bytes"] > 0
    assert built["engine"] == "edgecxr" and built["expected"]["label"]

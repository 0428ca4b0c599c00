"""The firmware export, built with arm-none-eabi-g++ against the TFLM tree and run on QEMU's
Cortex-M4 on real X-rays: bit-exact with the host's reference kernels; and each way it can fail."""

import json
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.errors import ConfigError, DeviceError


def test_firmware_export_layout(export_run, tmp_path):
    from edgecxr.export import ExportOptions, export
    from edgecxr.tflite_facts import measure_arena

    out = tmp_path / "fw"
    r = export(export_run, ExportOptions("firmware", out=out, engine="tflm")).to_dict()
    export(export_run, ExportOptions("firmware", out=out, force=True))  # the own engine (default) adds generated/engine/
    for rel in ("Makefile", "app/edgecxr_app.cc", "app/edgecxr_app_engine.c", "app/edgecxr_board.h",
                "boards/qemu/startup.c", "boards/qemu/mps2.ld", "boards/qemu/board_qemu.c", "generated/model_settings.h",
                "generated/engine/edgecxr_model.c", "generated/engine/edgecxr_model.h",
                "generated/edgecxr_ops.h", "generated/edgecxr_preprocess.h", "generated/test_image.h",
                "generated/tiny_run_model.c", "generated/boards.mk"):
        assert (out / rel).is_file(), rel
    ops = (out / "generated" / "edgecxr_ops.h").read_text()
    assert "r.AddConv2D(tflite::Register_CONV_2D_INT8())" in ops and "MicroMutableOpResolver<" in ops
    assert re.findall(r"r\.(\w+)\(", ops) == r["tflm_ops"]
    boards = (out / "generated" / "boards.mk").read_text()
    assert "BOARD_QEMU_qemu-m4 := qemu-system-arm -M mps2-an386 " in boards and "BOARD_CPU_qemu-m7 := -mcpu=cortex-m7" in boards
    assert "BOARD_DIR_qemu-m33 := qemu" in boards and "BOARD_LD_qemu-m55 := an547.ld" in boards
    assert "boards/qemu" not in (out / "Makefile").read_text()  # the board folder comes from boards.mk
    measured = measure_arena(export_run.file("model_ptq_int8.tflite"))
    assert r["arena_size"] % 16 == 0 and measured <= r["arena_size"] < measured + 16


@pytest.mark.slow
@pytest.mark.realdata
def test_cmsis_nn_firmware_on_real_xrays_is_bit_exact(built_firmware, xray_run, shared_data, tflm_dir):
    from edgecxr.bench.qemu import QemuOptions, bench_qemu

    result = bench_qemu(xray_run.path, "qemu-m4", QemuOptions(tflm=tflm_dir, data=shared_data / "kermany224" / "val",
                                                              images=16, kernels=("cmsis-nn",), profile=True))
    row = result["results"][0]
    assert result["images"] == 16 and row["images"] == 16
    assert row["bit_exact"], row.get("first_difference")
    assert row["identical"] == 16
    assert 0 < row["instructions_min"] <= row["instructions_per_inference"] <= row["instructions_max"]
    assert row["flash_bytes"] > xray_run.file("model_ptq_int8.tflite").stat().st_size
    assert row["ram_bytes"] > row["arena_size"] >= row["arena_used_bytes"] > 0 and row["stack_peak_bytes"] > 0
    assert [layer["op"] for layer in row["layers"]][:1] == ["CONV_2D"]
    assert sum(layer["instructions"] for layer in row["layers"]) <= row["instructions_max"]


@pytest.mark.slow
@pytest.mark.realdata
def test_flash_to_the_emulated_board_prints_the_selftest(built_firmware, xray_run, tflm_dir):
    result = CliRunner().invoke(app, ["flash", str(xray_run.path), "--board", "qemu-m4", "--tflm", str(tflm_dir),
                                      "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["board"] == "qemu-m4" and r["selftest"]["raw"] == r["expected"]["raw"]
    assert r["selftest"]["label"] == r["expected"]["label"] and r["selftest"]["instructions"] > 0
    assert "result image=0 label=" in r["serial"]


def test_arduino_library_compiles_for_cortex_m4(export_run, tmp_path):
    """The Arduino library (the own engine's main loop and generated C, no TFLM library), with a
    minimal Arduino core stand-in (arduino-cli is not available offline): its C files with
    arm-none-eabi-gcc as Arduino's C99 build would, the sketch and board hooks with g++."""
    from edgecxr.export import ExportOptions, export

    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-g++"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (apt install gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib)")
    export(export_run, ExportOptions("arduino", out=tmp_path / "arduino"))
    lib = tmp_path / "arduino" / "edgecxr_tiny_run"
    sketch = lib / "examples" / "tiny_run_classify"
    core = tmp_path / "core"
    core.mkdir()
    (core / "Arduino.h").write_text(
        "#pragma once\n#include <stdint.h>\nstruct SerialStub { void begin(long); void print(const char*);"
        " void println(const char*); explicit operator bool() const; };\nextern SerialStub Serial;\n"
        "uint32_t millis(); uint32_t micros(); void delay(uint32_t);\n#define LED_BUILTIN 13\n#define OUTPUT 1\n"
        "#define HIGH 1\n#define LOW 0\nvoid pinMode(int, int);\nvoid digitalWrite(int, int);\n")
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-Os", "-Wall", "-Wextra", "-Werror",
           "-I", str(core), "-I", str(lib / "src"), "-I", str(sketch)]
    ino = tmp_path / "sketch.cpp"
    ino.write_text('#include <Arduino.h>\n' + (sketch / "tiny_run_classify.ino").read_text())
    builds = [(["arm-none-eabi-gcc", "-std=c99", *cpu], src) for src in sorted((lib / "src").rglob("*.c"))]
    builds += [(["arm-none-eabi-g++", "-std=c++17", "-fno-rtti", "-fno-exceptions", *cpu], src)
               for src in (sketch / "board_arduino.cpp", ino)]
    assert {src.name for _, src in builds} >= {"edgecxr_app_engine.c", "edgecxr_report.c", "edgecxr_model.c"}
    assert not any((lib / "src").rglob("*.cc")) and not any((lib / "src").rglob("*.cpp"))  # no C++ in the library
    for flags, src in builds:
        proc = subprocess.run([*flags, "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]


# -- bad input: one error line, one hint, exit 2 --------------------------------------------------
def test_no_tflm_tree(export_run, monkeypatch):
    """Without a TFLM tree bench measures edgecxr's own engine alone; asking for TFLM is one error."""
    monkeypatch.delenv("EDGECXR_TFLM_DIR", raising=False)
    result = CliRunner().invoke(app, ["bench", str(export_run.path), "--device", "qemu-m4", "--images", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["engine"] for r in rows] == ["edgecxr"] and rows[0]["bit_exact"]
    result = CliRunner().invoke(app, ["flash", str(export_run.path), "--board", "qemu-m4", "--engine", "tflm"])
    assert result.exit_code == 2, result.output
    assert "no TensorFlow Lite Micro tree" in result.output and "--tflm" in result.output


def test_not_a_tflm_tree(tmp_path):
    from edgecxr.firmware.build import tflm_tree

    with pytest.raises(ConfigError, match="is not a TFLM tree"):
        tflm_tree(tmp_path)


def test_tree_missing_a_kernel(tflm_dir):
    from edgecxr.firmware.build import kernel_sources

    with pytest.raises(DeviceError, match="no cmsis-nn kernel defining Register_NOT_AN_OP"):
        kernel_sources(tflm_dir, "cmsis-nn", ["Register_CONV_2D", "Register_NOT_AN_OP"])


@pytest.mark.parametrize("missing", ["arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm"])
def test_no_toolchain_or_qemu(export_run, tflm_dir, monkeypatch, tmp_path, missing):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm"):
        if tool != missing and shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    result = CliRunner().invoke(app, ["bench", str(export_run.path), "--device", "qemu-m4", "--tflm", str(tflm_dir)])
    assert result.exit_code == 2, result.output
    assert f"{missing} is not installed" in result.output and "apt install" in result.output


@pytest.mark.slow
@pytest.mark.realdata
def test_arena_too_small_fault_and_hang(built_firmware):
    from edgecxr.firmware import build as fb
    from edgecxr.firmware import emulator

    project, b, elf, registrations = built_firmware
    with pytest.raises(DeviceError, match="did not finish .* within 0 s"):
        emulator.boot(b.board, elf, timeout=0.01)
    settings = project / "generated" / "model_settings.h"
    original = settings.read_text()
    small = fb.Build(project, b.board, b.kernels, b.tree, project.parent / "small")
    try:
        settings.write_text(re.sub(r"#define EDGECXR_ARENA_SIZE \d+", "#define EDGECXR_ARENA_SIZE 1024", original))
        with pytest.raises(DeviceError, match="arena .* too small"):
            emulator.boot(b.board, fb.build(small, registrations), timeout=60)
    finally:
        settings.write_text(original)


@pytest.mark.slow
@pytest.mark.realdata
def test_model_does_not_fit_the_board(built_firmware, tmp_path):
    from edgecxr.firmware import build as fb
    from edgecxr.resources import resource
    from edgecxr.targets.table import DEVICES_FILE, load_boards

    project, b, elf, registrations = built_firmware
    devices = tmp_path / "boards.toml"
    devices.write_text(resource(DEVICES_FILE).read_text().replace(
        'ram_kb = 4096\nflash_kb = 4096\nreserved_ram_kb = 0\nqemu_machine = "mps2-an386"',
        'ram_kb = 4096\nflash_kb = 16\nreserved_ram_kb = 0\nqemu_machine = "mps2-an386"'))
    from edgecxr.firmware.project import boards_mk, emulated_boards

    (project / "generated" / "boards.mk").write_text(boards_mk(emulated_boards(devices)))
    try:
        tiny = fb.Build(project, load_boards(devices)["qemu-m4"], b.kernels, b.tree, tmp_path / "out")
        with pytest.raises(DeviceError, match="does not fit .*flash"):
            fb.build(tiny, registrations)
    finally:
        (project / "generated" / "boards.mk").write_text(boards_mk(emulated_boards()))

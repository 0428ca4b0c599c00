"""The firmware with edgecxr's own engine (no TFLM tree): built with arm-none-eabi-gcc, run on
QEMU's emulated Cortex-M cores, equal to the host's TFLite reference kernels on synthetic and
real X-rays; a new emulated core added by board-table rows alone; the firmware's decision
against edgecxr/device/decision.py on every kind of model."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.errors import DeviceError


@pytest.fixture
def no_tflm(monkeypatch):
    monkeypatch.delenv("EDGECXR_TFLM_DIR", raising=False)


def test_engine_firmware_on_the_emulated_m4_equals_the_host(export_run, arm_toolchain, no_tflm):
    """Synthetic images of the tiny run: one row (the own engine), identical int8 outputs."""
    from edgecxr.bench.qemu import QemuOptions, bench_qemu

    result = bench_qemu(export_run.path, "qemu-m4", QemuOptions(images=6, profile=True))
    assert result["tflm"] is None and [r["engine"] for r in result["results"]] == ["edgecxr"]
    row = result["results"][0]
    assert row["bit_exact"] and row["identical"] == row["images"] == result["images"] > 0, row.get("first_difference")
    assert 0 < row["instructions_min"] <= row["instructions_per_inference"] <= row["instructions_max"]
    assert row["ram_total_bytes"] == row["ram_bytes"] + row["stack_peak_bytes"] > row["arena_size"] > 0
    from edgecxr.engine import generate

    gen = generate(export_run.file("model_ptq_int8.tflite"))
    assert [layer["op"] for layer in row["layers"]] == [k.op.code for k in gen.kernels]
    assert sum(layer["instructions"] for layer in row["layers"]) <= row["instructions_max"]


@pytest.mark.realdata
def test_engine_firmware_on_real_xrays_without_tflm(xray_run, shared_data, arm_toolchain, no_tflm):
    """What CI runs: the engine's firmware on real X-rays on the emulated Cortex-M4, no TFLM tree."""
    result = CliRunner().invoke(app, ["bench", str(xray_run.path), "--device", "qemu-m4", "--images", "16",
                                      "--data", str(shared_data / "kermany224" / "val"), "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    row = r["results"][0]
    assert r["images"] == 16 and row["engine"] == "edgecxr" and row["identical"] == 16, row.get("first_difference")


def test_flash_an_emulated_board_with_the_engine(export_run, arm_toolchain, no_tflm):
    result = CliRunner().invoke(app, ["flash", str(export_run.path), "--board", "qemu-m33", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["engine"] == "edgecxr" and r["selftest"]["raw"] == r["expected"]["raw"]
    assert r["selftest"]["label"] == r["expected"]["label"] and r["selftest"]["instructions"] > 0


def test_a_new_emulated_core_is_a_table_row(export_run, arm_toolchain, no_tflm, tmp_path):
    """A core and a board the package does not have (a Cortex-M33 without FPU, soft-float ABI),
    added as two rows of a devices file: built, booted and bit-exact, no code changed."""
    from edgecxr.bench.qemu import QemuOptions, bench_qemu
    from edgecxr.resources import resource
    from edgecxr.targets.table import DEVICES_FILE

    devices = tmp_path / "boards.toml"
    devices.write_text(resource(DEVICES_FILE).read_text() + """
[cores.cortex-m33-nofp]
fpu = false
gcc_cpu = "-mcpu=cortex-m33+nofp -mfloat-abi=soft"
cycles_per_mac_reference = 9.62
cycles_per_mac_optimized = 4.82
optimized_library = "CMSIS-NN"
runtime_code_kb = 80

[boards.qemu-m33-nofp]
name = "QEMU mps2-an505 (Cortex-M33 built without FPU)"
mcu = "Arm MPS2 AN505 (emulated)"
core = "cortex-m33-nofp"
clock_mhz = 20
ram_kb = 4096
flash_kb = 4096
reserved_ram_kb = 0
qemu_machine = "mps2-an505"
qemu_cpu = "cortex-m33"
firmware_dir = "qemu"
linker_script = "an505.ld"
""")
    result = bench_qemu(export_run.path, "qemu-m33-nofp", QemuOptions(images=3), devices_file=devices)
    row = result["results"][0]
    assert result["core"] == "cortex-m33-nofp" and row["bit_exact"] and row["instructions_per_inference"] > 0


def test_a_plan_over_the_boards_ram_is_refused_before_compiling(export_run, arm_toolchain, no_tflm, tmp_path):
    from edgecxr.resources import resource
    from edgecxr.targets.table import DEVICES_FILE

    devices = tmp_path / "boards.toml"
    devices.write_text(resource(DEVICES_FILE).read_text().replace(
        'ram_kb = 4096\nflash_kb = 4096\nreserved_ram_kb = 0\nqemu_machine = "mps2-an386"',
        'ram_kb = 4\nflash_kb = 4096\nreserved_ram_kb = 0\nqemu_machine = "mps2-an386"'))
    result = CliRunner().invoke(app, ["bench", str(export_run.path), "--device", "qemu-m4", "--devices-file",
                                      str(devices)])
    assert result.exit_code == 2, result.output
    assert "needs" in result.output and "bytes of RAM" in result.output and "which has 4096" in result.output


def test_a_firmware_that_hangs_is_one_error(export_run, arm_toolchain, tmp_path):
    from edgecxr.export.source import load_source
    from edgecxr.firmware import build as fb
    from edgecxr.firmware import emulator
    from edgecxr.firmware.project import write_project
    from edgecxr.targets.table import get_board

    write_project(load_source(export_run), tmp_path / "fw")
    board = get_board("qemu-m4")
    elf = fb.build(fb.Build(tmp_path / "fw", board, "generated", None, tmp_path / "out", engine="edgecxr"))
    with pytest.raises(DeviceError, match="did not finish .* within 0 s"):
        emulator.boot(board, elf, timeout=0.01)


def test_bench_timeout_must_be_a_positive_number(export_run):
    for bad in ("nan", "inf", "-1"):
        result = CliRunner().invoke(app, ["bench", str(export_run.path), "--device", "qemu-m4", "--timeout", bad])
        assert result.exit_code == 2 and "--timeout" in result.output, result.output


# -- the firmware's decision against decision.py, on every kind of model ------------------------
KINDS = {  # spec fields, output count; thresholds on the output grid (k / 256), so some scores equal them
    "binary sigmoid": ({"task": "binary", "output": "sigmoid", "threshold": 0.375, "labels": ["N", "P"]}, 1),
    "binary pair, threshold": ({"task": "binary", "output": "softmax", "threshold": 0.609375, "labels": ["N", "P"]}, 2),
    "binary pair, argmax": ({"task": "binary", "output": "softmax", "threshold": None, "labels": ["N", "P"]}, 2),
    "multiclass": ({"task": "multiclass", "output": "softmax", "threshold": None, "labels": ["A", "B", "C"]}, 3),
    "multilabel": ({"task": "multilabel", "output": "sigmoid", "threshold": 0.40625, "labels": ["A", "B", "C"]}, 3),
}
HOST_BOARD = r"""
#include <stdio.h>
#include <stdint.h>
#include "edgecxr_report.h"
#include "model_settings.h"
void edgecxr_board_print(const char* line) { puts(line); }
const char* edgecxr_board_tick_unit(void) { return "instructions"; }
/* the application's response, on stderr: "respond image=N picked=0,1,..." */
void edgecxr_board_respond(uint32_t image, const uint8_t* picked, float score) {
  (void)score;
  fprintf(stderr, "respond image=%u picked=", (unsigned)image);
  for (int i = 0; i < EDGECXR_NUM_CLASSES; ++i) fprintf(stderr, i ? ",%d" : "%d", picked[i]);
  fputs("\n", stderr);
}
static const int8_t raw[][EDGECXR_NUM_OUTPUTS] = {RAW};
int main(void) {
  for (unsigned i = 0; i < sizeof raw / sizeof raw[0]; ++i) edgecxr_report_result(i, raw[i], 0);
  return 0;
}
"""


@pytest.mark.parametrize("kind", KINDS)
def test_firmware_decides_as_decision_py(kind, tmp_path):
    """edgecxr_report.c compiled for this computer with model_settings.h as export writes it."""
    from types import SimpleNamespace

    from edgecxr.device import decision
    from edgecxr.device.preprocess import dequantize
    from edgecxr.device.spec import ModelSpec
    from edgecxr.export.c_header import settings_header
    from edgecxr.export.folder import templates_root

    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler on this computer")
    fields, outputs = KINDS[kind]
    spec = ModelSpec(**fields)
    scale, zero_point = 1 / 256, -128
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not read")
    source = SimpleNamespace(run=SimpleNamespace(name="t"), model_path=model, name="t")
    s = {"name": "t", "model_bytes": 8, "input_width": 8, "input_height": 8, "input_channels": 1, "input_scale": 0.1,
         "input_zero_point": 0, "output_scale": scale, "output_zero_point": zero_point, "num_outputs": outputs,
         "num_classes": len(spec.labels), "labels": spec.labels, "output_sigmoid": spec.output == "sigmoid",
         "multilabel": spec.task == "multilabel",
         "binary_threshold": spec.task == "binary" and (outputs == 1 or spec.threshold is not None),
         "threshold": spec.threshold if spec.threshold is not None else 0.5, "resize_mode": "squash",
         "normalize": "none", "tflm_ops": [], "arena_measured": 16, "arena_size": 16}
    (tmp_path / "model_settings.h").write_text(settings_header(source, s))
    (tmp_path / "t_model.h").write_text("")
    rng = np.random.default_rng(7)
    raw = rng.integers(-128, 128, size=(200, outputs))
    raw[:4] = [[round(cut / scale) + zero_point + d] * outputs for cut in [s["threshold"]] for d in (-1, 0, 1, 0)]
    (tmp_path / "main.c").write_text(HOST_BOARD.replace("RAW", ",".join("{" + ",".join(map(str, r)) + "}" for r in raw)))
    app_dir = templates_root() / "firmware" / "app"
    exe = tmp_path / "decide"
    proc = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), "-I", str(app_dir),
                           str(app_dir / "edgecxr_report.c"), str(tmp_path / "main.c"), "-o", str(exe)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ran = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    lines, responses = ran.stdout.splitlines(), ran.stderr.splitlines()
    assert len(lines) == len(responses) == len(raw)
    for i, (line, response, r) in enumerate(zip(lines, responses, raw)):
        said = line.split(" label=")[1].split(" ")[0]
        expected = decision.label(dequantize(r, scale, zero_point), spec)
        picked = [name in (expected if isinstance(expected, list) else [expected]) for name in spec.labels]
        expected = "+".join(expected) or "none" if isinstance(expected, list) else expected
        assert said == expected, (line, r.tolist())
        # the board's response hook gets the same decision, after its line
        assert response == f"respond image={i} picked=" + ",".join(str(int(p)) for p in picked), (response, line)

"""The C header: compiles as C99, C++17 and for a Cortex-M4; holds the .tflite byte for byte,
16-byte aligned; model_settings.h carries the model's own numbers."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.runtimes import TFLiteModel
from edgecxr.tflite_facts import arena_size, measure_arena, tflm_ops

NAME = "tiny_run"  # the fixture run "tiny-run", sanitized

# writes the array back out, then its address modulo 16 and a few settings, one per line
DUMP_PROGRAM = r"""
#include <stdio.h>
#include <stdint.h>
#include "model_settings.h"
int main(int argc, char** argv) {
  static const char* const labels[EDGECXR_NUM_CLASSES] = EDGECXR_LABELS;
  FILE* f = fopen(argv[1], "wb");
  if (!f || fwrite(EDGECXR_MODEL_DATA, 1, EDGECXR_MODEL_DATA_LEN, f) != EDGECXR_MODEL_DATA_LEN) return 1;
  fclose(f);
  printf("%u\n%u\n", (unsigned)((uintptr_t)EDGECXR_MODEL_DATA % 16u), (unsigned)EDGECXR_MODEL_DATA_LEN);
  printf("%.9g %d %.9g %d\n", (double)EDGECXR_INPUT_SCALE, EDGECXR_INPUT_ZERO_POINT,
         (double)EDGECXR_OUTPUT_SCALE, EDGECXR_OUTPUT_ZERO_POINT);
  printf("%d %d %d %d %d\n", EDGECXR_INPUT_WIDTH, EDGECXR_INPUT_HEIGHT, EDGECXR_INPUT_CHANNELS,
         EDGECXR_NUM_CLASSES, EDGECXR_ARENA_SIZE);
  for (int i = 0; i < EDGECXR_NUM_CLASSES; ++i) printf("%s\n", labels[i]);
  (void)argc;
  return 0;
}
"""
WARN = ["-Wall", "-Wextra", "-Werror"]


@pytest.fixture(scope="module")
def header_dir(exported_bundle) -> Path:
    return exported_bundle / "c-header"


def _compile_and_dump(tmp_path: Path, header_dir: Path, main_cmd: list[str], data_cmd: list[str], suffix: str):
    main = tmp_path / f"dump.{suffix}"
    main.write_text(DUMP_PROGRAM)
    obj = tmp_path / "model.o"
    subprocess.run([*data_cmd, "-c", str(header_dir / f"{NAME}_model.c"), "-I", str(header_dir), "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    exe = tmp_path / "dump"
    subprocess.run([*main_cmd, str(main), str(obj), "-I", str(header_dir), "-o", str(exe)], check=True,
                   capture_output=True, text=True)
    out_file = tmp_path / "back.tflite"
    lines = subprocess.run([str(exe), str(out_file)], check=True, capture_output=True, text=True).stdout.splitlines()
    return out_file.read_bytes(), lines


@pytest.mark.parametrize("main_cmd, data_cmd, suffix", [
    (["gcc", "-std=c99", "-pedantic", *WARN], ["gcc", "-std=c99", "-pedantic", *WARN], "c"),
    # C++ program linking the C-compiled array: the extern "C" guards make the names match
    (["g++", "-std=c++17", "-pedantic", *WARN], ["gcc", "-std=c99", "-pedantic", *WARN], "cpp"),
    # the array compiled as C++ too (alignas path)
    (["g++", "-std=c++17", *WARN], ["g++", "-std=c++17", "-x", "c++", *WARN], "cpp"),
], ids=["c99", "c++17-main", "c++17-all"])
def test_host_program_writes_the_model_back_byte_for_byte(tmp_path, header_dir, exported_bundle, main_cmd, data_cmd,
                                                          suffix):
    if not shutil.which(main_cmd[0]):
        pytest.skip(f"{main_cmd[0]} not installed")
    data, lines = _compile_and_dump(tmp_path, header_dir, main_cmd, data_cmd, suffix)
    tflite = (exported_bundle / "tflite" / "model.tflite").read_bytes()
    assert data == tflite
    assert lines[0] == "0", "model array is not 16-byte aligned"
    assert int(lines[1]) == len(tflite)


def test_settings_are_the_models_own_numbers(tmp_path, header_dir, exported_bundle, export_run):
    _, lines = _compile_and_dump(tmp_path, header_dir, ["gcc", "-std=c99"], ["gcc", "-std=c99"], "c")
    model = exported_bundle / "tflite" / "model.tflite"
    tfl = TFLiteModel(model)
    in_s, in_z, out_s, out_z = lines[2].split()
    assert np.float32(in_s) == np.float32(tfl.input_quant["scale"]) and int(in_z) == tfl.input_quant["zero_point"]
    assert np.float32(out_s) == np.float32(tfl.output_quant["scale"]) and int(out_z) == tfl.output_quant["zero_point"]
    w, h, c, k, arena = map(int, lines[3].split())
    assert (h, w, c) == tuple(int(d) for d in tfl.input["shape"][1:])
    assert k == 2 and lines[4:6] == ["NORMAL", "PNEUMONIA"]
    measured = measure_arena(model)
    assert arena == arena_size(measured) and arena % 16 == 0 and measured <= arena < measured + 16
    settings = (header_dir / "model_settings.h").read_text()
    assert f"#define EDGECXR_ARENA_MEASURED_BYTES {measured}\n" in settings
    ops = re.search(r"#define EDGECXR_TFLM_OPS\(X\) (.*)", settings).group(1)
    assert re.findall(r"X\((\w+)\)", ops) == tflm_ops(model)
    assert f"#define EDGECXR_TFLM_OP_COUNT {len(tflm_ops(model))}\n" in settings


def test_cortex_m4_build_keeps_the_array_16_byte_aligned(tmp_path, header_dir):
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc not installed (apt install gcc-arm-none-eabi)")
    obj = tmp_path / "model_m4.o"
    src = tmp_path / "use.c"
    src.write_text('#include "model_settings.h"\nunsigned int model_bytes(void) { return EDGECXR_MODEL_DATA_LEN; }\n'
                   "const unsigned char* model_data(void) { return EDGECXR_MODEL_DATA; }\n")
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99", *WARN]
    subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(header_dir / f"{NAME}_model.c"), "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    subprocess.run(["arm-none-eabi-gcc", *flags, "-I", str(header_dir), "-c", str(src), "-o", str(tmp_path / "u.o")],
                   check=True, capture_output=True, text=True)
    sections = subprocess.run(["arm-none-eabi-readelf", "-S", "-W", str(obj)], check=True, capture_output=True,
                              text=True).stdout
    rodata = next(ln for ln in sections.splitlines() if ".rodata" in ln)
    assert int(rodata.split()[-1]) >= 16, rodata  # section alignment (Al column)
    symbols = subprocess.run(["arm-none-eabi-nm", "-S", str(obj)], check=True, capture_output=True, text=True).stdout
    size = next(int(ln.split()[1], 16) for ln in symbols.splitlines() if ln.endswith(f" {NAME}_model"))
    assert size == (header_dir.parent / "tflite" / "model.tflite").stat().st_size


def test_a_name_that_is_not_a_c_identifier_is_sanitized_and_compiles(export_run, tmp_path):
    out = tmp_path / "c"
    result = CliRunner().invoke(app, ["export", str(export_run.path), "--format", "c-header", "--name", "9 lives-cxr!",
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads(result.stdout)
    assert doc["name"] == "m_9_lives_cxr" and doc["sanitized_from"] == "9 lives-cxr!"
    assert sorted(p.name for p in out.iterdir()) == [".edgecxr", "edgecxr_ops.h", "edgecxr_preprocess.h",
                                                     "m_9_lives_cxr_model.c", "m_9_lives_cxr_model.h", "model_settings.h"]
    subprocess.run(["gcc", "-std=c99", "-pedantic", *WARN, "-c", str(out / "m_9_lives_cxr_model.c"), "-o",
                    str(tmp_path / "m.o")], check=True, capture_output=True, text=True)

"""The C preprocessing shipped with the header equals edgecxr.device.preprocess bit for bit."""

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageOps

from edgecxr.device.preprocess import to_int8
from edgecxr.export.folder import template

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "edgecxr_preprocess.h"
int main(int argc, char **argv) {
  uint32_t n;
  if (argc != 4) return 2;
  n = (uint32_t)atoi(argv[1]);
  float scale = (float)atof(argv[2]);
  int zp = atoi(argv[3]);
  uint8_t *px = malloc(n);
  int8_t *q = malloc(n);
  if (fread(px, 1, n, stdin) != n) return 1;
  edgecxr_equalize(px, n);
  edgecxr_quantize(px, q, n, scale, zp);
  fwrite(px, 1, n, stdout);
  fwrite(q, 1, n, stdout);
  return 0;
}
"""


@pytest.fixture(scope="module")
def c_program(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    folder = tmp_path_factory.mktemp("cprep")
    shutil.copy(template("c/edgecxr_preprocess.h"), folder)
    (folder / "main.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-o", str(folder / "prep"),
                    str(folder / "main.c"), "-lm"], check=True, cwd=folder)
    return folder / "prep"


def _images():
    rng = np.random.default_rng(0)
    yield rng.integers(0, 256, (96, 96), np.uint8)  # every value
    yield (rng.normal(90, 20, (96, 96)).clip(0, 255)).astype(np.uint8)  # a dim, narrow exposure
    yield np.full((96, 96), 77, np.uint8)  # one value: equalize leaves it alone
    yield np.where(rng.random((32, 32)) < 0.999, 10, 200).astype(np.uint8)  # step rounds to 0
    yield np.tile(np.arange(256, dtype=np.uint8), (8, 1))


@pytest.mark.parametrize("scale,zero_point", [(1 / 255, -128), (0.0041, -120), (0.02, 3)])
def test_c_equalize_and_quantize_match_python(c_program, scale, zero_point):
    for img in _images():
        out = subprocess.run([str(c_program), str(img.size), repr(np.float32(scale).item()), str(zero_point)],
                             input=img.tobytes(), capture_output=True, check=True).stdout
        equalized = np.asarray(ImageOps.equalize(Image.fromarray(img, "L")))
        assert out[: img.size] == equalized.tobytes()
        expected = to_int8(equalized, np.float32(scale).item(), zero_point)
        assert np.frombuffer(out[img.size:], np.int8).tobytes() == expected.tobytes()

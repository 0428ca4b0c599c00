"""The bundle (manifest checksums, .tar.gz) and its Arduino library."""

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.device.preprocess import preprocess_file, to_int8
from edgecxr.device.spec import ModelSpec
from edgecxr.export.bundle import verify_bundle
from edgecxr.files import sha256_file
from edgecxr.tflite_facts import io_quant


def test_manifest_lists_every_file_with_its_sha256(exported_bundle, export_run):
    manifest = json.loads((exported_bundle / "manifest.json").read_text())
    on_disk = {str(p.relative_to(exported_bundle)) for p in exported_bundle.rglob("*")
               if p.is_file() and p.name not in ("manifest.json", ".edgecxr")}  # the marker: edgecxr's own bookkeeping
    assert set(manifest["files"]) == on_disk
    assert all(sha256_file(exported_bundle / rel) == info["sha256"] for rel, info in manifest["files"].items())
    assert verify_bundle(exported_bundle) == []
    assert {"tflite", "c-header", "arduino", "rpi"} <= {p.name for p in exported_bundle.iterdir()}
    assert manifest["model"]["kind"] == "ptq_int8" and manifest["labels"] == ["NORMAL", "PNEUMONIA"]
    assert manifest["versions"]["edgecxr"] and manifest["versions"]["tensorflow"]
    assert manifest["metrics"]["val_metrics.json"]["metrics"] == json.loads(export_run.file("val_metrics.json").read_text())
    assert set(manifest["metrics"]["val_metrics.json"]["metrics"]) >= {"accuracy", "roc_auc"}
    assert "not a medical device" in manifest["disclaimer"]


def test_tampering_is_caught(exported_bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(exported_bundle, copy)
    (copy / "rpi" / "model.tflite").write_bytes(b"TFL3 not really")
    assert verify_bundle(copy) == ["rpi/model.tflite"]


def test_archive_holds_the_folder(exported_bundle, tmp_path):
    archive = exported_bundle.with_name("bundle.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path, filter="data")
    assert all(n == "bundle" or n.startswith("bundle/") for n in names)
    unpacked = tmp_path / "bundle"
    for p in exported_bundle.rglob("*"):
        if p.is_file():
            assert (unpacked / p.relative_to(exported_bundle)).read_bytes() == p.read_bytes()
    assert verify_bundle(unpacked) == []


def test_default_output_lands_in_the_run_and_its_manifest(export_run, tmp_path):
    run_copy = tmp_path / "tiny-run"
    shutil.copytree(export_run.path, run_copy)
    result = CliRunner().invoke(app, ["export", str(run_copy), "--format", "rpi", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert Path(doc["out"]) == run_copy / "export" / "rpi"
    manifest = json.loads((run_copy / "manifest.json").read_text())
    assert manifest["stages"]["export"]["format"] == "rpi"
    assert "export/rpi/model.tflite" in manifest["files"]


def test_arduino_library_is_complete_and_consistent(exported_bundle, export_run, tmp_path):
    lib = exported_bundle / "arduino" / "edgecxr_tiny_run"
    props = dict(line.split("=", 1) for line in (lib / "library.properties").read_text().splitlines())
    assert props["name"] == "edgecxr_tiny_run" and props["includes"] == "edgecxr_app.h"
    sketch_dir = lib / "examples" / "tiny_run_classify"
    sketch = (sketch_dir / "tiny_run_classify.ino").read_text()
    assert not (lib / "src" / "edgecxr_ops.h").exists() and "TensorFlowLite" not in sketch  # plain C, no TFLM
    assert "edgecxr_app_setup()" in sketch and "edgecxr_app_step()" in sketch
    assert "void setup()" in sketch and "void loop()" in sketch and "${" not in sketch
    # the same main loop and generated files as the bare-metal firmware: only the board hooks differ
    firmware = exported_bundle / "firmware"
    for name in ("edgecxr_app_engine.c", "edgecxr_report.c", "edgecxr_report.h"):
        assert (lib / "src" / name).read_text() == (firmware / "app" / name).read_text(), name
    for generated in ("model_settings.h", "edgecxr_preprocess.h", "engine/edgecxr_model.c", "engine/edgecxr_ops.h"):
        assert (lib / "src" / generated).read_text() == (firmware / "generated" / generated).read_text(), generated
    assert (sketch_dir / "test_image.h").read_text() == (firmware / "generated" / "test_image.h").read_text()
    settings = (lib / "src" / "model_settings.h").read_text()
    assert (exported_bundle / "c-header" / "model_settings.h").read_text() == settings

    # the compiled-in test image is the real preprocessed image, int8-quantized with the model's params
    spec = ModelSpec.load(exported_bundle / "tflite" / "spec.json")
    q = io_quant(exported_bundle / "tflite" / "model.tflite")[0]  # the model file's own
    from edgecxr.export.source import choose_test_image, load_source, reference

    ref = reference(load_source(export_run), choose_test_image(load_source(export_run)))  # the run's first val image
    header = (sketch_dir / "test_image.h").read_text()
    assert f"The test image {ref.image.name}," in header
    values = np.array([int(v) for v in re.search(r"= \{(.*?)\};", header, re.DOTALL).group(1).replace(",", " ").split()])
    np.testing.assert_array_equal(values, to_int8(preprocess_file(ref.image, spec), q["scale"], q["zero_point"]).ravel())
    assert f'EXPECTED_LABEL "{ref.label}"' in header

    # the board hooks compile as C++ against the generated headers (the whole library: test_firmware.py)
    (tmp_path / "Arduino.h").write_text("#pragma once\n#include <stdint.h>\nstruct S { void println(const char*); "
                                        "void print(const char*); };\nextern S Serial;\nuint32_t micros();\n"
                                        "void delay(uint32_t);\n#define LED_BUILTIN 13\n#define OUTPUT 1\n#define HIGH 1\n#define LOW 0\n"
                                        "void pinMode(int, int);\nvoid digitalWrite(int, int);\n")
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-c", str(sketch_dir / "board_arduino.cpp"),
                    "-I", str(lib / "src"), "-I", str(tmp_path), "-o", str(tmp_path / "b.o")], check=True,
                   capture_output=True, text=True)
    readme = (lib / "README.md").read_text()
    assert "arduino-cli compile --fqbn arduino:mbed_nano:nano33ble" in readme and "${" not in readme

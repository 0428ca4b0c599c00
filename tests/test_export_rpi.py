"""The exported Raspberry Pi folder, run here as a device would run it: same int8 outputs,
bit for bit, as edgecxr's own evaluation path; its self-test and checksums hold."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgecxr.device import runtime as device_runtime
from edgecxr.device.preprocess import preprocess_file
from edgecxr.device.runtime import installed
from edgecxr.device.spec import ModelSpec
from edgecxr.runtimes import TFLiteModel

RUNTIMES = [r for r in ("litert", "tflite-runtime") if installed(r)]


@pytest.fixture(scope="module")
def rpi(exported_bundle) -> Path:
    return exported_bundle / "rpi"


def run_folder(rpi: Path, images: list[Path], runtime: str) -> list[dict]:
    """classify.py from the exported folder, in a fresh process started inside that folder."""
    proc = subprocess.run([sys.executable, "classify.py", "--model", "model.tflite", "--spec", "spec.json",
                           "--runtime", runtime, *map(str, images)], check=False, cwd=rpi, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def assert_same_int8_outputs(rpi: Path, images: list[Path], runtime: str):
    spec = ModelSpec.load(rpi / "spec.json")
    reference = TFLiteModel(rpi / "model.tflite", runtime=runtime)
    q = reference.output_quant  # the model file's own
    expected = reference.raw(np.stack([preprocess_file(p, spec) for p in images]))
    lines = run_folder(rpi, images, runtime)
    assert [Path(d["file"]).name for d in lines] == [p.name for p in images]
    got = np.array([[round(s / q["scale"]) + q["zero_point"] for s in d["scores"]] for d in lines])
    np.testing.assert_array_equal(got, expected.astype(int))
    assert all(d["latency_ms"] > 0 for d in lines)


def odd_images(folder: Path) -> list[Path]:
    """Synthetic images in the modes users bring: 16-bit, RGBA, palette, large RGB JPEG."""
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "gray16.png": Image.fromarray((rng.random((300, 260)) * 65535).astype(np.uint16)),
        "rgba.png": Image.fromarray(rng.integers(0, 256, (120, 140, 4), dtype=np.uint8), "RGBA"),
        "palette.png": Image.fromarray(rng.integers(0, 256, (90, 90), dtype=np.uint8)).convert("P"),
        "big.jpg": Image.fromarray(rng.integers(0, 256, (700, 640, 3), dtype=np.uint8)),
    }
    for name, img in made.items():
        img.save(folder / name)
    return [folder / n for n in made]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runner_matches_evaluation_on_synthetic_images(rpi, synth_binary, tmp_path, runtime):
    images = sorted(synth_binary.rglob("*.png"))[:6] + odd_images(tmp_path / "odd")
    assert_same_int8_outputs(rpi, images, runtime)


@pytest.mark.realdata
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runner_matches_evaluation_on_real_chest_xrays(rpi, shared_data, runtime):
    kermany = sorted((shared_data / "kermany224" / "val").rglob("*.jpeg"))
    covid = sorted(p for p in (shared_data / "covid3" / "train").rglob("*") if p.is_file())
    images = kermany[:4] + kermany[-4:] + covid[:3] + covid[-3:]
    assert len(images) >= 8
    assert_same_int8_outputs(rpi, images, runtime)


def test_self_test_and_checksums_pass_in_the_exported_folder(rpi):
    proc = subprocess.run([sys.executable, "selftest.py"], check=False, cwd=rpi, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["bit_exact"] and report["checksums_bad"] == []
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], check=False, cwd=rpi, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout


def test_self_test_catches_a_changed_file(rpi, tmp_path):
    import shutil

    copy = tmp_path / "rpi"
    shutil.copytree(rpi, copy)
    (copy / "labels.txt").write_text("tampered\n")
    proc = subprocess.run([sys.executable, "selftest.py"], check=False, cwd=copy, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["checksums_bad"] == ["labels.txt"]


def test_folder_is_self_contained(rpi):
    names = {str(p.relative_to(rpi)) for p in rpi.rglob("*") if p.is_file()}
    assert {"classify.py", "model.tflite", "spec.json", "labels.txt", "requirements.txt",
            "install.sh", "selftest.py", "edgecxr-classify.service.in", "SHA256SUMS", "selftest/expected.json"} <= names
    import edgecxr.device

    package = Path(edgecxr.device.__file__).parent  # shipped whole, byte for byte, no caches
    assert {n for n in names if n.startswith("edgecxr_device/")} == {f"edgecxr_device/{p.name}"
                                                                     for p in package.glob("*.py")}
    assert all((rpi / "edgecxr_device" / p.name).read_bytes() == p.read_bytes() for p in package.glob("*.py"))
    assert "ai-edge-litert" in (rpi / "requirements.txt").read_text()
    assert (rpi / "install.sh").stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(rpi / "install.sh")], check=True)
    unit = (rpi / "edgecxr-classify.service.in").read_text()
    assert "--watch @DIR@/incoming" in unit and "[Install]" in unit


# -- kernel families and the self-test that can fail -------------------------------------------------
def test_runner_takes_the_runtime_chain_from_the_shipped_device_package(rpi):
    """One chain: the runner defines no runtime or kernel table of its own; it uses the copy of
    edgecxr/device/runtime.py shipped beside it."""
    import importlib.util

    shipped = rpi / "edgecxr_device" / "runtime.py"
    assert shipped.read_bytes() == Path(device_runtime.__file__).read_bytes()
    spec = importlib.util.spec_from_file_location("classify_under_test", rpi / "classify.py")
    classify = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(classify)
    assert classify.Model.__module__ == "edgecxr_device.runtime"
    assert classify.KERNELS is sys.modules["edgecxr_device.runtime"].KERNELS
    assert list(classify.KERNELS) == list(device_runtime.KERNELS)
    assert classify.DEFAULT_KERNELS == device_runtime.DEFAULT_KERNELS


@pytest.mark.parametrize("kernels", ["reference", "builtin", "xnnpack"])
def test_runner_gives_each_familys_bytes_and_says_which(rpi, synth_binary, kernels):
    images = sorted(synth_binary.rglob("*.png"))[:4]
    spec = ModelSpec.load(rpi / "spec.json")
    want = TFLiteModel(rpi / "model.tflite", runtime="litert", kernels=kernels).raw(
        np.stack([preprocess_file(p, spec) for p in images]))
    proc = subprocess.run([sys.executable, "classify.py", "--model", "model.tflite", "--spec", "spec.json",
                           "--runtime", "litert", "--kernels", kernels, *map(str, images)], check=True, cwd=rpi,
                          capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["kernels"] for d in lines] == [kernels] * len(images)
    np.testing.assert_array_equal(np.array([d["raw"] for d in lines]), want)


def test_self_test_images_are_near_the_threshold_with_bytes_per_family(rpi):
    doc = json.loads((rpi / "selftest" / "expected.json").read_text())
    assert doc["default_kernels"] == "reference" and set(doc["kernels"]) == {"reference", "builtin", "xnnpack"}
    assert len(doc["images"]) >= 2
    for row in doc["images"]:
        assert (rpi / "selftest" / row["image"]).is_file()
        assert set(row["raw"]) == set(doc["kernels"]) and not row["saturated"]
        assert row["raw"]["reference"] not in ([127, -128], [-128, 127])


def test_self_test_fails_when_one_byte_differs(rpi, tmp_path):
    import shutil

    from edgecxr.export.rpi import SUMS, sha256sums

    copy = tmp_path / "rpi"
    shutil.copytree(rpi, copy)
    path = copy / "selftest" / "expected.json"
    doc = json.loads(path.read_text())
    doc["images"][-1]["raw"]["reference"][0] += 1  # what a runtime one step off would give
    path.write_text(json.dumps(doc))
    (copy / SUMS).write_text(sha256sums(copy))  # the files are intact: only the bytes disagree
    proc = subprocess.run([sys.executable, "selftest.py"], check=False, cwd=copy, capture_output=True, text=True,
                          timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and not report["ok"] and report["checksums_bad"] == []
    assert report["images_differ"] == 1 and report["max_step_difference"] == 1 and not report["bit_exact"]


def test_runner_refuses_a_spec_without_a_key_edgecxr_always_writes(tmp_path):
    """A spec.json without its labels (or input size) is one error and one hint, not a guess."""
    import shutil

    from edgecxr.export.folder import template
    from edgecxr.resources import ship_device_package

    shutil.copyfile(template("rpi/classify.py"), tmp_path / "classify.py")
    ship_device_package(tmp_path)
    spec = {"width": 32, "height": 32, "channels": 1, "resize_mode": "squash", "normalize": "none",
            "task": "binary", "output": "softmax", "threshold": 0.5}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, "classify.py", "--model", "model.tflite", "--spec", "spec.json", "x.png"],
                          check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["error: the spec has no labels",
                                        "hint: use the spec.json that `edgecxr train` wrote for this model (or its export)"]

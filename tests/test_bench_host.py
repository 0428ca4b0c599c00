"""Host bench: every installed runtime side by side, through the Raspberry Pi runner."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edgecxr.bench import runner
from edgecxr.bench.host import BenchOptions, bench_host
from edgecxr.cli import app
from edgecxr.device.exits import EXIT_NO_RUNTIME
from edgecxr.device.runtime import RUNTIMES, installed
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import ModelError


def test_each_installed_runtime_float_and_int8(tiny_int8_tflite):
    folder = tiny_int8_tflite.parent  # holds the float and the int8 tiny model
    names = [n for n in RUNTIMES if installed(n)]
    assert "litert" in names
    out = bench_host(folder, BenchOptions(runs=20, warmup=2, threads=[1]))
    rows = out.results
    assert {(r["model"], r["runtime"]) for r in rows} == {(m, n) for m in ("tiny_float.tflite", "tiny_int8.tflite")
                                                          for n in names}
    for r in rows:
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"]
        assert r["images_per_s"] > 0 and r["peak_rss_mb"] > 10 and r["threads"] == 1
        assert r["input_dtype"] == ("int8" if "int8" in r["model"] else "float32")
    assert out.machine["cores"] >= 1 and out.machine["cpu"]


def test_real_images_and_all_threads_through_the_cli(tiny_int8_tflite, synth_binary):
    result = CliRunner().invoke(app, ["bench", str(tiny_int8_tflite), "--runtime", "litert", "--runs", "10",
                                      "--warmup", "1", "--data", str(synth_binary), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert rows[0]["inputs"].startswith("10 images from") and rows[0]["threads"] == 1
    assert rows[-1]["threads"] >= 1  # 1 and all cores (the same on a 1-core machine)


def test_each_kernel_family_is_a_row_that_names_it(tiny_int8_tflite, synth_binary):
    result = CliRunner().invoke(app, ["bench", str(tiny_int8_tflite), "--runtime", "litert", "--runs", "4",
                                      "--warmup", "0", "--threads", "1", "--kernels", "reference", "--kernels",
                                      "xnnpack", "--data", str(synth_binary), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["kernels"] for r in rows] == ["reference", "xnnpack"]
    assert all("outputs" not in r for r in rows)  # timings only; the emulated bench compares outputs


def test_runner_classifies_images(tiny_int8_tflite, synth_binary, tmp_path):
    script, _ = runner.stage(tmp_path / "rpi")
    spec = tmp_path / "spec.json"
    ModelSpec(width=32, height=32, labels=["NORMAL", "PNEUMONIA"], task="binary").save(spec)
    images = sorted(synth_binary.rglob("*.png"))[:2]
    proc = subprocess.run([sys.executable, str(script), "--model", str(tiny_int8_tflite), "--spec", str(spec),
                           *map(str, images)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(ln) for ln in proc.stdout.splitlines()]
    assert [ln["file"] for ln in lines] == list(map(str, images))
    assert all(ln["label"] in ("NORMAL", "PNEUMONIA") and len(ln["scores"]) == 2 for ln in lines)
    assert all(abs(sum(ln["scores"]) - 1) < 0.02 for ln in lines)


def test_not_a_tflite(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_text("hello")
    result = CliRunner().invoke(app, ["bench", str(bad)])
    assert result.exit_code == 2 and "not a TFLite model" in result.output


def test_runtime_not_installed_or_unknown(tiny_int8_tflite):
    missing = [n for n in RUNTIMES if not installed(n)]
    for name in missing:
        with pytest.raises(ModelError, match="not installed") as e:
            bench_host(tiny_int8_tflite, BenchOptions(runtimes=[name]))
        assert "pip install" in e.value.hint
    result = CliRunner().invoke(app, ["bench", str(tiny_int8_tflite), "--runtime", "onnx"])
    assert result.exit_code == 2 and "unknown runtime 'onnx'" in result.output


def test_runner_without_runtime_exits_3(tiny_int8_tflite, python_without_runtimes, tmp_path):
    script, _ = runner.stage(tmp_path / "rpi")
    proc = subprocess.run([str(python_without_runtimes), str(script), "--model", str(tiny_int8_tflite),
                           "--bench", "3"], capture_output=True, text=True)
    assert proc.returncode == EXIT_NO_RUNTIME
    assert "no TFLite runtime" in proc.stderr and "pip install ai-edge-litert" in proc.stderr

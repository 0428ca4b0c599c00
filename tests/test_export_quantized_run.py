"""Export of a run made by the real `edgecxr quantize` and `edgecxr evaluate` stages: QAT is
picked by default, and the bundle carries that model's evaluation figures."""

import json

import numpy as np
import pytest

from edgecxr.export import export
from edgecxr.preprocess import preprocess_file
from edgecxr.runtimes import TFLiteModel
from tests.fixtures_quantize import copy_run


@pytest.mark.slow
def test_bundle_of_a_quantized_and_evaluated_run(quantized_run, tmp_path):
    from edgecxr.evaluate.stage import evaluate

    run = copy_run(quantized_run[0], tmp_path / "tiny")
    evaluate(run, split="val")
    summary = export(run.path, "bundle")
    assert summary["model"] == "qat"
    bundle = run.path / "export" / "bundle"
    assert (bundle / "tflite" / "model.tflite").read_bytes() == run.file("model_qat_int8.tflite").read_bytes()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model"]["kind"] == "qat_int8"
    (source, figures), = manifest["metrics"].items()
    assert source.startswith("eval/") and figures["model"] == "qat_int8"
    eval_doc = json.loads((run.path / source).read_text())
    assert figures["metrics"] == eval_doc["models"]["qat_int8"]["metrics"]
    # the self-test expectations are the evaluation path's own outputs for the bundled images, per kernel family
    expected = json.loads((bundle / "rpi" / "selftest" / "expected.json").read_text())
    from edgecxr.preprocess import PreprocessSpec

    spec = PreprocessSpec.load(bundle / "rpi" / "spec.json")
    for row in expected["images"]:
        pixels = preprocess_file(bundle / "rpi" / "selftest" / row["image"], spec)[None]
        for kernels in ("reference", "xnnpack"):
            raw = TFLiteModel(run.file("model_qat_int8.tflite"), kernels=kernels).raw(pixels)[0]
            np.testing.assert_array_equal(raw, row["raw"][kernels])
    assert run.read_manifest()["stages"]["export"]["format"] == "bundle"

    ptq = export(run.path, "tflite", model="ptq", out=tmp_path / "ptq")
    assert ptq["model"] == "ptq" and ptq["source"] == "model_ptq_int8.tflite"

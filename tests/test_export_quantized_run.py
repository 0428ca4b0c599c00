"""Export of a run made by the real `edgecxr quantize` and `edgecxr evaluate` stages: the int8
model `choose_int8` picks (measured agreement with float) is shipped, and the bundle carries
that model's evaluation figures."""

import json

import numpy as np
import pytest

from edgecxr.artifacts import choose_int8
from edgecxr.device.preprocess import preprocess_file
from edgecxr.export import ExportOptions, export
from edgecxr.runtimes import TFLiteModel
from tests.fixtures_run import copy_run


@pytest.mark.slow
def test_bundle_of_a_quantized_and_evaluated_run(quantized_run, tmp_path):
    from edgecxr.evaluate.stage import EvalOptions, evaluate

    run = copy_run(quantized_run[0], tmp_path / "tiny")
    evaluate(run, EvalOptions(split="val"))
    summary = export(run, ExportOptions("bundle")).to_dict()
    chosen = choose_int8(run)
    assert summary["model"] == chosen.artifact.key and summary["model_reason"] == chosen.reason
    bundle = run.path / "export" / "bundle"
    assert (bundle / "tflite" / "model.tflite").read_bytes() == chosen.path.read_bytes()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model"]["kind"] == chosen.artifact.key
    (source, figures), = manifest["metrics"].items()
    assert source.startswith("eval/") and figures["model"] == chosen.artifact.key
    eval_doc = json.loads((run.path / source).read_text())
    assert figures["metrics"] == eval_doc["models"][chosen.artifact.key]["metrics"]
    assert eval_doc["int8_model"] == chosen.to_dict()
    # the self-test expectations are the evaluation path's own outputs for the bundled images, per kernel family
    expected = json.loads((bundle / "rpi" / "selftest" / "expected.json").read_text())
    from edgecxr.device.spec import ModelSpec

    spec = ModelSpec.load(bundle / "rpi" / "spec.json")
    for row in expected["images"]:
        pixels = preprocess_file(bundle / "rpi" / "selftest" / row["image"], spec)[None]
        for kernels in ("reference", "xnnpack"):
            raw = TFLiteModel(chosen.path, kernels=kernels).raw(pixels)[0]
            np.testing.assert_array_equal(raw, row["raw"][kernels])
    assert run.read_manifest()["stages"]["export"]["format"] == "bundle"

    ptq = export(run, ExportOptions("tflite", model="ptq", out=tmp_path / "ptq")).to_dict()
    assert ptq["model"] == "ptq_int8" and ptq["source"] == "model_ptq_int8.tflite"

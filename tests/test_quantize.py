"""`edgecxr quantize`: PTQ/QAT int8 and float .tflite files from a tiny real run."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.artifacts import file_of
from edgecxr.data.split import read_split
from edgecxr.device.preprocess import to_float
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import ModelError
from edgecxr.quantize import calibration_files, convert_float, convert_int8, stratified_quota
from edgecxr.runtimes import TFLiteModel, available
from tests.fixtures_quantize import SIZE, copy_run, file_hashes, make_run, tiny_model

pytestmark = pytest.mark.slow
runner = CliRunner()


def cli(*args):
    return runner.invoke(edgecxr.cli.app, [str(a) for a in args])


def test_ptq_model_matches_its_float_outputs_within_a_few_steps(tmp_path):
    from edgecxr.tfenv import set_seed

    set_seed(0)
    model = tiny_model()
    rng = np.random.default_rng(0)
    calibration = rng.integers(0, 256, (64, SIZE, SIZE, 1), dtype=np.uint8)
    pixels = rng.integers(0, 256, (32, SIZE, SIZE, 1), dtype=np.uint8)
    (tmp_path / "f.tflite").write_bytes(convert_float(model))
    (tmp_path / "q.tflite").write_bytes(convert_int8(model, to_float(calibration)))
    keras_probs = model.predict(to_float(pixels), verbose=0)
    float_probs = TFLiteModel(tmp_path / "f.tflite").predict(pixels)
    q = TFLiteModel(tmp_path / "q.tflite")
    assert q.is_int8 and q.input_quant == {"scale": pytest.approx(1 / 255), "zero_point": -128}
    step = q.output_quant["scale"]
    assert np.abs(float_probs - keras_probs).max() < 1e-5
    assert np.abs(q.predict(pixels) - keras_probs).max() <= 4 * step


def test_reference_kernels_give_the_same_int8_bytes_on_every_runtime(quantized_run, quant_val_pixels):
    """The reference kernels (the default, what TFLite Micro matches) do not depend on the runtime
    or its version: tflite-runtime 2.14 agrees with LiteRT and tf.lite 2.20 bit for bit."""
    run, _ = quantized_run
    pixels = np.concatenate([quant_val_pixels, np.random.default_rng(2).integers(0, 256, (16, SIZE, SIZE, 1), np.uint8)])
    for name in (file_of("ptq"), file_of("qat")):
        models = [TFLiteModel(run.file(name), runtime=rt) for rt in available()]
        assert len(models) == 3 and all(m.kernels == "reference" for m in models)
        outputs = [m.raw(pixels) for m in models]
        for m, out in zip(models[1:], outputs[1:]):
            assert np.array_equal(out, outputs[0]), f"{name}: {m.runtime} differs from {models[0].runtime}"


def test_unknown_kernel_family_is_refused(quantized_run):
    with pytest.raises(ModelError, match="unknown kernels"):
        TFLiteModel(quantized_run[0].file(file_of("ptq")), kernels="fast")


def test_quantize_records_files_quant_params_and_manifest(quantized_run, quant_base_run):
    run, result = quantized_run
    assert [a.file for a in result.artifacts] == [file_of(k) for k in ("float", "ptq", "qat")]
    # the spec is train's, untouched: each .tflite carries its own quantization
    assert run.file("spec.json").read_bytes() == quant_base_run.file("spec.json").read_bytes()
    stage = run.read_manifest()["stages"]["quantize"]
    for name in (file_of("ptq"), file_of("qat")):
        model = TFLiteModel(run.file(name))
        assert (stage["models"][name]["input"], stage["models"][name]["output"]) == \
            (model.input_quant, model.output_quant)
        assert model.input_quant["zero_point"] == -128
    assert stage["models"][file_of("float")]["input"] is None
    assert all(a.float_ops == [] for a in result.artifacts)
    assert set(stage["models"]) == {file_of(k) for k in ("float", "ptq", "qat")}
    assert all(m["bytes"] > 0 and m["seconds"] > 0 for m in stage["models"].values())
    assert stage["calibration"]["size"] == 40 and stage["qat"]["epochs"] == 1
    assert run.verify() == []


def test_calibration_is_training_only_stratified_and_seeded(quant_base_run):
    spec = ModelSpec.load(quant_base_run.file("spec.json"))
    dataset, assignment = read_split(quant_base_run.file("split.json"))
    train = {p for p, s in assignment.items() if s == "train"}
    files, per_class = calibration_files(quant_base_run, spec, 20, seed=0)
    assert set(files) <= train and len(files) == 20 == sum(per_class.values())
    counts = dataset.class_counts([s for s in dataset.samples if s.path in train])
    assert abs(per_class["NORMAL"] / 20 - counts["NORMAL"] / len(train)) <= 1 / 20
    assert calibration_files(quant_base_run, spec, 20, seed=0)[0] == files
    assert calibration_files(quant_base_run, spec, 20, seed=1)[0] != files
    assert stratified_quota({0: 90, 1: 10}, 10) == {0: 9, 1: 1}
    assert stratified_quota({0: 999, 1: 1}, 10) == {0: 9, 1: 1}  # every class is represented
    assert stratified_quota({0: 3, 1: 2}, 300) == {0: 3, 1: 2}


def test_cli_float_only_json(quant_base_run, tmp_path):
    run = copy_run(quant_base_run, tmp_path / "run")
    r = cli("quantize", run.path, "--no-int8", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [a["file"] for a in out["artifacts"]] == [file_of("float")] and out["calibration"] is None
    again = cli("quantize", run.path, "--no-int8", "--json")  # same model.keras -> same bytes, not an overwrite
    assert again.exit_code == 0 and json.loads(again.stdout)["artifacts"][0]["unchanged"] is True


def _fails_cleanly(run, args, *needles):
    before = file_hashes(run.path)
    r = cli(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and all(n in lines[0] for n in needles), r.output
    assert "Traceback" not in r.output
    assert file_hashes(run.path) == before  # nothing overwritten, nothing half-written
    return lines[0]


def test_refuses_to_overwrite_without_force(quantized_run, tmp_path):
    run = copy_run(quantized_run[0], tmp_path / "run")
    _fails_cleanly(run, ["quantize", run.path, "--int8"], file_of("ptq"), "already has")


def test_run_without_trained_model(quant_base_run, tmp_path):
    run = copy_run(quant_base_run, tmp_path / "run")
    run.file("model.keras").unlink()
    _fails_cleanly(run, ["quantize", run.path, "--int8"], "model.keras")
    _fails_cleanly(run, ["evaluate", run.path], "model.keras")


def test_empty_calibration_set(quant_base_run, tmp_path):
    run = copy_run(quant_base_run, tmp_path / "run")
    doc = json.loads(run.file("split.json").read_text())
    for item in doc["items"]:
        item["split"] = "val" if item["split"] == "train" else item["split"]
    run.file("split.json").write_text(json.dumps(doc))
    run.update_manifest("edit")  # a split edited by edgecxr's own hand (else: "changed since edgecxr wrote it")
    _fails_cleanly(run, ["quantize", run.path, "--int8"], "empty calibration set", "no training images")
    _fails_cleanly(run, ["quantize", run.path, "--int8", "--calibration-size", "0"], "--calibration-size 0")


def test_op_without_int8_kernel_is_named(synth_binary, tmp_path):
    from edgecxr.tfenv import keras, tf

    k = keras()

    @k.saving.register_keras_serializable(package="edgecxr_test")
    class Sine(k.layers.Layer):
        def call(self, x):
            return tf().math.sin(x)

    run = make_run(tmp_path, synth_binary, model=tiny_model(extra=Sine()), epochs=1)
    _fails_cleanly(run, ["quantize", run.path, "--int8"], "op SIN", "int8")
    r = cli("quantize", run.path, "--int8", "--allow-float-fallback", "--calibration-size", "8", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["artifacts"][1]["float_ops"] == ["SIN"]

"""`edgecxr train`: the run directory contract, seed repeatability, resume after an
interruption, multi-label training, and one-line errors for the bad inputs."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.config import TrainConfig
from edgecxr.data.dataset import Dataset, Sample, scan_folder
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import RunError
from edgecxr.runs import Run
from edgecxr.tomlio import load_config
from edgecxr.train import CHECKPOINTS, train
from tests.fixtures_run import TINY_RUN_CONFIG

RUN_FILES = {"model.keras", "spec.json", "config.toml", "split.json", "history.csv", "history.json", "curves.png",
             "val_metrics.json", "manifest.json"}


def invoke(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


@pytest.mark.slow
def test_run_directory_contract(trained_run):
    run = Run(trained_run)
    assert RUN_FILES <= {p.name for p in trained_run.iterdir()}
    manifest = run.read_manifest()
    assert "train" in manifest["stages"] and manifest["stages"]["train"]["epochs_run"] == TINY_RUN_CONFIG.epochs
    assert RUN_FILES - {"manifest.json"} <= set(manifest["files"])
    assert run.verify() == []
    assert load_config(TrainConfig, trained_run / "config.toml") == TINY_RUN_CONFIG

    spec = ModelSpec.load(trained_run / "spec.json")
    assert (spec.input_shape, spec.labels, spec.task, spec.output) == ((32, 32, 1), ["NORMAL", "PNEUMONIA"],
                                                                        "binary", "softmax")
    assert 0.0 <= spec.threshold <= 1.0

    split = json.loads((trained_run / "split.json").read_text())
    patients = {s: {it["patient"] for it in split["items"] if it["split"] == s} for s in ("train", "val")}
    assert patients["train"] and patients["val"] and not patients["train"] & patients["val"]

    history = json.loads((trained_run / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(1, TINY_RUN_CONFIG.epochs + 1))
    assert {"loss", "val_loss", "val_auc", "lr"} <= set(history[0])
    assert (trained_run / "history.csv").read_text().splitlines()[0].startswith("epoch,loss")

    metrics = json.loads((trained_run / "val_metrics.json").read_text())
    for key in ("accuracy", "sensitivity", "specificity", "roc_auc"):
        lo, hi = metrics[key]["ci95"]
        assert lo <= metrics[key]["value"] <= hi
    assert metrics["threshold"] == spec.threshold
    assert (trained_run / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_saved_model_takes_the_spec_input_and_gives_varied_probabilities(trained_run):
    from edgecxr.tfenv import keras

    model = keras().models.load_model(trained_run / "model.keras")
    x = np.random.default_rng(0).random((8, 32, 32, 1), dtype=np.float32)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (8, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert probs[:, 1].std() > 1e-4  # a model that says the same thing for every image is broken


@pytest.mark.slow
def test_same_seed_same_run_through_the_cli(trained_run, synth_binary, tmp_path):
    """The CLI with the fixture's settings (the edge-impulse recipe) repeats the fixture's run
    number for number."""
    config = tmp_path / "c.toml"
    config.write_text("bn_momentum = 0.5\n")
    result = invoke("train", "--recipe", "edge-impulse", "--data", synth_binary, "--size", 32, "--epochs", 3,
                    "--batch-size", 8, "--lr", 0.005, "--seed", 0, "--config", config, "--name", "again", "--runs-root", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["run_dir"] == str(tmp_path / "again") and out["epochs_run"] == 3
    assert json.loads((tmp_path / "again" / "history.json").read_text()) == \
        json.loads((trained_run / "history.json").read_text())


class _InterruptAfterFirstEpoch:
    """Raises KeyboardInterrupt (what Ctrl-C raises) once the first epoch's checkpoint is written."""

    def __new__(cls):
        from edgecxr.tfenv import keras

        class Interrupt(keras().callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                raise KeyboardInterrupt

        return Interrupt()


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint_after_an_interruption(synth_binary, tmp_path):
    config = replace(TINY_RUN_CONFIG, epochs=2, augment=False)
    with pytest.raises(RunError, match="interrupted after epoch 1") as err:
        train(config, synth_binary, runs_root=tmp_path, name="cut", progress=False,
              callbacks=[_InterruptAfterFirstEpoch()])
    assert "--resume --name cut" in err.value.hint
    state = json.loads((tmp_path / "cut" / CHECKPOINTS / "state.json").read_text())
    assert state["epoch"] == 1 and not (tmp_path / "cut" / "model.keras").exists()

    result = train(TrainConfig(), None, runs_root=tmp_path, name="cut", resume=True, progress=False)
    assert result.resumed_from == 1 and result.epochs_run == 2
    history = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[0] == state["history"][0]  # epoch 1 is the one trained before the interruption
    assert Run(tmp_path / "cut").read_manifest()["stages"]["train"]["resumed_from"] == 1


@pytest.mark.slow
def test_multilabel_training_reports_per_finding_auc(synth_binary, tmp_path):
    """A multi-label set (findings may co-occur or be absent) -> sigmoid per finding."""
    base = scan_folder(synth_binary)
    findings = ["Effusion", "Infiltration", "Nodule"]
    samples = []
    for i, s in enumerate(base.samples):
        sick = s.labels == (1,)
        labels = ((1, 2) if i % 3 else (1,)) if sick else ((0,) if i % 2 else ())
        samples.append(Sample(s.path, labels, s.patient, s.split))
    dataset = Dataset(root=base.root, classes=findings, samples=samples, multilabel=True)
    old_run = Run.create("ml", root=tmp_path).path  # --force replaces an old run wholesale, later stages' files included
    (old_run / "config.toml").write_text("epochs = 1\n")
    (old_run / "model_ptq_int8.tflite").write_bytes(b"stale")
    config = replace(TINY_RUN_CONFIG, epochs=1)
    result = train(config, dataset, runs_root=tmp_path, name="ml", force=True, progress=False)
    assert not (old_run / "model_ptq_int8.tflite").exists()
    assert result.task == "multilabel"
    assert set(result.val_metrics["per_class"]) == set(findings)
    spec = ModelSpec.load(tmp_path / "ml" / "spec.json")
    assert (spec.task, spec.output, spec.threshold) == ("multilabel", "sigmoid", None)
    from edgecxr.tfenv import keras

    assert keras().models.load_model(tmp_path / "ml" / "model.keras").output_shape == (None, 3)


# ---------------------------------------------------------------------------------------------
# bad input: one line, non-zero exit, nothing written
# ---------------------------------------------------------------------------------------------
def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, result.output
    for fragment in fragments:
        assert fragment in error[0]
    assert "Traceback" not in result.output


def test_unknown_model_suggests_the_nearest(synth_binary, tmp_path):
    result = invoke("train", "--data", synth_binary, "--model", "mobilenetv1", "--runs-root", tmp_path)
    _one_line_error(result, "unknown model 'mobilenetv1'", "did you mean 'mobilenet_v1'?")
    assert not any(tmp_path.iterdir())


def test_input_size_the_model_cannot_take(synth_binary, tmp_path):
    result = invoke("train", "--data", synth_binary, "--size", 16, "--runs-root", tmp_path)
    _one_line_error(result, "mobilenet_v1 cannot take 16x16")


def test_one_class_dataset(tmp_path):
    from edgecxr.data.synth import make_dataset

    data = make_dataset(tmp_path / "one", per_class=4, size=32, classes={"NORMAL": 0})
    result = invoke("train", "--data", data, "--runs-root", tmp_path / "runs")
    _one_line_error(result, "only one class")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_existing_run_name_is_not_overwritten(trained_run, synth_binary):
    before = (trained_run / "model.keras").stat().st_mtime_ns
    result = invoke("train", "--data", synth_binary, "--size", 32, "--name", trained_run.name,
                    "--runs-root", trained_run.parent)
    _one_line_error(result, "already exists")
    assert (trained_run / "model.keras").stat().st_mtime_ns == before


@pytest.mark.slow
def test_unreadable_starting_weights_cost_nothing(trained_run, synth_binary, tmp_path):
    """The weights are read before the run folder is made: a bad file neither leaves a half run
    behind nor costs the run that --force would have replaced."""
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a keras file")
    copy = tmp_path / "runs" / "kept"
    shutil.copytree(trained_run, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    result = invoke("train", "--data", synth_binary, "--size", 32, "--epochs", 1, "--weights", bad,
                    "--name", "kept", "--runs-root", copy.parent, "--force")
    _one_line_error(result, "broken.keras")
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == before
    result = invoke("train", "--data", synth_binary, "--size", 32, "--epochs", 1, "--weights", bad,
                    "--name", "fresh", "--runs-root", copy.parent)
    _one_line_error(result, "broken.keras")
    assert not (copy.parent / "fresh").exists()


def test_force_does_not_delete_a_folder_that_is_not_a_run(synth_binary, tmp_path):
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "letter.txt").write_text("keep me")
    result = invoke("train", "--data", synth_binary, "--size", 32, "--name", "documents", "--runs-root", tmp_path,
                    "--force")
    _one_line_error(result, "(it is not a run); --force will not replace it")
    assert (tmp_path / "documents" / "letter.txt").exists()


def test_resume_of_a_run_without_checkpoint(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    _one_line_error(invoke("train", "--resume", "--name", "empty", "--runs-root", tmp_path), "has no checkpoint")
    _one_line_error(invoke("train", "--resume", "--name", "nowhere", "--runs-root", tmp_path), "not found")
    _one_line_error(invoke("train", "--resume", "--runs-root", tmp_path), "--resume needs the --name")


def test_no_data_given(tmp_path):
    _one_line_error(invoke("train", "--runs-root", tmp_path), "no data given")


def test_models_command_lists_the_table_as_json():
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["models"]}
    assert rows["huynh_cnn4"]["params"] == 3_666_817
    assert rows["mobilenet_v1"]["input"] == "96x96x1" and rows["mobilenet_v1"]["foldable"] is True
    assert rows["huynh_cnn5"]["foldable"] is False and rows["huynh_cnn5_foldable"]["foldable"] is True
    assert all(r["macs"] > 0 and r["int8_kb"] > 0 for r in rows.values())


"""Knowledge distillation (`edgecxr train --teacher RUN`): the loss, a student trained from a
tiny teacher run at another input size, and one-line errors for teachers that do not match."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.device.spec import ModelSpec
from edgecxr.train.distill import distill_loss


def invoke(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def _loss(activation, alpha, temperature, hard, teacher, student):
    from edgecxr.tfenv import tf

    units = np.asarray(hard).shape[1]
    y = tf().constant(np.concatenate([hard, teacher], axis=1), tf().float32)
    return float(distill_loss(activation, units, alpha, temperature)(y, tf().constant(student, tf().float32)))


@pytest.mark.parametrize("activation,hard,student,teacher", [
    ("softmax", [[0.0, 1.0]], [[0.3, 0.7]], [[0.1, 0.9]]),
    ("sigmoid", [[1.0]], [[0.7]], [[0.9]]),
])
def test_loss_is_hard_at_alpha_1_and_soft_kl_at_alpha_0(activation, hard, student, teacher):
    ce = -np.log(0.7)
    assert _loss(activation, 1.0, 2.0, hard, teacher, student) == pytest.approx(ce, rel=1e-4)
    assert _loss(activation, 0.0, 2.0, hard, student, student) == pytest.approx(0.0, abs=1e-5)
    soft = _loss(activation, 0.0, 2.0, hard, teacher, student)
    assert soft > 0.0
    # T^2 KL at T=1 for two outcomes: KL(teacher || student)
    kl = 0.1 * np.log(0.1 / 0.3) + 0.9 * np.log(0.9 / 0.7)
    assert _loss(activation, 0.0, 1.0, hard, teacher, student) == pytest.approx(kl, rel=1e-3)
    assert _loss(activation, 0.5, 1.0, hard, teacher, student) == pytest.approx(0.5 * ce + 0.5 * kl, rel=1e-3)


@pytest.mark.slow
def test_student_learns_from_a_teacher_with_another_input_size(trained_run, synth_binary, tmp_path):
    teacher = ModelSpec.load(trained_run / "spec.json")
    result = invoke("train", "--recipe", "edge-impulse", "--data", synth_binary, "--teacher", trained_run,
                    "--distill-alpha", 0.3, "--distill-temperature", 3, "--size", 48, "--epochs", 1,
                    "--batch-size", 8, "--name", "student", "--runs-root", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["input_shape"] == [48, 48, 1] and teacher.input_shape == (32, 32, 1)
    config = (tmp_path / "student" / "config.toml").read_text()
    assert f'teacher = "{trained_run}"' in config and "distill_alpha = 0.3" in config
    history = json.loads((tmp_path / "student" / "history.json").read_text())
    assert np.isfinite(history[0]["loss"]) and 0.0 <= history[0]["val_auc"] <= 1.0
    spec = ModelSpec.load(tmp_path / "student" / "spec.json")
    assert spec.labels == teacher.labels and spec.output == "softmax"


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = next(li for li in result.output.splitlines() if li.startswith("error: "))
    for fragment in fragments:
        assert fragment in line


@pytest.mark.parametrize("recipe,data,fragments", [
    ("edge-impulse", "synth_multiclass", ["has labels ['NORMAL', 'PNEUMONIA']", "the student ['Covid'"]),
    ("cxr", "synth_binary", ["has normalize 'none', the student 'equalize'"]),
])
def test_teacher_that_does_not_match_is_refused_before_anything_is_written(trained_run, request, tmp_path,
                                                                             recipe, data, fragments):
    result = invoke("train", "--recipe", recipe, "--data", request.getfixturevalue(data), "--teacher", trained_run,
                    "--size", 32, "--epochs", 1, "--runs-root", tmp_path / "runs")
    _one_line_error(result, *fragments)
    assert not (tmp_path / "runs").exists()


def test_teacher_that_is_not_a_run(synth_binary, tmp_path):
    result = invoke("train", "--data", synth_binary, "--teacher", tmp_path, "--runs-root", tmp_path / "runs")
    _one_line_error(result, f"teacher {tmp_path} is not a trained run")
    assert not (tmp_path / "runs").exists()


def test_an_ensemble_teacher_averages_its_members(trained_run, synth_binary, tmp_path):
    from edgecxr.data.dataset import scan_folder
    from edgecxr.train import distill

    paths = [s.path for s in scan_folder(synth_binary).samples[:6]]
    one = distill.load_teacher(trained_run).targets(paths, 2, "softmax")
    both = distill.load_teacher(f"{trained_run}, {trained_run}")
    assert len(both.members) == 2 and np.allclose(both.targets(paths, 2, "softmax"), one)
    # every member is checked: a second name that is not a run is one error, nothing written
    result = invoke("train", "--recipe", "edge-impulse", "--data", synth_binary, "--teacher",
                    f"{trained_run},{tmp_path}", "--runs-root",
                    tmp_path / "runs")
    _one_line_error(result, f"teacher {tmp_path} is not a trained run")
    assert not (tmp_path / "runs").exists()

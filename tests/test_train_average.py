"""Weight averaging (config average_fraction): the kept model is the mean of the last epochs'
weights, with batch-norm statistics re-estimated for those weights."""

import json
from dataclasses import replace

import numpy as np
import pytest

from edgecxr.config import TrainConfig
from edgecxr.errors import ConfigError, RunError
from edgecxr.runs import Run
from edgecxr.train import train
from edgecxr.train.callbacks import averaged_epochs
from tests.fixtures_run import TINY_CONFIG, model_row


def _epoch_weights():
    """A Keras callback that keeps every epoch's weights (made lazily: Keras loads TF)."""
    from edgecxr.tfenv import keras

    class Keep(keras().callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append({v.name: v.numpy() for v in self.model.weights})

    return Keep()


def test_the_kept_model_is_the_mean_of_the_last_epochs(synth_binary, tmp_path):
    config = replace(TINY_CONFIG, epochs=4, average_fraction=0.5)
    keep = _epoch_weights()
    with model_row():
        result = train(config, synth_binary, runs_root=tmp_path, name="avg", progress=False, callbacks=[keep])
    assert result.val_metrics["averaged_epochs"] == [3, 4]
    model = Run.open(result.run_dir).keras_model()
    saved = {v.name: v.numpy() for v in model.weights}
    trainable = {v.name for v in model.trainable_weights}
    moving = [n for n in saved if "moving_mean" in n or "moving_variance" in n]
    assert trainable and moving
    for name in trainable:
        np.testing.assert_allclose(saved[name], (keep.weights[2][name] + keep.weights[3][name]) / 2, rtol=1e-5,
                                   atol=1e-6)
    # batch-norm statistics re-estimated for the averaged weights: neither epoch's, nor their mean
    last, mean = keep.weights[3], {n: (keep.weights[2][n] + keep.weights[3][n]) / 2 for n in moving}
    assert any(not np.allclose(saved[n], last[n]) and not np.allclose(saved[n], mean[n]) for n in moving)
    assert all(np.isfinite(saved[n]).all() for n in moving)
    assert all((saved[n] >= 0).all() for n in moving if "moving_variance" in n)


def test_without_averaging_the_best_epoch_is_kept(trained_run):
    assert "averaged_epochs" not in json.loads((trained_run / "val_metrics.json").read_text())
    with np.load(trained_run / "checkpoints" / "best_weights.npz") as f:
        best = [f[f"w{i}"] for i in range(len(f.files))]
    saved = Run.open(trained_run).keras_model().get_weights()
    assert len(saved) == len(best) and all(np.array_equal(a, b) for a, b in zip(saved, best))


def _interrupt_after(epochs: int):
    from edgecxr.tfenv import keras

    class Interrupt(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == epochs:
                raise KeyboardInterrupt

    return Interrupt()


def test_a_run_interrupted_inside_the_averaged_epochs_resumes_the_same_mean(synth_binary, tmp_path):
    config = replace(TINY_CONFIG, epochs=4, average_fraction=0.5, augment=False)
    before, after = _epoch_weights(), _epoch_weights()
    with model_row():
        with pytest.raises(RunError, match="interrupted after epoch 3"):
            train(config, synth_binary, runs_root=tmp_path, name="cut", progress=False,
                  callbacks=[before, _interrupt_after(3)])
        result = train(TrainConfig(), None, runs_root=tmp_path, name="cut", resume=True, progress=False,
                       callbacks=[after])
    assert result.resumed_from == 3 and result.val_metrics["averaged_epochs"] == [3, 4]
    model = Run.open(result.run_dir).keras_model()
    epoch3, epoch4 = list(before.weights[2].values()), list(after.weights[0].values())  # the same layer order
    trainable = [i for i, v in enumerate(model.weights) if v.trainable]
    assert trainable
    for i in trainable:
        np.testing.assert_allclose(model.weights[i].numpy(), (epoch3[i] + epoch4[i]) / 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("epochs, fraction, count", [(80, 0.5, 40), (3, 0.5, 2), (5, 0.5, 3), (1, 0.5, 1),
                                                      (10, 0.01, 1), (10, 1.0, 10)])
def test_how_many_epochs_are_averaged(epochs, fraction, count):
    assert averaged_epochs(epochs, fraction) == count


def test_two_kinds_of_averaging_at_once_are_refused():
    with pytest.raises(ConfigError, match="both average"):
        TrainConfig(ema=0.99, average_fraction=0.5)
    with pytest.raises(ConfigError, match="average_fraction"):
        TrainConfig(average_fraction=1.5)


def test_a_resumed_run_loads_the_mean_of_the_epoch_it_resumes_after(tmp_path):
    """An interrupted epoch may already have saved its mean (before state.json said it was
    done): the resumed run must not count that epoch twice."""
    from edgecxr.train.callbacks import WeightAverage

    np.savez(tmp_path / "epoch-0003.average.npz", n=1, w0=np.full(2, 3.0))
    np.savez(tmp_path / "epoch-0004.average.npz", n=2, w0=np.full(2, 3.5))  # epoch 4 was interrupted
    resumed = WeightAverage(tmp_path, epochs=4, fraction=0.5, state={"epoch": 3})
    assert resumed.n == 1 and np.array_equal(resumed.mean[0], np.full(2, 3.0))
    fresh = WeightAverage(tmp_path / "new", epochs=4, fraction=0.5, state=None)
    assert fresh.n == 0 and fresh.mean is None


def test_a_run_stopped_before_the_averaged_epochs_keeps_its_best_epoch(tmp_path):
    """Early stopping may end a run before its last fraction began: nothing to average."""
    from edgecxr.train.callbacks import WeightAverage
    from edgecxr.train.stage import _use_average

    never_reached = WeightAverage(tmp_path, epochs=80, fraction=0.5, state=None)
    assert _use_average(model=None, callbacks=[never_reached], train_ds=None, epochs_done=12) is None

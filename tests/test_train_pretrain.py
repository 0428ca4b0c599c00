"""Self-supervised pretraining (config pretrain_epochs): a run that starts from no other weights
first trains its encoder by SimCLR on its own training images; its classifier head is untouched."""

import json
from dataclasses import replace

import numpy as np
import pytest

from edgecxr import ssl
from edgecxr.errors import RunError
from edgecxr.train import train
from tests.fixtures_run import TINY_CONFIG, TINY_RUN_CONFIG, model_row


def _weights_at_start():
    """A Keras callback that keeps the weights fit starts from (made lazily: Keras loads TF)."""
    from edgecxr.tfenv import keras

    class Keep(keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = [(type(layer).__name__, layer.get_weights()) for layer in self.model.layers if layer.weights]

    return Keep()


def _train(data, root, name, **changes):
    keep = _weights_at_start()
    with model_row():
        result = train(replace(TINY_CONFIG, epochs=1, **changes), data, runs_root=root, name=name, progress=False,
                       callbacks=[keep])
    return result, keep.start


def test_pretraining_trains_the_encoder_and_leaves_the_head(synth_binary, tmp_path):
    plain, plain_start = _train(synth_binary, tmp_path, "plain")
    pre, pre_start = _train(synth_binary, tmp_path, "pre", pretrain_epochs=2)
    assert "pretrained" not in plain.val_metrics
    assert pre.val_metrics["pretrained"]["method"] == "simclr"
    assert pre.val_metrics["pretrained"]["epochs"] == 2
    assert pre.val_metrics["pretrained"]["images"] == pre.train_images
    assert json.loads((pre.run_dir / "val_metrics.json").read_text())["pretrained"] == pre.val_metrics["pretrained"]
    layers = list(zip(plain_start, pre_start))  # the same architecture, layer by layer
    convs = [(a, b) for (kind, a), (_, b) in layers if kind == "Conv2D"]
    heads = [(a, b) for (kind, a), (_, b) in layers if kind == "Dense"]
    assert convs and heads
    assert all(not np.allclose(a[0], b[0]) for a, b in convs)
    assert all(np.array_equal(x, y) for a, b in heads for x, y in zip(a, b))


def test_a_run_given_starting_weights_is_not_pretrained(trained_run, synth_binary, tmp_path):
    config = replace(TINY_RUN_CONFIG, epochs=1, pretrain_epochs=2, weights=str(trained_run / "model.keras"))
    result = train(config, synth_binary, runs_root=tmp_path, name="w", progress=False)
    assert "pretrained" not in result.val_metrics
    assert result.weights_report["loaded"]


def test_interrupted_pretraining_is_one_error_and_writes_nothing(synth_binary, tmp_path, monkeypatch):
    """Ctrl-C during the minutes of pretraining: a RunError (one error line), no run folder."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ssl, "contrast", interrupted)
    with model_row(), pytest.raises(RunError, match="pretraining interrupted"):
        train(replace(TINY_CONFIG, epochs=1, pretrain_epochs=2), synth_binary, runs_root=tmp_path, name="cut",
              progress=False)
    assert not (tmp_path / "cut").exists()

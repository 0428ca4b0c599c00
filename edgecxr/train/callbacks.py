"""The Keras callbacks of a training run: resumable checkpoints, the weight average of the last
epochs (with its batch-norm re-estimate) and the progress bar.

Kept apart from ``edgecxr.train.stage`` because these classes subclass Keras' Callback when they are
defined, which loads TensorFlow; the stage imports this module only when it trains.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from edgecxr.config import TrainConfig
from edgecxr.files import write_json
from edgecxr.train.checkpoints import BEST_WEIGHTS, STATE_FILE

# Keras callbacks whose counters must survive an interruption: config -> callback, the
# attributes that ``Checkpoint`` saves every epoch and puts back on resume, and whether the
# config uses it. A new LR schedule or selection rule is a new row.
STATEFUL_CALLBACKS = {
    "early_stopping": (lambda k, c: k.callbacks.EarlyStopping(monitor=c.monitor, patience=c.early_stopping_patience,
                                                               restore_best_weights=True),
                       ("wait", "best", "best_epoch"), lambda c: True),
    "plateau": (lambda k, c: k.callbacks.ReduceLROnPlateau(monitor=c.monitor, factor=c.lr_plateau_factor,
                                                           patience=c.lr_plateau_patience,
                                                           min_lr=c.min_learning_rate),
                ("wait", "best", "cooldown_counter"), lambda c: c.schedule == "plateau"),
}


def training_callbacks(checkpoints: Path, tensorboard: Path, config: TrainConfig, state: dict | None, steps: int,
                       progress: bool):
    """(callbacks for fit, the early-stopping one, the checkpoint one)."""
    from edgecxr.tfenv import keras

    k = keras()
    stateful = {name: (make(k, config), keys) for name, (make, keys, used) in STATEFUL_CALLBACKS.items()
                if used(config)}
    early = stateful["early_stopping"][0]
    board = k.callbacks.TensorBoard(log_dir=str(tensorboard), write_graph=False, profile_batch=0)
    checkpoint = Checkpoint(checkpoints, early, stateful, state)
    shown = [ProgressBar(config.epochs, steps)] if progress else []
    average = [WeightAverage(checkpoints, config.epochs, config.average_fraction, state)] if config.average_fraction \
        else []
    return [*(cb for cb, _ in stateful.values()), board, *average, checkpoint, *shown], early, checkpoint


def _callback_base():
    from edgecxr.tfenv import keras

    return keras().callbacks.Callback


class Checkpoint(_callback_base()):
    """Every epoch: weights + optimizer (tf.train.Checkpoint), best weights, the counters of
    the stateful callbacks and the history so far (state.json, written last, atomically: a
    kill at any moment leaves the previous epoch's checkpoint usable)."""

    def __init__(self, folder: Path, early, stateful: dict, state: dict | None):
        super().__init__()
        self.folder, self.early, self.stateful, self.state = Path(folder), early, stateful, state
        self.history: list[dict] = list(state["history"]) if state else []

    def on_train_begin(self, logs=None):
        # Keras resets these counters at the start of fit(); put the saved ones back
        if self.state:
            for name, (callback, _) in self.stateful.items():
                for key, value in self.state["callbacks"].get(name, {}).items():
                    setattr(callback, key, value)
            best = self.folder / BEST_WEIGHTS
            if best.exists():
                with np.load(best) as f:
                    self.early.best_weights = [f[f"w{i}"] for i in range(len(f.files))]

    def on_epoch_end(self, epoch, logs=None):
        from edgecxr.tfenv import tf

        lr = float(np.asarray(self.model.optimizer.learning_rate))
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items() if k != "lr"},
                             "lr": lr})
        self.folder.mkdir(parents=True, exist_ok=True)
        prefix = self.folder / f"epoch-{epoch + 1:04d}"
        tf().train.Checkpoint(model=self.model, optimizer=self.model.optimizer).write(str(prefix))
        if self.early.best_epoch == epoch and self.early.best_weights is not None:
            tmp = self.folder / f".{BEST_WEIGHTS}.tmp.npz"
            np.savez(tmp, **{f"w{i}": w for i, w in enumerate(self.early.best_weights)})
            os.replace(tmp, self.folder / BEST_WEIGHTS)
        counters = {name: {key: _plain(getattr(callback, key)) for key in keys}
                    for name, (callback, keys) in self.stateful.items()}
        state = {"epoch": epoch + 1, "checkpoint": prefix.name, "history": self.history, "callbacks": counters}
        write_json(self.folder / STATE_FILE, state)
        for old in self.folder.glob("epoch-*"):
            if not old.name.startswith(prefix.name):
                old.unlink()


def averaged_epochs(epochs: int, fraction: float) -> int:
    """How many final epochs a run of ``epochs`` averages (at least one)."""
    return max(1, math.ceil(epochs * fraction))


class WeightAverage(_callback_base()):
    """The running mean of the weights after each epoch of the run's last ``fraction``
    (stochastic weight averaging): a point in the middle of the region the late epochs explore,
    which held up better on another acquisition than the single epoch a saturated validation
    score picks (benchmarks/bench_external.py).

    Saved every epoch as ``epoch-NNNN.average.npz`` beside that epoch's checkpoint, before
    Checkpoint writes state.json and removes older ``epoch-*`` files: a resumed run loads the
    mean that belongs to the epoch it resumes after, never one an interrupted epoch already
    added to."""

    def __init__(self, folder: Path, epochs: int, fraction: float, state: dict | None):
        super().__init__()
        self.folder = Path(folder)
        self.first = epochs - averaged_epochs(epochs, fraction)  # 0-based index of the first averaged epoch
        self.mean, self.n = None, 0
        saved = self._file(state["epoch"]) if state else None
        if saved is not None and saved.exists():
            with np.load(saved) as f:
                self.n = int(f["n"])
                self.mean = [f[f"w{i}"] for i in range(len(f.files) - 1)]

    def _file(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:04d}.average.npz"

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.first:
            return
        weights = self.model.get_weights()
        self.n += 1
        self.mean = weights if self.mean is None else [m + (w - m) / self.n for m, w in zip(self.mean, weights)]
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / ".average.tmp.npz"
        np.savez(tmp, n=self.n, **{f"w{i}": w for i, w in enumerate(self.mean)})
        os.replace(tmp, self._file(epoch + 1))


def recompute_batch_norm(model, images) -> None:
    """Batch-norm moving statistics re-estimated for the current weights: the cumulative mean
    of the batch statistics over one pass of ``images`` (averaged weights never produced the
    statistics the training left behind)."""
    norms = [layer for layer in model.layers if hasattr(layer, "moving_mean")]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, np.float32))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape, np.float32))
    try:
        for i, batch in enumerate(images):
            for layer in norms:
                layer.momentum = i / (i + 1)
            model(batch[0], training=True)
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum


def _plain(value):
    """numpy scalars (Keras keeps ``best`` as one) -> JSON numbers."""
    return value.item() if isinstance(value, np.generic) else value


class ProgressBar(_callback_base()):
    """A bar per epoch on stderr (batches, running loss), then one summary line per epoch."""

    def __init__(self, epochs: int, steps: int):
        super().__init__()
        self.epochs, self.steps = epochs, steps

    def on_train_begin(self, logs=None):
        from edgecxr.progress import bar

        self.bar = bar("training", transient=True)
        self.bar.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.task = self.bar.add_task(f"epoch {epoch + 1}/{self.epochs}", total=self.steps, info="")
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.bar.update(self.task, advance=1, info=f"loss {logs.get('loss', float('nan')):.4f}")

    def on_epoch_end(self, epoch, logs=None):
        self.bar.remove_task(self.task)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items() if k != "lr")
        self.bar.console.print(f"epoch {epoch + 1}/{self.epochs}  {shown}  ({time.perf_counter() - self.started:.1f} s)",
                               highlight=False, soft_wrap=True)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Stop the live display (also when training ends by an exception or Ctrl-C)."""
        if hasattr(self, "bar"):
            self.bar.stop()

"""How long a training will take on this machine, said before it starts.

Measured, not guessed: a few batches of the steps the training will run -- the supervised fit
step (the recipe's model, batch, optimizer and augmentation) and, when it pretrains, the SimCLR
step (two augmented views, the projection head) -- are timed now, on random images at the
model's input, after one untimed batch that builds the graph. The machine's load at that moment
is in the figure; decoding the images (once, then cached) and early stopping (which can only
end a training sooner) are not. TensorFlow loads here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

TIMED_BATCHES = 3  # batches timed per step, after one that builds the graph


@dataclass(frozen=True)
class Phase:
    what: str  # "SimCLR pretraining" | "training"
    epochs: int
    images: int  # per epoch
    images_per_second: float

    @property
    def seconds(self) -> float:
        return self.epochs * self.images / self.images_per_second

    def text(self) -> str:
        return f"{self.what} {self.epochs} epochs x {self.images} images at {self.images_per_second:.0f} images/s"


def fit_rate(config, shape: tuple[int, int, int], batches: int = TIMED_BATCHES) -> float:
    """Images per second of ``config``'s supervised fit step (binary head, its augmentation)."""
    from edgecxr.models import zoo
    from edgecxr.train.arrays import make_dataset
    from edgecxr.train.optimizer import compile_model

    entry = zoo.get_entry(config.model)
    units, activation = zoo.output_head(entry, "binary", 2)
    model = zoo.build_model(config.model, "binary", 2, config.size, config.channels, config.alpha, config.dropout)
    compile_model(model, "binary", activation, units, config, batches)
    n = config.batch_size * batches
    x, y = _random(shape, n), np.eye(units, dtype=np.float32)[np.arange(n) % units]

    def fit(n: int) -> float:
        ds = make_dataset(x[:n * config.batch_size], y[:n * config.batch_size], None, config.batch_size, config,
                          shuffle_seed=0)
        started = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0)
        return time.perf_counter() - started

    fit(1)  # builds the graph
    return config.batch_size * batches / fit(batches)


def simclr_rate(config, shape: tuple[int, int, int], batch_size: int, batches: int = TIMED_BATCHES) -> float:
    """Images per second of edgecxr.ssl's contrastive step for ``config``'s model at ``batch_size``:
    two epochs of ``batches`` batches, the second timed (the first builds the graph)."""
    from edgecxr import ssl
    from edgecxr.models import zoo

    model = zoo.build_model(config.model, "binary", 2, config.size, config.channels, config.alpha, config.dropout)
    stamps: list[float] = []
    ssl.contrast(model, _random(shape, batch_size * batches), 2, batch_size, seed=0,
                 log=lambda _line: stamps.append(time.perf_counter()))
    return batch_size * batches / (stamps[1] - stamps[0])


def _random(shape: tuple[int, int, int], n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, *shape), dtype=np.uint8)


def plan(config, shape: tuple[int, int, int], train_images: int, simclr: tuple[int, int] | None = None,
         fit_epochs: int = 0) -> list[Phase]:
    """The phases of a training of ``config`` on ``train_images`` images, each timed now:
    ``simclr`` (epochs, batch size) of contrastive pretraining first when given, then
    ``fit_epochs`` of the supervised fit."""
    phases = []
    if simclr and simclr[0]:
        epochs, batch = simclr[0], min(simclr[1], train_images)
        phases.append(Phase("SimCLR pretraining", epochs, train_images // batch * batch,
                            simclr_rate(config, shape, batch)))
    if fit_epochs:
        phases.append(Phase("training", fit_epochs, train_images, fit_rate(config, shape)))
    return phases


def describe(phases: list[Phase]) -> str:
    """One line: the total and how it was measured."""
    total = sum(p.seconds for p in phases)
    when = f"about {total / 60:.0f} min" if total >= 90 else f"about {total:.0f} s"
    return (f"{when} on this machine now ({'; then '.join(p.text() for p in phases)}: a few batches of each step "
            "timed just now on random images; decoding the images once is not counted, early stopping can only "
            "shorten it)")

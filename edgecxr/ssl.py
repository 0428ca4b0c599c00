"""Self-supervised pretraining (SimCLR) on unlabelled chest X-rays: the `simclr` backbones, and
the default recipe's first phase on a run's own training images (TrainConfig.pretrain_epochs).

Two augmented views of each image, a projection head, the NT-Xent contrastive loss, on the
images of a recipe's TRAINING split only (labels unused; validation and any external set stay
unseen, they judge the result). The network is the recipe's own model (its input,
preprocessing and width), so `train` loads it by layer name; its classifier head is untrained.
Started from it, the default recipe scored higher out of distribution with both seeds tried
(benchmarks/bench_ssl.py, bench_external.py's `ssl` variants). TensorFlow loads on call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecxr.errors import ConfigError

# the two views: stronger geometry and intensity than supervised training (SimCLR needs views
# that differ; a chest film has no colour, so gray-level changes stand in for colour jitter)
VIEW_AUGMENTATION = {"zoom_max": 1.6, "aspect": 0.15, "rotation": 10.0, "shift": 0.08, "contrast": 0.4,
                     "gamma": 0.5, "brightness": 0.2, "sharpness": 0.6, "noise": 0.04, "flip": False}
TEMPERATURE = 0.2
PROJECTION = (256, 64)  # projection head: hidden units, output units (dropped after pretraining)
# batch and peak learning rate of the measured runs (the kermany-simclr backbone's, and a run's
# own pretraining: TrainConfig.pretrain_epochs); a bigger batch gives each view more negatives
BATCH_SIZE, LEARNING_RATE = 128, 0.002


@dataclass
class Pretrained:
    model: object  # the Keras model (encoder + untrained classifier head)
    train_images: int
    losses: list[float]  # mean NT-Xent per epoch
    seconds: float
    shape: tuple[int, int, int]  # (height, width, channels)


def nt_xent(t, z1, z2, temperature: float):
    """SimCLR loss: each view must pick its partner among the 2N - 1 other views of the batch."""
    z = t.math.l2_normalize(t.concat([z1, z2], 0), axis=1)
    n = t.shape(z1)[0]
    logits = t.matmul(z, z, transpose_b=True) / temperature - 1e9 * t.eye(2 * n)
    partner = t.concat([t.range(n, 2 * n), t.range(0, n)], 0)
    return t.reduce_mean(t.nn.sparse_softmax_cross_entropy_with_logits(partner, logits))


def feature_map(model):
    """The encoder's last feature map, where the projection head starts: the last layer with a
    spatial (N, H, W, C) output that is not dropout (the classifier head's), so every convolutional
    model of the zoo (MobileNetV1's conv_pw_13_relu, a CNN's last pool, Xception's last block)."""
    maps = [layer for layer in model.layers[1:]
            if len(layer.output.shape) == 4 and type(layer).__name__ != "Dropout"]
    if not maps:
        raise ConfigError(f"model {model.name} has no convolutional feature map for SimCLR's projection head",
                          "pretrain a convolutional model (see `edgecxr models`)")
    return maps[-1].output


def pretrain(config, data: str | Path, temperature: float = TEMPERATURE, log=None,
             checkpoints: Path | None = None) -> Pretrained:
    """SimCLR on the training split of ``data`` as ``config`` splits it (val_fraction, seed), at
    its input, into a new model (a `simclr` backbone); ``config.epochs``, ``batch_size`` and
    ``learning_rate`` drive the pretraining. ``log`` gets one line per epoch; ``checkpoints``:
    see ``contrast``."""
    from edgecxr.data.cache import load_pixels
    from edgecxr.models import zoo
    from edgecxr.tfenv import set_seed
    from edgecxr.train.arrays import load_split, model_spec

    dataset, assignment = load_split(data, None, config)  # the split train makes of ``data`` with ``config``
    shape = zoo.input_shape_for(zoo.get_entry(config.model), config.size, config.channels)
    x = load_pixels([s.path for s in dataset.samples if assignment[s.path] == "train"], model_spec(config, shape)).x
    set_seed(config.seed)
    model = zoo.build_model(config.model, "binary", 2, config.size, config.channels, config.alpha, config.dropout)
    started = time.perf_counter()
    losses = contrast(model, x, config.epochs, config.batch_size, config.learning_rate, config.seed, temperature, log,
                      checkpoints)
    return Pretrained(model, len(x), losses, time.perf_counter() - started, shape)


def contrast(model, x: np.ndarray, epochs: int, batch_size: int = BATCH_SIZE, learning_rate: float = LEARNING_RATE,
             seed: int = 0, temperature: float = TEMPERATURE, log=None, checkpoints: Path | None = None) -> list[float]:
    """SimCLR on the uint8 images ``x`` (N, H, W, C), training ``model``'s encoder in place
    (its classifier head is left as it was): the mean NT-Xent of each epoch (cosine-decayed
    learning rate). Batches of ``batch_size`` (at most the number of images); the last partial
    batch of each epoch is dropped, as SimCLR implementations do, and the images are reshuffled
    every epoch, so none is left out for long.

    ``checkpoints``: a folder where every finished epoch is kept (encoder, projection head,
    optimizer, losses; state.json written last, so a kill at any moment leaves the previous
    epoch usable) and from which a later call with the same arguments continues: the epochs
    done are not run again, their shuffles are drawn again so the rest is the same."""
    from edgecxr.config import recipe_config
    from edgecxr.tfenv import keras, tf
    from edgecxr.train import augment

    batch_size = min(batch_size, len(x))
    if batch_size < 2:
        raise ConfigError(f"SimCLR needs at least 2 training images, there are {len(x)}",
                          "use a larger dataset, or turn pretraining off (pretrain_epochs = 0)")
    steps = len(x) // batch_size
    views = recipe_config(**VIEW_AUGMENTATION)
    t, k = tf(), keras()
    h = k.layers.GlobalAveragePooling2D()(feature_map(model))
    h = k.layers.Dense(PROJECTION[0], activation="relu")(h)
    projector = k.Model(model.input, k.layers.Dense(PROJECTION[1])(h))
    schedule = k.optimizers.schedules.CosineDecay(learning_rate, epochs * steps, alpha=0.01)
    optimizer = k.optimizers.Adam(schedule)
    seeds = t.random.experimental.stateless_split([seed, 1], epochs * steps * 2)

    @t.function
    def step(batch, s1, s2):
        v1, v2 = augment.augment_batch(batch, views, s1), augment.augment_batch(batch, views, s2)
        with t.GradientTape() as tape:
            loss = nt_xent(t, projector(v1, training=True), projector(v2, training=True), temperature)
        grads = tape.gradient(loss, projector.trainable_variables)
        optimizer.apply_gradients(zip(grads, projector.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    saved = t.train.Checkpoint(projector=projector, optimizer=optimizer)
    epoch_losses = _restore(saved, checkpoints) if checkpoints else []
    for _ in epoch_losses:
        rng.permutation(len(x))  # the shuffles of the epochs already done
    if epoch_losses and log:
        log(f"pretraining: continuing after epoch {len(epoch_losses)}/{epochs} (kept in {checkpoints})")
    started = time.perf_counter()
    for epoch in range(len(epoch_losses), epochs):
        order, losses = rng.permutation(len(x)), []
        for i in range(steps):
            batch = t.cast(x[order[i * batch_size:(i + 1) * batch_size]], t.float32) / 255.0
            n = 2 * (epoch * steps + i)
            losses.append(float(step(batch, seeds[n], seeds[n + 1])))
        epoch_losses.append(float(np.mean(losses)))
        if checkpoints:
            _keep(saved, checkpoints, epoch_losses)
        if log:
            log(f"pretraining epoch {epoch + 1}/{epochs}  NT-Xent {epoch_losses[-1]:.3f}  "
                f"({time.perf_counter() - started:.0f} s)")
    return epoch_losses


STATE_FILE = "state.json"  # in a contrast() checkpoint folder: the epochs done and their losses


def _keep(saved, folder: Path, losses: list[float]) -> None:
    """Epoch ``len(losses)``'s checkpoint, then state.json naming it, then the older ones removed."""
    from edgecxr.files import write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"epoch-{len(losses):04d}"
    saved.write(str(folder / prefix))
    write_json(folder / STATE_FILE, {"epoch": len(losses), "checkpoint": prefix, "losses": losses})
    for old in folder.glob("epoch-*"):
        if not old.name.startswith(prefix):
            old.unlink()


def _restore(saved, folder: Path) -> list[float]:
    """The losses of the epochs a checkpoint folder holds, its weights and optimizer restored into
    ``saved``; [] when it holds none yet."""
    from edgecxr.errors import RunError
    from edgecxr.files import read_json_object

    path = Path(folder) / STATE_FILE
    if not path.exists():
        return []
    again = f"remove {folder} to start the pretraining over"
    state = read_json_object(path, again, keys=("epoch", "checkpoint", "losses"))
    if not isinstance(state["losses"], list) or len(state["losses"]) != state["epoch"]:
        raise RunError(f"{path} is damaged", again)
    saved.read(str(Path(folder) / state["checkpoint"])).assert_existing_objects_matched()
    return [float(v) for v in state["losses"]]

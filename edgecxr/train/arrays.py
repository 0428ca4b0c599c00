"""From a split to what Keras fits on: decoded uint8 arrays, per-sample weights and targets,
then tf.data batches augmented on the fly (edgecxr.train.augment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.markup import escape

from edgecxr.config import TrainConfig
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import Dataset, scan_folder
from edgecxr.data.split import read_split, split_by_patient
from edgecxr.device.spec import TASKS, ModelSpec
from edgecxr.errors import ConfigError, DataError
from edgecxr.progress import log
from edgecxr.train import augment as aug


@dataclass
class Arrays:
    x: np.ndarray  # uint8 (N, H, W, C)
    y: np.ndarray  # float32 targets shaped like the model's output
    index: np.ndarray  # int class index (single-label) or multi-hot (multi-label)
    weights: np.ndarray  # float32 per-sample weight (class balance)
    paths: list[Path]  # the images, in order (undecodable ones skipped)


def model_spec(config: TrainConfig, shape: tuple[int, int, int], labels: list[str] | None = None,
               task: str = "binary", output: str = "softmax") -> ModelSpec:
    """The spec a model of ``config`` with input ``shape`` (H, W, C) is fed by: the one place the
    training config turns into a spec (train, tune's settling and SSL pretraining read pixels by it)."""
    return ModelSpec(width=shape[1], height=shape[0], channels=shape[2], resize_mode=config.resize_mode,
                     normalize=config.normalize, labels=list(labels or []), task=task, output=output)


def infer_task(dataset: Dataset, requested: str | None) -> str:
    task = "multilabel" if dataset.multilabel else ("binary" if len(dataset.classes) == 2 else "multiclass")
    if requested is None:
        return task
    if requested not in TASKS:
        raise ConfigError(f"unknown task {requested!r}", f"use one of {', '.join(TASKS)} (or leave it out)")
    if (requested == "multilabel") != dataset.multilabel or (requested == "binary" and len(dataset.classes) != 2):
        raise ConfigError(f"task {requested} does not fit {dataset.root} ({len(dataset.classes)} classes, "
                          f"{'multi' if dataset.multilabel else 'single'}-label)", "leave task unset to infer it")
    return task


def load_split(data, split: Path | None, config: TrainConfig) -> tuple[Dataset, dict[Path, str]]:
    if split is not None:
        return read_split(split)
    dataset = data if isinstance(data, Dataset) else scan_folder(data)
    return dataset, split_by_patient(dataset, config.val_fraction, config.seed)


def check_split(dataset: Dataset, assignment: dict[Path, str]) -> None:
    train = [s for s in dataset.samples if assignment[s.path] == "train"]
    val = [s for s in dataset.samples if assignment[s.path] == "val"]
    present = {k for s in train for k in s.labels}
    if len(present) < 2:
        raise DataError(f"{dataset.root}: the training split holds only one class "
                        f"({', '.join(dataset.classes[k] for k in present) or 'none'})",
                        "a classifier needs images of at least two classes")
    if not val:
        raise DataError(f"{dataset.root}: no images left for validation ({len(train)} in training)",
                        "add images (of several patients) or raise --val-fraction")


def arrays(dataset: Dataset, assignment: dict[Path, str], which: str, spec: ModelSpec, units: int,
            class_weight: np.ndarray | None) -> Arrays:
    samples = {s.path: s for s in dataset.samples if assignment[s.path] == which}
    pixels = load_pixels(list(samples), spec)
    for _, error in pixels.errors:
        log(f"[yellow]skipped[/] {escape(error)}")
    labels = [samples[Path(p)].labels for p in pixels.paths]
    k = len(dataset.classes)
    if dataset.multilabel:
        index = np.zeros((len(labels), k), np.float32)
        for i, ls in enumerate(labels):
            index[i, list(ls)] = 1.0
        y = index
        weights = (np.array([class_weight[list(ls)].mean() if ls else 1.0 for ls in labels], np.float32)
                   if class_weight is not None else np.ones(len(labels), np.float32))
    else:
        index = np.array([ls[0] for ls in labels], np.int64)
        y = np.eye(k, dtype=np.float32)[index] if units == k else index[:, None].astype(np.float32)
        weights = class_weight[index].astype(np.float32) if class_weight is not None else np.ones(len(index), np.float32)
    return Arrays(pixels.x, y, index, weights, [Path(p) for p in pixels.paths])


def class_weights(dataset: Dataset, assignment: dict[Path, str]) -> np.ndarray:
    """n / (K * n_k) per class over the training split: each class weighs the same in total."""
    counts = np.array(list(dataset.class_counts([s for s in dataset.samples if assignment[s.path] == "train"]).values()),
                      np.float64)
    return np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0.0)


def make_dataset(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, batch_size: int,
                 config: TrainConfig | None = None, shuffle_seed: int | None = None):
    """uint8 arrays in memory -> batches of float [0, 1] (augmented when ``config`` says so).

    Augmentation runs on whole batches with stateless random ops seeded from a seeded random
    stream, so it can run in parallel and still repeat exactly for the same seed.
    """
    from edgecxr.tfenv import tf

    t = tf()
    parts = (x, y) if weights is None else (x, y, weights)
    ds = t.data.Dataset.from_tensor_slices(parts)
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    augmenting = config is not None and (bool(aug.enabled(config)) or config.mixup > 0.0)
    if augmenting:
        seeds = t.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True).batch(2)
        ds = t.data.Dataset.zip((ds, seeds))

    def to_float(images, *rest):
        return (t.cast(images, t.float32) / 255.0, *rest)

    def to_float_augmented(batch, seed):
        images, *rest = to_float(*batch)
        images = aug.augment_batch(images, config, seed)
        if config.mixup > 0.0:
            return aug.mixup(images, rest, config.mixup, seed)
        return (images, *rest)

    ds = ds.map(to_float_augmented if augmenting else to_float, num_parallel_calls=t.data.AUTOTUNE)
    return ds.prefetch(t.data.AUTOTUNE)

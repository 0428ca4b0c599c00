"""Training throughput of mobilenet_v1 (images/s): edgecxr's pipeline against the plain Keras
one, same model, same augmentation, same data, measured in the same process.

    python benchmarks/bench_train_throughput.py [DATA] [--epochs 3] [--size 96] [--alpha 0.25]

DATA defaults to ../shared/data/kermany224/train relative to the repository.

- edgecxr: ``edgecxr.train.train`` -- images decoded once into a uint8 array (cached), then
  tf.data from memory with batch-wise augmentation in TF ops; checkpoints, TensorBoard and
  validation every epoch included.
- plain Keras: ``image_dataset_from_directory`` (20 % validation) decoding JPEGs every epoch,
  augmentation by Keras preprocessing layers (RandomFlip, RandomZoom, RandomBrightness) in the
  input pipeline, ``fit`` with validation.

Images/s = training images / epoch wall time (the validation pass included, for both), over
the epochs after the first (the first also traces the graph). Target (issue 3): >= 2x.
Then the input pipelines alone (no model): how fast each produces augmented batches. When
the model step, not the input, is the bottleneck (small JPEGs, as in kermany224), the
end-to-end ratio stays near 1 however fast the pipeline is.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"


def epoch_timer():
    from edgecxr.tfenv import keras

    class EpochTimer(keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    return EpochTimer()


def run_edgecxr(data: Path, args) -> dict:
    from edgecxr.config import TrainConfig
    from edgecxr.train import train

    config = replace(TrainConfig(), epochs=args.epochs, size=args.size, alpha=args.alpha, seed=0)
    timer = epoch_timer()
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        result = train(config, data, runs_root=runs, name="throughput", callbacks=[timer])
        total = time.perf_counter() - started
    return {"train_images": result.train_images, "epoch_s": timer.seconds, "total_s": total}


def run_plain_keras(data: Path, args) -> dict:
    """The plain pipeline feeding ``fit`` with the same model and optimizer."""
    from edgecxr.models.zoo import build_model
    from edgecxr.tfenv import keras, set_seed

    k = keras()
    set_seed(0)
    train_ds, val_ds, n_train = plain_keras_datasets(data, args)
    model = build_model("mobilenet_v1", "binary", 2, size=args.size, channels=1, alpha=args.alpha)
    model.compile(optimizer=k.optimizers.Adam(0.0005), loss="categorical_crossentropy",
                  metrics=["accuracy", k.metrics.AUC(name="auc")])
    timer = epoch_timer()
    started = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0,
              callbacks=[timer])
    return {"train_images": n_train, "epoch_s": timer.seconds, "total_s": time.perf_counter() - started}


def plain_keras_datasets(data: Path, args):
    """What a Keras tutorial does: read the folder every epoch, augment with layers."""
    from edgecxr.tfenv import keras, tf

    k, t = keras(), tf()
    common = {"labels": "inferred", "label_mode": "categorical", "color_mode": "grayscale", "batch_size": 32,
              "image_size": (args.size, args.size), "validation_split": 0.2, "seed": 0}
    train_ds = k.utils.image_dataset_from_directory(data, subset="training", **common)
    val_ds = k.utils.image_dataset_from_directory(data, subset="validation", **common)
    n_train = len(train_ds.file_paths)
    augment = k.Sequential([k.layers.Rescaling(1 / 255.0), k.layers.RandomFlip("horizontal"),
                            k.layers.RandomZoom((-0.2, 0.0)), k.layers.RandomBrightness(0.2, value_range=(0, 1))])
    rescale = k.layers.Rescaling(1 / 255.0)
    train_ds = train_ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=t.data.AUTOTUNE)
    val_ds = val_ds.map(lambda x, y: (rescale(x), y), num_parallel_calls=t.data.AUTOTUNE)
    return train_ds.prefetch(t.data.AUTOTUNE), val_ds, n_train


def input_pipelines_alone(data: Path, args) -> dict[str, float]:
    """Images/s of producing augmented training batches, no model: the part a pipeline owns."""
    import numpy as np

    from edgecxr.config import TrainConfig
    from edgecxr.data.cache import load_pixels
    from edgecxr.data.dataset import scan_folder
    from edgecxr.data.split import split_by_patient
    from edgecxr.device.spec import ModelSpec
    from edgecxr.train import make_dataset

    config = replace(TrainConfig(), size=args.size)
    dataset = scan_folder(data)
    assignment = split_by_patient(dataset, config.val_fraction, config.seed)
    paths = [s.path for s in dataset.samples if assignment[s.path] == "train"]
    pixels = load_pixels(paths, ModelSpec(width=args.size, height=args.size, labels=dataset.classes))
    labels = np.zeros((len(pixels.x), 2), np.float32)
    ours = make_dataset(pixels.x, labels, np.ones(len(labels), np.float32), 32, config, shuffle_seed=0)
    plain, _, _ = plain_keras_datasets(data, args)
    rates = {}
    for name, ds in (("edgecxr", ours), ("plain Keras", plain)):
        for _ in ds.take(2):  # warm up (trace the map functions)
            pass
        started, n = time.perf_counter(), 0
        for x, *_ in ds:
            n += int(x.shape[0])
        rates[name] = n / (time.perf_counter() - started)
    return rates


def steady_rate(r: dict) -> float:
    seconds = r["epoch_s"][1:] or r["epoch_s"]
    return r["train_images"] / statistics.mean(seconds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "kermany224" / "train")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--alpha", type=float, default=0.25)
    args = p.parse_args()
    if args.epochs < 2:
        p.error("--epochs must be at least 2 (the first epoch traces the graph and is not counted)")

    from edgecxr.cli.common import table

    results = {"edgecxr (cached uint8 + tf.data + TF-op augmentation)": run_edgecxr(args.data, args),
               "plain Keras (image_dataset_from_directory + layers)": run_plain_keras(args.data, args)}
    rows = [{"pipeline": name, "train_images": r["train_images"],
             "epoch_s": " ".join(f"{s:.1f}" for s in r["epoch_s"]), "images_per_s": round(steady_rate(r), 1),
             "total_s": round(r["total_s"], 1)} for name, r in results.items()]
    ours, plain = (steady_rate(r) for r in results.values())
    print(f"machine: {machine()}")
    print(f"data: {args.data}; mobilenet_v1 a={args.alpha:g} {args.size}x{args.size}x1, batch 32, "
          f"{args.epochs} epochs each (images/s over epochs 2..{args.epochs}, validation pass included)")
    print(table(rows))
    print("total_s: edgecxr's includes decoding the images once into its cache (skipped when cached)")
    print(f"speed-up: {ours / plain:.2f}x (target >= 2x)")
    alone = input_pipelines_alone(args.data, args)
    print("input pipeline alone (augmented training batches, no model): "
          + ", ".join(f"{name} {rate:.0f} images/s" for name, rate in alone.items())
          + f" -> {alone['edgecxr'] / alone['plain Keras']:.1f}x")


if __name__ == "__main__":
    main()

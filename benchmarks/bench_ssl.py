"""Self-supervised pretraining on unlabelled chest X-rays (SimCLR), judged by what it does to the
default recipe out of distribution.

    python benchmarks/bench_ssl.py [--data KERMANY] [--out FILE] [--epochs 30] [--seed 0]
    python benchmarks/bench_ssl.py --seed 1 --out DIR/ssl-pretrain-seed1.keras
    python benchmarks/bench_external.py --variants default ssl seed1 ssl_seed1 --runs-root DIR

This script pretrains the default recipe's MobileNetV1 (its input, preprocessing and width) with
SimCLR -- two augmented views of each image, a projection head, the NT-Xent contrastive loss --
on the images of the default split's TRAINING part only, labels unused (never validation, never
covid3: those judge the result). It writes the network as a .keras file that `edgecxr train
--weights FILE` loads by layer name; bench_external.py's `ssl` variant is the default recipe
started from it, scored on the external images beside `default`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench_train_throughput import REPO, machine  # the sibling script (benchmarks/ is on sys.path)

SHARED = REPO.parent / "shared" / "data"
# the two views: stronger geometry and intensity than supervised training (SimCLR needs views
# that differ; a chest film has no colour, so gray-level changes stand in for colour jitter)
VIEW_AUGMENTATION = {"zoom_max": 1.6, "aspect": 0.15, "rotation": 10.0, "shift": 0.08, "contrast": 0.4,
                     "gamma": 0.5, "brightness": 0.2, "sharpness": 0.6, "noise": 0.04}


def nt_xent(t, z1, z2, temperature: float):
    """SimCLR loss: each view must pick its partner among the 2N - 1 other views of the batch."""
    z = t.math.l2_normalize(t.concat([z1, z2], 0), axis=1)
    n = t.shape(z1)[0]
    logits = t.matmul(z, z, transpose_b=True) / temperature - 1e9 * t.eye(2 * n)
    partner = t.concat([t.range(n, 2 * n), t.range(0, n)], 0)
    return t.reduce_mean(t.nn.sparse_softmax_cross_entropy_with_logits(partner, logits))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED / "kermany224")
    p.add_argument("--out", type=Path, default=REPO.parent / "runs-bench-external" / "ssl-pretrain.keras")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0, help="the default recipe's seed: its split, and the pretraining's")
    args = p.parse_args()

    from edgecxr.config import recipe_config
    from edgecxr.data.cache import load_pixels
    from edgecxr.data.dataset import scan_folder
    from edgecxr.data.split import split_by_patient
    from edgecxr.device.spec import ModelSpec
    from edgecxr.models import zoo
    from edgecxr.tfenv import keras, set_seed, tf
    from edgecxr.train import augment

    config = recipe_config(seed=args.seed)  # the default recipe: the split, input and width the `ssl` variant uses
    views = recipe_config(**VIEW_AUGMENTATION, flip=False)
    set_seed(config.seed)
    t, k = tf(), keras()
    dataset = scan_folder(args.data)
    assignment = split_by_patient(dataset, config.val_fraction, config.seed)
    shape = zoo.input_shape_for(zoo.get_entry(config.model), config.size, config.channels)
    spec = ModelSpec(width=shape[1], height=shape[0], channels=shape[2], resize_mode=config.resize_mode,
                          normalize=config.normalize)
    x = load_pixels([s.path for s in dataset.samples if assignment[s.path] == "train"], spec).x
    print(f"machine: {machine()}")
    print(f"SimCLR on {len(x)} unlabelled training images of {args.data} ({shape[0]}x{shape[1]}x{shape[2]}, "
          f"{config.normalize}), {args.epochs} epochs, batch {args.batch_size}, T {args.temperature}")

    model = zoo.build_model(config.model, "binary", 2, config.size, config.channels, config.alpha, config.dropout)
    features = model.get_layer("conv_pw_13_relu").output
    h = k.layers.GlobalAveragePooling2D()(features)
    h = k.layers.Dense(256, activation="relu")(h)
    projector = k.Model(model.input, k.layers.Dense(64)(h))
    steps = len(x) // args.batch_size
    schedule = k.optimizers.schedules.CosineDecay(args.learning_rate, args.epochs * steps, alpha=0.01)
    optimizer = k.optimizers.Adam(schedule)
    seeds = t.random.experimental.stateless_split([config.seed, 1], args.epochs * steps * 2)

    @t.function
    def step(batch, s1, s2):
        v1, v2 = augment.augment_batch(batch, views, s1), augment.augment_batch(batch, views, s2)
        with t.GradientTape() as tape:
            loss = nt_xent(t, projector(v1, training=True), projector(v2, training=True), args.temperature)
        grads = tape.gradient(loss, projector.trainable_variables)
        optimizer.apply_gradients(zip(grads, projector.trainable_variables))
        return loss

    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order, losses = rng.permutation(len(x)), []
        for i in range(steps):
            batch = t.cast(x[order[i * args.batch_size:(i + 1) * args.batch_size]], t.float32) / 255.0
            n = 2 * (epoch * steps + i)
            losses.append(float(step(batch, seeds[n], seeds[n + 1])))
        print(f"epoch {epoch + 1}/{args.epochs}  NT-Xent {np.mean(losses):.3f}  "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"wrote {args.out} (the encoder; the classifier head is untrained) in "
          f"{(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()

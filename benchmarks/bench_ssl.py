"""Self-supervised pretraining on unlabelled chest X-rays (SimCLR), judged by what it does to the
default recipe out of distribution.

    python benchmarks/bench_ssl.py [--data KERMANY] [--out FILE] [--epochs N] [--seed N]
    python benchmarks/bench_ssl.py --seed 1 --out DIR/ssl-pretrain-seed1.keras
    python benchmarks/bench_external.py --variants default ssl seed1 ssl_seed1 --runs-root DIR

This script (edgecxr.ssl; `edgecxr backbone build kermany-simclr` is the product path) pretrains
the default recipe's MobileNetV1 (its input, preprocessing and width) with
SimCLR -- two augmented views of each image, a projection head, the NT-Xent contrastive loss --
on the images of the default split's TRAINING part only, labels unused (never validation, never
covid3: those judge the result). It writes the network as a .keras file that `edgecxr train
--weights FILE` loads by layer name; bench_external.py's `ssl` variant is the default recipe
started from it, scored on the external images beside `default`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_train_throughput import REPO, machine  # the sibling script (benchmarks/ is on sys.path)

from edgecxr import ssl
from edgecxr.backbone import BACKBONES
from edgecxr.config import recipe_config

SHARED = REPO.parent / "shared" / "data"
ROW = BACKBONES["kermany-simclr"]  # the product's SimCLR backbone: its pretraining settings are the defaults


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED / "kermany224")
    p.add_argument("--out", type=Path, default=REPO.parent / "runs-bench-external" / "ssl-pretrain.keras")
    p.add_argument("--epochs", type=int, default=ROW.overrides["epochs"])
    p.add_argument("--batch-size", type=int, default=ROW.overrides["batch_size"])
    p.add_argument("--learning-rate", type=float, default=ROW.overrides["learning_rate"])
    p.add_argument("--temperature", type=float, default=ssl.TEMPERATURE)
    p.add_argument("--seed", type=int, default=ROW.seed, help="the default recipe's seed: its split, and the pretraining's")
    args = p.parse_args()

    # the default recipe: the split, input and width the `ssl` variant uses
    config = recipe_config(seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate)
    print(f"machine: {machine()}")
    print(f"SimCLR on the unlabelled training images of {args.data} ({config.normalize}), {args.epochs} epochs, "
          f"batch {args.batch_size}, T {args.temperature}")
    result = ssl.pretrain(config, args.data, args.temperature, log=lambda line: print(line, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(args.out)
    print(f"wrote {args.out} (the encoder; the classifier head is untrained; {result.train_images} images, "
          f"{'x'.join(map(str, result.shape))}) in {result.seconds / 60:.1f} min")


if __name__ == "__main__":
    main()

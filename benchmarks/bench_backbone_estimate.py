"""The estimate a backbone build prints before it starts, and how it compares with the real steps.

    python benchmarks/bench_backbone_estimate.py [--backbone kermany-mnv1] [--data KERMANY] [--check]

Prints what `edgecxr backbone build` (and the first `train` on a small set) says before building:
the phases, their measured images/s (a few batches of each step timed now on random images,
edgecxr.train.timing) and the total. With --check it then runs one epoch of each phase for real
on the backbone's training images -- SimCLR's contrastive step (edgecxr.ssl.contrast) and the
supervised training (edgecxr.train.train, 2 epochs, validation and checkpoints included, the
first epoch's graph building too) -- and prints the images/s they reached beside the estimate's.
The machine's load is printed with the figures: the lead's trainings share these cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench_train_throughput import REPO, machine  # the sibling script (benchmarks/ is on sys.path)

from edgecxr import backbone, ssl
from edgecxr.config import recipe_config
from edgecxr.train import timing

SHARED = REPO.parent / "shared" / "data"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default=backbone.DEFAULT_BACKBONE)
    p.add_argument("--data", type=Path, default=None, help="default: where the build looks (../shared/data/FOLDER)")
    p.add_argument("--check", action="store_true", help="also run one epoch of each phase on the real images")
    a = p.parse_args()
    recipe = backbone.get_recipe(a.backbone)
    source = backbone.find_data(recipe, a.data)
    config = recipe_config(recipe.recipe, seed=recipe.seed, backbone=backbone.NONE, **recipe.overrides)
    method = backbone.METHODS[recipe.method]
    shape = backbone._planned_shape(config)
    from edgecxr.train.arrays import load_split

    dataset, assignment = load_split(source, None, config)
    train_paths = [s.path for s in dataset.samples if assignment[s.path] == "train"]
    simclr, epochs = method.left(config, 0, 0)
    print(f"machine: {machine()}")
    started = time.perf_counter()
    phases = timing.plan(config, shape, len(train_paths), simclr, epochs)
    print(f"backbone {a.backbone} from {source}: {len(train_paths)} training images")
    print(f"estimate (measured in {time.perf_counter() - started:.0f} s): {timing.describe(phases)}")
    if not a.check:
        return
    from edgecxr.data.cache import load_pixels
    from edgecxr.models import zoo
    from edgecxr.train import train
    from edgecxr.train.arrays import model_spec

    x = load_pixels(train_paths, model_spec(config, shape)).x
    print(f"machine: {machine()}")
    for phase in phases:
        if phase.what.startswith("SimCLR"):
            batch = ssl.BATCH_SIZE if recipe.method == "supervised" else config.batch_size
            model = zoo.build_model(config.model, "binary", 2, config.size, config.channels, config.alpha)
            stamps = [time.perf_counter()]
            ssl.contrast(model, x, 1, batch, seed=0, log=lambda _line, s=stamps: s.append(time.perf_counter()))
            real = phase.images / (stamps[1] - stamps[0])
            print(f"SimCLR, 1 real epoch (graph building included): {real:.0f} images/s; estimate "
                  f"{phase.images_per_second:.0f} images/s")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                result = train(replace(config, epochs=2, pretrain_epochs=0), source, runs_root=tmp, name="check",
                               progress=False)
            print(f"training, 2 real epochs (validation, checkpoints and graph building included): "
                  f"{result.images_per_second:.0f} images/s; estimate {phase.images_per_second:.0f} images/s")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()

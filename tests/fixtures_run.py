"""A tiny real training run shared by the later stages' tests (quantize, evaluate, bench, export).

MobileNetV1 0.25 at 32x32x1 on ``synth_binary``, 3 epochs: seconds, yet a real run
directory made by ``edgecxr.train.train`` with every file of the run-directory contract.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from edgecxr.config import TrainConfig

# bn_momentum 0.5: with only ~24 steps, Keras' 0.99 would leave the BN statistics at their
# initial values and every prediction equal; 0.5 gives a model whose outputs vary, as a real one.
TINY_RUN_CONFIG = replace(TrainConfig(), size=32, epochs=3, batch_size=8, learning_rate=0.005, bn_momentum=0.5, seed=0)


@pytest.fixture(scope="session")
def trained_run(synth_binary, tmp_path_factory) -> Path:
    """Path of a finished run directory (model.keras, spec.json, split.json, config.toml,
    history.csv, val_metrics.json, manifest.json). Treat it as read-only: copy it
    (shutil.copytree) before a stage that writes into the run."""
    from edgecxr.train import train

    result = train(TINY_RUN_CONFIG, synth_binary, runs_root=tmp_path_factory.mktemp("runs"), name="tiny",
                   progress=False)
    return result.run_dir

"""The one builder of run folders for every stage's tests: ``build_run`` makes a run the way a
user does, through the real ``train`` stage (then the real ``quantize`` stage when asked), so
every fixture run holds exactly what those stages write -- its config.toml included, which
``edgecxr.config.load_train_config`` reads back. Every other run fixture (fixtures_quantize,
fixtures_export, fixtures_firmware) is a copy of one of these, or built by ``build_run``.

    trained_run    MobileNetV1 0.25 at 32x32x1 on ``synth_binary``, 3 epochs (the train stage's own tests)
    tiny_run       TINY_MODEL on ``synth_binary``: the base of the quantize, evaluate and export runs

``TINY_MODEL`` is a test-only row of the model table (conv-BN-ReLU twice, pooling, softmax;
~1k parameters), present only while ``build_run`` trains it: seconds to train, quantize and QAT,
and small enough for the firmware and emulator tests.
"""

import contextlib
import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from edgecxr.config import TrainConfig
from edgecxr.runs import Run

# bn_momentum 0.5: with only ~24 steps, Keras' 0.99 would leave the BN statistics at their
# initial values and every prediction equal; 0.5 gives a model whose outputs vary, as a real one.
TINY_RUN_CONFIG = replace(TrainConfig(), size=32, epochs=3, batch_size=8, learning_rate=0.005, bn_momentum=0.5, seed=0)
TINY_MODEL = "tiny_cnn_test"
SIZE = 32
TINY_CONFIG = replace(TINY_RUN_CONFIG, model=TINY_MODEL, learning_rate=0.01, batch_size=16, val_fraction=0.3)


def tiny_cnn(input_shape, units: int, activation: str, extra=None, **_ignored):
    """Conv -> BN -> ReLU (folds under QAT) twice -> pooling -> head; ``extra`` is a layer put
    after the first block (e.g. one with no int8 kernel)."""
    from edgecxr.tfenv import keras

    k = keras()
    inp = k.Input(input_shape)
    x = inp
    for block in range(2):
        x = k.layers.Conv2D(8, 3, strides=2, use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.ReLU()(x)
        if block == 0 and extra is not None:
            x = extra(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(units, activation=activation)(x))


@contextlib.contextmanager
def model_row(name: str = TINY_MODEL, **options):
    """The model table with the test-only row ``name`` (tiny_cnn with ``options``) while inside."""
    from edgecxr.models import zoo

    zoo.MODELS[name] = zoo.ModelEntry(name, tiny_cnn, (SIZE, SIZE, 1), "softmax", "binary", "edgecxr tests",
                                      foldable=True, min_size=8, options=options)
    try:
        yield
    finally:
        del zoo.MODELS[name]


def build_run(root: Path, data: Path, name: str = "tiny", config: TrainConfig = TINY_CONFIG,
              quantize: dict | None = None, **row_options) -> Run:
    """A run folder made by ``train`` (``config`` on ``data``), then by ``quantize(**quantize)``
    when given. ``row_options`` go to the tiny model's builder (e.g. ``extra=``)."""
    from edgecxr.quantize import QuantizeOptions
    from edgecxr.quantize import quantize as quantize_stage
    from edgecxr.train import train

    with model_row(**row_options):
        run = Run(train(config, data, runs_root=root, name=name, progress=False).run_dir)
    if quantize is not None:
        quantize_stage(run, QuantizeOptions(**{"calibration_size": 40, "qat_epochs": 1, "seed": 0, **quantize}))
    return run


def copy_run(run: Run, dest: Path) -> Run:
    """A copy of ``run`` at ``dest`` (what a test changes instead of a shared fixture run)."""
    shutil.copytree(run.path, dest)
    return Run(dest)


def file_hashes(path: Path) -> dict[str, str]:
    """sha256 of every file under ``path`` (hidden temp files included): 'nothing changed' checks."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(path).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def trained_run(synth_binary, tmp_path_factory) -> Path:
    """Path of a finished MobileNet run directory (model.keras, spec.json, split.json, config.toml,
    history.csv, val_metrics.json, manifest.json). Treat it as read-only: copy it
    (copy_run) before a stage that writes into the run."""
    return build_run(tmp_path_factory.mktemp("runs"), synth_binary, config=TINY_RUN_CONFIG).path


@pytest.fixture(scope="session")
def tiny_run(synth_binary, tmp_path_factory) -> Run:
    """A trained TINY_MODEL run with no .tflite yet (read-only: copy it before changing it)."""
    return build_run(tmp_path_factory.mktemp("runs"), synth_binary)


"""A tiny trained run (run-directory contract) and its quantized models, for the quantize
and evaluate tests. Built here, with real tf_keras training on `synth_binary`, so these
tests do not depend on `edgecxr train`'s defaults; copies are made for tests that break
or overwrite things."""

import hashlib
import shutil
from pathlib import Path

import pytest

from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_folder
from edgecxr.data.split import split_by_patient, write_split
from edgecxr.device.preprocess import to_float
from edgecxr.device.spec import ModelSpec
from edgecxr.files import write_json, write_text
from edgecxr.runs import Run

SIZE = 32


def tiny_model(n_out: int = 2, extra=None):
    """Conv -> BN -> ReLU (folds under QAT) -> pooling -> softmax head, ~1k parameters."""
    from edgecxr.tfenv import keras

    k = keras()
    inp = k.Input((SIZE, SIZE, 1))
    x = k.layers.Conv2D(8, 3, strides=2, use_bias=False)(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    if extra is not None:
        x = extra(x)
    x = k.layers.Conv2D(8, 3, strides=2, use_bias=False)(x)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    out = k.layers.Dense(n_out, activation="softmax")(x)
    return k.Model(inp, out)


def make_run(root: Path, data: Path, model=None, epochs: int = 3, seed: int = 0) -> Run:
    """Write a complete run directory (model.keras, spec.json, split.json, ...) for ``data``."""
    from edgecxr.tfenv import keras, set_seed

    set_seed(seed)
    dataset = scan_folder(data)
    spec = ModelSpec(width=SIZE, height=SIZE, channels=1, labels=dataset.classes, task="binary",
                          output="softmax")
    run = Run.create("tiny", root=root)
    assignment = split_by_patient(dataset, val_fraction=0.3, seed=seed)
    write_split(dataset, assignment, run.file("split.json"), seed=seed, val_fraction=0.3)
    train = [s for s in dataset.samples if assignment[s.path] == "train"]
    px = load_pixels([s.path for s in train], spec, progress=False)
    y = keras().utils.to_categorical([s.labels[0] for s in train], len(dataset.classes))
    model = model or tiny_model(len(dataset.classes))
    model.compile(optimizer=keras().optimizers.Adam(1e-2), loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(to_float(px.x), y, epochs=epochs, batch_size=16, verbose=0)
    model.save(run.file("model.keras"))
    write_json(run.file("spec.json"), spec.to_dict())
    write_text(run.file("config.toml"), f'[train]\nmodel = "tiny"\nepochs = {epochs}\nseed = {seed}\n')
    write_text(run.file("history.csv"), "epoch,loss\n" + "".join(
        f"{i},{v:.6f}\n" for i, v in enumerate(hist.history["loss"])))
    write_json(run.file("val_metrics.json"), {"note": "tiny test run"})
    run.update_manifest("train", {"epochs": epochs})
    return run


def copy_run(run: Run, dest: Path) -> Run:
    shutil.copytree(run.path, dest)
    return Run(dest)


def file_hashes(path: Path) -> dict[str, str]:
    """sha256 of every file under ``path`` (hidden temp files included): 'nothing changed' checks."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(path).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def quant_base_run(tmp_path_factory, synth_binary) -> Run:
    """A trained tiny run with no .tflite yet (copy it before changing it)."""
    return make_run(tmp_path_factory.mktemp("runs"), synth_binary)


@pytest.fixture(scope="session")
def quantized_run(tmp_path_factory, quant_base_run):
    """A copy of ``quant_base_run`` with float, PTQ and QAT .tflite files, and the QuantizeResult."""
    from edgecxr.quantize import QuantizeOptions, quantize

    run = copy_run(quant_base_run, tmp_path_factory.mktemp("quantized") / "tiny")
    result = quantize(run, QuantizeOptions(int8=True, qat=True, calibration_size=40, qat_epochs=1, seed=0))
    return run, result


@pytest.fixture(scope="session")
def quant_val_pixels(quant_base_run):
    """The tiny run's validation images as uint8 pixels (the same ones evaluate uses)."""
    from edgecxr.data.split import read_split

    dataset, assignment = read_split(quant_base_run.file("split.json"))
    spec = ModelSpec.load(quant_base_run.file("spec.json"))
    paths = [s.path for s in dataset.samples if assignment[s.path] == "val"]
    return load_pixels(paths, spec, progress=False).x



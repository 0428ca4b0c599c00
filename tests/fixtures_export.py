"""A tiny but complete run directory for the export tests: split.json over the synthetic
images, spec.json with labels, the tiny full-int8 model as model_ptq_int8.tflite."""

import shutil
from pathlib import Path

import pytest

from edgecxr.data.dataset import scan_folder
from edgecxr.data.split import SPLIT_FILE, split_by_patient, write_split
from edgecxr.device.spec import ModelSpec
from edgecxr.files import write_json
from edgecxr.runs import Run
from edgecxr.runtimes import TFLiteModel


def make_run(root: Path, name: str, data: Path, model: Path, filename: str = "model_ptq_int8.tflite") -> Run:
    run = Run.create(name, root=root)
    dataset = scan_folder(data)
    write_split(dataset, split_by_patient(dataset, 0.25, seed=0), run.file(SPLIT_FILE), seed=0, val_fraction=0.25)
    shutil.copyfile(model, run.file(filename))
    tfl = TFLiteModel(run.file(filename))
    h, w, c = (int(d) for d in tfl.input["shape"][1:])
    spec = ModelSpec(width=w, height=h, channels=c, labels=list(dataset.classes), task="binary", output="softmax")
    spec.save(run.file("spec.json"))
    write_json(run.file("val_metrics.json"), {"accuracy": 0.5, "roc_auc": 0.5})
    run.update_manifest("train")
    return run


@pytest.fixture(scope="session")
def export_run(tmp_path_factory, synth_binary, tiny_int8_tflite) -> Run:
    """A run named "tiny-run" with a PTQ int8 model and no QAT model. Tests must not write into
    it (use ``--out`` under their own tmp_path) so that it stays the same for every test."""
    return make_run(tmp_path_factory.mktemp("runs"), "tiny-run", synth_binary, tiny_int8_tflite)


@pytest.fixture(scope="session")
def exported_bundle(tmp_path_factory, export_run) -> Path:
    """``edgecxr export tiny-run --format bundle`` into a tmp folder (its .tar.gz lands next to it)."""
    from edgecxr.export import ExportOptions, export

    out = tmp_path_factory.mktemp("exported") / "bundle"
    export(export_run, ExportOptions("bundle", out=out))
    return out


@pytest.fixture(scope="session")
def deploy_run(tmp_path_factory, export_run, exported_bundle) -> Path:
    """A copy of the tiny run whose export/bundle is the session's bundle (deploy reads it there)."""
    run = tmp_path_factory.mktemp("deploy") / "tiny-run"
    shutil.copytree(export_run.path, run)
    shutil.copytree(exported_bundle, run / "export" / "bundle")
    return run

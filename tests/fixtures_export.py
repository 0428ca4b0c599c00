"""The export tests' run: a copy of fixtures_run's ``tiny_run`` (its one builder) named
"tiny-run", quantized to a PTQ int8 model (no QAT) by the real ``quantize`` stage."""

import shutil
from pathlib import Path

import pytest

from edgecxr.runs import Run
from tests.fixtures_run import copy_run

PTQ_ONLY = {"int8": True, "qat": False}  # what `edgecxr quantize RUN --int8` makes


@pytest.fixture(scope="session")
def export_run(tmp_path_factory, tiny_run) -> Run:
    """A run named "tiny-run" with a PTQ int8 model and no QAT model. Tests must not write into
    it (use ``--out`` under their own tmp_path) so that it stays the same for every test."""
    from edgecxr.quantize import QuantizeOptions, quantize

    run = copy_run(tiny_run, tmp_path_factory.mktemp("runs") / "tiny-run")
    quantize(run, QuantizeOptions(**PTQ_ONLY, calibration_size=40, seed=0))
    return run


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

"""Every run folder the fixtures build is a run the stages themselves wrote (fixtures_run's
one builder): its config.toml reads back with the loader `edgecxr train --config` uses, and
its manifest lists its files as they are."""

from pathlib import Path

import pytest

from edgecxr.config import TrainConfig, load_train_config
from edgecxr.device.spec import ModelSpec
from edgecxr.runs import Run

RUN_FIXTURES = ["trained_run", "tiny_run", "quant_base_run", "quantized_run", "export_run", "deploy_run", "xray_run"]


def _path(value) -> Path:
    run = value[0] if isinstance(value, tuple) else value
    return run.path if isinstance(run, Run) else Path(run)


@pytest.mark.parametrize("fixture", RUN_FIXTURES)
def test_every_fixture_run_reads_back_with_the_config_loader(request, fixture):
    path = _path(request.getfixturevalue(fixture))
    config = load_train_config(path / "config.toml")
    spec = ModelSpec.load(path / "spec.json")
    assert isinstance(config, TrainConfig) and (config.size, config.size) == (spec.height, spec.width)
    assert "train" in Run(path).read_manifest()["stages"]
    assert Run(path).verify() == []

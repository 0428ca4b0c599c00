"""The stage table (edgecxr.stages): every row names a function and an options class that exist,
and every stage but train (which makes the run) is ``fn(run, options) -> result with to_dict()``."""

import dataclasses
import inspect
import typing

import pytest

from edgecxr import stages
from edgecxr.errors import ConfigError


@pytest.mark.parametrize("stage", stages.STAGES, ids=lambda s: s.name)
def test_each_stage_is_called_the_same_way(stage):
    fn = stages.function(stage.name)
    options = stages.options(stage.name)
    assert dataclasses.is_dataclass(options)
    hints = typing.get_type_hints(fn)
    result = hints["return"]
    assert dataclasses.is_dataclass(result) and callable(result.to_dict)
    params = list(inspect.signature(fn).parameters.values())
    if stage.name == "train":  # makes the run: config + data in its place
        assert [p.name for p in params[:2]] == ["config", "data"] and hints["config"] is type(options)
        return
    assert [p.name for p in params] == ["run", "options"]
    assert hints["options"] is type(options) and params[1].default == options


def test_unknown_option_is_refused_by_name():
    with pytest.raises(TypeError, match="qat_epoch"):
        stages.options("quantize", qat_epoch=1)


# stage -> an option value it cannot take
BAD_OPTION = {"train": {"epochs": 0}, "quantize": {"calibration_size": 0}, "evaluate": {"seed": -1},
              "bench": {"runs": 0}, "export": {"format": "tflite", "test_image": "x.png"}}


@pytest.mark.parametrize("stage", stages.STAGES, ids=lambda s: s.name)
def test_every_stage_refuses_a_bad_option_when_the_options_are_made(stage):
    """One way to check: in the options' __post_init__, so options that exist are valid ones
    (no stage can forget to call a check() first)."""
    with pytest.raises(ConfigError):
        stages.options(stage.name, **BAD_OPTION[stage.name])
    assert not hasattr(type(stages.options(stage.name)), "check")

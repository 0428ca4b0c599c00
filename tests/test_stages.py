"""The stage table (edgecxr.stages): every row names a function and an options class that exist,
and every stage but train (which makes the run) is ``fn(run, options) -> result with to_dict()``."""

import dataclasses
import inspect
import typing

import pytest

from edgecxr import stages


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

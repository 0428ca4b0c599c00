"""Every model of the model table that exports to int8, at a tiny input size, runs on the
engine's host build bit for bit like TFLite's reference kernels."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine_graphs import Reference, convert, inputs, randomize

pytestmark = pytest.mark.slow


def _models():
    from edgecxr.models.zoo import MODELS

    return list(MODELS)


@pytest.mark.parametrize("name", _models())
def test_zoo_model_bit_exact(name, tmp_path):
    from edgecxr.engine.host import HostEngine
    from edgecxr.models import zoo
    from edgecxr.tfenv import set_seed

    entry = zoo.MODELS[name]
    set_seed(1)
    model = zoo.build_model(name, entry.default_task, entry.default_classes, size=max(entry.min_size, 32),
                            channels=1)
    randomize(model, 1)
    content = convert(model, samples=4)
    ref, eng = Reference(content), HostEngine(content, cache=tmp_path)
    xs = inputs(ref.shape[1:], 8, seed=3)
    outs = [ref(x[None]) for x in xs]
    assert all(np.array_equal(eng(x), want) for x, want in zip(xs, outs)), name
    assert len({o.tobytes() for o in outs}) > 1, f"{name}: the random model's outputs do not vary"

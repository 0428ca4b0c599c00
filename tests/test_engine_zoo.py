"""Every model of the model table that exports to int8, at a tiny input size, runs on the
engine's host build bit for bit like TFLite's reference kernels.

mondal_xception is left to benchmarks/bench_engine.py --zoo: its 21 M parameters take minutes
to convert, and its operators (separable convolutions, residual ADD, standalone RELU, 3x3
stride-2 max-pool, MEAN, LOGISTIC) are all in the random graphs of test_engine_exact.py."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine_graphs import Reference, convert, inputs, randomize

pytestmark = pytest.mark.slow
SLOW_TO_CONVERT = {"mondal_xception"}
COVERED_ELSEWHERE = {"mobilenet_v1"}  # test_engine_generate: at its real 96x96x1 input


def _models():
    from edgecxr.models.zoo import MODELS

    return [name for name in MODELS if name not in SLOW_TO_CONVERT | COVERED_ELSEWHERE]


def zoo_int8(name: str) -> bytes:
    """The model table's ``name`` at its smallest input (at least 32), one channel, random
    weights spread so every layer stays alive, converted to full int8."""
    from edgecxr.models import zoo
    from edgecxr.tfenv import set_seed

    entry = zoo.MODELS[name]
    set_seed(1)
    model = zoo.build_model(name, entry.default_task, entry.default_classes, size=max(entry.min_size, 32),
                            channels=1)
    randomize(model, 1)
    return convert(model, samples=4)


def check_exact(content: bytes, cache, n: int = 8) -> tuple[int, int]:
    """(inputs on which the engine equals the reference kernels, distinct reference outputs)."""
    from edgecxr.engine.host import HostEngine

    ref, eng = Reference(content), HostEngine(content, cache=cache)
    xs = inputs(ref.shape[1:], n, seed=3)
    outs = [ref(x[None]) for x in xs]
    return sum(np.array_equal(eng(x), want) for x, want in zip(xs, outs)), len({o.tobytes() for o in outs})


@pytest.mark.parametrize("name", _models())
def test_zoo_model_bit_exact(name, tmp_path):
    same, distinct = check_exact(zoo_int8(name), tmp_path)
    assert same == 8, f"{name}: the engine differs from the reference kernels on {8 - same} of 8 inputs"
    assert distinct > 1, f"{name}: the random model's outputs do not vary"

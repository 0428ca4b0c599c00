"""What the engine refuses (one error line naming the operator, with the TFLM hint), what it
writes (the C API's names), and its memory plan for the MobileNetV1 0.25 96x96x1 of the model
table: the arena stays close to the largest single tensor (36,864 B)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine_graphs import Reference, convert, inputs, randomize


def test_float_model_is_refused(tiny_float_tflite):
    from edgecxr.engine import generate
    from edgecxr.errors import ModelError

    with pytest.raises(ModelError) as e:
        generate(tiny_float_tflite)
    assert "int8" in e.value.message and "float32" in e.value.message
    assert "--engine tflm" in e.value.hint


@pytest.mark.slow
def test_unsupported_operator_is_named(tmp_path):
    """A dilated SAME convolution converts to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND, which no
    model of the table uses and the engine lacks: refused before anything is written."""
    from edgecxr.engine import generate
    from edgecxr.errors import ModelError
    from edgecxr.tfenv import keras

    k = keras()
    inp = k.Input((12, 12, 1))
    x = k.layers.Conv2D(3, 3, dilation_rate=2, padding="same")(inp)
    model = k.Model(inp, k.layers.Dense(2, activation="softmax")(k.layers.Flatten()(x)))
    randomize(model, 0)
    with pytest.raises(ModelError) as e:
        generate(convert(model))
    assert "BATCH_TO_SPACE_ND" in e.value.message and "SPACE_TO_BATCH_ND" in e.value.message
    assert "--engine tflm" in e.value.hint
    assert "\n" not in e.value.message


def test_generated_api(tiny_int8_tflite):
    from edgecxr.engine import FILES, HEADER, generate

    gen = generate(tiny_int8_tflite)
    assert sorted(gen.files) == sorted(FILES)
    h = gen.files[HEADER]
    for name in ("int edgecxr_invoke(const int8_t *input, int8_t *output);", "#define EDGECXR_INPUT_BYTES 1024",
                 "#define EDGECXR_OUTPUT_BYTES 2", f"#define EDGECXR_ARENA_BYTES {gen.plan.arena}",
                 "#define EDGECXR_INPUT_SHAPE {1, 32, 32, 1}", f"#define EDGECXR_LAYERS {len(gen.kernels)}"):
        assert name in h
    assert [k.op.code for k in gen.kernels] == ["CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"]
    assert "malloc" not in "".join(gen.files.values())


@pytest.fixture(scope="module")
def mobilenet_96():
    from edgecxr.models import zoo
    from edgecxr.tfenv import set_seed

    set_seed(0)
    model = zoo.build_model("mobilenet_v1", "binary", 2, size=96, channels=1, alpha=0.25)
    randomize(model, 0)
    return convert(model, samples=4)


@pytest.mark.slow
def test_mobilenet_plan_is_close_to_the_largest_tensor(mobilenet_96, tmp_path):
    from edgecxr.engine import generate
    from edgecxr.engine.host import HostEngine

    gen = generate(mobilenet_96)
    assert gen.plan.largest_tensor == 48 * 48 * 16 == 36864
    # the expanding 1x1 after the first depthwise layer runs in place: no second 36,864 B tensor
    assert gen.plan.largest_tensor <= gen.plan.arena <= 40 * 1024
    table = gen.plan_table()
    assert f"arena {gen.plan.arena} B" in table and "peak at operator" in table
    ref, eng = Reference(mobilenet_96), HostEngine(mobilenet_96, cache=tmp_path)
    for x in inputs(ref.shape[1:], 6):
        assert np.array_equal(eng(x), ref(x[None]))


def test_no_c_compiler_is_one_error(tiny_int8_tflite, monkeypatch, tmp_path):
    """Without a C compiler the host build is one DeviceError with a hint (nothing built or cached)."""
    from edgecxr.engine.host import HostEngine
    from edgecxr.errors import DeviceError

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no cc, gcc or clang
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(DeviceError) as e:
        HostEngine(tiny_int8_tflite, cache=tmp_path / "cache")
    assert "no C compiler" in e.value.message and "--kernels reference" in e.value.hint
    assert not (tmp_path / "cache").exists()

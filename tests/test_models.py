"""The model table: published parameter counts, every entry builds and (un)folds as it says,
costs are counted right, pretrained weights load by name, bad names and sizes are refused."""

import numpy as np
import pytest

from edgecxr.errors import ConfigError, ModelError
from edgecxr.models import zoo

HUYNH_PUBLISHED = {"huynh_cnn5": 1_246_401, "huynh_cnn4": 3_666_817, "huynh_cnn3": 12_200_961}


@pytest.mark.parametrize("name", HUYNH_PUBLISHED)
def test_huynh_parameter_counts_match_the_paper(name):
    for variant in (name, f"{name}_foldable"):
        model = zoo.build_model(variant, "binary", 2)
        assert model.input_shape == (None, 150, 150, 1)
        assert zoo.count_params(model) == HUYNH_PUBLISHED[name], variant


@pytest.mark.slow
@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_every_model_builds_at_its_input_and_folds_as_declared(name):
    entry = zoo.MODELS[name]
    model = zoo.build_model(name, entry.default_task, entry.default_classes)
    assert model.input_shape[1:] == entry.input_shape
    units, _ = zoo.output_head(entry, entry.default_task, entry.default_classes)
    assert model.output_shape == (None, units)
    assert zoo.is_foldable(model) is entry.foldable
    assert entry.citation
    # one flat graph: no model nested inside (tfmot's QAT refuses nested models)
    assert not any(hasattr(layer, "layers") for layer in model.layers)


def test_mobilenet_has_no_activation_before_batchnorm_and_the_ei_head():
    model = zoo.build_model("mobilenet_v1", "binary", 2, size=32)
    assert zoo.is_foldable(model)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[-3:] == ["Dropout", "Flatten", "Dense"]
    assert model.layers[-3].rate == pytest.approx(0.1)
    assert all(not layer.use_bias for layer in model.layers if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D"))


@pytest.mark.slow
def test_quantization_aware_training_accepts_mobilenet():
    import tensorflow_model_optimization as tfmot

    model = zoo.build_model("mobilenet_v1", "binary", 2, size=32)
    qat = tfmot.quantization.keras.quantize_model(model)
    assert qat.output_shape == (None, 2)


@pytest.mark.parametrize("alpha,first_filters", [(0.25, 8), (0.5, 16), (1.0, 32)])
def test_mobilenet_alpha_scales_the_width(alpha, first_filters):
    model = zoo.build_model("mobilenet_v1", "multiclass", 3, size=32, alpha=alpha)
    assert model.get_layer("conv1").filters == first_filters
    assert model.get_layer("conv_pw_13").filters == int(1024 * alpha)
    assert model.output_shape == (None, 3)


def test_output_head_follows_task_and_model():
    mobilenet, huynh = zoo.MODELS["mobilenet_v1"], zoo.MODELS["huynh_cnn5"]
    assert zoo.output_head(mobilenet, "binary", 2) == (2, "softmax")
    assert zoo.output_head(huynh, "binary", 2) == (1, "sigmoid")
    assert zoo.output_head(huynh, "multiclass", 3) == (3, "softmax")
    assert zoo.output_head(mobilenet, "multilabel", 14) == (14, "sigmoid")


def test_macs_counted_by_hand():
    from edgecxr.tfenv import keras

    k = keras()
    inp = k.Input((8, 8, 2))
    x = k.layers.Conv2D(4, 3, padding="same", use_bias=False)(inp)  # 8*8*3*3*2*4 = 4608
    x = k.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)  # 4*4*3*3*4 = 576
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(5)(x)  # 64*5 = 320
    assert zoo.count_macs(k.Model(inp, out)) == 4608 + 576 + 320
    assert zoo.count_macs(zoo.build_model("mobilenet_v1", "binary", 2)) == pytest.approx(7.2e6, rel=0.02)


def test_keras_macs_are_the_tflite_macs():
    """The model table counts a Keras model as `bench` counts its .tflite: the same operators, one rule."""
    from edgecxr import tflite_facts
    from edgecxr.quantize import convert_float
    from edgecxr.tfenv import keras

    k = keras()
    inp = k.Input((12, 12, 3))
    x = k.layers.Conv2D(6, 3, strides=2, padding="same")(inp)
    x = k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)
    x = k.layers.SeparableConv2D(5, 3, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(inp, k.layers.Dense(3)(x))
    assert zoo.count_macs(model) == tflite_facts.count_macs(convert_float(model)) > 0


def test_int8_size_estimate_is_near_the_known_mobilenet_file():
    # this MobileNetV1 0.25 96x96x1 (2 classes) converted to a 295,144-byte int8 .tflite here
    estimate = zoo.int8_size_estimate(zoo.build_model("mobilenet_v1", "binary", 2))
    assert estimate == pytest.approx(295_144, rel=0.03)


def test_unknown_model_suggests_the_nearest():
    with pytest.raises(ConfigError, match="did you mean 'mobilenet_v1'"):
        zoo.get_entry("mobilenet_v2")


@pytest.mark.parametrize("name,size", [("mobilenet_v1", 16), ("mondal_xception", 64)])
def test_input_size_the_model_cannot_take(name, size):
    with pytest.raises(ConfigError, match=f"cannot take {size}x{size}"):
        zoo.build_model(name, "binary", 2, size=size)


def test_bad_alpha_is_refused():
    with pytest.raises(ConfigError, match="alpha 0.3 is not one of"):
        zoo.build_model("mobilenet_v1", "binary", 2, size=32, alpha=0.3)


def test_pretrained_backbone_loads_by_name_and_reports_mismatches(tmp_path):
    source = zoo.build_model("mobilenet_v1", "binary", 2, size=32)
    source.get_layer("conv1").set_weights([np.full(w.shape, 0.5, np.float32) for w in source.get_layer("conv1").weights])
    path = tmp_path / "backbone.h5"
    source.save_weights(path)
    target = zoo.build_model("mobilenet_v1", "multiclass", 3, size=32)
    report = zoo.load_backbone_weights(target, path)
    assert "conv1" in report["loaded"] and "conv_pw_13_bn" in report["loaded"]
    assert [s.split()[0] for s in report["skipped"]] == ["head_dense"]  # 2 vs 3 classes
    assert np.all(target.get_layer("conv1").get_weights()[0] == 0.5)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "other.h5"
    zoo.build_model("kirthan_cnn", "binary", 2, size=32).save_weights(path)
    with pytest.raises(ModelError, match="no layer name and shape matches"):
        zoo.load_backbone_weights(zoo.build_model("mobilenet_v1", "binary", 2, size=32), path)

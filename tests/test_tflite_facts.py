"""Facts of the tiny model's .tflite: arena, operators, MACs (hand-computed), float ops, quantization."""

import pytest

from edgecxr import tflite_facts
from edgecxr.errors import ModelError
from tests.fixtures_models import TINY_CLASSES, TINY_FILTERS


def test_arena_is_measured(tiny_int8_tflite, tiny_float_tflite):
    int8, flt = tflite_facts.measure_arena(tiny_int8_tflite), tflite_facts.measure_arena(tiny_float_tflite)
    assert 0 < int8 < 64 * 1024
    assert flt > int8  # float activations are 4x bigger


def test_ops_of_the_tiny_model(tiny_int8_tflite, tiny_float_tflite):
    expected = ["AddConv2D", "AddFullyConnected", "AddMean", "AddSoftmax"]
    assert tflite_facts.tflm_ops(tiny_int8_tflite) == expected
    assert tflite_facts.tflm_ops(tiny_float_tflite) == expected


def test_mac_count_matches_hand_computation(tiny_int8_tflite, tiny_float_tflite):
    conv = 16 * 16 * TINY_FILTERS * 3 * 3 * 1  # 32x32 stride 2 'same' -> 16x16, 3x3 kernel, 1 channel in
    dense = TINY_FILTERS * TINY_CLASSES
    assert tflite_facts.count_macs(tiny_int8_tflite) == conv + dense == 9224
    assert tflite_facts.count_macs(tiny_float_tflite) == conv + dense


def test_io_bytes_and_float_detection(tiny_int8_tflite, tiny_float_tflite):
    assert tflite_facts.io_bytes(tiny_int8_tflite) == {"input": 32 * 32, "output": 2}
    assert tflite_facts.io_bytes(tiny_float_tflite) == {"input": 4 * 32 * 32, "output": 8}
    assert tflite_facts.float_ops(tiny_int8_tflite) == []
    assert tflite_facts.float_ops(tiny_float_tflite) == ["CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"]


def test_io_quant_is_what_the_interpreter_reads(tiny_int8_tflite, tiny_float_tflite):
    from edgecxr.tfenv import tf

    interp = tf().lite.Interpreter(model_path=str(tiny_int8_tflite))
    want = [dict(zip(("scale", "zero_point"), d["quantization"], strict=True))
            for d in (interp.get_input_details()[0], interp.get_output_details()[0])]
    inp, out = tflite_facts.io_quant(tiny_int8_tflite)
    assert [inp, out] == want and inp["zero_point"] == -128
    assert out == {"scale": 1 / 256, "zero_point": -128}  # softmax output: [0, 1) in 256 steps
    assert tflite_facts.io_quant(tiny_float_tflite) == (None, None)


def test_resolver_names_come_from_tflm():
    from edgecxr.firmware.resolver import registration, table

    assert registration("DEPTHWISE_CONV_2D")["method"] == "AddDepthwiseConv2D"
    assert registration("BATCH_MATMUL")["method"] == "AddBatchMatMul"  # not "AddBatchMatmul"
    assert registration("BATCH_TO_SPACE_ND")["method"] == "AddBatchToSpaceNd"
    assert registration("CONV_2D")["int8"] == "Register_CONV_2D_INT8"
    assert len(table()) > 90
    with pytest.raises(ModelError, match="no kernel for operator NOT_AN_OP"):
        registration("NOT_AN_OP")


def test_resolver_table_matches_the_tflm_tree(tflm_dir):
    from edgecxr.firmware.resolver import parse_tree, table

    assert parse_tree(tflm_dir) == table()


def test_not_a_tflite(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a TFLite model"):
        tflite_facts.measure_arena(bad)

"""TFLM facts of the tiny model: arena, operators, MACs (hand-computed)."""

import pytest

from edgecxr.bench import micro
from edgecxr.errors import ModelError
from tests.fixtures_models import TINY_CLASSES, TINY_FILTERS


def test_arena_is_measured(tiny_int8_tflite, tiny_float_tflite):
    int8, flt = micro.measure_arena(tiny_int8_tflite), micro.measure_arena(tiny_float_tflite)
    assert 0 < int8 < 64 * 1024
    assert flt > int8  # float activations are 4x bigger


def test_ops_of_the_tiny_model(tiny_int8_tflite, tiny_float_tflite):
    expected = ["AddConv2D", "AddFullyConnected", "AddMean", "AddSoftmax"]
    assert micro.tflm_ops(tiny_int8_tflite) == expected
    assert micro.tflm_ops(tiny_float_tflite) == expected


def test_mac_count_matches_hand_computation(tiny_int8_tflite, tiny_float_tflite):
    conv = 16 * 16 * TINY_FILTERS * 3 * 3 * 1  # 32x32 stride 2 'same' -> 16x16, 3x3 kernel, 1 channel in
    dense = TINY_FILTERS * TINY_CLASSES
    assert micro.count_macs(tiny_int8_tflite) == conv + dense == 9224
    assert micro.count_macs(tiny_float_tflite) == conv + dense


def test_io_bytes_and_float_detection(tiny_int8_tflite, tiny_float_tflite):
    assert micro.io_bytes(tiny_int8_tflite) == {"input": 32 * 32, "output": 2}
    assert micro.io_bytes(tiny_float_tflite) == {"input": 4 * 32 * 32, "output": 8}
    assert micro.is_float_model(tiny_float_tflite) and not micro.is_float_model(tiny_int8_tflite)


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
        micro.measure_arena(bad)

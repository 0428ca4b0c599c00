"""The quantize and evaluate tests' runs: copies of fixtures_run's ``tiny_run`` (its one
builder), quantized by the real ``quantize`` stage. Copies are made for tests that break or
overwrite things."""

import pytest

from edgecxr.data.cache import load_pixels
from edgecxr.device.spec import ModelSpec
from edgecxr.runs import Run
from tests.fixtures_run import copy_run


@pytest.fixture(scope="session")
def quant_base_run(tiny_run) -> Run:
    """A trained tiny run with no .tflite yet (copy it before changing it)."""
    return tiny_run


@pytest.fixture(scope="session")
def quantized_run(tmp_path_factory, tiny_run):
    """A copy of ``tiny_run`` with float, PTQ and QAT .tflite files, and the QuantizeResult."""
    from edgecxr.quantize import QuantizeOptions, quantize

    run = copy_run(tiny_run, tmp_path_factory.mktemp("quantized") / "tiny")
    result = quantize(run, QuantizeOptions(int8=True, qat=True, calibration_size=40, qat_epochs=1, seed=0))
    return run, result


@pytest.fixture(scope="session")
def quant_val_pixels(tiny_run):
    """The tiny run's validation images as uint8 pixels (the same ones evaluate uses)."""
    from edgecxr.data.split import read_split

    dataset, assignment = read_split(tiny_run.file("split.json"))
    spec = ModelSpec.load(tiny_run.file("spec.json"))
    paths = [s.path for s in dataset.samples if assignment[s.path] == "val"]
    return load_pixels(paths, spec, progress=False).x

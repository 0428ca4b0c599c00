"""Synthetic datasets shared by every stage's tests."""

from pathlib import Path

import pytest

from edgecxr.data.synth import MULTICLASS, make_dataset


@pytest.fixture(scope="session")
def synth_binary(tmp_path_factory) -> Path:
    """NORMAL / PNEUMONIA, 40 images each, 64x64 PNG, 2 images per patient, no split folders."""
    return make_dataset(tmp_path_factory.mktemp("synth") / "binary", per_class=40, size=64, seed=1)


@pytest.fixture(scope="session")
def synth_multiclass(tmp_path_factory) -> Path:
    """Normal / Viral Pneumonia / Covid (a space in a class name, like covid3), 24 each."""
    return make_dataset(tmp_path_factory.mktemp("synth") / "multi", per_class=24, size=64, seed=2,
                        classes=MULTICLASS)

"""An emulated Raspberry Pi 4 userland (edgecxr.bench.pi_emu): Debian 12's arm64 python3.11 and
PyPI's aarch64 wheels under qemu-user. Built once per test session into the tests' own cache
(EDGECXR_CACHE, see conftest.py); skipped, saying why, where qemu-user-static or mmdebstrap
is missing."""

import shutil
from pathlib import Path

import pytest

from edgecxr.bench.pi_emu import TOOLS, userland


@pytest.fixture(scope="session")
def pi4_python() -> Path:
    """The wrapper script that runs the emulated Pi 4's python3 (what --remote-python points at)."""
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt install {' '.join(TOOLS[t] for t in missing)}): "
                    "no emulated Raspberry Pi")
    return userland("pi4-emu")

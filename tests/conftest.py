"""Shared test set-up. Fixtures live in one module per stage (listed below) so that each
stage's tests own theirs; real-data tests skip when ../shared/data is absent."""

import os
import tempfile
from pathlib import Path

import pytest

# the decoded-image cache of the tests never touches the user's ~/.cache
os.environ.setdefault("EDGECXR_CACHE", tempfile.mkdtemp(prefix="edgecxr-test-cache-"))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TFLM object files are shared by the session's firmware builds, never the user's ~/.cache
os.environ.setdefault("EDGECXR_TFLM_CACHE", tempfile.mkdtemp(prefix="edgecxr-test-tflm-"))

# fixtures_run first: it is the one builder of run folders that the later ones import
pytest_plugins = ["tests.fixtures_data", "tests.fixtures_models", "tests.fixtures_ssh", "tests.fixtures_run",
                  "tests.fixtures_export", "tests.fixtures_quantize", "tests.fixtures_pi_emu", "tests.fixtures_firmware"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (override with EDGECXR_SHARED_DATA); the test skips when it is absent."""
    path = Path(os.environ.get("EDGECXR_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (path / "kermany224").is_dir():
        pytest.skip(f"real data not found at {path} (set EDGECXR_SHARED_DATA)")
    return path

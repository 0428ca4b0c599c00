"""The TFLM tree and the ARM toolchain for the firmware tests (skip, saying why, when absent),
and one real-X-ray run exported as firmware and built once per session (Cortex-M4, CMSIS-NN)."""

import os
import shutil
from pathlib import Path

import pytest

from tests.fixtures_export import PTQ_ONLY
from tests.fixtures_run import build_run

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tflm_dir() -> Path:
    """../shared/third_party/tflm (or $EDGECXR_TFLM_DIR)."""
    path = Path(os.environ.get("EDGECXR_TFLM_DIR") or REPO.parent / "shared" / "third_party" / "tflm")
    if not (path / "sources" / "core.txt").is_file():
        pytest.skip(f"TFLM tree not found at {path} (set EDGECXR_TFLM_DIR; README: 'The TFLM tree')")
    return path


@pytest.fixture(scope="session")
def arm_toolchain():
    for tool in ("arm-none-eabi-g++", "make", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (apt install make gcc-arm-none-eabi libnewlib-arm-none-eabi "
                        "libstdc++-arm-none-eabi-newlib qemu-system-arm)")


@pytest.fixture(scope="session")
def xray_run(tmp_path_factory, shared_data):
    """The tiny model trained and quantized (PTQ int8) on real Kermany X-rays (its val folder)."""
    return build_run(tmp_path_factory.mktemp("xray_runs"), shared_data / "kermany224" / "val", "xray-run",
                     quantize=PTQ_ONLY)


@pytest.fixture(scope="session")
def built_firmware(tmp_path_factory, xray_run, tflm_dir, arm_toolchain):
    """(project folder, Build, ELF) of the xray run for qemu-m4 with CMSIS-NN kernels."""
    from edgecxr import tflite_facts
    from edgecxr.export.source import load_source
    from edgecxr.firmware import build as fb
    from edgecxr.firmware.project import write_project
    from edgecxr.targets.table import get_board

    source = load_source(xray_run)
    project = tmp_path_factory.mktemp("firmware") / "project"
    write_project(source, project)
    b = fb.Build(project, get_board("qemu-m4"), "cmsis-nn", tflm_dir, project.parent / "out")
    registrations = [f"Register_{op}" for op in tflite_facts.builtin_ops(source.model_path)]
    return project, b, fb.build(b, registrations), registrations

"""Nothing a user passes reaches make, a shell or a generated build file unescaped: a ``--tflm``
path, a board file's values (compiler flags, QEMU machine, board folder...), the TFLM object
cache folder and a TFLM tree's file lists holding ``$(shell touch pwned)`` are each one error
line, and the payload never runs (no ``pwned`` file appears). The payload names its folder
through an environment variable make would expand too, so a run of it inside a temporary build
folder would still leave its file in the test's folder."""

import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from edgecxr.errors import ConfigError

PAYLOAD = "$(shell touch $(EDGECXR_PWNED)pwned)"


@pytest.fixture(autouse=True)
def pwned_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECXR_PWNED", f"{tmp_path}/")


def _nothing_ran(*folders):
    for folder in folders:
        assert not list(folder.rglob("pwned")), f"the payload ran in {folder}"


def _fake_tree(path):
    """A folder that passes the TFLM tree check (its file lists, the interpreter header)."""
    (path / "sources").mkdir(parents=True)
    for name in ("core.txt", "kernels_ref.txt", "kernels_cmsis.txt", "cmsis_nn.txt"):
        (path / "sources" / name).write_text("")
    header = path / "tensorflow/lite/micro/micro_interpreter.h"
    header.parent.mkdir(parents=True)
    header.write_text("")
    return path


def test_a_tflm_path_with_make_code(export_run, arm_toolchain, tmp_path, monkeypatch):
    tree = _fake_tree(tmp_path / f"tflm{PAYLOAD}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", str(export_run.path), "--device", "qemu-m4", "--tflm", str(tree)])
    assert result.exit_code == 2, result.output
    assert "the TFLM tree" in result.output and "make or the shell would interpret" in result.output
    from edgecxr.export.source import load_source
    from edgecxr.firmware import build as fb
    from edgecxr.firmware.project import write_project
    from edgecxr.targets.table import get_board

    write_project(load_source(export_run), tmp_path / "fw", engine="tflm")  # make itself is never called with it
    with pytest.raises(ConfigError, match="make or the shell would interpret"):
        fb.Build(tmp_path / "fw", get_board("qemu-m4"), "reference", tree, tmp_path / "out").make([], 1)
    _nothing_ran(tmp_path, export_run.path)


BOARD_VALUES = {"gcc_cpu": "cores.cortex-m4f", "qemu_machine": "boards.qemu-m4", "qemu_cpu": "boards.qemu-m4",
                "firmware_dir": "boards.qemu-m4", "linker_script": "boards.qemu-m4"}  # field -> its table


@pytest.mark.parametrize("field", BOARD_VALUES)
def test_board_file_values_with_make_code(field, export_run, tmp_path, monkeypatch):
    """The payload appended to one value of the packaged table's qemu-m4 row (or its core)."""
    import re

    from edgecxr.resources import resource
    from edgecxr.targets.table import DEVICES_FILE

    head, table, tail = re.split(rf"(\n\[{re.escape(BOARD_VALUES[field])}\]\n[^\[]*)",
                                 resource(DEVICES_FILE).read_text(), maxsplit=1)
    table, n = re.subn(rf'^{field} = "([^"]*)"', rf'{field} = "\1 {PAYLOAD}"', table, flags=re.M)
    assert n == 1
    devices = tmp_path / "boards.toml"
    devices.write_text(head + table + tail)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", str(export_run.path), "--device", "qemu-m4", "--devices-file",
                                      str(devices)])
    assert result.exit_code == 2, result.output
    assert f"{field} " in result.output and "is not allowed" in result.output
    _nothing_ran(tmp_path)


def test_a_board_key_with_make_code(tmp_path):
    from edgecxr.targets.table import load_boards

    devices = tmp_path / "boards.toml"
    devices.write_text('[cores.c]\nfpu = true\ncycles_per_mac_reference = 1.0\ncycles_per_mac_optimized = 1.0\n'
                       'optimized_library = "x"\nruntime_code_kb = 1\n'
                       f'[boards."q{PAYLOAD}"]\nname = "n"\nmcu = "m"\ncore = "c"\nclock_mhz = 1\nram_kb = 1\n'
                       'flash_kb = 1\nreserved_ram_kb = 0\n')
    with pytest.raises(ConfigError, match="key .* is not allowed"):
        load_boards(devices)


def test_boards_mk_takes_no_make_syntax():
    from edgecxr.firmware.project import make_value

    assert make_value("-mcpu=cortex-m4 -mthumb") == "-mcpu=cortex-m4 -mthumb"
    for bad in (PAYLOAD, "a#b", "a\nb", "`id`", "a'b"):
        with pytest.raises(ConfigError, match="cannot go into the generated boards.mk"):
            make_value(bad)


def test_a_cache_folder_with_make_code(export_run, tflm_dir, arm_toolchain, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECXR_TFLM_CACHE", str(tmp_path / f"cache{PAYLOAD}"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["flash", str(export_run.path), "--board", "qemu-m4", "--engine", "tflm",
                                      "--tflm", str(tflm_dir)])
    assert result.exit_code == 2, result.output
    assert "object cache folder" in result.output and "make or the shell would interpret" in result.output
    _nothing_ran(tmp_path)


def test_a_listed_tflm_file_with_make_code(tmp_path):
    from edgecxr.firmware.build import kernel_sources

    tree = _fake_tree(tmp_path / "tflm")
    (tree / "sources" / "kernels_ref.txt").write_text(f"tensorflow/lite/micro/kernels/{PAYLOAD}.cc\n")
    with pytest.raises(ConfigError, match="not a plain relative file name"):
        kernel_sources(tree, "reference", [])
    (tree / "sources" / "kernels_ref.txt").write_text("tensorflow/lite/micro/kernels/missing.cc\n")
    with pytest.raises(ConfigError, match="which .* does not hold"):
        kernel_sources(tree, "reference", [])
    _nothing_ran(tmp_path)

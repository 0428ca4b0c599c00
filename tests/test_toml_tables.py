"""edgecxr's three TOML tables (a train config, datasets.toml, the board table) are read by one
validator (edgecxr.config.read_toml + from_dict) and fail in one style: the file, the table and
the key in the message, the allowed values in the hint."""

from pathlib import Path

import pytest

from edgecxr.config import TrainConfig
from edgecxr.data.registry import load_registry
from edgecxr.errors import ConfigError
from edgecxr.resources import resource
from edgecxr.targets.table import DEVICES_FILE, load_boards
from edgecxr.tomlio import load_config

REPO = Path(__file__).resolve().parents[1]


def _registry(tmp_path, old, new):
    path = tmp_path / "datasets.toml"
    path.write_text((REPO / "datasets.toml").read_text().replace(old, new, 1))
    return lambda: load_registry(path)


def _boards(tmp_path, old, new):
    path = tmp_path / "boards.toml"
    text = resource(DEVICES_FILE).read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return lambda: load_boards(path)


def _config(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return lambda: load_config(TrainConfig, path)


@pytest.mark.parametrize("table, message, hint", [
    (lambda t: _config(t, "epoch = 3\n"), r"config.toml: unknown key 'epoch'; did you mean 'epochs'\?", "epochs"),
    (lambda t: _registry(t, "homepage =", "home_page ="), r"datasets.toml: \[kermany\]: unknown key 'home_page'; "
     r"did you mean 'homepage'\?", "homepage"),
    (lambda t: _boards(t, "clock_mhz =", "clock_mz ="), r"boards.toml: \[boards.\S+\]: unknown key 'clock_mz'; "
     r"did you mean 'clock_mhz'\?", "clock_mhz"),
    (lambda t: _config(t, "normalize = \"equalise\"\n"), r"unknown normalize 'equalise'; did you mean 'equalize'\?",
     "none, equalize"),
    (lambda t: _registry(t, 'label_format = "folders"', 'label_format = "folder"'),
     r"datasets.toml: \[kermany\]: unknown label_format 'folder'; did you mean 'folders'\?", "csv-multi"),
    (lambda t: _boards(t, 'core = "cortex-m4f"', 'core = "cortex-m4"'),
     r"boards.toml: \[boards.\S+\]: unknown core 'cortex-m4'; did you mean 'cortex-m4f'\?", "cortex-m7"),
])
def test_unknown_keys_and_values_fail_alike(tmp_path, table, message, hint):
    with pytest.raises(ConfigError, match=message) as e:
        table(tmp_path)()
    assert hint in e.value.hint and e.value.hint.startswith("choose one of ")


@pytest.mark.parametrize("table, message", [
    (lambda t: _config(t, "epochs = \"many\"\n"), "config.toml: epochs must be int, not str"),
    (lambda t: _registry(t, "images = 5856", 'images = "5856"'), r"datasets.toml: \[kermany\]: images must be int"),
    (lambda t: _boards(t, "clock_mhz = ", "clock_mhz = 'fast' #"), r"boards.toml: \[boards.\S+\]: clock_mhz must be float"),
    (lambda t: _registry(t, "homepage =", "# homepage ="), r"datasets.toml: \[kermany\]: no 'homepage'"),
    (lambda t: _boards(t, "clock_mhz =", "# clock_mhz ="), r"boards.toml: \[boards.\S+\]: no 'clock_mhz'"),
    (lambda t: _boards(t, "[cores.cortex-m4f]", "[cores.cortex-m4f]\n[extra]\n"), r"unknown section 'extra'"),
])
def test_wrong_types_and_missing_keys_name_the_file_and_table(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message) as e:
        table(tmp_path)()
    assert e.value.hint


def test_a_board_may_not_override_its_core_or_be_a_value(tmp_path):
    """A board's figures merge with its core's: a key in both is refused, not silently replaced."""
    text = resource(DEVICES_FILE).read_text()
    core_key = next(line.split("=")[0].strip() for line in text.split("[cores.cortex-m4f]")[1].splitlines()
                    if "=" in line)
    overriding = _boards(tmp_path, 'core = "cortex-m4f"', f'core = "cortex-m4f"\n{core_key} = 1')
    with pytest.raises(ConfigError, match=f"sets {core_key}, which its core already gives"):
        overriding()
    (tmp_path / "flat.toml").write_text(text.replace("\n[boards.nano33ble]", "\n[boards]\nloose = 3\n[boards.nano33ble]", 1))
    with pytest.raises(ConfigError, match=r"\[boards.loose\] is not a table"):
        load_boards(tmp_path / "flat.toml")

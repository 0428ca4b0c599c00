"""The board table (edgecxr/boards.toml, package data): every microcontroller edgecxr can fit,
build for, emulate or flash, each board merged with its core's figures. bench (fit and
latency), export (Arduino, firmware), deploy (flash) and tune read boards here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgecxr.config import check_choice, from_dict, lookup, read_toml
from edgecxr.errors import ConfigError, DeviceError
from edgecxr.resources import resource

DEVICES_FILE = "edgecxr/boards.toml"  # the board table, package data (edgecxr.resources)
SECTIONS = ("cores", "boards")


@dataclass(frozen=True)
class Board:
    key: str
    name: str
    mcu: str
    core: str
    clock_mhz: float
    ram_kb: float
    flash_kb: float
    reserved_ram_kb: float
    fpu: bool
    cycles_per_mac_reference: float
    cycles_per_mac_optimized: float
    optimized_library: str
    runtime_code_kb: float
    fqbn: str | None = None  # arduino-cli board id, read by `edgecxr flash`
    gcc_cpu: str | None = None  # arm-none-eabi-gcc CPU flags of the core (firmware builds)
    emulated_by: str | None = None  # the emulated board of this core (measured instruction counts)
    qemu_machine: str | None = None  # set: an emulated board (qemu-system-arm -M)
    qemu_cpu: str | None = None

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None


def load_boards(path: Path | None = None) -> dict[str, Board]:
    """Boards of ``path`` (default edgecxr/boards.toml), each merged with its core's figures."""
    path = Path(path) if path else resource(DEVICES_FILE)
    data = read_toml(path, "devices file", "pass --devices-file PATH to a boards TOML")
    for section in data:
        check_choice("section", section, allowed=SECTIONS, where=str(path))
    cores, boards = data.get("cores", {}), {}
    for key, b in data.get("boards", {}).items():
        where = f"{path}: [boards.{key}]"
        if not isinstance(b, dict):
            raise ConfigError(f"{where} is not a table", "write it as [boards.NAME] with name, core, ram_kb, ... keys")
        core = lookup(cores, b.get("core"), "core", where=where)
        both = sorted(set(core) & set(b))
        if both:
            raise ConfigError(f"{where} sets {', '.join(both)}, which its core already gives",
                              "set a value in the board or in its core, not in both")
        boards[key] = from_dict(Board, {"key": key, **b, **core}, where)
    return boards


def get_board(key: str, path: Path | None = None) -> Board:
    return lookup(load_boards(path), key, "device", DeviceError, " (or host, rpi)")


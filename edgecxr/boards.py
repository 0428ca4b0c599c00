"""The board table (edgecxr/boards.toml, package data): every microcontroller edgecxr can fit,
build for, emulate or flash, each board merged with its core's figures. bench (fit and
latency), export (Arduino, firmware), deploy (flash) and tune read boards here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from edgecxr.checks import check_choice, lookup
from edgecxr.errors import ConfigError, DeviceError
from edgecxr.resources import resource
from edgecxr.tomlio import from_dict, read_toml

DEVICES_FILE = "edgecxr/boards.toml"  # the board table, package data (edgecxr.resources)
SECTIONS = ("cores", "boards")
# Values that reach make, the compiler or QEMU's command line (through the generated boards.mk):
# each must match its pattern in full, so a board file can never inject `$(shell ...)`, a quote
# or a second command. The key names the make variables (BOARD_CPU_<key>).
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
PATTERNS = {
    "key": (_NAME, "letters, digits and _ . + -"),
    "gcc_cpu": (r"-m[a-z][a-z0-9-]*(=[A-Za-z0-9_.+-]+)?( -m[a-z][a-z0-9-]*(=[A-Za-z0-9_.+-]+)?)*",
                "-m options only, e.g. -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard"),
    "qemu_machine": (_NAME, "a qemu-system-arm -M name, e.g. mps2-an386"),
    "qemu_cpu": (_NAME, "a qemu-system-arm -cpu name, e.g. cortex-m4"),
    "firmware_dir": (_NAME, "a folder name under the firmware's boards/, e.g. qemu"),
    "linker_script": (_NAME + r"\.ld", "a file name in the board folder, e.g. mps2.ld"),
}
# An emulated (bare-metal) board needs these to be built and booted.
EMULATED_FIELDS = ("gcc_cpu", "qemu_cpu", "firmware_dir", "linker_script")


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
    firmware_dir: str | None = None  # the firmware's board folder (boards/<firmware_dir>/), bare metal
    linker_script: str | None = None  # the memory map in that folder (e.g. mps2.ld)

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in PATTERNS and value is not None and not re.fullmatch(PATTERNS[f.name][0], value):
                raise ConfigError(f"{f.name} {value!r} is not allowed",
                                  f"use {PATTERNS[f.name][1]} (it reaches make and the compiler)")
        missing = [f for f in EMULATED_FIELDS if self.emulated and getattr(self, f) is None]
        if missing:
            raise ConfigError(f"an emulated board (qemu_machine) needs {', '.join(missing)}",
                              f"add {missing[0]} to the board or its core (see the qemu-m4 row)")

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


def get_board(key: str, path: Path | None = None, what: str = "device") -> Board:
    """The board ``key`` of the table; an unknown one is one error with the close names (``what``
    names it as the command does: a bench --device, a flash --board)."""
    return lookup(load_boards(path), key, what, DeviceError, " (or host, rpi)" if what == "device" else "")


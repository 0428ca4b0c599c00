"""The target table (edgecxr/boards.toml, package data): every place a model runs -- this
computer, a Raspberry Pi over SSH, the emulated Pis, the emulated and the physical
microcontroller boards -- as one row each, with its ``kind``. A kind (``KINDS``) names the module
that holds its interface (edgecxr.targets.<kind>: fit, bench, build, install, flash, as apply)
and the dataclass its row is read into (a microcontroller row merged with its core's figures).
bench, tune, demo, export, flash and deploy look a target up here and call its kind; adding an
emulated core or a board is a row, not code.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from edgecxr.checks import check_choice, lookup
from edgecxr.errors import ConfigError, DeviceError
from edgecxr.resources import resource
from edgecxr.tomlio import from_dict, read_toml

DEVICES_FILE = "edgecxr/boards.toml"  # the target table, package data (edgecxr.resources)
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


def _check_patterns(row) -> None:
    """Every field of ``row`` that PATTERNS knows matches its pattern in full."""
    for f in fields(row):
        value = getattr(row, f.name)
        if f.name in PATTERNS and value is not None and not re.fullmatch(PATTERNS[f.name][0], value):
            raise ConfigError(f"{f.name} {value!r} is not allowed",
                              f"use {PATTERNS[f.name][1]} (it reaches make, the compiler or a shell)")


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
        _check_patterns(self)
        missing = [f for f in EMULATED_FIELDS if self.emulated and getattr(self, f) is None]
        if missing:
            raise ConfigError(f"an emulated board (qemu_machine) needs {', '.join(missing)}",
                              f"add {missing[0]} to the board or its core (see the qemu-m4 row)")

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None


@dataclass(frozen=True)
class Computer:
    """A row of kind host or ssh-pi: the machine is found when the model runs (its CPU, Python)."""
    name: str


@dataclass(frozen=True)
class EmulatedPi:
    """A Raspberry Pi emulated by qemu-user (edgecxr.bench.pi_emu): what its userland shows."""
    name: str
    model: str  # /proc/device-tree/model of the real board
    qemu_cpu: str  # QEMU_CPU: the board's core
    cpu_part: str  # /proc/cpuinfo "CPU part" of that core
    cpu_variant: str
    cpu_revision: int
    features: str  # /proc/cpuinfo "Features" as the board's kernel prints them
    revision: str  # the board's revision code

    def __post_init__(self):
        _check_patterns(self)  # qemu_cpu reaches the userland's wrapper script


@dataclass(frozen=True)
class Kind:
    module: str  # the kind's interface
    row: type  # the dataclass its row is read into
    jobs: tuple[str, ...]  # the functions of ``module`` a command may call
    merges_core: bool = False  # the row names a [cores.*] entry whose figures it takes


KINDS = {
    "host": Kind("edgecxr.targets.host", Computer, ("bench",)),
    "ssh-pi": Kind("edgecxr.targets.ssh_pi", Computer, ("bench", "install")),
    "emulated-pi": Kind("edgecxr.targets.emulated_pi", EmulatedPi, ("bench",)),
    "emulated-mcu": Kind("edgecxr.targets.emulated_mcu", Board, ("fit", "bench", "build", "flash"), True),
    "mcu": Kind("edgecxr.targets.mcu", Board, ("fit", "bench", "flash"), True),
}
# the kind of a row that does not say (devices files written before rows had kinds): a board
DEFAULT_KIND = {False: "mcu", True: "emulated-mcu"}  # by whether it names a qemu_machine


@dataclass(frozen=True)
class Target:
    key: str
    kind: str
    facts: Computer | EmulatedPi | Board  # the row, as its kind reads it
    path: Path | None = None  # the devices file added to the shipped table (None: the shipped one alone)

    def job(self, job: str) -> Callable:
        """The kind's ``job`` function, called as ``fn(target, run, options)``."""
        return getattr(importlib.import_module(KINDS[self.kind].module), job)

    def call(self, job: str, run, options=None):
        return self.job(job)(self, run, options)


def _row(key: str, row, cores: dict, where: str, path: Path | None) -> Target:
    if not isinstance(row, dict):
        raise ConfigError(f"{where} is not a table", "write it as [boards.NAME] with kind, name, ... keys")
    row = dict(row)
    kind = row.pop("kind", None) or DEFAULT_KIND["qemu_machine" in row]
    spec = lookup(KINDS, kind, "kind", where=where)
    if not spec.merges_core:
        return Target(key, kind, from_dict(spec.row, row, where), path)
    core = lookup(cores, row.get("core"), "core", where=where)
    both = sorted(set(core) & set(row))
    if both:
        raise ConfigError(f"{where} sets {', '.join(both)}, which its core already gives",
                          "set a value in the board or in its core, not in both")
    board = from_dict(spec.row, {"key": key, **row, **core}, where)
    if DEFAULT_KIND[board.emulated] != kind:
        raise ConfigError(f"{where} is kind {kind} but " + ("names" if board.emulated else "has no") + " qemu_machine",
                          f"write kind = \"{DEFAULT_KIND[board.emulated]}\" (emulated-mcu rows boot on QEMU)")
    return Target(key, kind, board, path)


def _read_table(where: Path) -> dict:
    data = read_toml(where, "devices file", "pass --devices-file PATH to a boards TOML")
    for section in data:
        check_choice("section", section, allowed=SECTIONS, where=str(where))
    return data


def load_targets(path: Path | None = None) -> dict[str, Target]:
    """Every row of the shipped table (edgecxr/boards.toml), with ``path``'s cores and boards
    added on top: a user's devices file adds its own boards (and may redefine a shipped row of
    the same name) without losing host, rpi or the emulated boards."""
    path = Path(path) if path else None
    tables = [resource(DEVICES_FILE)] + ([path] if path else [])
    data = {where: _read_table(where) for where in tables}
    cores = {k: v for d in data.values() for k, v in d.get("cores", {}).items()}
    rows = {key: (where, row) for where, d in data.items() for key, row in d.get("boards", {}).items()}
    return {key: _row(key, row, cores, f"{where}: [boards.{key}]", path) for key, (where, row) in rows.items()}


# job -> (what it does to a target, the command that does it): a target asked for a job its kind
# lacks is told what it is and which commands take it
JOBS = {"bench": ("be benched", "edgecxr bench RUN --device {key}"),
        "install": ("be deployed over SSH", "edgecxr deploy RUN --device {key}"),
        "flash": ("be flashed", "edgecxr flash RUN --board {key}"),
        "fit": ("be fitted a model", "edgecxr tune --board {key}"),
        "build": ("be built for", None)}


def get_target(key: str, path: Path | None = None, what: str = "device", job: str | None = None,
               kind: str | None = None) -> Target:
    """The target ``key``; an unknown one is one error with the close names of those that can do
    ``job`` (and are ``kind``): ``what`` names it as the command does (a bench --device, a flash
    --board). A known target whose kind cannot do ``job`` is one error naming what it is and the
    command that does its jobs (a Nano 33 is flashed, not deployed over SSH)."""
    targets = load_targets(path)
    able = {k: t for k, t in targets.items()
            if (job is None or job in KINDS[t.kind].jobs) and kind in (None, t.kind)}
    if key in targets and key not in able:
        t = targets[key]
        commands = " or ".join(JOBS[j][1].format(key=key) for j in KINDS[t.kind].jobs if j != "fit" and JOBS[j][1])
        raise DeviceError(f"{key} (kind {t.kind}) cannot " + (JOBS[job][0] if job else f"be used here, only kind {kind}"),
                          f"use {commands}" + (f"; for this command choose one of {', '.join(able)}" if able else ""))
    return lookup(able, key, what, DeviceError)


def load_boards(path: Path | None = None) -> dict[str, Board]:
    """The microcontroller rows (physical and emulated), each merged with its core's figures."""
    return {k: t.facts for k, t in load_targets(path).items() if isinstance(t.facts, Board)}


def get_board(key: str, path: Path | None = None, what: str = "device") -> Board:
    """The microcontroller board ``key``; an unknown one is one error with the close names."""
    return lookup(load_boards(path), key, what, DeviceError)

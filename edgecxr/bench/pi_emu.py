"""Emulated Raspberry Pi boards: Debian 12's arm64 Python and PyPI's aarch64 wheels under
qemu-user, without a VM and without binfmt.

    python = userland("pi4-emu")                     # built once into the cache, then reused
    subprocess.run([str(python), "classify.py", ...])  # the Pi's own Python and wheels, emulated

Each piece is there because something breaks without it:
- ``mmdebstrap --variant=extract`` unpacks Debian's python3.11 for arm64 (the Python of
  Raspberry Pi OS Bookworm) without running anything, so it needs neither root tricks nor binfmt;
- ``pip install --target`` with the aarch64 platform tags brings the same wheels a Pi gets;
- a Pi's /proc/cpuinfo and device-tree model in the ``-L`` prefix: LiteRT segfaults parsing
  the x86 /proc/cpuinfo it would otherwise read;
- ``QEMU_CPU`` pinned to the board's core: QEMU's default ``max`` CPU makes XNNPACK's int8
  results wrong (up to 185 steps);
- ``qemu-aarch64-static -0 WRAPPER``: ``sys.executable`` is the wrapper, so child processes
  (selftest.py runs classify.py) and venvs made from it stay emulated.

Timings under emulation say nothing about a Pi's speed; callers label them as emulated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgecxr.errors import ConfigError, DeviceError
from edgecxr.files import atomic_path
from edgecxr.progress import log
from edgecxr.resources import cache_dir
from edgecxr.targets.table import EmulatedPi, get_target

SUITE = "bookworm"  # Raspberry Pi OS 12 is built on Debian 12
DEBIAN_PACKAGES = ["python3.11", "python3.11-venv", "libstdc++6", "libgcc-s1"]
PYTHON = "usr/bin/python3.11"
SITE = "usr/local/lib/python3.11/dist-packages"  # where `sudo pip install` puts packages on a Pi
PYTHON_VERSION = "3.11"
# the manylinux tags an aarch64 Debian 12 (glibc 2.36) accepts
PLATFORMS = ["manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 37))]
BASE_WHEELS = ["numpy<2", "pillow"]  # numpy<2: tflite-runtime 2.14 was built against numpy 1
# runtime (the runner's names) -> the PyPI requirement that brings it to an aarch64 Pi
RUNTIME_WHEELS = {
    "litert": "ai-edge-litert",
    "tflite-runtime": "tflite-runtime==2.14.0",
    "tf.lite": "tensorflow",
    "tflite-micro": "tflite-micro",
}
DEFAULT_RUNTIMES = ("litert", "tflite-runtime")
# program -> the Debian package that provides it
TOOLS = {"qemu-aarch64-static": "qemu-user-static", "mmdebstrap": "mmdebstrap"}
MIRROR = os.environ.get("EDGECXR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
READY = "READY"


def cache_root() -> Path:
    """Where emulated userlands live (edgecxr.resources.cache_dir)."""
    return cache_dir("pi-userland")


def board(name: str, devices_file: Path | None = None) -> EmulatedPi:
    """The emulated-pi row ``name`` of the target table (edgecxr/boards.toml or ``devices_file``)."""
    return get_target(name, devices_file, "emulated Pi", kind="emulated-pi").facts


def require_tools(build: bool) -> dict[str, str]:
    """Program -> its path; a DeviceError naming the Debian packages of the missing ones."""
    needed = list(TOOLS) if build else ["qemu-aarch64-static"]
    found = {tool: shutil.which(tool) for tool in needed}
    missing = [tool for tool, path in found.items() if not path]
    if missing:
        packages = " ".join(TOOLS[t] for t in missing)
        raise DeviceError(f"emulating a Raspberry Pi needs {', '.join(missing)}, not installed here",
                          f"install the Debian package(s): sudo apt install {packages}")
    return found


def recipe(runtimes: tuple[str, ...]) -> dict:
    return {"suite": SUITE, "packages": DEBIAN_PACKAGES, "python": PYTHON_VERSION, "platforms": PLATFORMS,
            "wheels": [*BASE_WHEELS, *(RUNTIME_WHEELS[r] for r in runtimes)]}


def check_runtime(name: str) -> str:
    if name not in RUNTIME_WHEELS:
        raise ConfigError(f"unknown runtime {name!r}", f"choose from {', '.join(RUNTIME_WHEELS)}")
    return name


def userland(name: str, runtimes: tuple[str, ...] = DEFAULT_RUNTIMES, root: Path | None = None,
             devices_file: Path | None = None) -> Path:
    """The wrapper script that runs the emulated board's python3 (built on first use)."""
    the_board = board(name, devices_file)
    for r in runtimes:
        check_runtime(r)
    plan = recipe(tuple(sorted(set(runtimes))))
    key = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:12]
    folder = (root or cache_root()) / key
    tools = require_tools(build=not (folder / READY).is_file())
    if not (folder / READY).is_file():
        _build_sysroot(folder, plan, tools)
    _make_board(folder, name, the_board, tools["qemu-aarch64-static"])
    return folder / "bin" / f"{name}-python3"


def _build_sysroot(folder: Path, plan: dict, tools: dict[str, str]) -> None:
    """Debian's arm64 Python plus the wheels, in a temporary folder renamed into place at the end."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        log(f"building the emulated Pi userland once into {folder} (~250 MB): the aarch64 wheels "
            f"({', '.join(plan['wheels'])})")
        install_wheels(tmp / "site", plan["wheels"])  # first: a missing wheel is the quicker failure
        log(f"building the emulated Pi userland: Debian {plan['suite']}'s arm64 Python (mmdebstrap)")
        sysroot = tmp / "sysroot"
        _step([tools["mmdebstrap"], "--quiet", "--arch=arm64", "--variant=extract",
               f"--include={','.join(plan['packages'])}", plan["suite"], str(sysroot), MIRROR],
              "mmdebstrap (unpacking Debian's arm64 Python)",
              f"check that {MIRROR} is reachable (set EDGECXR_DEBIAN_MIRROR to use another mirror)")
        (sysroot / "tmp").rmdir()  # the guest's /tmp is the host's: venvs and mkdtemp work as usual
        (sysroot / SITE).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "site").rename(sysroot / SITE)
        (tmp / READY).write_text(json.dumps(plan, indent=1) + "\n")
        try:
            tmp.rename(folder)
        except OSError:  # built meanwhile by another process: keep theirs
            if not (folder / READY).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install_wheels(site: Path, requirements: list[str]) -> None:
    """pip-install the aarch64 wheels of ``requirements`` into ``site`` (a DeviceError when PyPI has none)."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", str(site), *platforms, "--python-version", PYTHON_VERSION,
                           "--only-binary=:all:", *requirements], capture_output=True, text=True)
    if proc.returncode == 0:
        return
    for line in proc.stderr.splitlines():
        if "No matching distribution found for" in line:
            wanted = line.rsplit(" for ", 1)[-1].strip()
            runtime = next((r for r, req in RUNTIME_WHEELS.items() if req == wanted), wanted)
            raise DeviceError(f"no aarch64 wheel of {wanted} for Python {PYTHON_VERSION} on PyPI"
                              f" (runtime {runtime})",
                              f"use a runtime that has one: --runtime {' or --runtime '.join(DEFAULT_RUNTIMES)}")
    last = ([ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or proc.stderr.splitlines() or ["?"])[-1]
    raise DeviceError(f"pip could not fetch the aarch64 wheels: {last}", "check that PyPI is reachable (pip config list)")


def _step(argv: list[str], what: str, hint: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()] or [f"exit {proc.returncode}"]
        raise DeviceError(f"{what} failed: {lines[-1]}", hint)


def cpuinfo(the_board: EmulatedPi, cores: int) -> str:
    """/proc/cpuinfo as the board's 64-bit kernel prints it (one block per core of this computer)."""
    block = (f"BogoMIPS\t: 108.00\nFeatures\t: {the_board.features}\nCPU implementer\t: 0x41\n"
             f"CPU architecture: 8\nCPU variant\t: {the_board.cpu_variant}\nCPU part\t: {the_board.cpu_part}\n"
             f"CPU revision\t: {the_board.cpu_revision}\n\n")
    return ("".join(f"processor\t: {i}\n{block}" for i in range(cores))
            + f"Revision\t: {the_board.revision}\nSerial\t\t: 10000000edc0c0de\nModel\t\t: {the_board.model}\n")


def _make_board(folder: Path, name: str, the_board: EmulatedPi, qemu: str) -> None:
    """The board's -L prefix (a hard-linked copy of the sysroot: no extra space) and its wrapper."""
    prefix = folder / "boards" / name
    if not prefix.is_dir():
        tmp = folder / "boards" / f".{name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(folder / "sysroot"), str(tmp)], check=True)
        (tmp / "proc" / "device-tree").mkdir(parents=True, exist_ok=True)
        (tmp / "proc" / "cpuinfo").write_text(cpuinfo(the_board, os.cpu_count() or 1))
        (tmp / "proc" / "device-tree" / "model").write_bytes(the_board.model.encode() + b"\0")
        tmp.rename(prefix)
    write_wrapper(folder / "bin" / f"{name}-python3", prefix, the_board, qemu)


def write_wrapper(wrapper: Path, prefix: Path, the_board: EmulatedPi, qemu: str) -> Path:
    """A python3 that runs ``prefix``'s arm64 Python on the board's core (atomically written)."""
    with atomic_path(wrapper) as tmp:
        tmp.write_text(f"#!/bin/sh\n# {the_board.model}'s Python 3.11, emulated (written by edgecxr/bench/pi_emu.py)\n"
                       f"export QEMU_CPU={the_board.qemu_cpu}\n"
                       f"export EDGECXR_EMULATED='qemu-aarch64 -cpu {the_board.qemu_cpu}'\n"
                       f"exec {qemu} -L '{prefix}' -0 \"$0\" '{prefix / PYTHON}' \"$@\"\n")
        tmp.chmod(0o755)
    return wrapper

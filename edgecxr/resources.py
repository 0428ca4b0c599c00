"""Files that ship beside the package: the dataset registry, the board table, the
device-side templates and the device package (edgecxr/device, copied whole into a device
folder as ``edgecxr_device``). From a source checkout they are the repository's own files (``datasets.toml``,
``firmware_bundle/``, and ``edgecxr/boards.toml``, which is package data); an installed wheel
carries the top-level ones under ``<prefix>/share/edgecxr/`` (pyproject's data-files), the
board table inside the package and edgecxr_device as a package of its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import sysconfig
from pathlib import Path

import edgecxr.device
from edgecxr.errors import RunError

DEVICE_PACKAGE = Path(edgecxr.device.__file__).parent
SHIPPED_NAME = "edgecxr_device"  # its name beside a runner, which has no edgecxr installed


def cache_dir(name: str) -> Path:
    """Where edgecxr keeps per-machine files of one kind (pixels, backbones, tflm, pi-userland):
    $EDGECXR_CACHE, else $XDG_CACHE_HOME/edgecxr, else ~/.cache/edgecxr."""
    base = os.environ.get("EDGECXR_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgecxr"
    return Path(base) / name


def roots() -> list[Path]:
    """Where to look, in order: the source tree, then the install prefixes' share/edgecxr."""
    found = [Path(__file__).resolve().parents[1]]
    for scheme in (None, f"{os.name}_user"):
        with contextlib.suppress(KeyError):
            data = sysconfig.get_path("data", scheme) if scheme else sysconfig.get_path("data")
            found.append(Path(data) / "share" / "edgecxr")
    return found


def resource(relpath: str) -> Path:
    """The shipped file or folder ``relpath`` (e.g. "datasets.toml")."""
    for root in roots():
        if (root / relpath).exists():
            return root / relpath
    raise RunError(f"{relpath} is missing from this installation",
                   f"reinstall edgecxr (looked in {', '.join(str(r) for r in roots())})")


def ship_device_package(folder: Path) -> Path:
    """Copy the device package whole (its .py files, no caches) into ``folder``, where a runner
    next to it imports it; returns the package's folder there."""
    shipped = folder / SHIPPED_NAME
    shipped.mkdir(parents=True, exist_ok=True)
    for src in sorted(DEVICE_PACKAGE.glob("*.py")):
        shutil.copyfile(src, shipped / src.name)
    return shipped

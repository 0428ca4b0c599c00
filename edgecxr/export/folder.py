"""Where an export may go, and its templates. The folder itself is written all at once
(``edgecxr.files.staged_folder``): an interrupted export never leaves half a folder, and an
existing one is replaced only with ``force`` and only when it is an earlier export.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from edgecxr.errors import RunError
from edgecxr.files import MARKER, check_replaceable
from edgecxr.resources import resource


def check_free(target: Path, force: bool) -> None:
    """``target`` may be written: absent or empty, or (with ``force``) an earlier export --
    a folder with edgecxr's marker, or the .tar.gz edgecxr packed of such a folder."""
    target = Path(target)
    if target.is_file() and target.name.endswith(".tar.gz") and force and _packed_by_us(target):
        return
    check_replaceable(target, force, ("export",), " (it is not an earlier export)")


def _packed_by_us(archive: Path) -> bool:
    """A .tar.gz whose one top-level folder holds edgecxr's marker (what ``export.pack`` writes)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
    except (tarfile.TarError, OSError, EOFError):
        return False
    top = archive.name.removesuffix(".tar.gz")
    return bool(names) and all(n == top or n.startswith(top + "/") for n in names) and f"{top}/{MARKER}" in names


def templates_root() -> Path:
    """The device-side templates (firmware_bundle/, see edgecxr.resources)."""
    return resource("firmware_bundle")


def template(relpath: str) -> Path:
    path = templates_root() / relpath
    if not path.is_file():
        raise RunError(f"template {relpath} is missing from {templates_root()}",
                       "reinstall edgecxr or restore the file from the repository")
    return path

"""Writing an export folder all at once: staged next to its target, renamed into place.

An interrupted export never leaves half a folder, and an existing folder is replaced only
with ``force``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgecxr.errors import RunError
from edgecxr.resources import resource


def check_free(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise RunError(f"{target} already exists", "pass --force to replace it, or --out another folder")


@contextlib.contextmanager
def staged_folder(target: Path, force: bool) -> Iterator[Path]:
    """Yield an empty temp folder next to ``target``; on success it becomes ``target``."""
    target = Path(target)
    check_free(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def templates_root() -> Path:
    """The device-side templates (firmware_bundle/, see edgecxr.resources)."""
    return resource("firmware_bundle")


def template(relpath: str) -> Path:
    path = templates_root() / relpath
    if not path.is_file():
        raise RunError(f"template {relpath} is missing from {templates_root()}",
                       "reinstall edgecxr or restore the file from the repository")
    return path

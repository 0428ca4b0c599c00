"""How edgecxr writes and reads its files: atomically (temp file + rename, so an interrupted
command never leaves half a file), all-or-nothing for folders and file sets, and never over
files edgecxr did not write (``--force`` replaces only a folder carrying edgecxr's marker or
manifest). JSON is read back with one clear error for a missing, empty or damaged file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgecxr import __version__
from edgecxr.errors import RunError

MANIFEST = "manifest.json"  # a run's or a bundle's record of the files edgecxr wrote
MARKER = ".edgecxr"  # {"kind": ...}: this folder was written by edgecxr (so --force may replace it)


def read_json(path: Path, hint: str, error=RunError):
    """The JSON document at ``path``; a truncated, empty or non-UTF-8 file is an ``error``."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path} not found", hint) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        why = "empty" if path.stat().st_size == 0 else f"not valid JSON ({str(e).split(':')[0]})"
        raise error(f"{path} is damaged: {why}", hint) from None


def read_json_object(path: Path, hint: str, error=RunError, keys: tuple[str, ...] = ()) -> dict:
    """``read_json`` that must give an object holding ``keys``."""
    doc = read_json(path, hint, error)
    missing = [k for k in keys if k not in doc] if isinstance(doc, dict) else list(keys)
    if not isinstance(doc, dict) or missing:
        raise error(f"{path} is damaged: " + ("not a JSON object" if not isinstance(doc, dict)
                                               else f"no {', '.join(missing)}"), hint)
    return doc


def mark(folder: Path, kind: str) -> None:
    """Label ``folder`` as edgecxr's own output (what ``--force`` may later replace)."""
    write_json(Path(folder) / MARKER, {"written_by": "edgecxr", "kind": kind, "version": __version__})


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` was written by edgecxr: its marker, or a manifest edgecxr wrote (a
    run's names edgecxr among its "versions", an export bundle's has an "edgecxr" version)."""
    def doc(name: str) -> dict:
        try:
            d = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return d if isinstance(d, dict) else {}

    manifest = doc(MANIFEST)
    versions = manifest.get("versions")
    return (doc(MARKER).get("written_by") == "edgecxr" or (isinstance(versions, dict) and "edgecxr" in versions)
            or isinstance(manifest.get("edgecxr"), str))


def check_replaceable(target: Path, force: bool, what: str = "") -> None:
    """May ``target`` be written? Absent or empty: yes; else only with ``force`` and only when
    edgecxr wrote it (a RunError otherwise: nothing of the user's is ever replaced)."""
    target = Path(target)
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return
    if not force:
        raise RunError(f"{target} already exists", "pass --force to replace it, or choose another folder")
    if not target.is_dir() or not is_ours(target):
        raise RunError(f"{target} holds files edgecxr did not write{what}; --force will not replace it",
                       "choose another folder (--out / --name / --runs-root), or move those files away")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(target: Path, force: bool = True) -> Iterator[Path]:
    """Yield a temp path next to ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    if target.exists() and not force:
        raise RunError(f"{target} already exists", "pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


@contextlib.contextmanager
def staged_folder(target: Path, force: bool, kind: str, check: bool = True) -> Iterator[Path]:
    """Yield a temp folder next to ``target`` holding only edgecxr's marker (``kind``; a
    manifest written into the folder lists it too); on success it becomes ``target``, an
    earlier one (ours: ``check_replaceable``; ``check=False`` for a folder inside a run, which
    is always edgecxr's) removed last. A failure -- a full disk included -- leaves ``target``
    as it was and no temp folder."""
    target = Path(target)
    if check:
        check_replaceable(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = tmp.with_name(tmp.name + ".old")
    try:
        mark(tmp, kind)
        yield tmp
        if target.exists():
            target.rename(old)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_bytes(target: Path, data: bytes, force: bool = True) -> Path:
    with atomic_path(target, force) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_all(files: dict[Path, bytes]) -> None:
    """Write several files so that either all change or none does: every temp file is written
    (where a full disk fails) before the first rename (which does not need space)."""
    with contextlib.ExitStack() as stack:
        temps = {target: stack.enter_context(atomic_path(target)) for target in files}
        for target, tmp in temps.items():
            tmp.write_bytes(files[target])
    # atomic_path renames each temp over its target as the stack unwinds without an error


def write_text(target: Path, text: str, force: bool = True) -> Path:
    return write_bytes(target, text.encode("utf-8"), force)


def json_bytes(obj) -> bytes:
    """How edgecxr writes a JSON file (numpy scalars and paths included)."""
    return (json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n").encode("utf-8")


def write_json(target: Path, obj, force: bool = True) -> Path:
    return write_bytes(target, json_bytes(obj), force)


def json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")

"""How edgecxr writes and reads its files: atomically (temp file + rename, so an interrupted
command never leaves half a file), all-or-nothing for folders and file sets, and never over
files edgecxr did not write (``--force`` replaces only a folder carrying edgecxr's marker or
manifest). JSON is read back with one clear error for a missing, empty or damaged file.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import stat
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
        require_regular(path, hint, error)
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


def mark(folder: Path, kind: str, sealed: bool = False) -> None:
    """Label ``folder`` as the output of the command that writes ``kind`` (what that command's
    ``--force`` may later replace). ``sealed``: the label also lists every file now in the
    folder with its sha256, so that a file added or changed since (a user's) is never replaced."""
    doc = {"written_by": "edgecxr", "kind": kind, "version": __version__}
    if sealed:
        doc["files"] = _inventory(Path(folder))
    write_json(Path(folder) / MARKER, doc)


def _inventory(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every regular file under ``folder`` (the marker left out)."""
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.name != MARKER and p.is_file() and not p.is_symlink()}


def _doc(path: Path) -> dict:
    try:
        if not path.is_file():  # never open a FIFO or a device someone put there
            return {}
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def owner(folder: Path) -> str | None:
    """Which edgecxr command wrote ``folder`` (its marker's kind: run, export, eval, dataset,
    demo), or None. Folders from before markers: a run's manifest names edgecxr among its
    "versions" (kind run); an export bundle's has an "edgecxr" version (kind export)."""
    marker = _doc(Path(folder) / MARKER)
    if marker.get("written_by") == "edgecxr" and isinstance(marker.get("kind"), str):
        return marker["kind"]
    manifest = _doc(Path(folder) / MANIFEST)
    versions = manifest.get("versions")
    if isinstance(versions, dict) and "edgecxr" in versions:
        return "run"
    return "export" if isinstance(manifest.get("edgecxr"), str) else None


def foreign_files(folder: Path) -> list[str]:
    """Files in a sealed ``folder`` that its marker does not list as written (or that changed
    since): a user's. An unsealed marker (a run, a demo, older outputs) lists nothing to check."""
    listed = _doc(Path(folder) / MARKER).get("files")
    if not isinstance(listed, dict):
        return []
    now = _inventory(Path(folder))
    return sorted(rel for rel, digest in now.items() if listed.get(rel) != digest)


def is_ours(folder: Path, kinds: tuple[str, ...]) -> bool:
    """Whether ``folder`` was written by the edgecxr command that writes ``kinds`` and holds
    nothing else."""
    return owner(folder) in kinds and not foreign_files(folder)


def check_replaceable(target: Path, force: bool, kinds: tuple[str, ...], what: str = "") -> None:
    """May ``target`` be written by the command that writes ``kinds``? Absent or empty: yes;
    else only with ``force`` and only when that same command wrote it and nothing was added
    since (a RunError otherwise: no run, no other command's output and no file of the user's
    is ever replaced)."""
    target = Path(target)
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return
    if not force:
        raise RunError(f"{target} already exists", "pass --force to replace it, or choose another folder")
    kind = owner(target) if target.is_dir() else None
    if kind is None:
        raise RunError(f"{target} holds files edgecxr did not write{what}; --force will not replace it",
                       "choose another folder (--out / --name / --runs-root), or move those files away")
    if kind not in kinds:
        raise RunError(f"{target} is {KIND_NAMES.get(kind, kind)}, not {KIND_NAMES[kinds[0]]}; --force replaces "
                       "only what the same command wrote", "choose another folder (--out / --name / --runs-root)")
    foreign = foreign_files(target)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise RunError(f"{target} holds files edgecxr did not write{what} ({', '.join(foreign[:3])}{more}); "
                       "--force will not replace it", "move those files away, or choose another folder (--out)")


# a marker's kind -> how an error names such a folder
KIND_NAMES = {"run": "a run", "export": "an export", "eval": "an evaluation report", "dataset": "a dataset "
              "(data synth / data import)", "demo": "a demo folder",
              "calibration": "a site calibration"}


def require_regular(path: Path, hint: str, error=RunError) -> Path:
    """``path`` if it is a regular file (a link to one included); a FIFO, a socket or a link to
    a device is an ``error`` and is never opened (reading one would wait, or never end)."""
    st = os.stat(path)  # FileNotFoundError for the caller to word
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path} is not a regular file (a FIFO, device or socket)", hint)
    return Path(path)


def sha256_file(path: Path) -> str:
    require_regular(path, "replace it with the file edgecxr wrote, or re-run the stage that writes it")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# temp files and staging folders are ".<target>.<STAGING><pid>-<random>": a later command finds
# those of a process that no longer runs (killed with -9, power lost) and removes them
STAGING = "edgecxr-tmp-"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{STAGING}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sweep_leftovers(target: Path) -> list[Path]:
    """Remove the temp files and staging folders for ``target`` that a killed edgecxr left
    (their process is gone); those of a command still running are kept. Returns what went."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    return _remove_stale(target.parent.glob(f".{glob.escape(target.name)}.{STAGING}*"))


def sweep_tree(root: Path) -> list[Path]:
    """``sweep_leftovers`` for every target under ``root`` (a run, before it is hashed)."""
    return _remove_stale(Path(root).rglob(f".*.{STAGING}*"))


def _remove_stale(candidates) -> list[Path]:
    gone = []
    for p in list(candidates):
        pid = p.name.split(STAGING, 1)[1].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
            gone.append(p)
    return gone


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def honour_umask(path: Path, mode: int = 0o666) -> None:
    """``mkstemp`` / ``mkdtemp`` make 0600 / 0700: give the finished file or folder the mode
    the user's umask asks for, as ``open`` / ``mkdir`` would have."""
    os.chmod(path, mode & ~_umask())


@contextlib.contextmanager
def atomic_path(target: Path, force: bool = True) -> Iterator[Path]:
    """Yield a temp path next to ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    if target.exists() and not force:
        raise RunError(f"{target} already exists", "pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        executable = tmp_path.stat().st_mode & 0o111  # a script the caller made executable stays so
        honour_umask(tmp_path, 0o777 if executable else 0o666)
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


@contextlib.contextmanager
def staged_folder(target: Path, force: bool, kind: str) -> Iterator[Path]:
    """Yield a temp folder next to ``target`` holding only edgecxr's marker (``kind``); on
    success the marker is sealed (it lists every file written) and the folder becomes
    ``target``, an earlier one (written by the same command and holding nothing else:
    ``check_replaceable``) removed last. A failure -- a full disk included -- leaves ``target``
    as it was and no temp folder; a kill -9 leaves one that the next command removes."""
    target = Path(target)
    check_replaceable(target, force, (kind,))
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), dir=target.parent))
    old = tmp.with_name(tmp.name + ".old")
    try:
        mark(tmp, kind)
        yield tmp
        mark(tmp, kind, sealed=True)
        check_replaceable(target, force, (kind,))  # again: the work may have taken minutes
        honour_umask(tmp, 0o777)
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

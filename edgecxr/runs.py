"""The run directory: where every artifact of one model's life lands, with a manifest.

    runs/<name>/
      manifest.json    versions + sha256 of every file (rewritten after each stage)
      spec.json        the preprocessing spec (edgecxr.spec) -- the one source of truth
      config.toml      the training config actually used
      split.json       which image went to train / val (patient-grouped)
      model.keras      the float Keras model
      ...              later stages add model_float.tflite, model_ptq_int8.tflite, eval/, ...

Writes are atomic (temp file + rename) so an interrupted command never leaves half a file,
and nothing is overwritten unless the caller passes ``force``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgecxr import __version__
from edgecxr.errors import RunError

MANIFEST = "manifest.json"
DEFAULT_RUNS_ROOT = Path("runs")


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
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(target: Path, data: bytes, force: bool = True) -> Path:
    with atomic_path(target, force) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: Path, text: str, force: bool = True) -> Path:
    return write_bytes(target, text.encode("utf-8"), force)


def write_json(target: Path, obj, force: bool = True) -> Path:
    return write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n", force)


def _json_default(o):
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


def versions() -> dict[str, str]:
    """Versions of everything that changes a model's numbers."""
    out = {"edgecxr": __version__, "python": platform.python_version()}
    from importlib import metadata

    for dist in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "numpy", "pillow",
                 "ai-edge-litert", "tflite-runtime", "tflite-micro"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def new_run_name(prefix: str = "run") -> str:
    return f"{prefix}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


class Run:
    """A run directory. ``Run.create`` makes a new one; ``Run.open`` reads an existing one."""

    def __init__(self, path: Path):
        self.path = Path(path)

    # -- creation / opening -------------------------------------------------------------
    @classmethod
    def create(cls, name: str | None = None, root: Path = DEFAULT_RUNS_ROOT, force: bool = False,
               resume: bool = False) -> Run:
        name = name or new_run_name()
        path = Path(root) / name
        if path.exists() and any(path.iterdir()) and not (force or resume):
            raise RunError(f"run directory {path} already exists",
                           "choose another --name, pass --resume to continue it, or --force to overwrite")
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def open(cls, path_or_name: str | Path, root: Path = DEFAULT_RUNS_ROOT) -> Run:
        p = Path(path_or_name)
        if not p.is_dir() and (Path(root) / p).is_dir():
            p = Path(root) / p
        if not p.is_dir():
            raise RunError(f"run {path_or_name} not found", "pass the path of a run directory made by `edgecxr train`")
        return cls(p)

    # -- files ---------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).exists()

    def require(self, name: str, hint: str) -> Path:
        p = self.path / name
        if not p.exists():
            raise RunError(f"{self.path} has no {name}", hint)
        return p

    @property
    def name(self) -> str:
        return self.path.name

    # -- manifest ------------------------------------------------------------------------
    def read_manifest(self) -> dict:
        p = self.path / MANIFEST
        if not p.exists():
            return {}
        return json.loads(p.read_text())

    def update_manifest(self, stage: str, info: dict | None = None) -> dict:
        """Re-hash every file and record what ``stage`` did. Called at the end of each stage."""
        manifest = self.read_manifest()
        manifest.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
        manifest["versions"] = versions()
        stages = manifest.setdefault("stages", {})
        stages[stage] = {"finished": _dt.datetime.now().isoformat(timespec="seconds"), **(info or {})}
        files = {}
        for f in sorted(self.path.rglob("*")):
            if f.is_file() and f.name != MANIFEST and not f.name.startswith(".") and "tensorboard" not in f.parts \
                    and "checkpoints" not in f.parts:
                files[str(f.relative_to(self.path))] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
        manifest["files"] = files
        write_json(self.path / MANIFEST, manifest)
        return manifest

    def verify(self) -> list[str]:
        """Files whose sha256 no longer matches the manifest (empty when all is intact)."""
        bad = []
        for rel, info in self.read_manifest().get("files", {}).items():
            p = self.path / rel
            if not p.exists() or sha256_file(p) != info["sha256"]:
                bad.append(rel)
        return bad

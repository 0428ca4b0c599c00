"""The run directory: where every artifact of one model's life lands, with a manifest.

    runs/<name>/
      manifest.json    versions + sha256 of every file (rewritten after each stage)
      spec.json        the model spec (edgecxr.device.spec), written once by train, read-only after
      config.toml      the training config actually used
      split.json       which image went to train / val (patient-grouped)
      model.keras      the float Keras model
      ...              later stages add the .tflite models (edgecxr.artifacts names them), eval/, ...

Files are written through edgecxr.files (atomic; ``force`` replaces only what edgecxr
wrote). Run names become folder names, so they are checked (``check_name``); a file
is checked against the manifest's sha256 before a stage uses it (``Run.verified``). A stage
reads what train wrote through the run itself -- ``run.spec()``, ``run.split()``,
``run.config()``, ``run.keras_model()`` -- and the models through ``run.models()`` /
``run.int8()`` (the one rule of edgecxr.artifacts), so there is one way to read each.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import shutil
import zipfile
from pathlib import Path

from edgecxr import __version__, artifacts
from edgecxr.config import TrainConfig, read_run_config
from edgecxr.data.dataset import Dataset
from edgecxr.data.split import SPLIT_FILE, read_split
from edgecxr.device.spec import SPEC_FILE, ModelSpec, SpecError
from edgecxr.errors import ConfigError, ModelError, RunError
from edgecxr.files import (
    MANIFEST,
    MARKER,
    check_replaceable,
    mark,
    owner,
    read_json_object,
    sha256_file,
    sweep_tree,
    write_json,
)

DEFAULT_RUNS_ROOT = Path("runs")
CONFIG_FILE = "config.toml"
# a run (or tune) name is one folder name: letters, digits and . _ + - ; no path, no shell syntax
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def check_name(name: str, flag: str = "--name") -> str:
    """``name`` if it is a plain folder name (it becomes runs/<name> and a remote folder)."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise ConfigError(f"{flag} {name!r} is not a plain name",
                          "use 1-100 letters, digits, '.', '_', '+' or '-', starting with a letter or digit "
                          "(no '/', '..' or spaces)")
    return name


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
        """A new run folder ``root/name`` with edgecxr's marker. An existing non-empty one needs
        ``force`` or ``resume`` and must be edgecxr's own (``check_replaceable``)."""
        path = cls.check_creatable(name, root, force or resume)
        existed = path.exists()
        path.mkdir(parents=True, exist_ok=True)
        try:
            if not (path / MARKER).exists():
                mark(path, "run")
        except BaseException:
            if not existed:  # a full or read-only disk leaves no empty run behind
                shutil.rmtree(path, ignore_errors=True)
            raise
        return cls(path)

    @staticmethod
    def check_creatable(name: str | None, root: Path = DEFAULT_RUNS_ROOT, force: bool = False) -> Path:
        """The folder ``Run.create`` would make, refused up front (before any work) when it
        exists and ``force`` is not given or it is not edgecxr's own, or cannot be written."""
        path = Path(root) / check_name(new_run_name() if name is None else name)
        if path.exists() and any(path.iterdir()):
            if not force:
                raise RunError(f"run directory {path} already exists",
                               "choose another --name, pass --resume to continue it, or --force to overwrite")
            check_replaceable(path, True, ("run",), " (it is not a run)")
        nearest = next(p for p in (path, *path.parents) if p.exists())
        if not os.access(nearest, os.W_OK | os.X_OK):  # found now, not after minutes of training
            raise RunError(f"cannot create run directory {path}: {nearest} is not writable",
                           "pass a --runs-root you can write to")
        return path

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

    # -- what train wrote, read back checked against the manifest -----------------------
    def spec(self) -> ModelSpec:
        """The run's model spec; missing, changed, damaged or holding a value a device cannot
        follow: one RunError. Keys it does not know (an old run's ``quant``) are ignored."""
        hint = "restore the run's spec.json, or re-run `edgecxr train` into a new run"
        path = self.verified(SPEC_FILE, hint)
        try:
            return ModelSpec.from_dict(read_json_object(path, hint))
        except (TypeError, SpecError) as e:
            raise RunError(f"{path} is damaged: {e}", hint) from None

    def split(self) -> tuple[Dataset, dict[Path, str]]:
        """The run's patient-grouped split (split.json): the dataset and image -> train | val | test."""
        return read_split(self.verified(SPLIT_FILE, "the run has no split.json; re-run `edgecxr train`"))

    def config(self) -> TrainConfig:
        """The training config train wrote (config.toml): how the run chose what a later stage
        must choose again the same way (e.g. its threshold rule)."""
        return read_run_config(self.verified(CONFIG_FILE, "restore the run's config.toml, or re-run `edgecxr train`"))

    def keras_model(self):
        """The run's float tf_keras model (TensorFlow loads here, not at import)."""
        from edgecxr.tfenv import keras

        path = self.verified(artifacts.KERAS_MODEL, artifacts.TRAIN_HINT)
        try:
            return keras().models.load_model(path, compile=False)
        except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise ModelError(f"{path} cannot be loaded: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                             "the file may be truncated or from another Keras version; re-run `edgecxr train`") from None

    def models(self) -> list[artifacts.Artifact]:
        """The run's models that exist, in report order (edgecxr.artifacts.ARTIFACTS)."""
        return artifacts.present(self)

    def int8(self, requested: str | None = None) -> artifacts.Int8Choice:
        """The run's int8 model -- the one export, bench, evaluate and deploy use (artifacts.choose_int8)."""
        return artifacts.choose_int8(self, requested)

    # -- manifest ------------------------------------------------------------------------
    def read_manifest(self) -> dict:
        """The manifest ({} before the first stage finished); a damaged one is a RunError."""
        p = self.path / MANIFEST
        if not p.exists():
            return {}
        doc = read_json_object(p, f"the run's record is damaged: restore {MANIFEST} or re-run `edgecxr train` "
                                  "into a new run")
        if not isinstance(doc.get("files", {}), dict):
            raise RunError(f"{p} is damaged: 'files' is not an object", "restore it or re-run `edgecxr train`")
        return doc

    def verified(self, name: str, hint: str) -> Path:
        """``require`` + the manifest must list the file with its sha256: a file changed,
        truncated or swapped after edgecxr wrote it, or one the manifest does not know (the
        manifest deleted or emptied: any file could then be another run's), is refused before use."""
        p = self.require(name, hint)
        if not p.is_file():
            raise RunError(f"{p} is not a regular file", hint)
        manifest = self.read_manifest()
        if not self.is_run():  # a model and spec.json an export wrote (no run around them): nothing recorded
            return p
        if not manifest.get("files"):
            raise RunError(f"{self.path} has no record of its files ({MANIFEST} missing or empty): its models "
                           "cannot be told from another run's", "restore the run's manifest.json, or re-run "
                           "`edgecxr train` into a new run")
        info = manifest["files"].get(name)
        if not isinstance(info, dict):
            raise RunError(f"{p} is not in the run's {MANIFEST}: edgecxr did not write it into this run",
                           "remove it and re-run the stage that writes it (`edgecxr quantize RUN --force` for "
                           "a model)")
        if info.get("sha256") != sha256_file(p):
            raise RunError(f"{p} changed since edgecxr wrote it (its sha256 differs from {MANIFEST})",
                           "restore the file, or re-run the stage that writes it with --force")
        return p

    def is_run(self) -> bool:
        """Whether this folder is a run train made (its marker, or what train writes first), not
        an export's folder of a model and its spec.json."""
        return owner(self.path) == "run" or any(self.has(f) for f in (CONFIG_FILE, SPLIT_FILE, artifacts.KERAS_MODEL))

    def update_manifest(self, stage: str, info: dict | None = None) -> dict:
        """Re-hash every file and record what ``stage`` did. Called at the end of each stage."""
        manifest = self.read_manifest()
        manifest.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
        manifest["versions"] = versions()
        stages = manifest.setdefault("stages", {})
        stages[stage] = {"finished": _dt.datetime.now().isoformat(timespec="seconds"), **(info or {})}
        sweep_tree(self.path)  # what a killed stage left is never recorded as the run's
        files = {}
        for f in sorted(self.path.rglob("*")):
            rel = f.relative_to(self.path)
            # dot names are edgecxr's markers, temp files and staging folders (a killed export's)
            if f.is_file() and f.name != MANIFEST and not any(p.startswith(".") for p in rel.parts) \
                    and "tensorboard" not in rel.parts and "checkpoints" not in rel.parts:
                files[str(f.relative_to(self.path))] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
        manifest["files"] = files
        write_json(self.path / MANIFEST, manifest)
        return manifest

    def records(self, path: Path) -> bool:
        """Whether ``path`` (a file or folder inside the run) is exactly what the manifest lists:
        output edgecxr wrote before it left markers, which ``--force`` may therefore replace."""
        path = Path(path).resolve()
        if not path.is_relative_to(self.path.resolve()) or path == self.path.resolve() or not path.exists():
            return False
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        listed = self.read_manifest().get("files", {})
        rels = [str(p.relative_to(self.path.resolve())) for p in files]
        return bool(files) and all(isinstance(listed.get(r), dict) and listed[r].get("sha256") == sha256_file(p)
                                   for r, p in zip(rels, files))

    def verify(self) -> list[str]:
        """Files whose sha256 no longer matches the manifest (empty when all is intact)."""
        bad = []
        for rel, info in self.read_manifest().get("files", {}).items():
            p = self.path / rel
            if not p.exists() or not isinstance(info, dict) or sha256_file(p) != info.get("sha256"):
                bad.append(rel)
        return bad

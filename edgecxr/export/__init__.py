"""``edgecxr export``: one run's int8 model -> .tflite, C header, Arduino library, RPi folder, bundle.

``export`` is the one entry point; the FORMATS table (formats.py) says what each format
writes, which options it takes and which module writes it.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from edgecxr.export.folder import check_free
from edgecxr.export.formats import FORMATS, check_options, get_format
from edgecxr.export.source import load_source
from edgecxr.files import atomic_path, mark, sha256_file, staged_folder
from edgecxr.runs import DEFAULT_RUNS_ROOT, Run

__all__ = ["FORMATS", "export"]


def export(run: str | Path, fmt: str, out: Path | None = None, force: bool = False, model: str | None = None,
           name: str | None = None, test_image: Path | None = None, runs_root: Path = DEFAULT_RUNS_ROOT) -> dict:
    """Write ``fmt`` for ``run`` into ``out`` (default ``<run>/export/<format>``); returns a summary."""
    f = get_format(fmt)
    opts = check_options(f, {"model": model, "name": name, "test_image": test_image})
    the_run = Run.open(run, runs_root)
    target = Path(out) if out is not None else the_run.file("export") / f.folder
    archive = target.with_name(target.name + ".tar.gz")
    if force and target.is_dir() and the_run.records(target):
        mark(target, "export")  # an export made before edgecxr marked its folders, as the run recorded it
    check_free(target, force)
    if f.archive and not (force and the_run.records(archive)):
        check_free(archive, force)
    source = load_source(the_run, opts.get("model"), opts.get("name"))
    extra = {"test_image": opts["test_image"]} if "test_image" in opts else {}
    with staged_folder(target, force, "export") as tmp:
        result = f.load_handler()(source, tmp, **extra)
    summary = {"format": f.name, "run": str(the_run.path), "model": source.model_key,
               "model_reason": source.reason, "out": str(target), **result}
    if f.archive:
        summary["archive"] = str(pack(target, archive))
        summary["archive_sha256"] = sha256_file(archive)
    if target.resolve().is_relative_to(the_run.path.resolve()):
        the_run.update_manifest("export", {"format": f.name,
                                            "out": str(target.resolve().relative_to(the_run.path.resolve()))})
    return summary


def pack(folder: Path, archive: Path) -> Path:
    """``folder`` as a .tar.gz whose single top-level entry is the folder itself."""
    with atomic_path(archive) as tmp, tarfile.open(tmp, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive

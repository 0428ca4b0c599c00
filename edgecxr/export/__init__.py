"""``edgecxr export``: one run's int8 model -> .tflite, C header, Arduino library, RPi folder, bundle.

``export`` is the one entry point; the FORMATS table (formats.py) says what each format
writes, which options it takes and which module writes it.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from edgecxr.calibrate import shipped_threshold
from edgecxr.export.folder import check_free
from edgecxr.export.formats import FORMATS, check_options, get_format
from edgecxr.export.source import load_source
from edgecxr.files import atomic_path, mark, sha256_file, staged_folder
from edgecxr.runs import Run

__all__ = ["FORMATS", "ExportOptions", "ExportResult", "export"]


@dataclass(frozen=True)
class ExportOptions:
    """What to write and where (the defaults are `edgecxr export`'s); the FORMATS row says which
    of model / name / test_image a format takes."""

    format: str = "bundle"
    out: Path | None = None  # default <run>/export/<format's folder>
    model: str | None = None  # ptq | qat; default: edgecxr.artifacts.choose_int8
    name: str | None = None
    test_image: Path | None = None
    force: bool = False
    engine: str | None = None  # firmware: edgecxr (default) | tflm
    calibration: str | None = None  # ship this `edgecxr calibrate` NAME's thresholds (every format)

    def __post_init__(self):
        from edgecxr.data.dataset import check_names

        self.format_options()
        if self.test_image is not None:
            check_names([Path(self.test_image)])  # its name is written into the generated files

    def format_options(self) -> dict:
        """The format's own options that are set; one the format does not take is a ConfigError."""
        return check_options(get_format(self.format), {"model": self.model, "name": self.name,
                                                       "test_image": self.test_image, "engine": self.engine})


@dataclass
class ExportResult:
    format: str
    run: Path
    model: str  # the artifact key of the int8 model shipped
    model_reason: str
    out: Path
    written: dict = field(default_factory=dict)  # what the format's writer reports
    archive: Path | None = None
    archive_sha256: str | None = None
    threshold: dict = field(default_factory=dict)  # what the exported spec decides by (edgecxr.calibrate)

    def to_dict(self) -> dict:
        return {"format": self.format, "run": str(self.run), "model": self.model, "model_reason": self.model_reason,
                "out": str(self.out), "threshold": self.threshold, **self.written,
                **({"archive": str(self.archive), "archive_sha256": self.archive_sha256} if self.archive else {})}


def export(run: Run | str | Path, options: ExportOptions = ExportOptions()) -> ExportResult:
    """Write ``options.format`` for ``run`` into ``options.out`` (default ``<run>/export/<format>``)."""
    f, opts = get_format(options.format), options.format_options()
    force = options.force
    the_run = run if isinstance(run, Run) else Run.open(run)
    target = Path(options.out) if options.out is not None else the_run.file("export") / f.folder
    archive = target.with_name(target.name + ".tar.gz")
    if force and target.is_dir() and the_run.records(target):
        mark(target, "export", sealed=True)  # an export made before edgecxr marked its folders, as the run recorded it
    check_free(target, force)
    if f.archive and not (force and the_run.records(archive)):
        check_free(archive, force)
    source = load_source(the_run, opts.get("model"), opts.get("name"), options.calibration)
    extra = {k: opts[k] for k in ("test_image", "engine") if k in opts}
    with staged_folder(target, force, "export") as tmp:
        written = f.load_handler()(source, tmp, **extra)
    result = ExportResult(f.name, the_run.path, source.model_key, source.reason, target, written,
                          threshold=shipped_threshold(source.spec))
    if f.archive:
        result.archive = pack(target, archive)
        result.archive_sha256 = sha256_file(archive)
    if target.resolve().is_relative_to(the_run.path.resolve()):
        the_run.update_manifest("export", {"format": f.name,
                                            "out": str(target.resolve().relative_to(the_run.path.resolve()))})
    return result


def pack(folder: Path, archive: Path) -> Path:
    """``folder`` as a .tar.gz whose single top-level entry is the folder itself."""
    with atomic_path(archive) as tmp, tarfile.open(tmp, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive

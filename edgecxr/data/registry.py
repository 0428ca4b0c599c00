"""The registry of known public chest X-ray datasets (datasets.toml), and fetching them.

``datasets.toml`` lives at the repository root and ships inside the package as
``edgecxr/datasets.toml`` (a symlink to it), so an installed edgecxr finds it too;
$EDGECXR_DATASETS points at another file. Fetching uses only urllib: the download goes to
``NAME.part`` and resumes from there with an HTTP Range request after a broken connection or
an interrupted command; the finished file is verified against the registry's sha256 before it
takes its final name, and deleted (never kept) when the checksum does not match.
"""

from __future__ import annotations

import difflib
import http.client
import os
import re
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from edgecxr import __version__
from edgecxr.errors import ConfigError, DataError
from edgecxr.files import sha256_file
from edgecxr.resources import resource

REGISTRY_FILE = "datasets.toml"
LABEL_FORMATS = {
    "folders": "class = name of the folder that holds the image",
    "csv-single": "one label per image in a CSV column",
    "csv-multi": "several labels per image in a CSV column (multi-label)",
}
# field -> type; every dataset must have all of them (empty string / 0 / [] = unknown or none)
FIELDS = {"title": str, "homepage": str, "kaggle": str, "url": str, "filename": str, "manual": list,
          "layout": str, "label_format": str, "label_note": str, "classes": list, "images": int,
          "image_note": str, "license": str, "citation": str, "sha256": str, "checksum_note": str}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 16


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    homepage: str
    kaggle: str | None
    url: str | None
    filename: str | None
    manual: list[str]
    layout: str
    label_format: str
    label_note: str
    classes: list[str]
    images: int | None
    image_note: str
    license: str
    citation: str
    sha256: str | None
    checksum_note: str

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def registry_path() -> Path:
    """$EDGECXR_DATASETS, else the shipped datasets.toml (see edgecxr.resources)."""
    if env := os.environ.get("EDGECXR_DATASETS"):
        return Path(env)
    return resource(REGISTRY_FILE)


def load_registry(path: str | Path | None = None) -> dict[str, DatasetInfo]:
    """Parse and validate datasets.toml; a bad entry is a ConfigError naming it and the field."""
    path = Path(path) if path else registry_path()
    if not path.is_file():
        raise ConfigError(f"dataset registry {path} not found",
                          "reinstall edgecxr, or set EDGECXR_DATASETS to a datasets.toml")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}", "fix the file") from None
    return {name: _validate(path, name, entry) for name, entry in doc.items()}


def _validate(path: Path, name: str, entry) -> DatasetInfo:
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{path}: dataset [{name}] {what}", "fix the entry (see the comment at the top of the file)")

    if not isinstance(entry, dict):
        raise bad("is not a table")
    for field, kind in FIELDS.items():
        if field not in entry:
            raise bad(f"has no {field!r}")
        if not isinstance(entry[field], kind):
            raise bad(f"field {field!r} should be a {kind.__name__}")
    if unknown := sorted(set(entry) - set(FIELDS)):
        raise bad(f"has unknown field(s) {unknown}")
    if entry["label_format"] not in LABEL_FORMATS:
        raise bad(f"label_format {entry['label_format']!r} is not one of {list(LABEL_FORMATS)}")
    if entry["sha256"] and not _SHA256.match(entry["sha256"]):
        raise bad("sha256 is not 64 lowercase hex digits")
    if not entry["sha256"] and not entry["checksum_note"]:
        raise bad("has no sha256 and no checksum_note saying why")
    if entry["url"] and not entry["filename"]:
        raise bad("has a url but no filename to save it as")
    if not entry["manual"]:
        raise bad("has no manual steps")
    values = {k: entry[k] for k in FIELDS}
    for unknown_when_empty in ("kaggle", "url", "filename", "sha256", "images"):
        values[unknown_when_empty] = values[unknown_when_empty] or None
    return DatasetInfo(name=name, **values)


def get_dataset(name: str, registry: dict[str, DatasetInfo] | None = None) -> DatasetInfo:
    """The entry called ``name``; an unknown name is an error suggesting the nearest one."""
    registry = registry if registry is not None else load_registry()
    if name in registry:
        return registry[name]
    near = difflib.get_close_matches(name.lower(), list(registry), n=1, cutoff=0.4)
    raise DataError(f"unknown dataset {name!r}" + (f"; did you mean {near[0]!r}?" if near else ""),
                    f"`edgecxr data list` shows the known ones: {', '.join(registry)}")


# -- fetch ---------------------------------------------------------------------------------------

def fetch(info: DatasetInfo, out_dir: str | Path, force: bool = False, attempts: int = 3,
          timeout: float = 60.0, progress: bool = True) -> dict:
    """Download ``info.url`` into ``out_dir``; resume, verify, and say what happened.

    Without a direct URL nothing is downloaded and the result carries the manual steps.
    """
    result = {"name": info.name, "manual": info.manual, "sha256_expected": info.sha256}
    if not info.url:
        return result | {"status": "manual", "path": None}
    out_dir = Path(out_dir).expanduser()
    final = out_dir / info.filename
    if final.exists() and not force:
        if info.sha256 and sha256_file(final) == info.sha256:
            return result | {"status": "present", "path": str(final), "sha256": info.sha256, "verified": True,
                             "bytes": final.stat().st_size, "resumed_from": 0}
        raise DataError(f"{final} already exists", "pass --force to download it again")
    out_dir.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    resumed_from = part.stat().st_size if part.exists() else 0
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            _download(info.url, part, timeout, progress)
            break
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
            if isinstance(e, urllib.error.HTTPError):
                raise DataError(f"{info.url}: HTTP {e.code} {e.reason}",
                                "the file may have moved; get it by hand: " + " / ".join(info.manual)) from None
            last_error = e
    else:
        raise DataError(f"download of {info.url} failed after {attempts} attempts ({last_error})",
                        f"run the same command again: it resumes from {part}")
    digest = sha256_file(part)
    if info.sha256 and digest != info.sha256:
        part.unlink()
        raise DataError(f"{final.name}: sha256 {digest} does not match the registry's {info.sha256}; "
                        "the download was deleted",
                        "try again (the file may have been corrupted in transit); if it persists the file "
                        "changed upstream: check the source before trusting it")
    os.replace(part, final)
    return result | {"status": "downloaded", "path": str(final), "sha256": digest,
                     "verified": bool(info.sha256), "bytes": final.stat().st_size, "resumed_from": resumed_from}


def _download(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Append to ``part`` from where it stops (HTTP Range); start over if the server ignores Range."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"edgecxr/{__version__}"} | ({"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # "range not satisfiable": the .part is already whole
            return
        raise
    with response:
        if have and response.status != 206:
            have = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else None
        with open(part, "ab" if have else "wb") as f, _ByteProgress(part.name.removesuffix(".part"), total,
                                                                have, progress) as advance:
            while chunk := response.read(CHUNK):
                f.write(chunk)
                advance(len(chunk))
    if total is not None and part.stat().st_size < total:
        raise ConnectionError(f"connection closed after {part.stat().st_size:,} of {total:,} bytes")


class _ByteProgress:
    """A byte-counting progress bar on stderr (or nothing)."""

    def __init__(self, name: str, total: int | None, done: int, show: bool):
        self.name, self.total, self.done, self.show = name, total, done, show

    def __enter__(self):
        if not self.show:
            return lambda n: None
        from edgecxr.progress import bar

        self.bar = bar(f"downloading {self.name}").__enter__()
        task = self.bar.add_task(f"downloading {self.name}", total=self.total, completed=self.done,
                                 info="(bytes)")
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc):
        if self.show:
            self.bar.__exit__(*exc)

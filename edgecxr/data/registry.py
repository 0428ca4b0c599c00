"""The registry of known public chest X-ray datasets (datasets.toml), and fetching them.

``datasets.toml`` lives at the repository root and ships inside the package as
``edgecxr/datasets.toml`` (a symlink to it), so an installed edgecxr finds it too;
$EDGECXR_DATASETS points at another file. Fetching uses only urllib: the download goes to
``NAME.part`` and resumes from there with an HTTP Range request after a broken connection or
an interrupted command; the finished file is verified against the registry's sha256 before it
takes its final name, and deleted (never kept) when the checksum does not match.
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

from edgecxr import __version__
from edgecxr.checks import check_choice, lookup
from edgecxr.errors import ConfigError, DataError
from edgecxr.files import sha256_file
from edgecxr.resources import resource
from edgecxr.tomlio import from_dict, read_toml

REGISTRY_FILE = "datasets.toml"
LABEL_FORMATS = {
    "folders": "class = name of the folder that holds the image",
    "csv-single": "one label per image in a CSV column",
    "csv-multi": "several labels per image in a CSV column (multi-label)",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
CHUNK = 1 << 16


@dataclass(frozen=True)
class DatasetInfo:
    """One [entry] of datasets.toml: every key must be there (empty string / 0 / [] = unknown or none)."""

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
    # a set that lives in a git repository: the commit and the folders taken from it, each
    # pinned by its git tree id (the checksum of its whole content; ``git_tree_id`` recomputes
    # it from an extracted folder without git)
    git_repo: str = ""
    git_commit: str = ""
    git_paths: list[str] = field(default_factory=list)
    git_trees: list[str] = field(default_factory=list)
    class_map: str = ""  # `evaluate --class-map` that reads the set as a Kermany model's labels

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def registry_path() -> Path:
    """$EDGECXR_DATASETS, else the shipped datasets.toml (see edgecxr.resources)."""
    if env := os.environ.get("EDGECXR_DATASETS"):
        return Path(env)
    return resource(REGISTRY_FILE)


def load_registry(path: str | Path | None = None) -> dict[str, DatasetInfo]:
    """Parse and validate datasets.toml; a bad entry is a ConfigError naming the file, the entry and the key."""
    path = Path(path) if path else registry_path()
    doc = read_toml(path, "dataset registry", "reinstall edgecxr, or set EDGECXR_DATASETS to a datasets.toml")
    return {name: _validate(path, name, entry) for name, entry in doc.items()}


def _validate(path: Path, name: str, entry) -> DatasetInfo:
    where = f"{path}: [{name}]"

    def bad(what: str) -> ConfigError:
        return ConfigError(f"{where}: {what}", "fix the entry (see the comment at the top of the file)")

    if not isinstance(entry, dict):
        raise bad("is not a table")
    info = from_dict(DatasetInfo, {**entry, "name": name}, where)  # every key, of its type
    check_choice("label_format", info.label_format, allowed=tuple(LABEL_FORMATS), where=where)
    if info.sha256 and not _SHA256.match(info.sha256):
        raise bad("sha256 is not 64 lowercase hex digits")
    if not info.sha256 and not info.checksum_note:
        raise bad("has no sha256 and no checksum_note saying why")
    if info.url and not info.filename:
        raise bad("has a url but no filename to save it as")
    if not info.manual:
        raise bad("has no manual steps")
    if info.git_paths and not (info.git_repo and _SHA1.match(info.git_commit)):
        raise bad("has git_paths but no git_repo and 40-hex-digit git_commit")
    if len(info.git_trees) != len(info.git_paths) or not all(_SHA1.match(t) for t in info.git_trees):
        raise bad("needs one 40-hex-digit git tree id in git_trees per folder of git_paths")
    if info.class_map:
        from edgecxr.evaluate.classmap import parse_class_map

        if unknown := [c for c in parse_class_map(info.class_map) if c not in info.classes]:
            raise bad(f"class_map names {', '.join(unknown)}, not in classes")
    # empty string / 0 = unknown or none
    return replace(info, **{k: getattr(info, k) or None for k in ("kaggle", "url", "filename", "sha256", "images")})


def git_tree_id(folder: str | Path) -> str:
    """The git tree id of ``folder`` as git computes it for a commit (files as mode 100644,
    subfolders as trees, entries in git's byte order): an extracted copy of a registry folder
    is verified against ``git_trees`` without git or the repository."""
    import hashlib

    def obj(kind: bytes, body: bytes) -> bytes:
        return hashlib.sha1(kind + b" %d\0" % len(body) + body).digest()

    def tree(path: Path) -> bytes:
        entries = []
        for child in path.iterdir():
            name = child.name.encode()
            if child.is_dir():
                entries.append((name + b"/", b"40000 " + name + b"\0" + tree(child)))
            else:
                entries.append((name, b"100644 " + name + b"\0" + obj(b"blob", child.read_bytes())))
        return obj(b"tree", b"".join(e for _, e in sorted(entries)))

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder", "pass the folder extracted from the registry's git_paths")
    return tree(folder).hex()


def get_dataset(name: str, registry: dict[str, DatasetInfo] | None = None) -> DatasetInfo:
    """The entry called ``name``; an unknown name is an error suggesting the nearest one."""
    registry = registry if registry is not None else load_registry()
    return lookup(registry, name, "dataset", DataError, " (`edgecxr data list` describes them)")


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

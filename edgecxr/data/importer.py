"""A downloaded folder or .zip -> a clean dataset folder that `scan_folder` reads.

Kaggle's Kermany zip holds the dataset twice (``chest_xray/{train,val,test}`` and again under
``chest_xray/chest_xray``) plus macOS ``__MACOSX`` junk; the importer finds the shallowest
dataset root (the folder above the split or class folders), keeps only its split folders (or
its class folders), and drops the rest. Safety: an archive member whose path would land outside
the target (absolute, ``..``: "zip slip") makes the whole import fail before anything is
written; symbolic links (in a zip or a folder) are never created or followed, only listed.
The import is written to a temporary folder and renamed into place once it scans as a
dataset, so a failed import leaves nothing behind, and an existing target needs ``force``.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from edgecxr.data.dataset import IGNORED_DIRS, SPLIT_NAMES, scan_folder
from edgecxr.device.preprocess import IMAGE_SUFFIXES
from edgecxr.errors import DataError
from edgecxr.files import check_replaceable, staged_folder

KEPT_SUFFIXES = IMAGE_SUFFIXES | {".csv"}  # label files travel with the images
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


# An archive member is refused beyond MAX_MEMBER_BYTES (a chest X-ray is a few MB, a 16-bit
# image at the pixel limit 128 MB, a label CSV tens of MB: more is a bomb or not a dataset),
# and the whole import beyond the free space of the target's disk minus FREE_SPACE_MARGIN.
# Both are enforced on the bytes actually written, not on what the archive's headers claim.
MAX_MEMBER_BYTES = 256 * 1024**2
FREE_SPACE_MARGIN = 256 * 1024**2


@dataclass(frozen=True)
class _Member:
    rel: PurePosixPath
    open: Callable[[], BinaryIO]
    size: int  # bytes it says it holds (a zip header can lie; _copy counts the real ones)
    unreadable: str = ""  # why it cannot be extracted (encrypted, a compression Python lacks)


def import_dataset(source: str | Path, out: str | Path, force: bool = False, progress: bool = True) -> dict:
    """Copy (folder) or extract (.zip) the dataset in ``source`` into ``out``; returns a summary."""
    source, out = Path(source).expanduser(), Path(out).expanduser()
    if not source.exists():
        raise DataError(f"{source} does not exist", "pass the downloaded .zip or the unpacked folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise DataError(f"{out} already exists and is not empty", "choose another --out or pass --force")
    check_replaceable(out, force, ("dataset",), " (it is not an earlier import)")
    if source.is_dir() and (out.resolve() == source.resolve() or source.resolve() in out.resolve().parents):
        raise DataError(f"--out {out} is inside the source folder {source}", "choose an --out outside it")

    skipped = {"junk": 0, "outside_dataset_root": 0, "other_files": 0, "symlinks": [], "not_regular_files": []}
    if source.is_dir():
        members, zf = _folder_members(source, skipped), None
    elif zipfile.is_zipfile(source):
        try:
            zf = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise DataError(f"{source} is a damaged .zip archive ({e})", "download it again") from None
        members = _zip_members(source, zf, skipped)
    else:
        raise DataError(f"{source} is neither a folder nor a .zip archive",
                        "unpack other archive formats first, then import the folder")
    try:
        root, kept = _choose_root(source, members, skipped)
        _check_sizes(source, kept, _parent(out))
        with staged_folder(out, force, "dataset") as staging:
            _write(kept, root, staging, progress)
            # labels from folders: refuse to install something that does not scan as a dataset;
            # labels from a CSV: `edgecxr data inspect OUT --csv FILE` checks them
            label_files = sorted(str(m.rel.relative_to(root)) for m in kept if m.rel.suffix.lower() == ".csv")
            dataset = None if label_files else scan_folder(staging)
    finally:
        if zf:
            zf.close()
    summary = {"source": str(source), "out": str(out), "root_in_source": str(root) if root.parts else ".",
               "files": len(kept), "images": sum(m.rel.suffix.lower() in IMAGE_SUFFIXES for m in kept),
               "label_files": label_files, "classes": None, "splits": None, "skipped": skipped}
    if dataset:
        summary |= {"classes": dataset.classes, "splits": [s or "all" for s in dataset.splits]}
    return summary


def _parent(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.parent


def _is_junk(rel: PurePosixPath) -> bool:
    return (any(p in IGNORED_DIRS for p in rel.parts) or rel.name in JUNK_NAMES
            or rel.name.startswith("._"))


def _zip_members(source: Path, zf: zipfile.ZipFile, skipped: dict) -> list[_Member]:
    members = []
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or (rel.parts and ":" in rel.parts[0]):
            raise DataError(f"{source}: member {info.filename!r} would be written outside the target folder",
                            "this archive is malformed or malicious; it was not imported")
        if info.is_dir():
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            skipped["symlinks"].append(name)
        elif _is_junk(rel):
            skipped["junk"] += 1
        else:
            members.append(_Member(rel, lambda info=info: zf.open(info), info.file_size, _unreadable(info)))
    return members


# the compression methods Python's zipfile extracts (others, e.g. Deflate64 = 9, it cannot)
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
               zipfile.ZIP_LZMA: "lzma"}
ZIP_METHOD_NAMES = {9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "XZ", 98: "PPMd", 99: "AES"}


def _unreadable(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x1:
        return "encrypted (password-protected)"
    if info.compress_type not in ZIP_METHODS:
        return f"compressed with {ZIP_METHOD_NAMES.get(info.compress_type, f'method {info.compress_type}')}"
    return ""


def _folder_members(source: Path, skipped: dict) -> list[_Member]:
    members = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                skipped["symlinks"].append(str((here / d).relative_to(source)))
        for name in filenames:
            path = here / name
            rel = PurePosixPath(path.relative_to(source).as_posix())
            if path.is_symlink():
                skipped["symlinks"].append(str(rel))
            elif not path.is_file():  # a FIFO, socket or device: never opened (reading one waits forever)
                skipped["not_regular_files"].append(str(rel))
            elif _is_junk(rel):
                skipped["junk"] += 1
            else:
                members.append(_Member(rel, lambda path=path: open(path, "rb"), path.stat().st_size))  # noqa: SIM115
    return members


def _dataset_root(rel: PurePosixPath) -> PurePosixPath:
    """The folder above ``[split/]class/`` for an image at ``rel``."""
    parts = rel.parts
    depth = 3 if len(parts) >= 3 and parts[-3].lower() in SPLIT_NAMES else 2
    return PurePosixPath(*parts[:max(0, len(parts) - depth)])


def _choose_root(source: Path, members: list[_Member], skipped: dict) -> tuple[PurePosixPath, list[_Member]]:
    images = [m for m in members if m.rel.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise DataError(f"{source} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})",
                        "check that this is the dataset download")
    root = min((_dataset_root(m.rel) for m in images), key=lambda r: (len(r.parts), str(r)))
    n = len(root.parts)
    below = [m for m in members if m.rel.parts[:n] == root.parts and len(m.rel.parts) > n]
    has_splits = any(len(m.rel.parts) > n + 1 and m.rel.parts[n].lower() in SPLIT_NAMES for m in below)
    kept = [m for m in below if not has_splits or len(m.rel.parts) == n + 1 or m.rel.parts[n].lower() in SPLIT_NAMES]
    skipped["outside_dataset_root"] += len(members) - len(kept)
    skipped["other_files"] += sum(m.rel.suffix.lower() not in KEPT_SUFFIXES for m in kept)
    kept = [m for m in kept if m.rel.suffix.lower() in KEPT_SUFFIXES]
    return root, kept


def _write(kept: list[_Member], root: PurePosixPath, staging: Path, progress: bool) -> None:
    from edgecxr.progress import track

    items = track(kept, f"importing {len(kept)} files") if progress and len(kept) > 200 else kept
    base = staging.resolve()
    for m in items:
        target = (staging / PurePosixPath(*m.rel.parts[len(root.parts):])).resolve()
        if base not in target.parents:  # belt and braces: _zip_members already refused such names
            raise DataError(f"{m.rel} would be written outside {staging}", "the archive was not imported")
        target.parent.mkdir(parents=True, exist_ok=True)
        budget = min(MAX_MEMBER_BYTES, _room(staging))
        try:
            with m.open() as src, open(target, "wb") as dst:
                while block := src.read(1 << 20):
                    budget -= len(block)
                    if budget < 0:
                        raise DataError(f"{m.rel} extracts to more than {min(MAX_MEMBER_BYTES, _room(staging)):,} bytes "
                                        "(the per-file cap, or the free space of the disk)",
                                        "this archive is malformed or malicious, or the disk is too small; "
                                        "nothing was imported")
                    dst.write(block)
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise DataError(f"{m.rel}: damaged archive member ({e})", "download the archive again") from None


def _room(folder: Path) -> int:
    """Bytes that may still be written to ``folder``'s disk (its free space minus the margin)."""
    return max(0, shutil.disk_usage(folder).free - FREE_SPACE_MARGIN)


def _check_sizes(source: Path, kept: list[_Member], folder: Path) -> None:
    """Refuse before writing anything when a member cannot be extracted or the members say
    they are too big."""
    locked = [m for m in kept if m.unreadable]
    if locked:
        raise DataError(f"{source}: {len(locked)} member(s) cannot be extracted, e.g. {locked[0].rel}: "
                        f"{locked[0].unreadable}; nothing was imported",
                        "unpack the archive with a tool that can (7z x, or unzip with the password), "
                        "then import the folder")
    big = max(kept, key=lambda m: m.size, default=None)
    if big is not None and big.size > MAX_MEMBER_BYTES:
        raise DataError(f"{source}: {big.rel} would extract to {big.size:,} bytes, over the {MAX_MEMBER_BYTES:,}-byte "
                        "cap for one file", "this archive is malformed or malicious, or not a dataset; nothing was imported")
    total = sum(m.size for m in kept)
    if total > _room(folder):
        raise DataError(f"{source} would extract to {total:,} bytes; {folder} has room for {_room(folder):,}",
                        "free some disk space or import to another disk (--out); nothing was imported")

"""Decode and preprocess images once; later epochs and stages load a .npy from the cache.

The cache key is the list of files (path, size, mtime) plus ``spec.cache_key()`` (size,
channels, resize mode, normalization): change any of them and the images are decoded again.
Location: pixels/ under edgecxr.resources.cache_dir's folder.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecxr.device.preprocess import DECODER_VERSION, ImageError, preprocess_file
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import DataError
from edgecxr.files import json_bytes, write_all
from edgecxr.resources import cache_dir as user_cache


def cache_dir() -> Path:
    return user_cache("pixels")


@dataclass
class Pixels:
    """Preprocessed images: ``x[i]`` is ``paths[i]``; unreadable files are in ``errors``."""

    x: np.ndarray  # uint8, (N, H, W, C)
    paths: list[Path]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, what is wrong)
    from_cache: bool = False


def _key(paths: list[Path], spec: ModelSpec) -> str:
    h = hashlib.sha256(f"{spec.cache_key()}|decoder {DECODER_VERSION}".encode())
    for p in paths:
        st = p.stat() if p.exists() else None
        # the name's bytes: a file name that is not UTF-8 is still a key
        h.update(os.fsencode(p.resolve()) + f"|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    return h.hexdigest()[:24]


def load_pixels(paths: list[Path], spec: ModelSpec, strict: bool = False, use_cache: bool = True,
                progress: bool = True) -> Pixels:
    """Preprocess ``paths`` per ``spec``; skip (or with ``strict`` refuse) unreadable images."""
    paths = [Path(p) for p in paths]
    key = _key(paths, spec)
    npy, meta = cache_dir() / f"{key}.npy", cache_dir() / f"{key}.json"
    if use_cache and npy.exists() and meta.exists():
        try:
            info = json.loads(meta.read_text())
            kept = set(info["kept"])
            x = np.load(npy)
            if len(x) == len(kept):
                return Pixels(x, [p for i, p in enumerate(paths) if i in kept],
                              [tuple(e) for e in info["errors"]], from_cache=True)
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a damaged cache entry (a full disk, a kill) is decoded again and rewritten

    out = np.zeros((len(paths), *spec.input_shape), np.uint8)
    errors: list[tuple[str, str]] = []
    ok = np.zeros(len(paths), bool)

    def work(i: int):
        try:
            out[i] = preprocess_file(paths[i], spec)
            ok[i] = True
        except ImageError as e:
            if strict:
                raise
            errors.append((str(paths[i]), str(e)))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = pool.map(work, range(len(paths)))
        if progress and len(paths) > 200:
            from edgecxr.progress import track

            futures = track(futures, f"decoding {len(paths)} images", total=len(paths))
        try:
            for _ in futures:
                pass
        except ImageError as e:
            raise DataError(str(e), "fix or remove the file, or drop --strict to skip unreadable images") from None
    errors.sort()
    kept = np.flatnonzero(ok)
    x = out[kept]
    if use_cache:
        _store(npy, meta, x, {"spec": spec.cache_key(), "kept": kept.tolist(), "errors": errors})
    return Pixels(x, [paths[i] for i in kept], errors)


def _store(npy: Path, meta: Path, x: np.ndarray, info: dict) -> None:
    """Both cache files or neither; a cache folder that is full or not writable is one error
    naming it (EDGECXR_CACHE moves it)."""
    buffer = io.BytesIO()
    np.save(buffer, x)
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        write_all({npy: buffer.getvalue(), meta: json_bytes(info)})
    except OSError as e:
        if e.errno not in CACHE_ERRORS:
            raise
        raise DataError(f"cannot write the decoded-image cache in {npy.parent}: {e.strerror}",
                        f"{CACHE_ERRORS[e.errno]}, or set EDGECXR_CACHE to a folder on another disk") from None


# errno -> what to do about the cache folder
CACHE_ERRORS = {errno.ENOSPC: "free some disk space there", errno.EDQUOT: "free some of your disk quota",
                errno.EROFS: "it is on a read-only file system", errno.EACCES: "check its permissions",
                errno.EPERM: "check its permissions"}

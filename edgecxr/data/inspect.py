"""What is really in a dataset, before a model is trained on it.

Every image is read once (two threads): its bytes are hashed (exact duplicates, also across
splits and across classes) and it is fully decoded (a truncated JPEG only fails on decode).
The report counts images per split and class, image sizes, modes and formats, lists the
unreadable files, counts patients per class and split and those shared by two splits, and
measures class imbalance.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edgecxr.data.dataset import Dataset
from edgecxr.device.preprocess import MAX_PIXELS, ImageError, open_gray
from edgecxr.errors import DataError

EXAMPLES = 10  # how many example paths a report lists per finding
ALL = "all"  # the split name of a dataset without split folders


@dataclass(frozen=True)
class Probe:
    sha256: str | None
    size: tuple[int, int] | None
    mode: str | None
    format: str | None
    error: str | None


def probe(path: Path, max_pixels: int = MAX_PIXELS) -> Probe:
    """Hash, measure and fully decode one image; never raises for a bad image."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return Probe(None, None, None, None, f"{path}: cannot read ({e.strerror})")
    digest = hashlib.sha256(data).hexdigest()
    try:
        open_gray(path, max_pixels)  # the checks and the full decode every later stage does
        with Image.open(io.BytesIO(data)) as img:
            size, mode, fmt = img.size, img.mode, img.format
    except ImageError as e:  # open_gray turns every way Pillow fails into one
        return Probe(digest, None, None, None, str(e))
    return Probe(digest, size, mode, fmt, None)


def inspect_dataset(dataset: Dataset, strict: bool = False, max_pixels: int = MAX_PIXELS,
                    progress: bool = True) -> dict:
    """A JSON-ready report on ``dataset``; ``strict`` turns unreadable images into an error."""
    samples = dataset.samples
    with ThreadPoolExecutor(max_workers=2) as pool:
        probes = pool.map(lambda s: probe(s.path, max_pixels), samples)
        if progress and len(samples) > 200:
            from edgecxr.progress import track

            probes = track(probes, f"reading {len(samples)} images", total=len(samples))
        probes = list(probes)

    rel = lambda p: str(p.relative_to(dataset.root)) if p.is_relative_to(dataset.root) else str(p)
    split_of = lambda s: s.split or ALL
    unreadable = [{"path": rel(s.path), "error": p.error} for s, p in zip(samples, probes) if p.error]
    if strict and unreadable:
        raise DataError(f"{len(unreadable)} unreadable image(s), e.g. {unreadable[0]['error']}",
                        "remove or replace them, or drop --strict to skip them")
    readable = [(s, p) for s, p in zip(samples, probes) if not p.error]

    counts: dict[str, dict[str, int]] = {}
    for s in samples:
        row = counts.setdefault(split_of(s), {c: 0 for c in dataset.classes})
        for k in s.labels:
            row[dataset.classes[k]] += 1
    sizes = Counter(f"{p.size[0]}x{p.size[1]}" for _, p in readable)
    pixels = sorted((p.size[0] * p.size[1], p.size) for _, p in readable)

    report = {
        "root": str(dataset.root),
        "classes": dataset.classes,
        "multilabel": dataset.multilabel,
        "images": len(samples),
        "counts": counts,
        "sizes": {"distinct": len(sizes), "most_common": dict(sizes.most_common(EXAMPLES)),
                  "smallest": list(pixels[0][1]) if pixels else None,
                  "largest": list(pixels[-1][1]) if pixels else None},
        "modes": dict(Counter(p.mode for _, p in readable).most_common()),
        "formats": dict(Counter(p.format for _, p in readable).most_common()),
        "unreadable": unreadable,
        **_duplicates(dataset, readable, rel, split_of),
        "patients": _patients(dataset, split_of),
        "imbalance": {split: _imbalance(row) for split, row in counts.items()},
        "notes": list(dataset.notes),
    }
    report["warnings"] = _warnings(report)
    return report


def _duplicates(dataset: Dataset, readable, rel, split_of) -> dict:
    groups: dict[str, list] = defaultdict(list)
    for s, p in readable:
        groups[p.sha256].append(s)
    dupes = [g for g in groups.values() if len(g) > 1]
    across_splits = [g for g in dupes if len({split_of(s) for s in g}) > 1]
    conflicting = [g for g in dupes if len({s.labels for s in g}) > 1]
    show = lambda gs: [[rel(s.path) for s in g] for g in gs[:EXAMPLES]]
    return {
        "duplicates": {"groups": len(dupes), "extra_copies": sum(len(g) - 1 for g in dupes), "examples": show(dupes)},
        "duplicates_across_splits": {"groups": len(across_splits), "examples": show(across_splits)},
        "duplicates_with_different_labels": {"groups": len(conflicting), "examples": show(conflicting)},
    }


def _patients(dataset: Dataset, split_of) -> dict:
    per_class: dict[str, set[str]] = defaultdict(set)
    per_split: dict[str, set[str]] = defaultdict(set)
    splits_of: dict[str, set[str]] = defaultdict(set)
    for s in dataset.samples:
        for k in s.labels:
            per_class[dataset.classes[k]].add(s.patient)
        per_split[split_of(s)].add(s.patient)
        splits_of[s.patient].add(split_of(s))
    shared = sorted(p for p, splits in splits_of.items() if len(splits) > 1)
    return {
        "total": len(splits_of),
        "images_per_patient_max": max(Counter(s.patient for s in dataset.samples).values(), default=0),
        "per_class": {c: len(per_class[c]) for c in dataset.classes},
        "per_split": {split: len(p) for split, p in per_split.items()},
        "shared_across_splits": len(shared),
        "shared_examples": [{"patient": p, "splits": sorted(splits_of[p])} for p in shared[:EXAMPLES]],
    }


def _imbalance(row: dict[str, int]) -> dict:
    total = sum(row.values())
    majority, minority = max(row, key=row.get), min(row, key=row.get)
    return {"majority": majority, "minority": minority,
            "ratio": round(row[majority] / row[minority], 3) if row[minority] else None,
            "fractions": {c: round(n / total, 4) if total else 0.0 for c, n in row.items()}}


def _warnings(report: dict) -> list[str]:
    """The findings that should change what the user does next."""
    out = []
    if report["unreadable"]:
        out.append(f"{len(report['unreadable'])} unreadable image(s) will be skipped (--strict makes them an error)")
    if report["duplicates_across_splits"]["groups"]:
        out.append(f"{report['duplicates_across_splits']['groups']} image(s) appear in more than one split: "
                   "validation/test figures are flattered")
    if report["duplicates_with_different_labels"]["groups"]:
        out.append(f"{report['duplicates_with_different_labels']['groups']} identical image(s) carry different labels")
    if report["patients"]["shared_across_splits"]:
        out.append(f"{report['patients']['shared_across_splits']} patient(s) appear in more than one split folder; "
                   "`edgecxr data split` regroups train/val by patient")
    for split, imb in report["imbalance"].items():
        if imb["ratio"] is None:
            out.append(f"{split}: class {imb['minority']} has no images")
        elif imb["ratio"] >= 2:
            out.append(f"{split}: classes are imbalanced ({imb['majority']} : {imb['minority']} = {imb['ratio']:.2f} : 1); "
                       "look at sensitivity and specificity, not accuracy")
    return out

"""A seeded train/val split, stratified by class and grouped by patient -> split.json.

Images of one patient always land in the same split (a per-image split leaks patients and
flatters validation). A folder's own ``test`` split is kept apart untouched and never used
for training, calibration or threshold choice; its ``train`` and ``val`` folders are pooled
and re-split by patient (Kermany's 16-image val folder is too small to select models on).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from edgecxr.data.dataset import Dataset, Sample
from edgecxr.errors import DataError
from edgecxr.files import read_json_object, write_json

SPLIT_FILE = "split.json"


def split_by_patient(dataset: Dataset, val_fraction: float = 0.2, seed: int = 0) -> dict[Path, str]:
    """Assign every sample to train | val | test; returns {path: split}."""
    if not 0.0 < val_fraction < 1.0:  # also refuses NaN
        raise DataError(f"validation fraction {val_fraction} is not between 0 and 1", "use e.g. 0.2")
    assignment: dict[Path, str] = {s.path: "test" for s in dataset.samples if s.split == "test"}
    pool = [s for s in dataset.samples if s.split != "test"]
    patients: dict[str, list[Sample]] = defaultdict(list)
    for s in pool:
        patients[s.patient].append(s)
    # stratify on each patient's first label (multi-label: its first finding)
    by_class: dict[int, list[str]] = defaultdict(list)
    for pid, items in patients.items():
        by_class[min(items[0].labels, default=-1)].append(pid)
    rng = random.Random(seed)
    for k in sorted(by_class):
        pids = sorted(by_class[k])
        rng.shuffle(pids)
        n_images = sum(len(patients[p]) for p in pids)
        target, taken = val_fraction * n_images, 0
        for pid in pids:
            split = "val" if taken < target and len(pids) > 1 else "train"
            if split == "val":
                taken += len(patients[pid])
            for s in patients[pid]:
                assignment[s.path] = split
    return assignment


def write_split(dataset: Dataset, assignment: dict[Path, str], out: Path, seed: int, val_fraction: float,
                force: bool = False) -> dict:
    check_split_target(out, force)
    items = [{"path": str(s.path.relative_to(dataset.root)), "labels": list(s.labels), "patient": s.patient,
              "split": assignment[s.path]} for s in dataset.samples]
    doc = {"root": str(dataset.root.resolve()), "classes": dataset.classes, "multilabel": dataset.multilabel,
           "seed": seed, "val_fraction": val_fraction, "counts": split_counts(dataset, assignment), "items": items}
    write_json(out, doc, force=force)
    return doc


def split_counts(dataset: Dataset, assignment: dict[Path, str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for s in dataset.samples:
        row = counts.setdefault(assignment[s.path], {c: 0 for c in dataset.classes})
        for k in s.labels:
            row[dataset.classes[k]] += 1
    return counts


def read_split(path: Path) -> tuple[Dataset, dict[Path, str]]:
    """Load split.json back into the Dataset and the assignment it was made from."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"split file {path} not found", "make one with `edgecxr data split DATA --out split.json`")
    again = "make it again with `edgecxr data split` (or re-run `edgecxr train`)"
    doc = read_json_object(path, again, DataError, keys=("root", "classes", "items"))
    try:
        root = Path(doc["root"])
        classes = [str(c) for c in doc["classes"]]
        samples = []
        for it in doc["items"]:
            rel = Path(it["path"])
            if rel.is_absolute() or ".." in rel.parts:  # every image lies below the split's root
                raise ValueError(f"item path {it['path']!r} leaves the root")
            labels = tuple(int(k) for k in it["labels"])
            if any(not 0 <= k < len(classes) for k in labels) or it["split"] not in ("train", "val", "test"):
                raise ValueError(f"item {it['path']!r} has labels {labels} / split {it['split']!r}")
            samples.append(Sample(root / rel, labels, str(it["patient"]), it["split"]))
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path} is damaged: {e}", again) from None
    ds = Dataset(root=root, classes=classes, samples=samples, multilabel=bool(doc.get("multilabel", False)))
    return ds, {s.path: s.split for s in samples}


def check_split_target(out: Path, force: bool) -> None:
    """``out`` may be (re)written: absent, or with ``force`` a split file edgecxr wrote."""
    out = Path(out)
    if not out.exists():
        return
    if not force:
        raise DataError(f"{out} already exists", "pass --force to overwrite it, or choose another --out")
    try:
        doc = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    if not (out.is_file() and isinstance(doc, dict) and {"root", "classes", "items"} <= set(doc)):
        raise DataError(f"{out} is not a split file edgecxr wrote; --force will not overwrite it",
                        "choose another --out, or move that file away")


def patients_in_several_splits(dataset: Dataset, assignment: dict[Path, str]) -> list[str]:
    """Patients with images in more than one split (must be empty for train/val; a folder's own
    test split can still share patients with train, which the caller should report)."""
    splits_of: dict[str, set[str]] = defaultdict(set)
    for s in dataset.samples:
        splits_of[s.patient].add(assignment[s.path])
    return sorted(p for p, splits in splits_of.items() if len(splits) > 1)

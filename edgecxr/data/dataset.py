"""Find a dataset's images, labels and patients from its folder layout (or a CSV).

Folder layouts understood (class names are folder names, sorted):

    ROOT/CLASS/*.jpeg                        no splits
    ROOT/{train,val,test}/CLASS/*.jpeg       Kaggle's Kermany layout
    ROOT/chest_xray/{train,val,test}/...     a single wrapping folder is descended into

Patient ids come from the file name where a dataset encodes them (PATIENT_PATTERNS);
otherwise every image is its own patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgecxr.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "test": "test", "testing": "test"}
IGNORED_DIRS = {"__MACOSX"}

# (regex on the file name, patient id template). Kermany: person1946_bacteria_4874.jpeg is
# patient 1946; IM-0115-0001.jpeg and NORMAL2-IM-0115-0001.jpeg are both grouped as IM-0115
# (the safe choice: whether they are one patient is undocumented, see shared/data/README.md).
PATIENT_PATTERNS = [
    (re.compile(r"^person(\d+)_", re.I), "person{}"),
    (re.compile(r"^(?:NORMAL2-)?IM-(\d+)-\d+", re.I), "IM-{}"),
]


def patient_id(filename: str) -> str:
    for pattern, template in PATIENT_PATTERNS:
        m = pattern.match(filename)
        if m:
            return template.format(m.group(1))
    return Path(filename).stem


@dataclass(frozen=True)
class Sample:
    path: Path
    labels: tuple[int, ...]  # single-label: (class index,); multi-label: indices present
    patient: str
    split: str | None = None  # from the folder layout: train | val | test | None


@dataclass
class Dataset:
    root: Path
    classes: list[str]
    samples: list[Sample]
    multilabel: bool = False
    notes: list[str] = field(default_factory=list)

    def by_split(self, split: str | None) -> list[Sample]:
        return [s for s in self.samples if s.split == split]

    @property
    def splits(self) -> list[str | None]:
        return sorted({s.split for s in self.samples}, key=lambda s: (s is None, str(s)))

    def class_counts(self, samples: list[Sample] | None = None) -> dict[str, int]:
        counts = {c: 0 for c in self.classes}
        for s in samples if samples is not None else self.samples:
            for k in s.labels:
                counts[self.classes[k]] += 1
        return counts


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _subdirs(p: Path) -> list[Path]:
    return sorted(d for d in p.iterdir() if d.is_dir() and d.name not in IGNORED_DIRS and not d.name.startswith("."))


def find_root(path: Path) -> Path:
    """Descend through single wrapping folders (Kaggle zips nest chest_xray/chest_xray)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist", "pass the folder that holds the class (or train/val/test) folders")
    if not path.is_dir():
        raise DataError(f"{path} is not a folder",
                        "pass a folder of class folders; for a .zip run `edgecxr data import` first")
    while True:
        subs = _subdirs(path)
        has_images = any(_is_image(p) for p in path.iterdir())
        if len(subs) == 1 and not has_images and subs[0].name.lower() not in SPLIT_NAMES:
            nested = _subdirs(subs[0])
            if nested and not any(_is_image(p) for p in subs[0].iterdir()):
                path = subs[0]
                continue
        return path


def scan_folder(path: str | Path) -> Dataset:
    """Read a folder layout into a Dataset, or raise DataError saying what is wrong."""
    root = find_root(Path(path))
    subs = _subdirs(root)
    split_dirs = {d: SPLIT_NAMES[d.name.lower()] for d in subs if d.name.lower() in SPLIT_NAMES}
    if split_dirs:
        groups = [(split, d) for d, split in split_dirs.items()]
    else:
        groups = [(None, root)]

    class_dirs: dict[str, list[tuple[str | None, Path]]] = {}
    for split, d in groups:
        for c in _subdirs(d):
            class_dirs.setdefault(c.name, []).append((split, c))
    if not class_dirs:
        raise DataError(f"{root} has no class folders",
                        "lay images out as ROOT/CLASS/*.jpeg or ROOT/{train,val,test}/CLASS/*.jpeg")
    classes = sorted(class_dirs)
    samples: list[Sample] = []
    for k, name in enumerate(classes):
        n_class = 0
        for split, d in class_dirs[name]:
            files = sorted(p for p in d.rglob("*") if _is_image(p))
            if not files:
                raise DataError(f"class folder {d} holds no images",
                                "add images to it or remove the empty folder")
            n_class += len(files)
            samples += [Sample(p, (k,), patient_id(p.name), split) for p in files]
    if len(classes) < 2:
        raise DataError(f"{root} has only one class ({classes[0]})",
                        "a classifier needs at least two class folders, e.g. NORMAL and PNEUMONIA")
    return Dataset(root=root, classes=classes, samples=samples)

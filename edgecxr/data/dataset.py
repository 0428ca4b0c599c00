"""Find a dataset's images, labels and patients from its folder layout (or a CSV).

Folder layouts understood (class names are folder names, sorted):

    ROOT/CLASS/*.jpeg                        no splits
    ROOT/{train,val,test}/CLASS/*.jpeg       Kaggle's Kermany layout
    ROOT/chest_xray/{train,val,test}/...     a single wrapping folder is descended into

or from a CSV (``scan_csv``): one row per image, a label column holding one label or several
separated by ``|`` (the NIH ChestX-ray14 format), and optionally a patient column.

Patient ids come from the file name where a dataset encodes them (PATIENT_PATTERNS);
otherwise every image is its own patient.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgecxr.device.preprocess import IMAGE_SUFFIXES
from edgecxr.errors import DataError

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "test": "test", "testing": "test"}
IGNORED_DIRS = {"__MACOSX"}

# (regex on the file name, patient id template). Kermany: person1946_bacteria_4874.jpeg is
# patient 1946; IM-0115-0001.jpeg and NORMAL2-IM-0115-0001.jpeg are both grouped as IM-0115
# (the safe choice: whether they are one patient is undocumented, see shared/data/README.md).
# NIH ChestX-ray14: 00000061_012.png is follow-up 12 of patient 00000061 (the nih-ozturk external
# set repeats patients, so its intervals resample patients, not images).
PATIENT_PATTERNS = [
    (re.compile(r"^person(\d+)_", re.IGNORECASE), "person{}"),
    (re.compile(r"^(?:NORMAL2-)?IM-(\d+)-\d+", re.IGNORECASE), "IM-{}"),
    (re.compile(r"^(\d{8})_\d{3}\.png$", re.IGNORECASE), "nih{}"),
]


def patient_id(filename: str, fallback: str | None = None) -> str:
    """The patient a file name encodes; else ``fallback`` (default: the name's stem), i.e. the
    image is its own patient. Pass a fallback that is unique per image (its relative path):
    datasets such as covid3 reuse names like ``01.jpeg`` in every class folder."""
    for pattern, template in PATIENT_PATTERNS:
        m = pattern.match(filename)
        if m:
            return template.format(m.group(1))
    return fallback if fallback is not None else Path(filename).stem


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


def _own_patient(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _is_image(p: Path) -> bool:
    """An image file by its name; a dangling symbolic link counts too, so that it is listed as
    unreadable (by inspect, training and evaluate) instead of silently missing."""
    return ((p.is_file() or (p.is_symlink() and not p.exists())) and p.suffix.lower() in IMAGE_SUFFIXES
            and not p.name.startswith("."))


def printable(path: Path | str) -> str:
    """``path`` as text that can be printed and written as UTF-8 (bytes that are not UTF-8
    shown as \\xNN escapes)."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_names(paths: list[Path]) -> None:
    """A DataError for the first file name that is not UTF-8: it could be neither recorded in
    split.json and reports nor named on a device, so it is refused, not half-handled."""
    for p in paths:
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(f"{printable(p)}: the file name is not UTF-8 text",
                            "rename it to UTF-8, e.g. convmv -f latin1 -t utf8 --notest -r FOLDER") from None


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
        for split, d in class_dirs[name]:
            files = sorted(p for p in d.rglob("*") if _is_image(p))
            check_names(files)
            if not files:
                raise DataError(f"class folder {d} holds no images",
                                "add images to it or remove the empty folder")
            samples += [Sample(p, (k,), patient_id(p.name, _own_patient(p, root)), split) for p in files]
    if len(classes) < 2:
        raise DataError(f"{root} has only one class ({classes[0]})",
                        "a classifier needs at least two class folders, e.g. NORMAL and PNEUMONIA")
    return Dataset(root=root, classes=classes, samples=samples)


# The NIH ChestX-ray14 column names (its sample_labels.csv / Data_Entry_2017.csv) are the defaults.
CSV_DEFAULTS = {"image_col": "Image Index", "label_col": "Finding Labels", "patient_col": "Patient ID", "sep": "|"}


def scan_csv(csv_path: str | Path, image_dir: str | Path | None = None, image_col: str = "Image Index",
             label_col: str = "Finding Labels", patient_col: str | None = "Patient ID", sep: str = "|",
             multilabel: bool | None = None, strict: bool = False) -> Dataset:
    """Read labels from a CSV: one row per image; several labels per cell joined by ``sep``.

    ``multilabel=None`` decides from the data (any cell holding ``sep``). Image paths in the CSV
    are relative to ``image_dir`` (default: the CSV's folder) or, failing that, found by file name
    anywhere below it. Rows whose image is missing are listed in ``Dataset.notes`` (``strict``:
    an error). ``patient_col=None`` takes patient ids from the file names.
    """
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise DataError(f"label file {csv_path} does not exist", "pass the CSV that lists the images and labels")
    image_dir = Path(image_dir).expanduser() if image_dir else csv_path.parent
    if not image_dir.is_dir():
        raise DataError(f"image folder {image_dir} does not exist", "pass the folder that holds the CSV's images")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            wanted = [c for c in (image_col, label_col, patient_col) if c]
            missing = [c for c in wanted if c not in header]
            if missing:
                raise DataError(f"{csv_path} has no column {', '.join(repr(c) for c in missing)} "
                                f"(its columns: {', '.join(header) or 'none'})",
                                "name the right columns with --image-col / --label-col / --patient-col "
                                "(--patient-col '' takes patients from file names)")
            rows = [(r[image_col] or "", r[label_col] or "", r[patient_col] if patient_col else None)
                    for r in reader]
    except UnicodeDecodeError as e:
        raise DataError(f"{csv_path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})",
                        f"save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {csv_path.name} > labels-utf8.csv") from None
    except csv.Error as e:
        raise DataError(f"{csv_path} is not a readable CSV file ({e})", "pass the dataset's label CSV") from None
    if not rows:
        raise DataError(f"{csv_path} has no rows", "check that it is the dataset's label file")
    cells = [[t.strip() for t in label.split(sep) if t.strip()] for _, label, _ in rows]
    if multilabel is None:
        multilabel = any(len(c) > 1 for c in cells)
    if not multilabel and (bad := next((r for r, c in zip(rows, cells) if len(c) != 1), None)):
        raise DataError(f"{csv_path}: image {bad[0]!r} has labels {bad[1]!r}, not exactly one",
                        "for several labels per image pass --multilabel; fill in rows without a label")
    classes = sorted({t for c in cells for t in c})
    if len(classes) < 2:
        raise DataError(f"{csv_path} has only {len(classes)} label(s) in column {label_col!r}: {classes}",
                        "a classifier needs at least two labels; check --label-col")
    index = {name: k for k, name in enumerate(classes)}
    find = _ImageFinder(image_dir)
    samples, missing_images = [], []
    for (name, _, patient), labels in zip(rows, cells):
        path = find(name)
        if path is None:
            missing_images.append(name)
            continue
        samples.append(Sample(path, tuple(sorted(index[t] for t in labels)),
                              str(patient).strip() if patient else patient_id(path.name, _own_patient(path, image_dir))))
    if missing_images and (strict or not samples):
        raise DataError(f"{len(missing_images)} image(s) listed in {csv_path} are not in {image_dir}, "
                        f"e.g. {missing_images[0]!r}",
                        "pass the folder that holds the images as PATH"
                        + ("; drop --strict to skip the missing ones" if strict and samples else ""))
    notes = [f"{len(missing_images)} image(s) listed in the CSV not found (skipped), e.g. {missing_images[0]!r}"] \
        if missing_images else []
    return Dataset(root=image_dir, classes=classes, samples=samples, multilabel=multilabel, notes=notes)


class _ImageFinder:
    """CSV image name -> file: relative to the image folder, else by file name below it. A
    name that leads out of the folder (``../..``, an absolute path, a symlink out) is never
    opened: it counts as missing."""

    def __init__(self, root: Path):
        self.root = root
        self._inside = root.resolve()
        self._by_name: dict[str, Path] | None = None

    def __call__(self, name: str) -> Path | None:
        direct = self.root / name
        if name and direct.is_file() and direct.resolve().is_relative_to(self._inside):
            return direct
        if self._by_name is None:
            self._by_name = {p.name: p for p in sorted(self.root.rglob("*"), reverse=True)
                             if _is_image(p) and p.resolve().is_relative_to(self._inside)}
        return self._by_name.get(Path(name).name)


def load_dataset(path: str | Path, csv_path: str | Path | None = None, strict: bool = False,
                 **csv_options) -> Dataset:
    """A folder of class folders, or (with ``csv_path``) a folder of images labelled by a CSV."""
    if csv_path:
        return scan_csv(csv_path, image_dir=path, strict=strict, **csv_options)
    return scan_folder(path)

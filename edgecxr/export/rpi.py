"""``--format rpi``: a self-contained Raspberry Pi runner folder.

    classify.py, edgecxr_device/         the runner and the device package it imports (its rules)
    model.tflite, spec.json, labels.txt  the model and everything needed to feed it
    requirements.txt, install.sh         venv + pip, then the self-test
    edgecxr-classify.service.in          the folder-watch mode as a systemd unit (install.sh fills it)
    selftest.py, selftest/               images near the decision threshold and the int8 bytes each
                                         kernel family gave for them here (expected.json)
    SHA256SUMS                           `sha256sum -c SHA256SUMS` verifies the folder
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from edgecxr.export.folder import template
from edgecxr.export.selftest import choose_images, expected
from edgecxr.export.source import ExportSource
from edgecxr.export.tflite import write_model_files
from edgecxr.files import MARKER, honour_umask, write_json, write_text
from edgecxr.resources import ship_device_package

# template file -> (name in the folder, executable)
COPIED = {
    "rpi/classify.py": ("classify.py", True),
    "rpi/requirements.txt": ("requirements.txt", False),
    "rpi/install.sh": ("install.sh", True),
    "rpi/selftest.py": ("selftest.py", True),
    "rpi/edgecxr-classify.service.in": ("edgecxr-classify.service.in", False),
}
SUMS = "SHA256SUMS"


def export_rpi(source: ExportSource, out: Path, test_image: Path | None = None) -> dict:
    write_model_files(source, out)
    for relpath, (name, executable) in COPIED.items():
        shutil.copyfile(template(relpath), out / name)
        honour_umask(out / name, 0o777 if executable else 0o666)
    ship_device_package(out)
    # numbered: two classes' folders may hold files of the same name
    images = {f"{i:02d}-{path.name}": path for i, path in enumerate(choose_images(source, test_image), 1)}
    (out / "selftest").mkdir()
    for name, path in images.items():
        shutil.copyfile(path, out / "selftest" / name)
    doc = expected(source, images)
    write_json(out / "selftest" / "expected.json", doc)
    write_text(out / SUMS, sha256sums(out))
    return {"files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
            "test_images": list(images), "expected": doc}


def sha256sums(folder: Path) -> str:
    """`sha256sum` format for every file under ``folder`` (the self-test and `sha256sum -c` read it)."""
    lines = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (SUMS, MARKER):  # the marker is rewritten when the folder is sealed
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(folder)}\n")
    return "".join(lines)

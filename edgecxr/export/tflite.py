"""``--format tflite``: the chosen int8 model with its labels and model spec alongside.

The spec and labels are NOT embedded as TFLite metadata: the only writer available here
(TensorFlow's schema_py_generated object API) re-packs the whole flatbuffer and ignores the
schema's 16-byte ``force_align`` on weight buffers, and the file must stay the converter's
exact bytes (the C header and the device self-tests are checked against it byte for byte).
"""

from __future__ import annotations

from pathlib import Path

from edgecxr.device.spec import SPEC_FILE
from edgecxr.export.source import ExportSource
from edgecxr.files import sha256_file, write_bytes, write_json, write_text

MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
METADATA_NOTE = ("labels and spec written alongside, not embedded: re-packing the flatbuffer in Python "
                 "drops the 16-byte alignment of weight buffers and changes the converter's bytes")


def write_model_files(source: ExportSource, out: Path) -> list[Path]:
    """model.tflite + labels.txt + spec.json into ``out``: the spec is the run's as train wrote
    it (the model file carries its own quantization)."""
    return [
        write_bytes(out / MODEL_FILE, source.model_bytes),
        write_text(out / LABELS_FILE, "".join(f"{label}\n" for label in source.spec.labels)),
        write_json(out / SPEC_FILE, source.spec.to_dict()),
    ]


def export_tflite(source: ExportSource, out: Path) -> dict:
    files = write_model_files(source, out)
    return {"files": [p.name for p in files], "model": source.model_key, "source": source.model_path.name,
            "bytes": (out / MODEL_FILE).stat().st_size, "sha256": sha256_file(out / MODEL_FILE),
            "metadata": METADATA_NOTE}

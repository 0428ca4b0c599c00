"""A .tflite file as bytes: checked to be a TFLite flatbuffer, and the schema module that reads
it. The lowest layer of the model's description: edgecxr.engine.parse builds the typed graph on
it and edgecxr.tflite_facts asks that graph; neither imports the other's importer."""

from __future__ import annotations

from pathlib import Path

from edgecxr.errors import ModelError


def check_tflite(path: Path) -> bytes:
    """The model's bytes, or a ModelError when the file is missing or not a TFLite flatbuffer."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path} not found" + (" as a regular file (a FIFO or device?)" if path.exists() else ""),
                         "pass a .tflite file or a run directory that has one")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path} is not a TFLite model (no TFL3 identifier)",
                         "pass a .tflite file written by `edgecxr quantize` or the TFLite converter")
    return data


def schema():
    """The TFLite flatbuffer schema module (TFLM ships one; TensorFlow's is the fallback)."""
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    except ImportError:
        from edgecxr.tfenv import tf

        tf()
        from tensorflow.lite.python import schema_py_generated as schema
    return schema

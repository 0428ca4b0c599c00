"""What an export starts from: the chosen int8 model of a run, its spec, its name, a test image.

Every format reads the same ``ExportSource`` so that the .tflite, the C header, the Arduino
sketch and the Raspberry Pi folder can never disagree about which model, which quantization
parameters or which labels they carry. The quantization parameters are the model file's own
(its flatbuffer's input/output scale and zero point); the spec is the run's, unchanged.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecxr.data.split import SPLIT_FILE
from edgecxr.device import decision
from edgecxr.device.preprocess import dequantize, preprocess_file
from edgecxr.device.spec import SPEC_FILE, ModelSpec
from edgecxr.engine.parse import Graph
from edgecxr.errors import ConfigError, ModelError, RunError
from edgecxr.runs import Run
from edgecxr.tflite_facts import describe

# C and C++ keywords (and a few names every toolchain reserves) a sanitized name must not be
C_RESERVED = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while", "bool", "true", "false", "class", "namespace", "template", "typename", "this",
    "new", "delete", "public", "private", "protected", "virtual", "operator", "friend", "try", "catch",
    "throw", "using", "alignas", "alignof", "constexpr", "decltype", "noexcept", "nullptr", "mutable",
    "explicit", "export", "main", "asm",
}


def c_identifier(name: str) -> str:
    """``name`` made into a valid C/C++ identifier (``my-run 2`` -> ``my_run_2``)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    s = re.sub(r"_+", "_", s).strip("_") or "model"
    if s[0].isdigit():
        s = f"m_{s}"
    if s in C_RESERVED or keyword.iskeyword(s):
        s = f"{s}_model"
    return s


@dataclass(frozen=True)
class ExportSource:
    """The run, the int8 model chosen from it, and everything a device needs to feed it."""

    run: Run
    model_key: str  # the artifact key, "ptq_int8" | "qat_int8", as bench and evaluate name it
    reason: str  # why this int8 model (edgecxr.artifacts.choose_int8)
    model_path: Path
    spec: ModelSpec
    input_quant: dict  # {"scale": float, "zero_point": int}, from the model file
    output_quant: dict
    name: str  # a valid C identifier
    requested_name: str  # what the user asked for (differs from name when it had to be sanitized)
    graph: Graph  # the model's one typed description (edgecxr.tflite_facts.describe), read once here

    @property
    def model_bytes(self) -> bytes:
        return self.model_path.read_bytes()


def load_source(run: Run, model: str | None = None, name: str | None = None,
                calibration: str | None = None) -> ExportSource:
    """The run's int8 model and spec; with ``calibration`` (a name of `edgecxr calibrate`) the
    spec carries that site's thresholds and record instead of validation's (edgecxr.calibrate)."""
    from edgecxr.runtimes import TFLiteModel

    choice = run.int8(model)
    key, path = choice.artifact.key, choice.path
    run.verified(path.name, "re-run `edgecxr quantize RUN --force`")
    spec_path = run.file(SPEC_FILE)
    spec = run.spec()
    if calibration is not None:
        from edgecxr.calibrate import read_calibration, site_spec

        spec = site_spec(spec, read_calibration(run, calibration), choice.kind, path)
    if not spec.labels:
        raise RunError(f"{spec_path} has no labels", "re-run `edgecxr train` to write a complete spec")
    tfl = TFLiteModel(path)
    if not tfl.is_int8 or tfl.output_quant is None:
        raise ModelError(f"{path} does not have int8 input and output",
                         "re-run `edgecxr quantize` (it writes full-int8 models)")
    in_shape = tuple(int(d) for d in tfl.input["shape"][1:])
    if in_shape != spec.input_shape:
        raise ModelError(f"{path} takes input {in_shape} but {spec_path} says {spec.input_shape}",
                         "re-run `edgecxr quantize` on this run")
    requested = name or run.name
    return ExportSource(run=run, model_key=key, reason=choice.reason, model_path=path, spec=spec, input_quant=tfl.input_quant,
                        output_quant=tfl.output_quant, name=c_identifier(requested), requested_name=requested,
                        graph=describe(path))


def choose_test_image(source: ExportSource, explicit: Path | None = None) -> Path:
    """The image the device self-test classifies: ``explicit``, else the run's first val image."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise ConfigError(f"test image {explicit} not found", "pass an existing image file to --test-image")
        return Path(explicit)
    if source.run.has(SPLIT_FILE):
        dataset, assignment = source.run.split()
        for wanted in ("val", "train", "test"):
            for sample in sorted(dataset.samples, key=lambda s: str(s.path)):
                if assignment[sample.path] == wanted and sample.path.is_file():
                    return sample.path
    raise RunError(f"no image of {source.run.path}'s split.json is readable here (data moved?)",
                   "pass --test-image PATH with a chest X-ray to bundle as the self-test")


@dataclass(frozen=True)
class Reference:
    """What the exported model says about one image: the numbers a device must reproduce."""

    image: Path
    pixels: np.ndarray  # uint8 H x W x C
    input_int8: np.ndarray  # what goes into the interpreter
    raw: list[int]  # int8 outputs
    scores: list[float]  # dequantized
    label: str | list[str]

    def to_dict(self) -> dict:
        return {"image": self.image.name, "label": self.label, "raw": self.raw, "scores": self.scores}


def reference(source: ExportSource, image: Path) -> Reference:
    """Run the exported model on ``image`` with edgecxr's own evaluation path."""
    from edgecxr.runtimes import TFLiteModel

    tfl = TFLiteModel(source.model_path)
    pixels = preprocess_file(image, source.spec)
    raw = tfl.raw(pixels[None])[0].astype(int)
    scores = dequantize(raw, source.output_quant["scale"], source.output_quant["zero_point"])
    return Reference(image=image, pixels=pixels, input_int8=tfl.input_tensor(pixels)[0], raw=raw.tolist(),
                     scores=[round(float(s), 6) for s in scores], label=decision.label(scores, source.spec))

"""The models a run holds, as one table, and the one rule that picks the run's int8 model.

Every stage names a run's model files through ``ARTIFACTS`` (quantize writes them, evaluate
reports them side by side, export / bench / deploy ship one). Which int8 model ships is decided
by ``choose_int8`` alone: the one that agrees most often with the float model's decisions on the
run's validation images, as measured by `edgecxr quantize` when it wrote the model (ties go to
the earlier row: PTQ, which needs no extra training). Quantization is meant to change nothing a
user sees, so agreement with float -- not accuracy, which a validation split flatters -- is what
an int8 model is judged by.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edgecxr.errors import ConfigError, RunError


class Run(Protocol):
    """What this table needs of a run (edgecxr.runs.Run, which reaches it through run.models() /
    run.int8()): a protocol, so the table does not import the module that imports it."""

    path: Path

    def file(self, name: str) -> Path: ...
    def has(self, name: str) -> bool: ...
    def require(self, name: str, hint: str) -> Path: ...
    def read_manifest(self) -> dict: ...


@dataclass(frozen=True)
class Artifact:
    key: str  # the name in reports: keras_float | tflite_float | ptq_int8 | qat_int8
    kind: str  # the short name commands take (quantize writes float/ptq/qat; export --model ptq|qat)
    file: str  # in the run directory
    title: str
    int8: bool


# in report order; the first is the reference every other model is compared with
ARTIFACTS = (
    Artifact("keras_float", "keras", "model.keras", "Keras float", False),
    Artifact("tflite_float", "float", "model_float.tflite", "TFLite float", False),
    Artifact("ptq_int8", "ptq", "model_ptq_int8.tflite", "PTQ int8", True),
    Artifact("qat_int8", "qat", "model_qat_int8.tflite", "QAT int8", True),
)
BY_KIND = {a.kind: a for a in ARTIFACTS}
REFERENCE = ARTIFACTS[0]
INT8 = tuple(a for a in ARTIFACTS if a.int8)
KERAS_MODEL = REFERENCE.file
QUANTIZE_HINT = "make one with `edgecxr quantize RUN` (PTQ) or `edgecxr quantize RUN --qat`"
TRAIN_HINT = "train a model first: `edgecxr train --data DATA`"


def file_of(kind: str) -> str:
    return BY_KIND[kind].file


def present(run: Run) -> list[Artifact]:
    """The run's models that exist; the Keras model is required (a RunError says so)."""
    run.require(KERAS_MODEL, TRAIN_HINT)
    return [a for a in ARTIFACTS if run.has(a.file)]


def recorded_agreement(run: Run) -> dict[str, dict]:
    """file -> {"value", "n", "split"}: float/int8 decision agreement measured by quantize."""
    models = run.read_manifest().get("stages", {}).get("quantize", {}).get("models", {})
    return {f: m["agreement"] for f, m in models.items() if m.get("agreement")}


@dataclass(frozen=True)
class Int8Choice:
    artifact: Artifact
    path: Path
    reason: str

    @property
    def kind(self) -> str:
        return self.artifact.kind

    def to_dict(self) -> dict:
        return {"model": self.artifact.key, "file": self.artifact.file, "reason": self.reason}


def _pct(a: dict) -> str:
    return f"{100 * a['value']:.2f} % of {a['n']} {a['split']} images"


def choose_int8(run: Run, requested: str | None = None) -> Int8Choice:
    """The run's int8 model: ``requested`` (ptq | qat) if given, else the highest measured
    float/int8 agreement (ties and unmeasured models: table order, PTQ first)."""
    kinds = [a.kind for a in INT8]
    if requested is not None:
        if requested not in kinds:
            raise ConfigError(f"unknown --model {requested!r}", f"choose one of {', '.join(kinds)}")
        a = BY_KIND[requested]
        if not run.has(a.file):
            raise RunError(f"{run.path} has no {a.file} (--model {requested})", QUANTIZE_HINT)
        return Int8Choice(a, run.file(a.file), f"--model {requested} asked for it")
    have = [a for a in INT8 if run.has(a.file)]
    if not have:
        raise RunError(f"{run.path} has no int8 model ({' or '.join(a.file for a in INT8)})", QUANTIZE_HINT)
    agreement = recorded_agreement(run)
    measured = [a for a in have if a.file in agreement]
    if not measured:
        a = have[0]
        why = "the only int8 model" if len(have) == 1 else \
            "no float/int8 agreement recorded (re-run `edgecxr quantize RUN --force` to measure it); PTQ first"
        return Int8Choice(a, run.file(a.file), why)
    best = max(measured, key=lambda a: (agreement[a.file]["value"], -INT8.index(a)))
    others = [f"{b.title} {100 * agreement[b.file]['value']:.2f} %" for b in measured if b is not best]
    why = f"agrees with float on {_pct(agreement[best.file])}" + (f" (vs {', '.join(others)})" if others else "")
    return Int8Choice(best, run.file(best.file), why)

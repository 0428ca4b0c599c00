"""Knowledge distillation: a student learns the labels and a finished run's soft outputs.

    loss = alpha * hard(labels, student) + (1 - alpha) * T^2 * KL(teacher_T || student_T)

where ``p_T`` softens a probability at temperature T (softmax of log p / T; for sigmoid units
the sigmoid of logit / T, each unit a two-outcome distribution). The teacher is any run the
toolkit trained; its outputs are computed once per image, on the un-augmented image prepared
with the teacher's OWN spec.json (its input size and channels may differ from the student's),
and travel with the labels as extra target columns: ``y = [hard | teacher]``. The augmentations
of the recipe are small, so the clean image's soft output is a fair target for its augmented
views, and the teacher costs one pass instead of one per epoch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecxr.artifacts import KERAS_MODEL
from edgecxr.config import TrainConfig
from edgecxr.device.preprocess import to_float
from edgecxr.device.spec import SPEC_FILE, ModelSpec
from edgecxr.errors import ConfigError
from edgecxr.runs import Run

EPS = 1e-7
# spec fields that must agree between teacher and student: the same question, asked of the
# same kind of picture (size and channels may differ: the teacher reads its own input)
MUST_MATCH = {
    "labels": lambda s: list(s.labels),
    "task": lambda s: s.task,
    "normalize": lambda s: s.normalize,
    "resize_mode": lambda s: s.resize_mode,
}


def _teacher_spec(teacher: str | Path) -> tuple[Run, ModelSpec]:
    path = Path(teacher)
    if not (path / SPEC_FILE).is_file() or not (path / KERAS_MODEL).is_file():
        raise ConfigError(f"teacher {path} is not a trained run (no {SPEC_FILE} and {KERAS_MODEL})",
                          "pass --teacher runs/NAME of a finished `edgecxr train`")
    run = Run(path)
    return run, run.spec()


def teacher_runs(teacher: str | Path) -> list[str]:
    """``--teacher`` names one run, or several separated by commas: an ensemble whose averaged
    outputs the student learns (several small runs out of distribution beat each of them:
    covid3 Normal / Viral ROC-AUC 0.94 for six Kermany runs averaged vs 0.89-0.93 alone)."""
    return [t.strip() for t in str(teacher).split(",") if t.strip()]


def check_teacher(teacher: str | Path, labels: list[str], task: str, config: TrainConfig) -> ModelSpec:
    """The (first) teacher's spec, or a one-line ConfigError naming the first field that differs."""
    specs = [_check_one(t, labels, task, config) for t in teacher_runs(teacher)]
    if not specs:
        raise ConfigError("--teacher names no run", "pass --teacher runs/NAME (or several, comma-separated)")
    return specs[0]


def _check_one(teacher: str, labels: list[str], task: str, config: TrainConfig) -> ModelSpec:
    _, spec = _teacher_spec(teacher)
    student = {"labels": list(labels), "task": task, "normalize": config.normalize,
               "resize_mode": config.resize_mode}
    for key, get in MUST_MATCH.items():
        if get(spec) != student[key]:
            raise ConfigError(f"teacher {teacher} has {key} {get(spec)!r}, the student {student[key]!r}",
                              f"distil from a run trained on the same labels with the same {key} "
                              f"(or set the student's {key} to match)")
    if not 0.0 <= config.distill_alpha <= 1.0 or config.distill_temperature <= 0:
        raise ConfigError(f"distill_alpha {config.distill_alpha} / distill_temperature "
                          f"{config.distill_temperature} out of range",
                          "alpha in [0, 1] (weight of the labels), temperature > 0 (e.g. 2)")
    return spec


@dataclass
class Teacher:
    model: object
    spec: ModelSpec

    def probabilities(self, paths: list[Path]) -> np.ndarray:
        from edgecxr.data.cache import load_pixels

        pixels = load_pixels(list(paths), self.spec)
        if len(pixels.paths) != len(paths):
            raise ConfigError(f"teacher: {len(paths) - len(pixels.paths)} of {len(paths)} images could not be "
                              "prepared with the teacher's spec.json", "check the images listed above")
        return self.model.predict(to_float(pixels.x), batch_size=64, verbose=0)

    def targets(self, paths: list[Path], units: int, activation: str) -> np.ndarray:
        """The teacher's outputs in the student's output format (softmax 2 <-> sigmoid 1)."""
        probs = self.probabilities(paths).astype(np.float32)
        if probs.shape[1] == units:
            return probs
        if units == 2 and probs.shape[1] == 1:  # sigmoid P(positive) -> [P(neg), P(pos)]
            return np.concatenate([1.0 - probs, probs], axis=1)
        if units == 1 and probs.shape[1] == 2:
            return probs[:, 1:]
        raise ConfigError(f"teacher gives {probs.shape[1]} outputs, the student {units}",
                          "distil from a run with the same labels")


@dataclass
class Ensemble:
    """Several teachers; the student learns their mean output."""

    members: list[Teacher]

    @property
    def spec(self) -> ModelSpec:
        return self.members[0].spec

    def targets(self, paths: list[Path], units: int, activation: str) -> np.ndarray:
        return np.mean([m.targets(paths, units, activation) for m in self.members], axis=0)


def load_teacher(teacher: str | Path) -> Ensemble:
    members = []
    for name in teacher_runs(teacher):
        run, spec = _teacher_spec(name)
        members.append(Teacher(run.keras_model(), spec))
    return Ensemble(members)


def hard_loss(activation: str, label_smoothing: float = 0.0):
    from edgecxr.tfenv import keras

    k = keras()
    if activation == "softmax":
        return k.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    return k.losses.BinaryCrossentropy(label_smoothing=label_smoothing)


def distill_loss(activation: str, units: int, alpha: float, temperature: float, label_smoothing: float = 0.0):
    """alpha * hard + (1 - alpha) * T^2 * KL, per sample (so class weights still apply)."""
    return _distill_loss_class()(activation, units, alpha, temperature, label_smoothing)


@functools.cache
def _distill_loss_class():
    """Defined on first use: subclassing Keras' Loss loads TensorFlow, which importing this
    module must not do."""
    from edgecxr.tfenv import keras

    class DistillLoss(keras().losses.Loss):
        def __init__(self, activation: str, units: int, alpha: float, temperature: float,
                     label_smoothing: float = 0.0, name: str = "distill", **kwargs):
            super().__init__(name=name, **kwargs)
            self.activation, self.units, self.alpha = activation, units, alpha
            self.temperature, self.label_smoothing = temperature, label_smoothing

        def call(self, y_true, y_pred):
            from edgecxr.tfenv import keras, tf

            t, k = tf(), keras()
            hard_y, teacher_p = y_true[:, : self.units], y_true[:, self.units:]
            if self.activation == "softmax":
                hard = k.losses.categorical_crossentropy(hard_y, y_pred, label_smoothing=self.label_smoothing)
                log_s = t.nn.log_softmax(t.math.log(t.clip_by_value(y_pred, EPS, 1.0)) / self.temperature)
                log_t = t.nn.log_softmax(t.math.log(t.clip_by_value(teacher_p, EPS, 1.0)) / self.temperature)
                kl = t.reduce_sum(t.exp(log_t) * (log_t - log_s), axis=-1)
            else:
                hard = k.losses.binary_crossentropy(hard_y, y_pred, label_smoothing=self.label_smoothing)
                ps, pt = (t.sigmoid(_logit(p) / self.temperature) for p in (y_pred, teacher_p))
                ps, pt = t.clip_by_value(ps, EPS, 1 - EPS), t.clip_by_value(pt, EPS, 1 - EPS)
                kl = t.reduce_mean(pt * t.math.log(pt / ps) + (1 - pt) * t.math.log((1 - pt) / (1 - ps)), axis=-1)
            return self.alpha * hard + (1.0 - self.alpha) * self.temperature ** 2 * kl

        def get_config(self):
            return {**super().get_config(), "activation": self.activation, "units": self.units, "alpha": self.alpha,
                    "temperature": self.temperature, "label_smoothing": self.label_smoothing}

    return DistillLoss


def _logit(p):
    from edgecxr.tfenv import tf

    t = tf()
    p = t.clip_by_value(p, EPS, 1 - EPS)
    return t.math.log(p) - t.math.log(1 - p)


def first_columns(metric_cls, units: int):
    """``metric_cls`` that looks only at the first ``units`` target columns (the labels)."""

    class FirstColumns(metric_cls):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_true[:, :units], y_pred, sample_weight)

    FirstColumns.__name__ = metric_cls.__name__
    return FirstColumns

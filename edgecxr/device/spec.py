"""The model spec: what a device must know to feed a model and read its answer exactly as
training did (input geometry, resize and normalization, labels, task, output activation, the
decision threshold chosen on validation -- or, in an export, on a site's own images:
``calibration``). ``edgecxr train`` writes it once as the run's
``spec.json``; every later stage, the Raspberry Pi runner and the C headers only read it. How
a model file is quantized is not part of it: each .tflite carries its own input/output scale
and zero point, and readers take them from the model (a ``quant`` key that older runs wrote
is ignored).

Part of edgecxr.device: the standard library and its sibling tta (the zoom check), nothing
else of edgecxr.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .tta import check_zooms

RESIZE_MODES = {
    "squash": "resize to the target size, ignoring aspect ratio (the Edge Impulse default)",
    "crop": "fit the shortest side, then center-crop",
    "pad": "fit the longest side, then pad with black",
}
NORMALIZATIONS = {
    "none": "pixels as they are",
    "equalize": "histogram equalization per image (evens out exposure between scanners)",
}
TASKS = ("binary", "multiclass", "multilabel")
OUTPUTS = ("softmax", "sigmoid")
MAX_SIDE = 4096  # pixels: larger than any model edgecxr trains
SPEC_FILE = "spec.json"
# keys a spec.json may lack: added after the first runs, absent means "none" (no test-time views)
LATER_KEYS = ("tta_zooms", "tta_threshold", "calibration")
SPEC_HINT = "use the spec.json that `edgecxr train` wrote for this model (or its export)"


class SpecError(ValueError):
    """A spec value a device cannot follow (the message says which and what is allowed)."""

    def __init__(self, message: str, hint: str = SPEC_HINT):
        super().__init__(message)
        self.hint = hint


@dataclass
class ModelSpec:
    """Everything a device must know to feed the model exactly as training did."""

    width: int = 96
    height: int = 96
    channels: int = 1
    resize_mode: str = "squash"
    normalize: str = "none"
    labels: list[str] = field(default_factory=list)
    task: str = "binary"  # binary | multiclass | multilabel
    output: str = "softmax"  # softmax (one prob per class) | sigmoid (binary: P(labels[1]); multilabel: per label)
    threshold: float | None = None  # binary: P(positive) >= threshold -> positive; chosen on validation
    # test-time augmentation (edgecxr.device.tta) where the device can afford it (evaluate, the Pi
    # runner; a microcontroller runs one view with ``threshold``): the zooms whose probabilities
    # are averaged, and the binary threshold chosen on validation for those averaged scores
    tta_zooms: list[float] = field(default_factory=list)
    tta_threshold: float | None = None
    # an exported spec whose thresholds come from a site's own images (`edgecxr calibrate`, then
    # `export --calibration NAME`): which images, how many per class, the target sensitivity, the
    # date, and the validation thresholds it replaced; None: the thresholds are validation's
    calibration: dict | None = None

    def __post_init__(self):
        for side in ("width", "height"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
                raise SpecError(f"{side} must be a whole number of pixels from 1 to {MAX_SIDE}, not {value!r}")
        if not isinstance(self.labels, list) or not all(isinstance(x, str) for x in self.labels):
            raise SpecError(f"labels must be a list of names, not {self.labels!r}")
        if self.task not in TASKS:
            raise SpecError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.output not in OUTPUTS:
            raise SpecError(f"unknown output {self.output!r}; choose one of {', '.join(OUTPUTS)}")
        for name in ("threshold", "tta_threshold"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise SpecError(f"{name} must be a number or null, not {value!r}")
        if self.calibration is not None and not isinstance(self.calibration, dict):
            raise SpecError(f"calibration must be an object or null, not {self.calibration!r}")
        try:
            if not isinstance(self.tta_zooms, list):
                raise ValueError(f"not {self.tta_zooms!r}")
            check_zooms(self.tta_zooms)
        except ValueError as e:
            raise SpecError(f"tta_zooms must be a list of test-time zooms: {e}") from None
        if self.resize_mode not in RESIZE_MODES:
            raise SpecError(f"unknown resize mode {self.resize_mode!r}; choose one of {', '.join(RESIZE_MODES)}")
        if self.normalize not in NORMALIZATIONS:
            raise SpecError(f"unknown normalization {self.normalize!r}; choose one of {', '.join(NORMALIZATIONS)}")
        if self.channels not in (1, 3):
            raise SpecError(f"channels must be 1 or 3, not {self.channels}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    @property
    def positive_label(self) -> str | None:
        return self.labels[1] if self.task == "binary" and len(self.labels) == 2 else None

    def cache_key(self) -> str:
        """What changes the pixels (not labels or the threshold): keys the decoded-image cache."""
        return f"{self.width}x{self.height}x{self.channels}-{self.resize_mode}-{self.normalize}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """The spec of a spec.json document. Every key edgecxr has always written must be there (a
        default would feed the model a guessed input); keys it does not know (an old run's
        ``quant``) are ignored, and LATER_KEYS that an older run lacks take their defaults."""
        if not isinstance(d, dict):
            raise SpecError(f"a spec is a JSON object, not {type(d).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        if missing := [k for k in known if k not in d and k not in LATER_KEYS]:
            raise SpecError(f"the spec has no {', '.join(missing)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelSpec:
        return cls.from_dict(json.loads(Path(path).read_text()))

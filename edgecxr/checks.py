"""The limits table and the checks of values: every number a user can set lies in ``LIMITS``
(one table, by field name, used by the config dataclasses and by the commands' own options), every
string choice in ``CHOICES``, and a name looked up in any of edgecxr's tables (models, formats,
boards, datasets) that is not there is one error with the close names. NaN and infinity are never
a valid value."""

from __future__ import annotations

import dataclasses
import difflib
import math

from edgecxr.device import tta
from edgecxr.device.spec import NORMALIZATIONS, RESIZE_MODES, TASKS
from edgecxr.errors import ConfigError, EdgecxrError

# field name -> (lowest, highest, lowest excluded, highest excluded). "Absurd" bounds are set
# where a value would take days or all memory, not where it merely looks unusual.
LIMITS: dict[str, tuple[float, float, bool, bool]] = {
    # TrainConfig
    "alpha": (0.0, 4.0, True, False),
    "size": (16, 1024, False, False),
    "dropout": (0.0, 1.0, False, True),
    "val_fraction": (0.0, 1.0, True, True),
    "epochs": (1, 10_000, False, False),
    "average_fraction": (0.0, 1.0, False, False),
    "pretrain_epochs": (0, 10_000, False, False),
    "batch_size": (1, 4096, False, False),
    "learning_rate": (0.0, 10.0, True, False),
    "bn_momentum": (0.0, 1.0, False, True),
    "warmup_steps": (0, 10_000_000, False, False),
    "final_lr_fraction": (0.0, 1.0, False, False),
    "ema": (0.0, 1.0, False, True),  # a momentum: 1 would never move from the first weights
    "label_smoothing": (0.0, 1.0, False, True),
    "early_stopping_patience": (0, 1_000_000, False, False),
    "lr_plateau_patience": (0, 1_000_000, False, False),
    "lr_plateau_factor": (0.0, 1.0, True, True),
    "min_learning_rate": (0.0, 10.0, False, False),
    "zoom_max": (1.0, 4.0, False, False),
    "brightness": (0.0, 1.0, False, False),
    "contrast": (0.0, 1.0, False, False),
    "gamma": (0.0, 10.0, False, False),
    "rotation": (0.0, 180.0, False, False),
    "shift": (0.0, 0.5, False, False),
    "aspect": (0.0, 0.9, False, False),  # the crop window's side stays above 10 %
    "sharpness": (0.0, 10.0, False, False),
    "noise": (0.0, 1.0, False, False),  # a standard deviation, pixels in [0, 1]
    "mixup": (0.0, 100.0, False, False),  # Beta(a, a): large a blends every pair about half and half
    "distill_alpha": (0.0, 1.0, False, False),
    "distill_temperature": (0.0, 100.0, True, False),
    "target_sensitivity": (0.0, 1.0, True, False),
    "seed": (0, 2**32 - 1, False, False),  # numpy's seed range
    # other commands' options (bench, quantize, tune, data synth, deploy)
    "runs": (1, 1_000_000_000, False, False),  # --timeout bounds the time a bench takes
    "images": (1, 1_000_000_000, False, False),  # images an emulated board classifies (--timeout bounds it too)
    "warmup": (0, 1_000_000, False, False),
    "threads": (1, 1024, False, False),
    "timeout": (0.0, 7 * 24 * 3600.0, True, False),
    "calibration_size": (1, 100_000, False, False),
    "qat_epochs": (1, 10_000, False, False),
    "qat_lr": (0.0, 10.0, True, False),
    "budget_minutes": (0.0, 7 * 24 * 60.0, True, False),
    "max_latency_ms": (0.0, 3_600_000.0, True, False),
    "per_class": (1, 100_000, False, False),
    "image_size": (16, 2048, False, False),
    "port": (1, 65535, False, False),
    "connect_timeout": (1, 3600, False, False),
}
SCHEDULES = ("plateau", "cosine")
# string field -> the values it may take (None where "not set" is allowed)
CHOICES: dict[str, tuple] = {
    "resize_mode": tuple(RESIZE_MODES),
    "normalize": tuple(NORMALIZATIONS),
    "schedule": SCHEDULES,
    "monitor": ("val_loss", "val_auc", "val_accuracy", "loss", "auc", "accuracy"),
    "threshold_rule": ("youden", "sensitivity"),
    "task": (None, *TASKS),
    "channels": (None, 1, 3),
}


def _range_text(lo, hi, lo_open, hi_open) -> str:
    if not (lo_open or hi_open):
        return f"from {lo:g} to {hi:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def check_number(name: str, value, flag: str | None = None):
    """``value`` if it lies within ``LIMITS[name]`` (None = not set passes); else a ConfigError
    naming ``flag`` (default: the field name)."""
    if value is None:
        return value
    lo, hi, lo_open, hi_open = LIMITS[name]
    what = flag or name
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, not {value!r}", f"use a value {_range_text(*LIMITS[name])}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{what} {value} is not a finite number", f"use a value {_range_text(*LIMITS[name])}")
    if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
        raise ConfigError(f"{what} {value:g} is out of range", f"use a value {_range_text(*LIMITS[name])}")
    return value


def check_choice(name: str, value, flag: str | None = None, allowed: tuple | None = None, where: str = ""):
    """``value`` if it is one of ``allowed`` (default ``CHOICES[name]``; None there = may be unset),
    else the one "unknown" error naming ``flag`` (default: the field name) and ``where``."""
    allowed = CHOICES[name] if allowed is None else allowed
    if value not in allowed:
        raise unknown(flag or name, value, allowed, where=where,
                      hint=" (or leave it unset)" if None in allowed else "")
    return value


def unknown(what: str, value, allowed, error: type[EdgecxrError] = ConfigError, hint: str = "",
            where: str = "") -> EdgecxrError:
    """The one error for a value outside a table (a key, a choice, a name): "WHERE: unknown WHAT
    'value'; did you mean 'nearest'?", and as its hint every allowed value, then ``hint``."""
    shown = [str(a) for a in allowed if a is not None]
    near = difflib.get_close_matches(str(value).lower(), shown, n=1, cutoff=0.4)
    return error(f"{where}: " * bool(where) + f"unknown {what} {value!r}"
                 + (f"; did you mean {near[0]!r}?" if near else ""), f"choose one of {', '.join(shown)}{hint}")


def lookup(table: dict, name: str, what: str, error: type[EdgecxrError] = ConfigError, hint: str = "",
           where: str = ""):
    """``table[name]``, else ``unknown``'s error."""
    if name in table:
        return table[name]
    raise unknown(what, name, table, error, hint, where)


def check_fields(obj, source: str = "") -> None:
    """Every field of dataclass ``obj`` that LIMITS or CHOICES knows, checked (``source`` prefixes messages)."""
    for f in dataclasses.fields(obj):
        if f.name in CHOICES:
            check_choice(f.name, getattr(obj, f.name), where=source)
        elif f.name in LIMITS:
            check_number(f.name, getattr(obj, f.name), f"{source}: {f.name}" if source else None)


def check_tta_zooms(zooms: list, flag: str = "tta_zooms") -> list[float]:
    """``zooms`` if each lies in [1, edgecxr.device.tta.MAX_ZOOM], else a ConfigError."""
    try:
        return tta.check_zooms(zooms)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{flag}: {e}", f"write e.g. {flag} = {list(tta.ZOOMS)} (or [] for one view)") from None

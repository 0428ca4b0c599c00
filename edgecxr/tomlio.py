"""Flat dataclasses in and out of TOML: ``load_config`` reads any config class from a TOML file
plus overrides (the CLI flags) and refuses unknown keys and wrong types with a one-line
``ConfigError``; ``to_toml`` writes one back, so a run's ``config.toml`` can be passed to
``--config`` to repeat it. New options are new fields with defaults: the loader, the writer and old
files keep working unchanged."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path

from edgecxr.checks import unknown
from edgecxr.errors import ConfigError


def load_config(cls, path: str | Path | None = None, overrides: dict | None = None):
    """An instance of dataclass ``cls`` from TOML ``path`` (flat keys), then ``overrides``.

    ``None`` values in ``overrides`` mean "not given" and leave the file's value alone.
    """
    values: dict = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return from_dict(cls, values, source)


def read_toml(path: str | Path, what: str = "config file", hint: str = "pass the path of a .toml file") -> dict:
    """The TOML document at ``path`` (one of edgecxr's tables: a config, datasets.toml, boards.toml)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} not found", hint)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})", "fix the file's syntax") from None


def from_dict(cls, values: dict, source: str = "config"):
    """An instance of dataclass ``cls`` from a TOML table: every key known, every value of its
    field's type, every field without a default present; errors say ``source`` (file and table),
    the key and what is allowed. Value checks (LIMITS, CHOICES) are the class's own."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    checked = {}
    for key, value in values.items():
        if key not in fields:
            raise unknown("key", key, fields, where=source)
        checked[key] = _check_type(key, value, hints[key], source)
    required = [f.name for f in fields.values()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing := [k for k in required if k not in checked]:
        raise ConfigError(f"{source}: no {', '.join(map(repr, missing))}",
                          f"add {missing[0]} = {_toml_value(_example(_allowed_types(hints[missing[0]])))}"
                          f" (required keys: {', '.join(required)})")
    try:
        return cls(**checked)
    except ConfigError as e:  # a value the class's own checks refuse: say which file it came from
        raise ConfigError(f"{source}: {e.message}", e.hint) from None


def _allowed_types(hint) -> tuple[type, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(t for arg in typing.get_args(hint) for t in _allowed_types(arg))
    origin = typing.get_origin(hint)
    return (origin,) if origin else (hint,)


def _check_type(key: str, value, hint, source: str):
    allowed = _allowed_types(hint)
    if value is None and type(None) in allowed:
        return None
    if isinstance(value, bool):  # bool is an int in Python; not in a config
        ok = bool in allowed
    elif isinstance(value, int) and float in allowed and int not in allowed:
        return float(value)
    else:
        ok = isinstance(value, tuple(t for t in allowed if t is not type(None)))
    if not ok:
        want = " or ".join(t.__name__ for t in allowed if t is not type(None))
        raise ConfigError(f"{source}: {key} must be {want}, not {type(value).__name__} ({value!r})",
                          f"write e.g. {key} = {_toml_value(_example(allowed))}")
    return value


def _example(allowed):
    return {bool: True, int: 1, float: 0.5, str: "text", list: []}.get(allowed[0], "")


# ---------------------------------------------------------------------------------------------
# TOML out (flat scalars and lists: no dependency needed)
# ---------------------------------------------------------------------------------------------
def to_toml(config, header: str = "") -> str:
    """A dataclass -> TOML text that ``load_config`` reads back to an equal object.

    TOML has no null: fields set to ``None`` ("use the default") are written as comments.
    """
    lines = [f"# {line}" for line in header.splitlines()]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        lines.append(f"# {f.name} = (default)" if value is None else f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v))  # JSON string escapes are valid TOML basic strings
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def as_dict(config) -> dict:
    return dataclasses.asdict(config)

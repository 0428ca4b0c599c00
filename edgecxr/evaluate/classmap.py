"""Read another dataset's class folders as the model's labels, without copying files.

``--class-map "Viral Pneumonia=PNEUMONIA,Normal=NORMAL,Covid="`` maps each named data class to
a model label; an empty right-hand side drops that class. A data class the map does not name
keeps its own name when the model has that label, and is dropped otherwise. Every dropped class
is counted in the report, so nothing disappears silently; a map that names a class the data
does not have, or a label the model does not have, is refused (a typo would otherwise drop or
mislabel a whole class).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgecxr.data.dataset import Sample
from edgecxr.errors import ConfigError, DataError

MAP_EXAMPLE = '--class-map "Viral Pneumonia=PNEUMONIA,Normal=NORMAL,Covid="'


def parse_class_map(text: str) -> dict[str, str | None]:
    """``"A=X,B=,C=Y"`` -> {"A": "X", "B": None, "C": "Y"} (None = drop the class)."""
    mapping: dict[str, str | None] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"class map entry {part!r} has no '='", f"write DATA_CLASS=MODEL_LABEL, e.g. {MAP_EXAMPLE}")
        source, target = (s.strip() for s in part.split("=", 1))
        if not source:
            raise ConfigError(f"class map entry {part!r} names no data class", f"e.g. {MAP_EXAMPLE}")
        if source in mapping:
            raise ConfigError(f"class map names {source!r} twice", "map each data class once")
        mapping[source] = target or None
    if not mapping:
        raise ConfigError("the class map is empty", f"e.g. {MAP_EXAMPLE}")
    return mapping


@dataclass
class Mapped:
    samples: list[Sample]  # labels are indices into the model's labels
    mapping: dict[str, str | None]  # every data class -> model label or None (dropped)
    dropped: dict[str, int] = field(default_factory=dict)  # data class -> images dropped

    def notes(self) -> list[str]:
        shown = [f"{src} -> {dst}" for src, dst in self.mapping.items() if dst is not None and src != dst]
        out = [f"class map: {', '.join(shown)}"] if shown else []
        out += [f"dropped {n} images of class {c!r} (mapped to no model label)" for c, n in self.dropped.items()]
        return out


def check_class_map(classes: list[str], labels: list[str], mapping: dict[str, str | None] | None) -> dict:
    """Every data class -> a model label or None (dropped), or a one-line error.

    Without a map the data's classes must be exactly the model's labels."""
    if mapping is None:
        if sorted(classes) != sorted(labels):
            raise DataError(f"the data has classes {classes} but the model's labels are {labels}",
                            f"evaluate a folder with the same class folders, or map them: {MAP_EXAMPLE}")
        mapping = {c: c for c in classes}
    unknown = [c for c in mapping if c not in classes]
    if unknown:
        raise ConfigError(f"class map names {', '.join(map(repr, unknown))}, not a class of the data "
                          f"(its classes: {', '.join(classes)})", "use the data's folder names on the left of '='")
    bad = [t for t in mapping.values() if t is not None and t not in labels]
    if bad:
        raise ConfigError(f"class map targets {', '.join(map(repr, bad))}, not a label of the model "
                          f"(its labels: {', '.join(labels)})", "use the model's labels on the right of '='")
    return {c: mapping[c] if c in mapping else (c if c in labels else None) for c in classes}


def apply_class_map(samples: list[Sample], classes: list[str], labels: list[str],
                    mapping: dict[str, str | None] | None) -> Mapped:
    """Data samples (indices into ``classes``) -> samples labelled in ``labels`` order."""
    full = check_class_map(classes, labels, mapping)
    index = {k: labels.index(full[c]) for k, c in enumerate(classes) if full[c] is not None}
    kept, dropped = [], {}
    for s in samples:
        if any(k not in index for k in s.labels):
            name = classes[s.labels[0]]
            dropped[name] = dropped.get(name, 0) + 1
            continue
        kept.append(Sample(s.path, tuple(index[k] for k in s.labels), s.patient, s.split))
    if not kept:
        raise DataError("the class map leaves no images to evaluate", "map at least one data class to a model label")
    return Mapped(kept, full, dropped)

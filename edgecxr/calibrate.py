"""`edgecxr calibrate`: a binary run's operating point chosen on a site's own labelled images.

The threshold train chose on the run's validation split holds where those images came from;
another hospital's scanner and patients move the scores (issue 21: on Kermany's official test
split the validation threshold gave 99 % sensitivity and 53 % specificity). A clinic with a few
dozen labelled images of its own chooses its operating point on them instead:

- the run's shipped int8 model (``run.int8()``, what export ships) scores them on the reference
  kernels, which a microcontroller matches bit for bit;
- for each decision path the run ships (PATHS: one view, and the test-time views of
  edgecxr.device.tta when spec.json has them with their own threshold) the threshold is the
  highest whose sensitivity on the site's images reaches the target, placed off the samples
  (edgecxr.stats.choose_threshold's rule);
- sensitivity and specificity at it and at the validation threshold, and their change, each
  with a 95 % interval by resampling patients (edgecxr.stats.bootstrap_ci), say what it costs.

    RUN/calibration/NAME/calibration.json   thresholds, figures, which images and which model
    RUN/calibration/NAME/scores.csv         every image's score on every path (the audit trail)

The folder is written all at once and sealed (edgecxr.files.staged_folder) and recorded in the
run's manifest; spec.json is never changed. ``edgecxr export RUN --calibration NAME`` ships the
site's thresholds (``site_spec``) in the exported spec.json, C header, Arduino library and Pi
bundle, with this record and the validation thresholds beside them.

Honesty: the figures are measured on the images the threshold was chosen on, so the
sensitivity reaches the target there by construction, and the intervals (of a fixed threshold)
leave out the variance of the choice itself. They tell a site what to expect, not a test result.

Why at least MIN_PER_CLASS (20) images of each class: sensitivity moves in steps of one image,
and at 20 positives one missed case is 5 points -- the whole gap between a 95 % target and
100 %. With fewer, a 95 % target cannot tolerate a single miss and the threshold is set by the
one or two lowest-scoring positives; even 20 of 20 found has a 95 % interval down to 0.84
(Wilson). The same holds for specificity on the negatives.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecxr.checks import check_number
from edgecxr.device import tta
from edgecxr.device.decision import DEFAULT_THRESHOLD, decide, positive_score
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import ConfigError, DataError, RunError
from edgecxr.files import check_replaceable, read_json_object, sha256_file, staged_folder, write_json, write_text
from edgecxr.runs import Run, check_name
from edgecxr.stats import bootstrap_ci, choose_threshold, roc_auc_ci

CALIBRATION_DIR = "calibration"
CALIBRATION_FILE = "calibration.json"
SCORES_FILE = "scores.csv"
MIN_PER_CLASS = 20  # images of each class (module docstring: why)
DEFAULT_SENSITIVITY = 0.95
FROM_VALIDATION = "chosen on the validation split by training"


@dataclass(frozen=True)
class DecisionPath:
    key: str  # the spec.json key that holds its threshold
    runs_on: str


# the decision paths a binary run can ship, each with its own threshold (edgecxr.device.tta.views)
PATHS = {
    "one view": DecisionPath("threshold", "microcontrollers and C (c-header, Arduino, firmware), the Pi with --no-tta"),
    "test-time views": DecisionPath("tta_threshold", "the host and the Raspberry Pi runner (spec.json's tta_zooms)"),
}


@dataclass(frozen=True)
class CalibrateOptions:
    """Which images, which target, where it goes (the defaults are `edgecxr calibrate`'s)."""

    data: str | Path
    sensitivity: float = DEFAULT_SENSITIVITY
    class_map: dict[str, str | None] | None = None
    name: str | None = None  # default: the data folder's name
    model: str | None = None  # ptq | qat; default: the run's int8 model (what export ships)
    force: bool = False
    seed: int = 0

    def __post_init__(self):
        check_number("target_sensitivity", self.sensitivity, "--sensitivity")
        check_number("seed", self.seed, "--seed")
        if self.name is not None:
            check_name(self.name, "--name")


def shipped_paths(spec: ModelSpec) -> dict[str, list[float]]:
    """The decision paths ``spec`` ships -> their test-time zooms ([] for one view)."""
    views = tta.views(spec, None)  # the spec's zooms when they have their own threshold
    return {"one view": [], **({"test-time views": views} if views else {})}


def calibrate(run: Run | str | Path, options: CalibrateOptions) -> dict:
    """Choose, report and record the site's operating point of ``run`` on ``options.data``."""
    from edgecxr.evaluate.models import load_predictor
    from edgecxr.evaluate.validation import decode, targets

    o = options
    run = run if isinstance(run, Run) else Run.open(run)
    spec = run.spec()
    if spec.task != "binary" or len(spec.labels) != 2:
        raise ConfigError(f"{run.path} is a {spec.task} model ({', '.join(spec.labels)}): calibrate chooses the "
                          "threshold of a binary model", f"a {spec.task} model decides by "
                                                         f"{NO_THRESHOLD.get(spec.task, 'argmax')}; calibrate a binary run")
    choice = run.int8(o.model)
    samples, root, notes = site_images(run, spec, o.data, o.class_map)
    name = o.name or _slug(root.name)
    out = run.file(CALIBRATION_DIR) / name
    check_replaceable(out, o.force, ("calibration",), " (it is not an earlier calibration)")
    pixels = decode(samples, spec, progress=False)
    if pixels.errors:
        raise DataError(f"{len(pixels.errors)} of the {len(samples)} images in {root} cannot be read "
                        f"({pixels.errors[0][1]})",
                        "fix or remove the unreadable images: a calibration set is small, so every image counts")
    counts = check_counts(pixels.samples, spec)
    y = targets(pixels.samples, spec) == 1
    groups = [s.patient for s in pixels.samples]
    predictor = load_predictor(run, choice.artifact)  # reference kernels: what a microcontroller computes
    paths, scores = {}, {}
    for path, zooms in shipped_paths(spec).items():
        predict = tta.averaged(predictor.predict, zooms) if zooms else predictor.predict
        scores[path] = np.asarray(positive_score(predict(pixels.x)), np.float64)
        validation = getattr(spec, PATHS[path].key)
        paths[path] = {"spec_key": PATHS[path].key, "views": zooms, "runs_on": PATHS[path].runs_on,
                       **operating_point(y, scores[path], groups, validation, o.sensitivity, o.seed)}
    record = {
        "name": name, "run": run.name, "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "data": str(root.resolve()), "class_map": o.class_map, "images": counts,
        "patients": len(set(groups)), "target_sensitivity": o.sensitivity, "seed": o.seed,
        "model": {**choice.to_dict(), "kind": choice.kind, "sha256": sha256_file(choice.path),
                  "kernels": predictor.kernels},
        "paths": paths, "notes": [*notes, CHOSEN_HERE],
    }
    with staged_folder(out, o.force, "calibration") as tmp:  # all of it or none of it
        write_json(tmp / CALIBRATION_FILE, record)
        write_text(tmp / SCORES_FILE, scores_csv(pixels.samples, spec, scores))
    previous = run.read_manifest().get("stages", {}).get("calibrate", {})
    run.update_manifest("calibrate", {**previous, name: {p: v["threshold"] for p, v in paths.items()}})
    return {**record, "out": str(out)}


CHOSEN_HERE = ("the thresholds were chosen on these same images: their sensitivity reaches the target here by "
               "construction, and the intervals leave out the variance of that choice")


def site_images(run: Run, spec: ModelSpec, data: str | Path, class_map: dict | None):
    """The site's images labelled in ``spec.labels`` order (evaluate's class-map handling), none of
    them one the run trained on: (samples, the data root, notes)."""
    from edgecxr.data.dataset import scan_folder
    from edgecxr.evaluate.classmap import apply_class_map, check_class_map
    from edgecxr.evaluate.stage import train_index, was_trained_on

    ds = scan_folder(data)
    check_class_map(ds.classes, spec.labels, class_map)
    mapped = apply_class_map(ds.samples, ds.classes, spec.labels, class_map)
    index = train_index(*run.split())
    trained = [s for s in mapped.samples if was_trained_on(s.path, index)]
    if trained:
        raise DataError(f"{len(trained)} of the {len(mapped.samples)} images in {ds.root} were in the run's "
                        f"training split (e.g. {trained[0].path.name}): the model's scores on them are not a site's",
                        "calibrate on the site's own images, which the model never trained on")
    return mapped.samples, ds.root, mapped.notes()


def check_counts(samples, spec: ModelSpec) -> dict[str, int]:
    """Images per label; fewer than MIN_PER_CLASS of any label is a DataError."""
    counts = {label: 0 for label in spec.labels}
    for s in samples:
        counts[spec.labels[s.labels[0]]] += 1
    short = {label: n for label, n in counts.items() if n < MIN_PER_CLASS}
    if short:
        have = ", ".join(f"{n} {label}" for label, n in counts.items())
        raise DataError(f"calibration needs at least {MIN_PER_CLASS} images of each class; the data has {have}",
                        f"add images until each of {', '.join(spec.labels)} has {MIN_PER_CLASS} (with fewer, one "
                        "image moves sensitivity by more than 5 points)")
    return counts


def _rate(positive_class: bool, threshold: float):
    """Sensitivity (``positive_class``) or specificity at ``threshold`` as a statistic of (y, score):
    decision.py's rule; None when the resample has no image of that class."""
    def statistic(y: np.ndarray, score: np.ndarray) -> float | None:
        mask = y if positive_class else ~y
        if not mask.any():
            return None
        said = decide(score[mask][:, None], "binary", threshold) == 1
        return float(said.mean() if positive_class else (~said).mean())

    return statistic


def _change(positive_class: bool, site: float, validation: float):
    a, b = _rate(positive_class, site), _rate(positive_class, validation)

    def statistic(y, score):
        va, vb = a(y, score), b(y, score)
        return None if va is None or vb is None else va - vb

    return statistic


def operating_point(y: np.ndarray, score: np.ndarray, groups: list[str], validation: float | None,
                    target: float, seed: int = 0) -> dict:
    """The site threshold for ``target`` sensitivity on (``y``, ``score``), and sensitivity and
    specificity at it and at ``validation`` (None: decision.py's 0.5), with their change (a
    paired interval: the same resamples), each with a 95 % interval resampling ``groups``."""
    site = choose_threshold(y, score, "sensitivity", target)
    before = DEFAULT_THRESHOLD if validation is None else float(validation)

    def ci(statistic):
        return bootstrap_ci(statistic, y, score, seed, groups=groups)

    at = {label: {"sensitivity": ci(_rate(True, t)), "specificity": ci(_rate(False, t))}
          for label, t in (("site", site), ("validation", before))}
    return {"threshold": site, "validation_threshold": validation, "site": at["site"], "validation": at["validation"],
            "change": {"sensitivity": ci(_change(True, site, before)), "specificity": ci(_change(False, site, before))},
            "roc_auc": roc_auc_ci(y, score, seed)}


def scores_csv(samples, spec: ModelSpec, scores: dict[str, np.ndarray]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["image", "label", "patient", *(f"score ({p})" for p in scores)])
    for i, s in enumerate(samples):
        writer.writerow([str(s.path), spec.labels[s.labels[0]], s.patient, *(f"{v[i]:.6f}" for v in scores.values())])
    return buf.getvalue()


def _slug(text: str) -> str:
    """A folder's name as a calibration name (runs.NAME_PATTERN: it starts with a letter or digit)."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._+-")[:100] or "site"


# -- export: the site's thresholds in the exported spec --------------------------------------
def read_calibration(run: Run, name: str) -> dict:
    """calibration.json of ``run``'s calibration ``name``, checked against the run's manifest."""
    rel = f"{CALIBRATION_DIR}/{check_name(name, '--calibration')}/{CALIBRATION_FILE}"
    if not run.has(rel):
        have = sorted(p.parent.name for p in run.file(CALIBRATION_DIR).glob(f"*/{CALIBRATION_FILE}"))
        raise RunError(f"{run.path} has no calibration {name!r}" + (f" (it has {', '.join(have)})" if have else ""),
                       f"make it first: edgecxr calibrate {run.name} --data SITE_IMAGES --name {name}")
    again = f"calibrate again: edgecxr calibrate {run.name} --data SITE_IMAGES --name {name} --force"
    return read_json_object(run.verified(rel, again), again, keys=("name", "paths", "model", "images",
                                                                   "target_sensitivity", "created", "data"))


def site_spec(spec: ModelSpec, record: dict, model_kind: str, model_path: Path) -> ModelSpec:
    """``spec`` with the thresholds of calibration ``record`` for the int8 model it was made on,
    and the record (with the validation thresholds it replaces) as its ``calibration``."""
    made_on = record["model"]
    name = record["name"]
    if made_on.get("kind") != model_kind:
        raise ConfigError(f"calibration {name} was made for the {made_on.get('kind')} int8 model, not {model_kind}",
                          f"export --model {made_on.get('kind')}, or calibrate the {model_kind} model: edgecxr "
                          f"calibrate RUN --data SITE_IMAGES --model {model_kind}")
    if made_on.get("sha256") != sha256_file(model_path):
        raise RunError(f"{model_path.name} changed since calibration {name} was made (its sha256 differs)",
                       f"calibrate again: edgecxr calibrate RUN --data SITE_IMAGES --name {name} --force")
    ships = shipped_paths(spec)
    if sorted(record["paths"]) != sorted(ships):
        raise RunError(f"calibration {name} has thresholds for {', '.join(record['paths'])}, the run ships "
                       f"{', '.join(ships)}", f"calibrate again: edgecxr calibrate RUN --data SITE_IMAGES "
                                              f"--name {name} --force")
    thresholds = {PATHS[p].key: float(record["paths"][p]["threshold"]) for p in ships}
    about = {"name": name, "data": record["data"], "images": record["images"], "target_sensitivity":
             record["target_sensitivity"], "date": record["created"],
             "validation": {key: getattr(spec, key) for key in thresholds}}
    return dataclasses.replace(spec, **thresholds, calibration=about)


# how a model of another task decides (edgecxr.device.decision): no threshold to ship or calibrate
NO_THRESHOLD = {"multiclass": "argmax, no threshold", "multilabel": "every label at 0.5"}


def shipped_threshold(spec: ModelSpec) -> dict:
    """What an export ships: each path's threshold and where it came from (export's JSON / report)."""
    if spec.task in NO_THRESHOLD:
        return {"from": NO_THRESHOLD[spec.task]}
    out = {path: getattr(spec, PATHS[path].key) for path in shipped_paths(spec)}
    return {**out, "from": threshold_source(spec)}


def threshold_source(spec: ModelSpec) -> str:
    """Where ``spec``'s thresholds come from, in one line."""
    c = spec.calibration
    if not c:
        return FROM_VALIDATION
    images = ", ".join(f"{n} {label}" for label, n in c["images"].items())
    validation = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in c["validation"].items())
    return (f"site calibration {c['name']} ({images} images, target sensitivity {c['target_sensitivity']:g}, "
            f"{c['date'][:10]}); validation chose {validation}")

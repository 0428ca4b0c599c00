"""`edgecxr evaluate`: every model of a run on the same images, float and int8 side by side.

Honesty rules built in:
- binary decision threshold: chosen on the run's VALIDATION split (spec.json's, which
  `edgecxr train` chose there, or re-chosen there for ``target_sensitivity``, or by the run's
  own rule for test-time views spec.json has none for) and applied
  unchanged to the evaluated images; when those images ARE the validation split the report
  says so, because the figures are then optimistic;
- images that were in the run's training split never count silently as test data: they are
  refused, or dropped with ``exclude_train`` (and the count is reported);
- a dataset whose classes differ from the model's labels is refused, naming both lists.

Outputs: runs/<name>/eval/<dataset-tag>/ (eval.json, report.md, report.html, PNGs,
predictions.csv), written into a temp folder and renamed into place at the end.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecxr.checks import check_number
from edgecxr.data.dataset import Sample, scan_folder
from edgecxr.data.split import SPLIT_FILE
from edgecxr.device import tta
from edgecxr.device.decision import decide, positive_score
from edgecxr.device.runtime import ALL_KERNELS, DEFAULT_KERNELS
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import ConfigError, DataError, EdgecxrError
from edgecxr.evaluate.classmap import apply_class_map, check_class_map
from edgecxr.evaluate.compare import compare_models
from edgecxr.evaluate.metrics import choose_threshold, classification_metrics
from edgecxr.evaluate.models import REFERENCE, load_predictor
from edgecxr.evaluate.validation import decode, run_split, targets, validation_images
from edgecxr.files import check_replaceable, mark, sha256_file, staged_folder
from edgecxr.progress import log
from edgecxr.runs import Run

EVAL_DIR = "eval"
UNREADABLE_SHOWN = 20  # unreadable images named in the notes; eval.json lists every one
# edgecxr.stats.choose_threshold's rules (TrainConfig.threshold_rule) -> how the report names them
THRESHOLD_RULES = {"youden": "maximum Youden's J", "sensitivity": "highest threshold with sensitivity >= {:g}"}


@dataclass
class EvalResult:
    out_dir: Path
    report: dict  # what eval.json holds
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "files": self.files, **self.report}


@dataclass
class _Images:
    samples: list[Sample]
    tag: str
    source: str
    split: str | None
    notes: list[str] = field(default_factory=list)
    excluded_train: int = 0
    dropped_classes: dict[str, int] = field(default_factory=dict)  # by --class-map


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "data"


def train_index(run_ds, assignment) -> tuple[set[str], dict[tuple[str, int], list[Path]]]:
    """Training images by resolved path, and by (file name, size) to catch copies elsewhere."""
    paths, name_size = set(), defaultdict(list)
    for s in run_ds.samples:
        if assignment[s.path] == "train":
            paths.add(str(s.path.resolve()))
            if s.path.exists():
                name_size[(s.path.name, s.path.stat().st_size)].append(s.path)
    return paths, name_size


def was_trained_on(path: Path, index) -> bool:
    """Same file, or a byte-identical copy of a training image under the same name."""
    paths, name_size = index
    if str(path.resolve()) in paths:
        return True
    if not path.is_file():  # a dangling link or no regular file: not a copy of anything (listed unreadable)
        return False
    candidates = name_size.get((path.name, path.stat().st_size), [])
    return any(sha256_file(c) == sha256_file(path) for c in candidates)


def select_images(run: Run, spec: ModelSpec, data: str | Path | None, split: str | None,
                  exclude_train: bool, class_map: dict[str, str | None] | None = None) -> _Images:
    """Which images are evaluated, with the checks that keep the figures honest."""
    if data is None:
        split = split or "val"
        samples = run_split(run, spec, split)
        images = _Images(samples, split, f"run split '{split}'", split)
        if split == "train":
            images.notes.append("these are the training images: the figures show fit, not generalization")
        if not samples:
            raise DataError(f"{run.file(SPLIT_FILE)} has no '{split}' images",
                            "pick another --split (train, val or test) or pass --data PATH")
        return images

    ds = scan_folder(data)
    check_class_map(ds.classes, spec.labels, class_map)  # refuse a bad map before anything else
    folder_splits = [s for s in ds.splits if s is not None]
    if folder_splits:
        split = split or ("test" if "test" in folder_splits else None)
        if split not in folder_splits:
            raise ConfigError(f"{ds.root} has split folders {folder_splits}" +
                              (f" but no '{split}'" if split else " and no 'test'"),
                              f"pass --split {' or --split '.join(folder_splits)}")
        samples = ds.by_split(split)
    elif split is not None:
        raise ConfigError(f"{ds.root} has no split folders, so --split {split} does not apply",
                          "drop --split to evaluate every image in the folder")
    else:
        samples = ds.samples
    tag = _slug(f"{ds.root.name}-{split}" if split else ds.root.name)
    mapped = apply_class_map(samples, ds.classes, spec.labels, class_map)
    images = _Images(mapped.samples, tag, str(ds.root) + (f" (split '{split}')" if split else ""), split,
                     notes=mapped.notes(), dropped_classes=mapped.dropped)
    index = train_index(*run.split())
    trained = [s for s in images.samples if was_trained_on(s.path, index)]
    if trained and not exclude_train:
        raise DataError(f"{len(trained)} of {len(images.samples)} images in {ds.root} were in the run's training "
                        f"split (e.g. {trained[0].path.name}); they cannot count as test data",
                        "evaluate a held-out folder, or pass --exclude-train to drop them")
    if trained:
        drop = {s.path for s in trained}
        images.samples = [s for s in images.samples if s.path not in drop]
        images.excluded_train = len(trained)
        images.notes.append(f"{len(trained)} images of the run's training split were dropped")
        log(f"warning: dropped {len(trained)} images that were in the run's training split")
    if not images.samples:
        raise DataError(f"no images left to evaluate in {ds.root}", "pass a folder of held-out images")
    return images


def choose_decision_threshold(run: Run, spec: ModelSpec, reference, target_sensitivity: float | None,
                              zooms: list[float] | None = None) -> dict:
    """The binary threshold and where it came from -- always the run's validation split, scored
    the way the evaluated images are (``zooms``: test-time augmentation, ``reference`` averages them).
    Re-chosen there (views spec.json has no threshold for), it follows the run's own rule
    (config.toml's threshold_rule), as training would have chosen it."""
    if spec.task != "binary":
        return {"value": None, "source": "argmax" if spec.task == "multiclass" else "0.5 per label"}
    how = f", test-time augmentation x{len(zooms)}" if zooms else ""
    stored = spec.tta_threshold if zooms and zooms == list(spec.tta_zooms) else None if zooms else spec.threshold
    if target_sensitivity is None and stored is not None:
        return {"value": float(stored), "source": f"spec.json (chosen on the validation split by training{how})"}
    if target_sensitivity is not None:
        if not 0.0 < target_sensitivity <= 1.0:
            raise ConfigError(f"target sensitivity {target_sensitivity} is not in (0, 1]", "use e.g. 0.95")
        rule, target = "sensitivity", target_sensitivity
    else:
        config = run.config()
        rule, target = config.threshold_rule, config.target_sensitivity
    val = validation_images(run, spec)
    value = choose_threshold(targets(val.samples, spec), positive_score(reference.predict(val.x)), rule, target)
    out = {"value": value, "source": f"validation split, {THRESHOLD_RULES[rule].format(target)} "
                                     f"({REFERENCE.title}{how})", "rule": rule}
    return {**out, "target_sensitivity": target} if rule == "sensitivity" else out


@dataclass(frozen=True)
class EvalOptions:
    """Which images, which runtime and kernels, which threshold (the defaults are `edgecxr evaluate`'s)."""

    data: str | Path | None = None  # a folder of class folders; None: the run's split.json
    split: str | None = None  # the run's val (default) / train / test, or the folder's split subfolder
    runtime: str | None = None
    target_sensitivity: float | None = None
    exclude_train: bool = False
    force: bool = False
    seed: int = 0
    threads: int | None = None
    kernels: str = DEFAULT_KERNELS
    class_map: dict[str, str | None] | None = None
    tta: bool | None = None  # test-time zooms (edgecxr.device.tta): None = as spec.json says

    def __post_init__(self):
        check_number("target_sensitivity", self.target_sensitivity, "--target-sensitivity")
        check_number("seed", self.seed, "--seed")
        check_number("threads", self.threads, "--threads")
        if self.class_map is not None and self.data is None:
            raise ConfigError("--class-map applies to --data only", "pass --data FOLDER with the class map")


def evaluate(run: Run | str | Path, options: EvalOptions = EvalOptions()) -> EvalResult:
    """Run every model of ``run`` on the same images and write the side-by-side report.

    int8 models run on ``options.kernels`` (default: the reference kernels a microcontroller
    matches bit for bit); each int8 model is also run with the other kernel families, and the
    report says how many outputs and decisions they change.
    """
    from edgecxr.evaluate.report import write_report

    o = options
    run = run if isinstance(run, Run) else Run.open(run)
    spec = run.spec()
    models = run.models()
    images = select_images(run, spec, o.data, o.split, o.exclude_train, o.class_map)
    out_dir = run.file(EVAL_DIR) / images.tag
    if o.force and out_dir.is_dir() and run.records(out_dir):
        mark(out_dir, "eval", sealed=True)  # a report made before edgecxr marked its folders, as the run recorded it
    check_replaceable(out_dir, o.force, ("eval",), " (it is not an earlier report)")

    zooms = tta.views(spec, o.tta, validation=True)  # the device's rule; here a threshold can be chosen
    predictors = [load_predictor(run, m, o.runtime, o.threads, o.kernels, zooms) for m in models]
    threshold = choose_decision_threshold(run, spec, predictors[0], o.target_sensitivity, zooms)
    if images.split == "val" and o.data is None and spec.task == "binary":
        images.notes.append("the threshold was chosen on these same validation images: the figures are optimistic")

    pixels = decode(images.samples, spec)
    samples = pixels.samples
    if not samples:
        raise DataError(f"none of the {len(images.samples)} images of {images.source} could be read",
                        "check the files with `edgecxr data inspect`")
    if pixels.errors:  # skipped, so said: in the report, the CLI output and eval.json (all of them)
        shown = "; ".join(e for _, e in pixels.errors[:UNREADABLE_SHOWN])
        more = len(pixels.errors) - UNREADABLE_SHOWN
        images.notes.append(f"{len(pixels.errors)} unreadable image(s) skipped and not counted: {shown}"
                            + (f"; and {more} more (eval.json lists all)" if more > 0 else ""))
    y = targets(samples, spec)
    files = [s.path for s in samples]

    probs, preds, per_model = {}, {}, {}
    for p in predictors:
        log(f"evaluating {p.model.title} ({p.runtime}) on {len(samples)} images")
        probs[p.model.key] = p.predict(pixels.x)
        preds[p.model.key] = decide(probs[p.model.key], spec.task, threshold["value"])
        per_model[p.model.key] = {"title": p.model.title, "file": p.model.file, "runtime": p.runtime,
                                  "kernels": p.kernels, "int8": p.model.int8,
                                  "quant": p.quant,
                                  "metrics": classification_metrics(y, probs[p.model.key], spec.labels, spec.task,
                                                                    threshold["value"], o.seed)}
    for p in predictors:
        if p.model.int8:
            per_model[p.model.key]["kernel_families"] = kernel_family_differences(
                run, p, pixels.x, probs[p.model.key], preds[p.model.key], spec.task, threshold["value"], o.runtime,
                o.threads, zooms)
    ref = REFERENCE.key
    comparisons = {k: {"reference": ref, **compare_models(files, spec.labels, probs[ref], preds[ref], probs[k], preds[k])}
                   for k in probs if k != ref}
    report = {
        "run": str(run.path), "task": spec.task, "labels": spec.labels,
        "dataset": {"tag": images.tag, "source": images.source, "split": images.split, "n": len(samples),
                    "unreadable": len(pixels.errors),
                    "unreadable_files": [{"path": p, "error": e} for p, e in pixels.errors],
                    "excluded_train_images": images.excluded_train,
                    "dropped_by_class_map": images.dropped_classes,
                    "notes": images.notes},
        "threshold": threshold, "tta_zooms": zooms, "models": per_model, "comparisons": comparisons,
        "int8_model": run.int8().to_dict() if any(m.int8 for m in models) else None,
        "disclaimer": "Research and engineering use only; not a medical device.",
    }
    with staged_folder(out_dir, o.force, "eval") as tmp:  # all of the report or none of it
        written = write_report(tmp, report, y, probs, files)
    previous = run.read_manifest().get("stages", {}).get("evaluate", {})
    run.update_manifest("evaluate", {**previous, images.tag: _summary(report)})
    return EvalResult(out_dir, report, written)


def kernel_family_differences(run: Run, predictor, x: np.ndarray, probs: np.ndarray, decisions: np.ndarray,
                              task: str, threshold: float | None, runtime: str | None, threads: int | None,
                              zooms: list[float] = ()) -> dict:
    """How the other kernel families change an int8 model's outputs and decisions on these images
    (edgecxr's own engine included: the images on which it equals the reference kernels). A family
    that cannot run here (no C compiler, an operator the engine lacks) says why instead."""
    out = {}
    for family in ALL_KERNELS:
        if family == predictor.kernels:
            continue
        try:
            other = load_predictor(run, predictor.model, runtime, threads, family, zooms)
        except EdgecxrError as e:
            out[family] = {"unavailable": e.message}
            continue
        log(f"checking {predictor.model.title} with {family} kernels against {predictor.kernels}")
        other_probs = other.predict(x)
        differ = (decide(other_probs, task, threshold) != decisions).reshape(len(x), -1)
        different = int(np.sum(np.any(other_probs != probs, axis=1)))
        out[family] = {"images_with_different_outputs": different, "images_identical": len(x) - different,
                       "decisions_differ": int(np.sum(np.any(differ, axis=1)))}
    return out


def _summary(report: dict) -> dict:
    """The manifest's short record of one evaluation."""
    out = {"n": report["dataset"]["n"], "threshold": report["threshold"]["value"]}
    for key, m in report["models"].items():
        out[key] = {"accuracy": m["metrics"].get("accuracy", {}).get("value")}
        if key in report["comparisons"]:
            out[key]["agreement"] = report["comparisons"][key]["agreement"]["value"]
    return out

"""Chest X-ray backbones edgecxr builds itself, cached per machine, and reused by `train`.

No pretrained weights can be downloaded for these small gray-scale models, and ImageNet weights
do not fit 96x96x1 anyway; but a public chest X-ray dataset (Kermany, CC BY 4.0) can be trained
on once. A small training set then starts from those weights instead of from scratch (covid3,
251 images: 41.9 % from scratch vs 91.9 % from Kermany weights on its unseen test).

    BACKBONES (the table: name -> dataset, model, input, recipe, method)
      --build (METHODS: the supervised recipe, or SimCLR without labels: edgecxr.ssl)-->
          ~/.cache/edgecxr/backbones/NAME/{model.keras, backbone.json}
      --train --backbone NAME (or "auto" with a small training set)--> weights loaded by layer name

A build says first what it builds and how long that will take on this machine (a few batches of
each of its steps timed: edgecxr.train.timing), and keeps its progress in
``~/.cache/edgecxr/backbones/.NAME.building/`` (train's run with its per-epoch checkpoints, and the
SimCLR epochs'): interrupted by Ctrl-C or a kill, the next build of the same plan -- `edgecxr
backbone build`, or the `train` that needed it -- continues from its last finished epoch.

``backbone.json`` is the provenance: dataset, license, where the images were, the method, recipe,
epochs and seed, the figures (validation, or the last SimCLR loss), the sha256 of
model.keras (checked on every use), and the sha256 of each training image by its path under
the dataset folder (``train_images``): a run on the same images split another way (another
seed or val_fraction) would hold some of them in its validation split, and `train` says how many.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgecxr.errors import ConfigError, Interrupted, ModelError
from edgecxr.files import json_bytes, sha256_file, write_json
from edgecxr.progress import log
from edgecxr.resources import cache_dir
from edgecxr.runs import Run
from edgecxr.train.checkpoints import CHECKPOINTS, STATE_FILE

MODEL_FILE = "model.keras"
INFO_FILE = "backbone.json"
AUTO, NONE = "auto", "none"
# "auto" uses a backbone when the training split has fewer images than this (Kermany's 4,000+
# train from scratch to 0.99 validation ROC-AUC; covid3's 200 do not)
SMALL_TRAINING_SET = 2000
# what must match between a backbone and the run that loads it (TrainConfig fields / spec keys)
# -> how a user sets it on `edgecxr train`
INPUT_KEYS = {"model": "--model {}", "alpha": "--alpha {}", "width": "--size {}", "height": "--size {}",
              "channels": "--channels {}", "normalize": "normalize = {!r} in --config",
              "resize_mode": "resize_mode = {!r} in --config"}
INPUT_FIELDS = ("width", "height", "channels", "normalize", "resize_mode")  # backbone.json's "input"


@dataclass(frozen=True)
class BackboneRecipe:
    name: str
    dataset: str  # registry name (datasets.toml)
    folder: str  # the folder name it is looked for under EDGECXR_SHARED_DATA / ../shared/data
    license: str
    recipe: str  # edgecxr.config.RECIPES row: the input, model and split (and, supervised, the training)
    overrides: dict = field(default_factory=dict)
    seed: int = 0
    about: str = ""
    method: str = "supervised"  # METHODS row: how it is built (supervised recipe | simclr, labels unused)


BACKBONES = {
    "kermany-mnv1": BackboneRecipe(
        "kermany-mnv1", "kermany", "kermany224", "CC BY 4.0", "cxr",
        about="MobileNetV1 0.25, 96x96 gray, equalized: trained on Kermany's train split (NORMAL / PNEUMONIA)"),
    # SimCLR on the same images without their labels (edgecxr.ssl): the default recipe started
    # from it scored higher on external images with both seeds tried (README, Figures). The
    # overrides are the pretraining's epochs, batch and learning rate (benchmarks/bench_ssl.py).
    "kermany-simclr": BackboneRecipe(
        "kermany-simclr", "kermany", "kermany224", "CC BY 4.0", "cxr", method="simclr",
        overrides={"epochs": 30, "batch_size": 128, "learning_rate": 0.002, "pretrain_epochs": 0,
                   "average_fraction": 0.0},
        about="MobileNetV1 0.25, 96x96 gray, equalized: SimCLR on Kermany's train split, labels unused"),
}
DEFAULT_BACKBONE = "kermany-mnv1"


def cache_root() -> Path:
    """Where built backbones live (edgecxr.resources.cache_dir)."""
    return cache_dir("backbones")


def get_recipe(name: str) -> BackboneRecipe:
    from edgecxr.checks import lookup

    return lookup(BACKBONES, name, "backbone", hint=" (or --backbone none)")


def find_data(recipe: BackboneRecipe, data: str | Path | None = None) -> Path:
    """The dataset folder a backbone is built from: ``data``, else EDGECXR_SHARED_DATA/FOLDER,
    else ../shared/data/FOLDER beside the working directory or the package's checkout."""
    if data is not None:
        return Path(data)
    roots = [os.environ.get("EDGECXR_SHARED_DATA"), Path.cwd().parent / "shared" / "data",
             Path(__file__).resolve().parents[2] / "shared" / "data"]
    for root in filter(None, roots):
        if (Path(root) / recipe.folder).is_dir():
            return Path(root) / recipe.folder
    raise ConfigError(f"backbone {recipe.name} is built from the {recipe.dataset} dataset, and no "
                      f"{recipe.folder} folder was found (EDGECXR_SHARED_DATA, ../shared/data)",
                      f"get it (`edgecxr data info {recipe.dataset}`), then `edgecxr backbone build {recipe.name} "
                      "--data PATH`; or train with --backbone none")


def provenance(recipe: BackboneRecipe, source: Path) -> tuple[str, str]:
    """(dataset, license) a backbone built from ``source`` is labelled with: the recipe's only
    when ``source`` is where that dataset is found (EDGECXR_SHARED_DATA, ../shared/data); other
    data is the user's, named by its folder, its license unknown to edgecxr. Classes other than
    the recipe dataset's are refused (registry: datasets.toml)."""
    from edgecxr.data.dataset import scan_folder
    from edgecxr.data.registry import load_registry

    registered = load_registry().get(recipe.dataset)
    expected = registered.classes if registered else None
    found = scan_folder(source).classes
    if expected and sorted(found) != sorted(expected):
        raise ConfigError(f"backbone {recipe.name} is built from {recipe.dataset}'s classes "
                          f"({', '.join(expected)}); {source} has {', '.join(found)}",
                          f"pass the {recipe.dataset} folder as --data (`edgecxr data info {recipe.dataset}`)")
    with contextlib.suppress(ConfigError):
        if find_data(recipe).resolve() == Path(source).resolve():
            return recipe.dataset, recipe.license
    return (f"user data from {Path(source).resolve()} (not checked to be {recipe.dataset})",
            "unknown: the license of that data, not edgecxr's to state")


def _folder(name: str) -> Path:
    return cache_root() / name


def info(name: str) -> dict:
    """A cached backbone's provenance, checked: a ConfigError when it is not built, a ModelError
    when its files are missing, unreadable or changed since they were built."""
    get_recipe(name)
    folder = _folder(name)
    build = f"edgecxr backbone build {name} --force"
    if not folder.is_dir():
        raise ConfigError(f"backbone {name} is not built on this machine (looked in {folder})",
                          f"build it once: edgecxr backbone build {name}; or train with --backbone none")
    meta = _read_meta(folder / INFO_FILE, name, build)
    model = folder / MODEL_FILE
    if not model.is_file():
        raise ModelError(f"backbone {name}: {model} is missing", build)
    if sha256_file(model) != meta.get("sha256"):
        raise ModelError(f"backbone {name}: {model} is not the file that was built (sha256 differs)", build)
    return {**meta, "path": str(model)}


# backbone.json key -> the type every reader of it relies on
META_TYPES = {"name": str, "dataset": str, "license": str, "data": str, "recipe": str, "seed": int, "model": str,
              "alpha": (int, float), "input": dict, "labels": list, "figures": dict, "config": dict, "sha256": str,
              "created": str, "seconds": (int, float)}


def _read_meta(path: Path, name: str, build: str) -> dict:
    """backbone.json, checked for the keys and types every reader uses (a ModelError otherwise)."""
    if not path.is_file():  # missing, or a FIFO / device someone put there: never opened
        raise ModelError(f"backbone {name}: {path} is missing or not a regular file", build)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError(f"backbone {name}: {path} is missing or not JSON", build) from None
    if not isinstance(meta, dict):
        raise ModelError(f"backbone {name}: {path} is damaged (not a JSON object)", build)
    wrong = [k for k, t in META_TYPES.items() if not isinstance(meta.get(k), t) or isinstance(meta.get(k), bool)]
    wrong += [f"input.{k}" for k in INPUT_FIELDS if not isinstance(meta.get("input"), dict) or k not in meta["input"]]
    if not isinstance(meta.get("figures"), dict) or "split" not in meta["figures"] \
            or "train_images" not in meta["figures"]:
        wrong.append("figures.split / figures.train_images")
    if wrong:
        raise ModelError(f"backbone {name}: {path} is damaged (missing or wrong: {', '.join(wrong[:4])})", build)
    return meta


def cached() -> list[dict]:
    """Every table entry with its state: built (and its figures), not built, or broken (why)."""
    rows = []
    for name, r in BACKBONES.items():
        try:
            meta = info(name)
            state, val = "built", meta["figures"]
        except ConfigError:
            state, val = "not built", {}
            if _work(name).is_dir():
                state = "not built (an interrupted build is kept: the next build continues it)"
        except ModelError as e:
            state, val = f"broken: {e.message}", {}
        dataset, license_ = (meta["dataset"], meta["license"]) if state == "built" else (r.dataset, r.license)
        rows.append({"name": name, "state": state, "method": r.method, "dataset": dataset, "license": license_,
                     "val_roc_auc": val.get("roc_auc"), "val_accuracy": val.get("accuracy"), "about": r.about,
                     "path": str(_folder(name))})
    return rows


def _supervised(config, source: Path, work: Path, staged: Path, progress: bool, train: Callable) -> dict:
    """Train with the recipe (labels used) by ``train`` (the train stage), as run ``work``/run: an
    interrupted one is resumed (train's --resume), its SimCLR pretraining kept per epoch in
    ``work``/pretrain; the figures are its validation split's."""
    resume = (work / RUN / CHECKPOINTS / STATE_FILE).is_file()
    result = train(config, source, runs_root=work, name=RUN, force=not resume, resume=resume, progress=progress,
                   pretrain_checkpoints=work / PRETRAIN)
    shutil.move(str(result.run_dir / MODEL_FILE), staged / MODEL_FILE)
    m, spec = result.val_metrics, Run(result.run_dir).spec().to_dict()
    return {"input": {k: spec[k] for k in INPUT_FIELDS}, "labels": result.labels, "seconds": result.seconds,
            "figures": {"split": f"validation ({result.val_images} images, patient-grouped)",
                        "roc_auc": m["roc_auc"]["value"], "accuracy": m["accuracy"]["value"],
                        "best_epoch": result.best_epoch, "train_images": result.train_images,
                        **{k: m[k] for k in ("averaged_epochs", "pretrained") if k in m}}}


def _simclr(config, source: Path, work: Path, staged: Path, progress: bool, train: Callable) -> dict:
    """SimCLR on the recipe's training split (labels unused; ``train``, the supervised stage, is
    not used), each finished epoch kept in ``work``/pretrain; the figure is its last loss."""
    from edgecxr import ssl

    done = ssl.pretrain(config, source, log=log if progress else None, checkpoints=work / PRETRAIN)
    done.model.save(staged / MODEL_FILE)
    height, width, channels = done.shape
    return {"input": {"width": width, "height": height, "channels": channels, "normalize": config.normalize,
                      "resize_mode": config.resize_mode},
            "labels": [], "seconds": done.seconds, "temperature": ssl.TEMPERATURE,
            "figures": {"split": f"training ({done.train_images} images, labels unused)",
                        "nt_xent": done.losses[-1], "train_images": done.train_images}}


@dataclass(frozen=True)
class Method:
    what: str  # what the build says it does ({recipe}: the recipe's name)
    builder: Callable  # (config, source, work, staged, progress, train) -> backbone.json's figures
    # (config, SimCLR epochs done, training epochs done) -> what is left: ((SimCLR epochs, batch) | None,
    # training epochs), for the estimate (edgecxr.train.timing.plan)
    left: Callable


def _left_supervised(config, pretrained: int, trained: int):
    from edgecxr import ssl

    simclr = (config.pretrain_epochs - pretrained, ssl.BATCH_SIZE) if config.pretrain_epochs and not trained else None
    return simclr, config.epochs - trained


# how a backbone is built: method -> what it says it does, the builder, what is left of it
METHODS = {"supervised": Method("the {recipe} recipe", _supervised, _left_supervised),
           "simclr": Method("SimCLR (labels unused) at the {recipe} recipe's input", _simclr,
                            lambda config, pretrained, trained: ((config.epochs - pretrained, config.batch_size), 0))}
# a build keeps its progress in cache_root()/.NAME.building until it finishes (``_work``):
# PLAN_FILE says what it builds, RUN is train's run (checkpoints every epoch), PRETRAIN the
# SimCLR epochs (edgecxr.ssl.contrast's checkpoints)
PLAN_FILE, RUN, PRETRAIN = "build.json", "run", "pretrain"


def _work(name: str) -> Path:
    return cache_root() / f".{name}.building"


def _start_work(work: Path, plan: dict) -> bool:
    """``work`` ready for the build ``plan``: True when it holds an interrupted build of that same
    plan (continued), else emptied and started afresh (False)."""
    if work.is_dir():
        try:
            same = json.loads((work / PLAN_FILE).read_text(encoding="utf-8")) == json.loads(json_bytes(plan))
        except (OSError, ValueError):
            same = False
        if same:
            return True
        log(f"starting the build over: the interrupted one in {work} was of other data or settings")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    write_json(work / PLAN_FILE, plan)
    return False


def _epochs_done(state: Path) -> int:
    """The epochs a checkpoint's state.json says are done (0: none, or unreadable)."""
    try:
        return int(json.loads(state.read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def estimate(method: Method, config, source: Path, work: Path) -> str:
    """How long what is left of the build will take on this machine, measured now
    (edgecxr.train.timing): a few batches of each step it runs, timed."""
    from edgecxr import ssl
    from edgecxr.train import timing
    from edgecxr.train.arrays import load_split

    _, assignment = load_split(source, None, config)
    n_train = sum(1 for part in assignment.values() if part == "train")
    simclr, epochs = method.left(config, _epochs_done(work / PRETRAIN / ssl.STATE_FILE),
                                 _epochs_done(work / RUN / CHECKPOINTS / STATE_FILE))
    return timing.describe(timing.plan(config, _planned_shape(config), n_train, simclr, epochs))


def build(train: Callable, name: str = DEFAULT_BACKBONE, data: str | Path | None = None, force: bool = False,
          epochs: int | None = None, progress: bool = True) -> dict:
    """Build backbone ``name`` from its dataset by its method; cache model.keras + backbone.json.
    Says first what it builds and how long that will take here; an interrupted build (Ctrl-C,
    a kill) is continued from its last finished epoch by the next build of the same plan.
    ``train`` is the train stage (edgecxr.train.train), passed in by its caller: the train stage
    builds the default backbone too, so this module imports nothing of it (no import loop)."""
    from edgecxr.config import recipe_config
    from edgecxr.tomlio import as_dict

    recipe = get_recipe(name)
    method = METHODS[recipe.method]
    folder = _folder(name)
    if folder.exists() and not force:
        raise ConfigError(f"backbone {name} is already built ({folder})", "pass --force to build it again")
    source = find_data(recipe, data)
    dataset, license_ = provenance(recipe, source)
    config = recipe_config(recipe.recipe, seed=recipe.seed, backbone=NONE,
                           **{**recipe.overrides, **({"epochs": epochs} if epochs else {})})
    work = _work(name)
    continuing = _start_work(work, {"name": name, "method": recipe.method, "data": str(Path(source).resolve()),
                                    "config": as_dict(config)})
    log(f"building backbone {name} once for this machine ({recipe.about or recipe.dataset}): "
        f"{method.what.format(recipe=recipe.recipe)} on {source} (seed {recipe.seed}); cached in {folder} for "
        "every later run")
    if continuing:
        log(f"continuing the interrupted build kept in {work} from its last finished epoch")
    log("measuring this machine's speed on a few batches for an estimate ...")
    log(f"estimate: {estimate(method, config, source, work)}")
    staged = work / "staged"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    try:
        made = method.builder(config, source, work, staged, progress, train)
    except (KeyboardInterrupt, Interrupted):
        raise Interrupted(f"building backbone {name} interrupted: its finished epochs are kept in {work}",
                          f"run the same command again, or `edgecxr backbone build {name}`, to continue where it "
                          "stopped") from None
    meta = {
        "name": name, "dataset": dataset, "license": license_, "data": str(Path(source).resolve()),
        "method": recipe.method, "recipe": recipe.recipe, "seed": recipe.seed, "epochs": config.epochs,
        "config": as_dict(config), "model": config.model, "alpha": config.alpha, **made,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "sha256": sha256_file(staged / MODEL_FILE),
        "train_images": training_images(source, config),
    }
    write_json(staged / INFO_FILE, meta)
    old = folder.with_name(f".{name}.old")
    if folder.exists():
        folder.rename(old)
    staged.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return info(name)


def training_images(source: Path, config) -> dict[str, str]:
    """The images a backbone is built from, the training part of the split train makes of ``source``
    with ``config`` (edgecxr.train.arrays.load_split; SimCLR uses the same): path under the
    dataset folder -> sha256."""
    from edgecxr.train.arrays import load_split

    dataset, assignment = load_split(source, None, config)
    return {(s.path.relative_to(dataset.root) if s.path.is_relative_to(dataset.root) else s.path).as_posix():
            sha256_file(s.path) for s in dataset.samples if assignment[s.path] == "train"}


def warn_overlap(meta: dict | None, assignment: dict[Path, str]) -> int | None:
    """How many of a run's validation images ``meta``'s backbone was trained on (a copy counts:
    same file name and bytes), said in a warning when any: its validation figures, threshold
    and best epoch are then optimistic. None when there is no backbone, or it was built before
    backbone.json recorded its images (said too)."""
    if not meta:
        return None
    name = meta["name"]
    if not isinstance(meta.get("train_images"), dict):
        log(f"warning: backbone {name} was built before edgecxr recorded its training images, so whether "
            f"it saw this run's validation images is not checked; rebuild it: edgecxr backbone build {name} --force")
        return None
    seen = defaultdict(set)
    for path, digest in meta["train_images"].items():
        seen[Path(path).name].add(digest)
    val = [p for p, part in assignment.items() if part == "val"]
    overlap = sum(1 for p in val if p.name in seen and p.is_file() and sha256_file(p) in seen[p.name])
    if overlap:
        config = meta.get("config", {})
        log(f"warning: backbone {name} was trained on {overlap} of this run's {len(val)} validation images "
            f"(its split: seed {meta['seed']}, val_fraction {config.get('val_fraction')}): the validation "
            f"figures, threshold and best epoch are optimistic; train with that split (--seed {meta['seed']} "
            f"--val-fraction {config.get('val_fraction')}) or with --backbone none")
    return overlap


def _run_input(config, shape: tuple[int, int, int]) -> dict:
    return {"model": config.model, "alpha": config.alpha, "width": shape[1], "height": shape[0],
            "channels": shape[2], "normalize": config.normalize, "resize_mode": config.resize_mode}


def _backbone_input(meta: dict) -> dict:
    return {"model": meta["model"], "alpha": meta["alpha"], **meta["input"]}


def check_fits(meta: dict, config, shape: tuple[int, int, int]) -> None:
    """A ConfigError naming the first difference between the backbone's input and the run's."""
    want, have = _backbone_input(meta), _run_input(config, shape)
    for key in INPUT_KEYS:
        if want[key] != have[key]:
            raise ConfigError(f"backbone {meta['name']} was built for {key} {want[key]!r}, this run uses "
                              f"{have[key]!r}", f"train with {INPUT_KEYS[key].format(want[key])}, or --backbone none")


def resolve(config, shape: tuple[int, int, int], train_images: int, train: Callable | None = None) -> dict | None:
    """The backbone a run starts from (its checked provenance), or None.

    ``config.backbone``: a name (must be built and fit the run), "none", or "auto": the default
    backbone when the training split is small and the run's input fits it (built now by ``train``,
    the train stage, announced, when this machine has none yet; without ``train``, not built)."""
    choice = config.backbone or NONE
    if config.weights and choice not in (AUTO, NONE):
        raise ConfigError(f"--weights and --backbone {choice} both give the starting weights", "pass only one of them")
    if config.weights or choice == NONE:
        return None
    if choice != AUTO:
        meta = info(choice)
        check_fits(meta, config, shape)
        return meta
    if train_images >= SMALL_TRAINING_SET:
        return None
    recipe = get_recipe(DEFAULT_BACKBONE)
    from edgecxr.config import recipe_config

    planned = recipe_config(recipe.recipe, **recipe.overrides)
    planned_shape = _planned_shape(planned)
    if _run_input(planned, planned_shape) != _run_input(config, shape):
        log(f"backbone: none (the training set is small, {train_images} images, but {DEFAULT_BACKBONE} "
            "was made for another model or input)")
        return None
    if not _folder(DEFAULT_BACKBONE).exists() and train is not None:
        log(f"backbone {DEFAULT_BACKBONE} is not built on this machine yet: building it now (once; "
            f"`edgecxr backbone build` does the same; --backbone none skips it)")
        build(train, DEFAULT_BACKBONE)
    return info(DEFAULT_BACKBONE)


def _planned_shape(config) -> tuple[int, int, int]:
    from edgecxr.models import zoo

    return zoo.input_shape_for(zoo.get_entry(config.model), config.size, config.channels)

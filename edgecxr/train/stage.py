"""Train a float model into a run directory that every later stage reads.

    data folder (or split.json) -> patient-grouped split -> pixels decoded once (cache)
      -> starting weights: a backbone or --weights, else SimCLR on the training images
         (pretrain_epochs; edgecxr.ssl), all before the run folder exists
      -> tf.data from in-memory uint8 arrays, batch-wise augmentation in TF ops
      -> fit (class-balanced sample weights, early stopping, LR decay on plateau or
         warm-up + cosine, optional teacher soft targets, a checkpoint every epoch)
      -> best weights, or the mean of the last epochs' (average_fraction)
      -> validation metrics + threshold
      -> runs/<name>/{model.keras, spec.json, config.toml, split.json, history.*, curves.png,
                      val_metrics.json, manifest.json}

A run killed or interrupted mid-way keeps ``checkpoints/`` (weights, optimizer, callback
state, history of the epochs done); ``resume=True`` continues from there with the run's own
config.toml and split.json.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from edgecxr import backbone, stats
from edgecxr.config import TrainConfig, read_run_config
from edgecxr.data.dataset import Dataset
from edgecxr.data.split import SPLIT_FILE, read_split, write_split
from edgecxr.device import tta
from edgecxr.device.decision import positive_score
from edgecxr.device.preprocess import to_float
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import ConfigError, Interrupted, RunError
from edgecxr.files import check_replaceable, read_json_object, write_json, write_text
from edgecxr.models import zoo
from edgecxr.progress import log
from edgecxr.runs import CONFIG_FILE, DEFAULT_RUNS_ROOT, Run, check_name
from edgecxr.tomlio import to_toml
from edgecxr.train import augment as aug
from edgecxr.train import distill
from edgecxr.train.arrays import (
    Arrays,
    arrays,
    check_split,
    class_weights,
    infer_task,
    load_split,
    make_dataset,
    model_spec,
)
from edgecxr.train.checkpoints import CHECKPOINTS, PRETRAINED_FILE, STATE_FILE
from edgecxr.train.optimizer import compile_model
from edgecxr.train.outputs import write_outputs


@dataclass
class TrainResult:
    run_dir: Path
    model: str
    recipe: str
    task: str
    labels: list[str]
    input_shape: tuple[int, int, int]
    params: int
    epochs_run: int
    best_epoch: int
    threshold: float | None
    val_metrics: dict
    train_images: int
    val_images: int
    seconds: float
    images_per_second: float
    resumed_from: int | None = None
    augmentations: list[str] = field(default_factory=list)
    weights_report: dict | None = None
    backbone: str | None = None  # the edgecxr backbone the weights came from (edgecxr.backbone)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["run_dir"] = str(self.run_dir)
        return d



def read_checkpoint_state(run: Run) -> dict:
    path = run.file(CHECKPOINTS) / STATE_FILE
    again = "start it again without --resume (add --force to reuse the name)"
    if not path.exists():
        raise RunError(f"run {run.path} has no checkpoint to resume from", again)
    state = read_json_object(path, again, keys=("epoch", "checkpoint", "history", "callbacks"))
    if not isinstance(state["epoch"], int) or not isinstance(state["history"], list):
        raise RunError(f"{path} is damaged", again)
    return state


def _clear_old_run(path: Path) -> None:
    """--force replaces a run wholesale: files of its later stages (int8 models, eval/) would
    describe the old model. Only a run edgecxr wrote (edgecxr.files.check_replaceable) is deleted."""
    check_replaceable(path, True, ("run",), " (it is not a run)")
    if path.exists():
        shutil.rmtree(path)


def _resume_run(runs_root: Path, name: str | None):
    """The interrupted run to continue: (run, its own config, dataset, assignment, checkpoint state)."""
    if name is None:
        raise ConfigError("--resume needs the --name of the run to continue", "pass --name RUN")
    run = Run.open(runs_root / check_name(name))
    state = read_checkpoint_state(run)
    if run.read_manifest().get("files"):
        dataset, assignment = run.split()
        return run, run.config(), dataset, assignment, state
    # stopped before train wrote its manifest: nothing is recorded yet to check the files against
    again = "start a new run with `edgecxr train` (no --resume)"
    dataset, assignment = read_split(run.require(SPLIT_FILE, again))
    return run, read_run_config(run.require(CONFIG_FILE, again)), dataset, assignment, state


def _check_inputs(config: TrainConfig, data, runs_root: Path, name: str | None, force: bool,
                  split: str | Path | None):
    """Every input of a new run checked, nothing written yet: (config with its backbone
    resolved, dataset, assignment)."""
    zoo.input_shape_for(zoo.get_entry(config.model), config.size, config.channels)
    if data is None and split is None:
        raise ConfigError("no data given", "pass --data FOLDER (class folders, or train/val/test folders)")
    dataset, assignment = load_split(data, Path(split) if split else None, config)
    check_split(dataset, assignment)
    if config.teacher:
        distill.check_teacher(config.teacher, list(dataset.classes), infer_task(dataset, config.task), config)
    Run.check_creatable(name, runs_root, force)
    return _resolve_backbone(config, assignment), dataset, assignment


def _create_run(config: TrainConfig, dataset: Dataset, assignment: dict[Path, str], runs_root: Path,
                name: str | None, force: bool) -> Run:
    """The new run folder with its split.json and config.toml. Called only once the inputs,
    the pixels and the starting weights have all been read, so a bad input never costs the
    run that ``--force`` would replace."""
    if force and name:
        _clear_old_run(runs_root / name)
    new = name is None or not (runs_root / name).exists()
    run = Run.create(name, runs_root, force=force)
    try:
        write_split(dataset, assignment, run.file(SPLIT_FILE), config.seed, config.val_fraction, force=True)
        write_text(run.file(CONFIG_FILE), to_toml(config, "edgecxr train config actually used (edgecxr.config.TrainConfig)"))
    except BaseException:
        if new:  # a run that could not even be started must not block its name
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run


def _resolve_backbone(config: TrainConfig, assignment: dict[Path, str]) -> TrainConfig:
    """config with ``backbone`` resolved to a name or "none" (so config.toml records what was
    used); "auto" may build the default backbone first (edgecxr.backbone.resolve)."""
    shape = zoo.input_shape_for(zoo.get_entry(config.model), config.size, config.channels)
    n_train = sum(1 for v in assignment.values() if v == "train")
    meta = backbone.resolve(config, shape, n_train, train)
    backbone.warn_overlap(meta, assignment)  # a backbone that trained on this run's validation images is said
    if meta and config.backbone == backbone.AUTO:
        log(f"backbone: {meta['name']} ({meta['dataset']}, {meta['license']}), because the training set is "
            f"small ({n_train} images < {backbone.SMALL_TRAINING_SET}); train from scratch with --backbone none")
    resolved = replace(config, backbone=meta["name"] if meta else (backbone.NONE if config.backbone else None))
    if (meta or config.weights) and config.pretrain_epochs:  # pretraining starts only from no weights
        log(f"pretraining skipped: the run starts from {'backbone ' + meta['name'] if meta else config.weights} "
            "(config.toml records pretrain_epochs = 0)")
        resolved = replace(resolved, pretrain_epochs=0)
    return resolved


def train(config: TrainConfig, data: str | Path | Dataset | None = None, runs_root: str | Path = DEFAULT_RUNS_ROOT,
          name: str | None = None, force: bool = False, resume: bool = False, split: str | Path | None = None,
          progress: bool = True, callbacks: list | None = None, pretrain_checkpoints: Path | None = None) -> TrainResult:
    """Train ``config.model`` on ``data`` (a folder, a Dataset, or ``split`` = a split.json) into
    ``runs_root/name``; with ``resume`` continue that run from its last checkpoint, using its
    own config.toml and split.json. ``callbacks`` are extra Keras callbacks (run last).
    ``pretrain_checkpoints``: a folder where SimCLR pretraining keeps each finished epoch and
    continues from (edgecxr.backbone's builds); without it an interrupted pretraining starts over."""
    runs_root = Path(runs_root)
    if resume:
        run, config, dataset, assignment, state = _resume_run(runs_root, name)
    else:
        run, state = None, None
        config, dataset, assignment = _check_inputs(config, data, runs_root, name, force, split)

    from edgecxr.tfenv import set_seed

    set_seed(config.seed)
    entry = zoo.get_entry(config.model)
    task = infer_task(dataset, config.task)
    shape = zoo.input_shape_for(entry, config.size, config.channels)
    units, activation = zoo.output_head(entry, task, len(dataset.classes))
    spec = model_spec(config, shape, dataset.classes, task, activation)

    weights = class_weights(dataset, assignment) if config.balance else None
    train_arr = arrays(dataset, assignment, "train", spec, units, weights)
    val_arr = arrays(dataset, assignment, "val", spec, units, None)

    model = zoo.build_model(config.model, task, len(dataset.classes), config.size, config.channels,
                            config.alpha, config.dropout)
    for layer in model.layers:
        if hasattr(layer, "moving_mean"):
            layer.momentum = config.bn_momentum
    weights_report, weights_file = None, config.weights
    if config.backbone and config.backbone != backbone.NONE and not resume:
        meta = backbone.info(config.backbone)
        backbone.check_fits(meta, config, shape)
        weights_file = meta["path"]
    if weights_file and not resume:
        weights_report = zoo.load_backbone_weights(model, weights_file)
        log(f"weights: {len(weights_report['loaded'])} layers loaded from {weights_file}, "
            f"{len(weights_report['skipped'])} skipped (shape differs), {len(weights_report['absent'])} not in the file")
        for line in weights_report["skipped"]:
            log(f"  skipped {line}")
    if resume:
        pretrained = read_json_object(run.file(CHECKPOINTS) / PRETRAINED_FILE, "") \
            if (run.file(CHECKPOINTS) / PRETRAINED_FILE).exists() else None
    else:
        pretrained = _pretrain(model, train_arr, config, pretrain_checkpoints) \
            if config.pretrain_epochs and not weights_file else None
    steps = -(-len(train_arr.x) // config.batch_size)
    compile_model(model, task, activation, units, config, steps)
    if config.teacher:
        teacher = distill.load_teacher(config.teacher)
        log(f"distilling from {config.teacher} ({teacher.spec.width}x{teacher.spec.height}, "
            f"alpha {config.distill_alpha}, T {config.distill_temperature})")
        train_arr.y = np.concatenate([train_arr.y, teacher.targets(train_arr.paths, units, activation)], axis=1)
        val_y = np.concatenate([val_arr.y, teacher.targets(val_arr.paths, units, activation)], axis=1)
    else:
        val_y = val_arr.y
    if run is None:
        run = _create_run(config, dataset, assignment, runs_root, name, force)
        if pretrained:
            run.file(CHECKPOINTS).mkdir(parents=True, exist_ok=True)
            write_json(run.file(CHECKPOINTS) / PRETRAINED_FILE, pretrained)
    if state:
        from edgecxr.tfenv import tf

        tf().train.Checkpoint(model=model, optimizer=model.optimizer).read(
            str(run.file(CHECKPOINTS) / state["checkpoint"])).assert_existing_objects_matched()
        log(f"resuming {run.path} after epoch {state['epoch']}")

    train_ds = make_dataset(train_arr.x, train_arr.y, train_arr.weights, config.batch_size, config,
                            shuffle_seed=config.seed)
    val_ds = make_dataset(val_arr.x, val_y, None, config.batch_size)
    from edgecxr.train.callbacks import ProgressBar, training_callbacks

    cbs, early, checkpoint = training_callbacks(run.file(CHECKPOINTS), run.file("tensorboard"), config, state,
                                                steps, progress)
    start_epoch = state["epoch"] if state else 0
    started = time.perf_counter()
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=start_epoch, verbose=0,
                  callbacks=cbs + list(callbacks or []))
    except KeyboardInterrupt:
        done = len(checkpoint.history)
        raise Interrupted(f"training of {run.path} interrupted after epoch {done}",
                       f"continue it with: edgecxr train --resume --name {run.name} --runs-root {runs_root}") from None
    finally:
        for cb in cbs:
            if isinstance(cb, ProgressBar):
                cb.close()
    seconds = time.perf_counter() - started
    history = checkpoint.history
    epochs_here = len(history) - start_epoch

    best_epoch = int(early.best_epoch) + 1 if early.best_weights is not None else len(history)
    averaged = _use_average(model, cbs, train_ds, len(history)) if config.average_fraction else None
    probs = model.predict(val_ds, verbose=0)
    metrics, spec.threshold = _val_metrics(task, val_arr, probs, spec, config)
    if config.tta_zooms:  # the same validation images averaged over the test-time views: their own threshold
        spec.tta_zooms = list(config.tta_zooms)
        views = tta.averaged(lambda px: model.predict(to_float(px), batch_size=config.batch_size, verbose=0),
                             spec.tta_zooms)
        metrics["tta"], spec.tta_threshold = _val_metrics(task, val_arr, views(val_arr.x), spec, config)
        metrics["tta"]["zooms"] = spec.tta_zooms
    metrics.update({"best_epoch": best_epoch, "monitor": config.monitor, "images": len(val_arr.x)})
    if averaged:
        metrics["averaged_epochs"] = list(averaged)
    if pretrained:
        metrics["pretrained"] = pretrained
    write_outputs(run, model, spec, history, metrics)
    result = TrainResult(run_dir=run.path, model=config.model, recipe=config.recipe, task=task, labels=list(dataset.classes),
                         input_shape=shape, params=zoo.count_params(model), epochs_run=len(history),
                         best_epoch=best_epoch, threshold=spec.threshold, val_metrics=metrics,
                         train_images=len(train_arr.x), val_images=len(val_arr.x), seconds=round(seconds, 2),
                         images_per_second=round(epochs_here * len(train_arr.x) / max(seconds, 1e-9), 1),
                         resumed_from=start_epoch or None, augmentations=aug.enabled(config),
                         weights_report=weights_report, backbone=config.backbone)
    run.update_manifest("train", {"model": config.model, "task": task, "epochs_run": len(history),
                                  "best_epoch": best_epoch, "seconds": result.seconds,
                                  "resumed_from": result.resumed_from})
    return result


def _pretrain(model, train_arr: Arrays, config: TrainConfig, checkpoints: Path | None = None) -> dict:
    """The model's encoder pretrained by SimCLR on the run's training images, labels unused
    (edgecxr.ssl): on covid3's Normal / Viral Pneumonia, near-copies of Kermany's other
    acquisition, the default recipe started from it scored a higher ROC-AUC with both seeds
    tried (benchmarks/bench_external.py). What it did, for val_metrics.json."""
    from edgecxr import ssl

    log(f"pretraining: SimCLR on the {len(train_arr.x)} training images, labels unused, {config.pretrain_epochs} "
        "epochs (validation images unseen; --pretrain-epochs 0 skips it)")
    started = time.perf_counter()
    try:
        losses = ssl.contrast(model, train_arr.x, config.pretrain_epochs, seed=config.seed, log=log,
                              checkpoints=checkpoints)
    except KeyboardInterrupt:
        kept = f"its finished epochs are kept in {checkpoints}" if checkpoints else "nothing was written"
        raise Interrupted(f"pretraining interrupted: {kept}",
                          "run the command again; --pretrain-epochs 0 trains without pretraining") from None
    return {"method": "simclr", "epochs": config.pretrain_epochs, "images": len(train_arr.x),
            "nt_xent": round(losses[-1], 4), "seconds": round(time.perf_counter() - started, 1)}


def _use_average(model, callbacks: list, train_ds, epochs_done: int) -> tuple[int, int] | None:
    """The model's weights replaced by the epochs' mean (edgecxr.train.callbacks.WeightAverage),
    its batch-norm statistics recomputed on the training batches: (first, last) epoch averaged;
    None (the best epoch kept) when no epoch was averaged."""
    from edgecxr.train.callbacks import WeightAverage, recompute_batch_norm

    average = next(cb for cb in callbacks if isinstance(cb, WeightAverage))
    if average.n == 0:  # early stopping ended the run before the averaged epochs began
        log(f"weights: the best epoch (training stopped at epoch {epochs_done}, before the averaged last epochs)")
        return None
    model.set_weights(average.mean)
    recompute_batch_norm(model, train_ds)
    first = epochs_done - average.n + 1
    log(f"weights: the mean of epochs {first}-{epochs_done}, batch-norm statistics recomputed on the training images")
    return first, epochs_done


def _val_metrics(task: str, val: Arrays, probs: np.ndarray, spec: ModelSpec,
                 config: TrainConfig) -> tuple[dict, float | None]:
    if task == "binary":
        p_pos = positive_score(probs)
        threshold = stats.choose_threshold(val.index, p_pos, config.threshold_rule, config.target_sensitivity)
        m = stats.binary_metrics(val.index, p_pos, threshold, config.seed)
        m["threshold_rule"] = config.threshold_rule
        m["positive_label"] = spec.positive_label
        return m, threshold
    if task == "multiclass":
        return stats.multiclass_metrics(val.index, probs, spec.labels, config.seed), None
    return stats.multilabel_metrics(val.index, probs, spec.labels, config.seed), None


def demo_config(epochs: int = 20, seed: int = 0) -> TrainConfig:
    """The demo's training stage: the default model on ~400 synthetic images for a few epochs.

    Both recipes need far more steps than a demo has: from scratch, BN statistics (momentum
    0.99) and val-loss model selection leave the first epochs' model predicting one class. A
    faster BN momentum, a higher learning rate, no augmentation, equalized input (the synthetic
    images vary in exposure, like real ones) and selection by validation ROC-AUC separate the
    classes within seconds (val ROC-AUC 0.98 after 20 epochs, measured; 0.78 without equalizing).
    """
    return replace(TrainConfig(), epochs=epochs, seed=seed, learning_rate=0.005, bn_momentum=0.9, augment=False,
                   monitor="val_auc", normalize="equalize")

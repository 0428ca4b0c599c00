"""Quantize a trained run: the float32 .tflite, post-training int8 (PTQ) and QAT int8.

    model.keras --convert--------------------------------------------> model_float.tflite
                --calibrate on a seeded, class-stratified TRAIN sample -> model_ptq_int8.tflite
                --tfmot quantize_model + a few low-LR epochs on TRAIN --> model_qat_int8.tflite

Both int8 models take int8 input and give int8 output and use only int8 builtin ops; the
converter quietly keeps an op without an int8 kernel in float32 (wrapped in DEQUANTIZE /
QUANTIZE), so every converted model is inspected and such an op is refused by name unless
``allow_float_fallback``. Calibration and QAT never see validation or test images. All
models are converted and checked in memory before anything is written, so a failure leaves
the run as it was. spec.json is not touched: each .tflite carries its own input/output scale
and zero point (edgecxr.tflite_facts.io_quant), which the manifest also records.
"""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgecxr.artifacts import KERAS_MODEL, file_of
from edgecxr.checks import check_number
from edgecxr.data.cache import load_pixels
from edgecxr.data.split import SPLIT_FILE
from edgecxr.device.preprocess import to_float
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import ConfigError, DataError, ModelError, RunError
from edgecxr.evaluate.validation import validation_images
from edgecxr.files import write_all
from edgecxr.progress import log
from edgecxr.runs import Run
from edgecxr.tflite_facts import float_ops, io_quant

DEFAULT_CALIBRATION_SIZE = 300
DEFAULT_QAT_EPOCHS = 3
DEFAULT_QAT_LR = 5e-5
QAT_BATCH_SIZE = 32
# spec.output + task -> (Keras loss, how to turn class indices into targets)
_LOSSES = {
    ("softmax", "binary"): "categorical_crossentropy",
    ("softmax", "multiclass"): "categorical_crossentropy",
    ("sigmoid", "binary"): "binary_crossentropy",
    ("sigmoid", "multilabel"): "binary_crossentropy",
}


@dataclass
class WrittenModel:
    """One .tflite written by the stage (the run's models as a table are edgecxr.artifacts.ARTIFACTS)."""

    kind: str
    file: str
    bytes: int
    seconds: float
    input: dict | None = None  # {"scale", "zero_point"} of an int8 input
    output: dict | None = None
    float_ops: list[str] = field(default_factory=list)  # ops left in float32 (only with fallback)
    unchanged: bool = False  # the same bytes were already there (model_float.tflite)
    agreement: dict | None = None  # int8: {"value", "n", "split"} decisions equal to float's on validation


@dataclass
class QuantizeResult:
    run: Path
    artifacts: list[WrittenModel]
    calibration: dict | None
    qat: dict | None = None
    int8_model: dict | None = None  # edgecxr.artifacts.choose_int8: the model export ships, and why

    def to_dict(self) -> dict:
        return {"run": str(self.run), "artifacts": [asdict(a) for a in self.artifacts],
                "calibration": self.calibration, "qat": self.qat, "int8_model": self.int8_model}


# -- the run's images ---------------------------------------------------------------------
def training_samples(run: Run, spec: ModelSpec) -> tuple[list[Path], list[tuple[int, ...]]]:
    """The run's TRAIN images (never val/test) with label indices in ``spec.labels`` order."""
    dataset, assignment = run.split()
    index = {name: spec.labels.index(name) for name in dataset.classes if name in spec.labels}
    train = [s for s in dataset.samples if assignment[s.path] == "train"]
    return [s.path for s in train], [tuple(index[dataset.classes[k]] for k in s.labels) for s in train]


def stratified_quota(counts: dict[int, int], size: int) -> dict[int, int]:
    """Split ``size`` over classes in proportion to ``counts`` (largest remainder), >= 1 each."""
    total = sum(counts.values())
    if total <= size:
        return dict(counts)
    exact = {k: size * n / total for k, n in counts.items()}
    quota = {k: min(counts[k], max(1, int(v))) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(quota.values()) >= size:
            break
        if quota[k] < counts[k]:
            quota[k] += 1
    return quota


def calibration_files(run: Run, spec: ModelSpec, size: int, seed: int) -> tuple[list[Path], dict[str, int]]:
    """A seeded, class-stratified sample of the run's TRAINING images, and its count per class."""
    check_number("calibration_size", size, "--calibration-size")
    paths, labels = training_samples(run, spec)
    by_class: dict[int, list[Path]] = defaultdict(list)
    for p, ls in zip(paths, labels):
        by_class[min(ls, default=-1)].append(p)
    quota = stratified_quota({k: len(v) for k, v in by_class.items()}, size)
    rng = random.Random(seed)
    chosen: list[Path] = []
    for k in sorted(by_class):
        pool = sorted(by_class[k])
        rng.shuffle(pool)
        chosen += pool[:quota[k]]
    return chosen, {spec.labels[k] if k >= 0 else "none": quota[k] for k in sorted(quota)}


def calibration_sample(run: Run, spec: ModelSpec, size: int, seed: int) -> tuple[np.ndarray, dict]:
    """The calibration images as uint8 pixels, and what they are (for the manifest)."""
    chosen, per_class = calibration_files(run, spec, size, seed)
    pixels = load_pixels(chosen, spec, progress=False) if chosen else None
    if pixels is None or len(pixels.x) == 0:
        why = "lists no training images" if not chosen else f"lists {len(chosen)} training images but none could be read"
        raise DataError(f"empty calibration set: {run.file(SPLIT_FILE)} {why}",
                        "check that the dataset folder named in split.json still exists, or re-run `edgecxr train`")
    return pixels.x, {"size": len(pixels.x), "requested": size, "seed": seed, "split": "train",
                      "per_class": per_class, "unreadable": len(pixels.errors)}


# -- conversion --------------------------------------------------------------------------
def _representative(x_float: np.ndarray):
    def gen():
        for x in x_float:
            yield [x[None]]
    return gen


def _convert(converter, what: str) -> bytes:
    from edgecxr.tfenv import quiet_stderr

    try:
        with quiet_stderr():  # the converter's C++ lines ("Ignored output_format", "fully_quantize: 0 ...")
            return converter.convert()
    except Exception as e:  # noqa: BLE001 -- the converter raises ConverterError / RuntimeError / ValueError
        text = str(e)
        m = re.search(r"'([\w.]+)' op is neither a custom op nor a flex op", text)
        if m:
            raise ModelError(f"{what}: op {m.group(1)} has no TFLite builtin kernel, so it cannot be converted",
                             "replace that layer with standard Keras layers") from None
        first = next((ln for ln in text.splitlines() if ln.strip()), type(e).__name__)
        raise ModelError(f"{what}: TFLite conversion failed: {first[:200]}",
                         "set EDGECXR_DEBUG=1 to see the converter's full message") from None


def convert_float(model) -> bytes:
    from edgecxr.tfenv import tf

    return _convert(tf().lite.TFLiteConverter.from_keras_model(model), "float32 conversion")


def convert_int8(model, calibration_x: np.ndarray, allow_float_fallback: bool = False, what: str = "PTQ int8") -> bytes:
    """Full-integer conversion with int8 input/output, calibrated on ``calibration_x`` (float, [0,1])."""
    from edgecxr.tfenv import tf as _tf

    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative(calibration_x)
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if allow_float_fallback:
        ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)
    converter.target_spec.supported_ops = ops
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    content = _convert(converter, what)
    leftover = float_ops(content)
    if leftover and not allow_float_fallback:
        raise ModelError(f"{what}: op {leftover[0]} has no int8 kernel (it would run in float32)",
                         "replace that layer, or pass --allow-float-fallback to keep it in float32")
    return content


# -- QAT -----------------------------------------------------------------------------------
def float_targets(model, x_u8: np.ndarray) -> np.ndarray:
    """What QAT learns: the float model's own outputs on the training images.

    QAT's job is to make the int8 model do what the float model does, not to fit the labels
    again: learning the labels drifts the decision boundary (plain cross-entropy on Kermany's
    1:2.9 imbalance trades specificity for sensitivity) and measured 96 % float/int8
    agreement; learning the float outputs (soft targets, the same losses) keeps it >= 99 %."""
    return model.predict(to_float(x_u8), batch_size=256, verbose=0).astype(np.float32)


def _frozen_bn_copy(model):
    """A copy of ``model`` whose batch-norm layers run in inference mode (moving statistics, not
    the batch's) and do not train: QAT then only learns the rounding, and the folded
    scale/offset stay the float model's -- the int8 model keeps the float model's decisions."""
    from edgecxr.tfenv import keras

    copy = keras().models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in copy.layers:
        if isinstance(layer, keras().layers.BatchNormalization):
            layer.trainable = False
    return copy


def qat_finetune(model, spec: ModelSpec, x_u8: np.ndarray, y: np.ndarray, epochs: int, lr: float,
                 seed: int, freeze_bn: bool = True):
    """tfmot ``quantize_model`` on the float model, then ``epochs`` at ``lr`` on training images
    against ``y`` (``float_targets``: the float model's outputs)."""
    import tensorflow_model_optimization as tfmot

    from edgecxr.tfenv import keras, set_seed

    loss = _LOSSES.get((spec.output, spec.task))
    if loss is None:
        raise ConfigError(f"spec.json output {spec.output!r} with task {spec.task!r} is not supported by QAT",
                          f"use one of {', '.join(f'{o}/{t}' for o, t in _LOSSES)}")
    set_seed(seed)
    if freeze_bn:
        model = _frozen_bn_copy(model)
    try:
        qat_model = tfmot.quantization.keras.quantize_model(model)
    except (ValueError, RuntimeError) as e:
        raise ModelError(f"QAT: tfmot cannot quantize this model: {str(e).splitlines()[0]}",
                         "build it as Conv2D (no activation) -> BatchNormalization -> ReLU, not nested") from None
    qat_model.compile(optimizer=keras().optimizers.Adam(lr), loss=loss, metrics=["accuracy"])

    class _Log(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            log(f"QAT epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.4f} "
                f"accuracy {logs.get('accuracy', float('nan')):.4f}")

    hist = qat_model.fit(to_float(x_u8), y, epochs=epochs, batch_size=QAT_BATCH_SIZE, shuffle=True, verbose=0,
                         callbacks=[_Log()])
    return qat_model, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


# -- agreement with float ----------------------------------------------------------------
def validation_agreement(run: Run, spec: ModelSpec, model, files: list[str]) -> dict[str, dict]:
    """file -> share of the run's VALIDATION images on which the int8 model's decision equals
    the float model's (spec.json's threshold; argmax for multiclass; every label for
    multilabel). ``edgecxr.artifacts.choose_int8`` picks the shipped model by it."""
    from edgecxr.device.decision import decide
    from edgecxr.runtimes import TFLiteModel

    try:
        val = validation_images(run, spec)
    except DataError:  # no validation image to measure on: no agreement recorded
        return {}
    log(f"measuring float/int8 agreement on {len(val.x)} validation images")
    ref = decide(model.predict(to_float(val.x), batch_size=128, verbose=0), spec.task, spec.threshold)
    out = {}
    for name in files:
        pred = decide(TFLiteModel(run.file(name)).predict(val.x), spec.task, spec.threshold)
        same = (pred == ref).reshape(len(ref), -1).all(axis=1)
        out[name] = {"value": float(same.mean()), "n": int(len(same)), "split": "validation"}
    return out


# -- the stage -----------------------------------------------------------------------------
@dataclass(frozen=True)
class QuantizeOptions:
    """What ``quantize`` writes and how (the defaults are `edgecxr quantize`'s)."""

    int8: bool = True  # PTQ int8
    qat: bool = False  # QAT int8
    float_tflite: bool = True  # model_float.tflite (a tune candidate skips it: each conversion costs ~10 s)
    calibration_size: int = DEFAULT_CALIBRATION_SIZE
    seed: int = 0
    allow_float_fallback: bool = False
    qat_epochs: int = DEFAULT_QAT_EPOCHS
    qat_lr: float = DEFAULT_QAT_LR
    force: bool = False

    def __post_init__(self):
        check_number("seed", self.seed, "--seed")
        if self.int8 or self.qat:
            check_number("calibration_size", self.calibration_size, "--calibration-size")
        if self.qat:
            check_number("qat_epochs", self.qat_epochs, "--qat-epochs")
            check_number("qat_lr", self.qat_lr, "--qat-lr")


def quantize(run: Run | str | Path, options: QuantizeOptions = QuantizeOptions()) -> QuantizeResult:
    """Write model_float.tflite and, as asked, the PTQ and QAT int8 models into ``run``."""
    run = run if isinstance(run, Run) else Run.open(run)
    o = options
    run.read_manifest()  # the run's record checked before any conversion (a failure leaves the run as it was)
    if o.int8 or o.qat:
        run.split()
    kinds = (["ptq"] if o.int8 else []) + (["qat"] if o.qat else [])
    existing = [file_of(k) for k in kinds if run.has(file_of(k))]
    if existing and not o.force:
        raise RunError(f"{run.path} already has {', '.join(existing)}", "pass --force to overwrite")
    spec = run.spec()
    model = run.keras_model()

    built: dict[str, tuple[bytes, float]] = {}
    float_unchanged = False
    if o.float_tflite:
        log("float32: converting to TFLite")
        t0 = time.perf_counter()
        built["float"] = (convert_float(model), time.perf_counter() - t0)
        log(f"float32: converted in {built['float'][1]:.1f} s")
        float_path = run.file(file_of("float"))
        float_unchanged = float_path.exists() and float_path.read_bytes() == built["float"][0]
        if float_path.exists() and not float_unchanged and not o.force:
            raise RunError(f"{float_path} exists and differs from a fresh conversion of {KERAS_MODEL}",
                           "pass --force to overwrite it")

    cal_info = None
    if o.int8 or o.qat:
        calibration, cal_info = calibration_sample(run, spec, o.calibration_size, o.seed)
        cal_float = to_float(calibration)
    if o.int8:
        log(f"PTQ int8: calibrating on {len(calibration)} training images")
        t0 = time.perf_counter()
        built["ptq"] = (convert_int8(model, cal_float, o.allow_float_fallback), time.perf_counter() - t0)
        log(f"PTQ int8: converted in {built['ptq'][1]:.1f} s")
    qat_info = None
    if o.qat:
        paths, _ = training_samples(run, spec)
        train = load_pixels(paths, spec)
        log(f"QAT: {o.qat_epochs} epochs at lr {o.qat_lr:g} on {len(train.x)} training images, "
            "learning the float model's outputs")
        t0 = time.perf_counter()
        qat_model, history = qat_finetune(model, spec, train.x, float_targets(model, train.x), o.qat_epochs,
                                          o.qat_lr, o.seed)
        log("QAT int8: converting to TFLite")
        content = convert_int8(qat_model, cal_float, o.allow_float_fallback, what="QAT int8")
        built["qat"] = (content, time.perf_counter() - t0)
        qat_info = {"epochs": o.qat_epochs, "lr": o.qat_lr, "batch_size": QAT_BATCH_SIZE, "images": len(train.x),
                    "targets": "float model outputs", "history": history}

    # everything converted and checked: only now touch the run directory, all files at once
    artifacts, files = [], {}
    for kind, (content, seconds) in built.items():
        name = file_of(kind)
        unchanged = kind == "float" and float_unchanged
        if not unchanged:
            files[run.file(name)] = content
        inp, out = io_quant(content) if kind != "float" else (None, None)
        artifacts.append(WrittenModel(kind, name, len(content), round(seconds, 3), inp, out,
                                  float_ops(content) if kind != "float" else [], unchanged))
    write_all(files)
    int8_files = [a.file for a in artifacts if a.kind != "float"]
    if int8_files:
        agreement = validation_agreement(run, spec, model, int8_files)
        for a in artifacts:
            a.agreement = agreement.get(a.file)
    previous = run.read_manifest().get("stages", {}).get("quantize", {})
    models = {**previous.get("models", {}), **{a.file: {k: v for k, v in asdict(a).items() if k != "file"}
                                              for a in artifacts}}
    run.update_manifest("quantize", {"models": models, "calibration": cal_info,
                                     **({"qat": {k: v for k, v in qat_info.items() if k != "history"}} if qat_info
                                        else {k: v for k, v in previous.items() if k == "qat"})})
    choice = run.int8().to_dict() if int8_files else None
    return QuantizeResult(run.path, artifacts, cal_info, qat_info, choice)

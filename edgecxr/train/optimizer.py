"""The compiled model: learning-rate schedule, loss (hard labels or distillation), metrics and
Adam (with optional weight averaging)."""

from __future__ import annotations

from edgecxr.checks import SCHEDULES
from edgecxr.config import TrainConfig
from edgecxr.errors import ConfigError
from edgecxr.train import distill


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A float (plateau: ReduceLROnPlateau changes it) or a warm-up + cosine schedule over the
    whole run, driven by the optimizer's step counter (so a resumed run continues the curve).
    The warm-up is capped at half the run for tiny datasets."""
    from edgecxr.tfenv import keras

    if config.schedule == "plateau":
        return config.learning_rate
    total = max(2, config.epochs * steps_per_epoch)
    warmup = min(config.warmup_steps, total // 2)
    cosine = keras().optimizers.schedules.CosineDecay
    if warmup == 0:
        return cosine(config.learning_rate, total, alpha=config.final_lr_fraction)
    return cosine(0.0, total - warmup, alpha=config.final_lr_fraction, warmup_target=config.learning_rate,
                  warmup_steps=warmup)


def compile_model(model, task: str, activation: str, units: int, config: TrainConfig, steps_per_epoch: int):
    from edgecxr.tfenv import keras

    k = keras()
    if config.schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {config.schedule!r}", f"use one of {', '.join(SCHEDULES)}")
    accuracy_cls = k.metrics.CategoricalAccuracy if activation == "softmax" else k.metrics.BinaryAccuracy
    auc_cls = k.metrics.AUC
    if config.teacher:  # targets are [labels | teacher outputs]; the metrics see the labels only
        loss = distill.distill_loss(activation, units, config.distill_alpha, config.distill_temperature,
                                   config.label_smoothing)
        accuracy_cls, auc_cls = distill.first_columns(accuracy_cls, units), distill.first_columns(auc_cls, units)
    else:
        loss = distill.hard_loss(activation, config.label_smoothing)
    accuracy = accuracy_cls(name="accuracy")
    auc = auc_cls(name="auc", multi_label=task == "multilabel", num_labels=units if task == "multilabel" else None)
    # EMA weights are copied into the model at the end of every epoch: validation, the best
    # epoch and the saved model are the averaged weights (a flatter, more shift-tolerant minimum)
    ema = {"use_ema": True, "ema_momentum": config.ema, "ema_overwrite_frequency": steps_per_epoch} if config.ema else {}
    model.compile(optimizer=k.optimizers.Adam(learning_rate(config, steps_per_epoch), **ema), loss=loss,
                  metrics=[accuracy, auc], weighted_metrics=[])
    model.optimizer.build(model.trainable_variables)
    return model

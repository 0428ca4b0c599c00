"""Training: a data folder -> a run folder holding a float model, its spec and its validation
metrics. Importing this package does not load TensorFlow (only fitting does).

    stage.py      ``train(config, data, ...)`` -> TrainResult: open (or resume) the run, fit, record
    arrays.py     split -> decoded uint8 arrays, weights, targets -> augmented tf.data batches
    augment.py    the batch augmentation ops (the AUGMENTATIONS table)
    optimizer.py  learning-rate schedule, loss and metrics: the compiled model
    distill.py    a finished run's soft outputs as extra targets, and the distillation loss
    callbacks.py  resumable checkpoints and the progress bar (subclasses Keras: loads TensorFlow)
    outputs.py    model.keras, spec.json, history, val_metrics.json, curves.png
"""

from edgecxr.train.arrays import infer_task, make_dataset
from edgecxr.train.stage import CHECKPOINTS, CONFIG_FILE, TrainResult, demo_config, train

__all__ = ["CHECKPOINTS", "CONFIG_FILE", "TrainResult", "demo_config", "infer_task", "make_dataset", "train"]

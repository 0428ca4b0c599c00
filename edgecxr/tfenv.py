"""Import TensorFlow the one way that works with tfmot: Keras 2 (tf-keras), quiet logs.

TF_USE_LEGACY_KERAS must be set before TensorFlow is first imported, so every module gets
TensorFlow from here, never by ``import tensorflow`` at the top of a file.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tf():
    import tensorflow as tf  # noqa: PLC0415

    tf.get_logger().setLevel("ERROR")
    return tf


def keras():
    tf()
    import tf_keras  # noqa: PLC0415

    return tf_keras


def set_seed(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    keras().utils.set_random_seed(seed)

"""Import TensorFlow the one way that works with tfmot: Keras 2 (tf-keras), quiet logs.

TF_USE_LEGACY_KERAS must be set before TensorFlow is first imported, so every module gets
TensorFlow from here, never by ``import tensorflow`` at the top of a file. The command line
imports this module first, so its environment is also what TensorFlow's C++ side sees.

Quiet unless debug (``edgecxr.errors.debug_enabled``): TensorFlow's C++ logs (the CUDA probe
"failed call to cuInit" is ERROR level, so only level 3 hides it), absl's Python logging (the
converter's lines), Python warnings (deprecations), and TFLite's "Created TensorFlow Lite
XNNPACK delegate" line, which its C++ logger writes to stderr with no switch (``quiet_stderr``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

from edgecxr.errors import debug_enabled

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if debug_enabled() else "3")


def quiet_python() -> None:
    """Hide Python warnings and absl/TensorFlow Python logging below ERROR (not in debug mode)."""
    if debug_enabled():
        return
    warnings.simplefilter("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # the bench runner subprocesses too
    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while native code prints what it cannot be told not
    to (not in debug mode; Python's own exceptions still propagate)."""
    if debug_enabled():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def tf():
    import tensorflow as tf  # noqa: PLC0415

    tf.get_logger().setLevel("DEBUG" if debug_enabled() else "ERROR")
    if not debug_enabled():
        import absl.logging  # noqa: PLC0415

        absl.logging.set_verbosity(absl.logging.ERROR)
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

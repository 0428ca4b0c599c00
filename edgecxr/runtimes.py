"""The host's door to the interpreter chain of edgecxr.device.runtime (which the Raspberry Pi
runner uses too): a .tflite opened by path and checked first, TFLite's native chatter kept off
the terminal, and the device's ``Failure`` turned into edgecxr's ``ModelError``.

Every stage that runs a .tflite (evaluate, bench, export, quantize, the tests) goes through
``TFLiteModel``, so the host and the device feed a model and read its answer one way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from edgecxr.device import runtime as device_runtime
from edgecxr.device.exits import Failure
from edgecxr.errors import ModelError
from edgecxr.tfenv import quiet_stderr
from edgecxr.tflite_facts import check_tflite


@contextlib.contextmanager
def model_errors() -> Iterator[None]:
    """The device package's failures as ModelError (same message and hint)."""
    try:
        yield
    except Failure as e:
        raise ModelError(str(e), e.hint) from None


def _engine(content: bytes):
    """The ``engine`` kernel family: edgecxr's generated C, compiled for this computer."""
    from edgecxr.engine.host import DeviceEngine

    return DeviceEngine(content)


device_runtime.NATIVE_ENGINES["engine"] = _engine


def check_kernels(name: str) -> str:
    """``name`` if it is a kernel family (edgecxr.device.runtime.KERNELS), else a ModelError."""
    with model_errors():
        return device_runtime.check_kernels(name)


class TFLiteModel(device_runtime.Model):
    """A .tflite file on one runtime and kernel family: feed uint8 pixels, get probabilities."""

    def __init__(self, path: str | Path, runtime: str | None = None, threads: int | None = None,
                 kernels: str = device_runtime.DEFAULT_KERNELS):
        self.path = Path(path)
        content = check_tflite(self.path)
        with model_errors(), quiet_stderr():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
            super().__init__(content, runtime, threads, kernels, name=str(self.path))

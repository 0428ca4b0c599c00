"""Where each stage starts, and the one way a stage is called.

A stage is ``fn(run, options) -> result``:

- ``run``      the run directory (an ``edgecxr.runs.Run``, or its path);
- ``options``  one dataclass of the stage's choices (its defaults are the command's), checked
               when it is made (``__post_init__``: a bad value is a ConfigError there, so an
               options object that exists is a valid one and nothing is written first);
- ``result``   a dataclass whose ``to_dict()`` is what ``--json`` prints.

The stage records itself in the run's manifest. The CLI only parses flags into the options
and prints the result; ``tune``, ``shift`` and ``demo`` compose the same functions. ``train``
is the stage that makes the run, so it takes the training config and the data in its place:
``train(config, data, runs_root=..., name=...) -> TrainResult``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str  # the command
    function: str  # "module:function"
    options: str  # "module:Class"
    writes: str  # into the run


STAGES = (
    Stage("train", "edgecxr.train.stage:train", "edgecxr.config:TrainConfig",
          "model.keras, spec.json, split.json, config.toml, val_metrics.json"),
    Stage("quantize", "edgecxr.quantize:quantize", "edgecxr.quantize:QuantizeOptions",
          "model_float.tflite, model_ptq_int8.tflite, model_qat_int8.tflite"),
    Stage("evaluate", "edgecxr.evaluate.stage:evaluate", "edgecxr.evaluate.stage:EvalOptions",
          "eval/<images>/ (eval.json, report.html, ...)"),
    Stage("bench", "edgecxr.bench.host:bench_host", "edgecxr.bench.host:BenchOptions",
          "nothing (latency on this computer)"),
    Stage("export", "edgecxr.export:export", "edgecxr.export:ExportOptions",
          "export/<format>/ (.tflite, C header, Arduino library, Pi folder, bundle)"),
)
BY_NAME = {s.name: s for s in STAGES}


def _load(ref: str):
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


def function(name: str) -> Callable:
    """The stage's function (its module is imported only now: train's loads TensorFlow when it fits)."""
    return _load(BY_NAME[name].function)


def options(name: str, **values):
    """The stage's options dataclass filled with ``values`` (the rest are its defaults)."""
    return _load(BY_NAME[name].options)(**values)

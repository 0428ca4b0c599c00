"""Every installed TFLite runtime side by side on this computer, float and int8, 1 and all threads.

Each (model, runtime, threads) runs in a fresh subprocess of the Raspberry Pi runner, so the
peak memory reported is that runtime's alone (tf.lite pulls in all of TensorFlow) and the
host numbers are measured exactly like the device ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from edgecxr.bench import runner
from edgecxr.device.runtime import INSTALL_HINT, MICRO_KERNELS, RUNTIMES, installed
from edgecxr.device.spec import SPEC_FILE, ModelSpec
from edgecxr.errors import DeviceError, ModelError
from edgecxr.progress import log
from edgecxr.runs import Run
from edgecxr.runtimes import TFLiteModel, check_kernels
from edgecxr.targets.result import BenchResult
from edgecxr.tflite_facts import check_tflite

# TFLite Micro: one thread and its reference kernels, nothing else
ONE_FAMILY = {name for name, rt in RUNTIMES.items() if rt.resolver_enum is None}


@dataclass(frozen=True)
class BenchOptions:
    runs: int = 100
    warmup: int = 10
    threads: list[int] | None = None  # None: 1 and all cores
    runtimes: list[str] | None = None  # None: every installed one
    data: Path | None = None  # folder of images; None: random valid inputs
    timeout: float = 600  # seconds per runner call
    kernels: list[str] | None = None  # kernel families; None: the runner's default (reference)

    def __post_init__(self):
        from edgecxr.checks import check_number

        for name in ("runs", "warmup", "timeout"):
            check_number(name, getattr(self, name), f"--{name}")
        for t in self.threads or []:
            check_number("threads", t, "--threads")


def model_files(target: str | Path) -> list[Path]:
    """A .tflite file, or every .tflite in a run directory."""
    target = Path(target)
    if target.is_dir():
        files = sorted(target.glob("*.tflite"))
        if not files:
            raise ModelError(f"{target} holds no .tflite model", "run `edgecxr quantize` on it first")
        for f in files:  # a run's models are checked against its manifest before use
            Run(target).verified(f.name, "re-run `edgecxr quantize RUN --force`")
        return files
    check_tflite(target)
    return [target]


def choose_runtimes(requested: list[str] | None) -> list[str]:
    for name in requested or []:
        if name not in RUNTIMES:
            raise ModelError(f"unknown runtime {name!r}", f"choose from {', '.join(RUNTIMES)}")
        if not installed(name):
            raise ModelError(f"runtime {name} is not installed", RUNTIMES[name].install)
    chosen = requested or [n for n in RUNTIMES if installed(n)]
    if not chosen:
        raise ModelError("no TFLite runtime is installed", INSTALL_HINT)
    return chosen


def spec_beside(model: Path) -> Path | None:
    """The spec.json next to ``model`` (a run's, or an export's), checked as every stage reads a
    run's spec (``Run.spec()``: manifest and values) before a runner is handed it; None if absent."""
    if not (model.parent / SPEC_FILE).is_file():
        return None
    Run(model.parent).spec()  # reading it is the check
    return model.parent / SPEC_FILE


def spec_for(model: Path, folder: Path) -> Path:
    """The spec.json next to the model (``spec_beside``), else one made from the model's input shape."""
    beside = spec_beside(model)
    if beside is not None:
        return beside

    _, h, w, c = TFLiteModel(model).input_shape
    path = folder / f"{model.stem}.spec.json"
    ModelSpec(width=int(w), height=int(h), channels=int(c)).save(path)
    return path


def _families(runtime: str, requested: list[str] | None) -> list[str | None]:
    """The kernel families to time on ``runtime``; None is the runner's default."""
    if runtime in ONE_FAMILY:
        return [MICRO_KERNELS]
    return list(requested or [None])


def bench_host(run: str | Path, options: BenchOptions = BenchOptions()) -> BenchResult:
    """Every .tflite of ``run`` (a run directory, or one .tflite file) timed on this computer."""
    models = model_files(run)
    names = choose_runtimes(options.runtimes)
    for kernels in options.kernels or []:
        check_kernels(kernels)
    all_threads = options.threads or sorted({1, os.cpu_count() or 1})
    rows, machine = [], {}
    plan = [(model, name, threads, kernels) for model in models for name in names
            for threads, kernels in product([1] if name in ONE_FAMILY else all_threads, _families(name, options.kernels))]
    with tempfile.TemporaryDirectory(prefix="edgecxr-bench-") as tmp:
        script, _ = runner.stage(Path(tmp))
        specs = {model: spec_for(model, Path(tmp)) for model in models} if options.data else {}
        for i, (model, name, threads, kernels) in enumerate(plan, 1):
            log(f"bench {i}/{len(plan)}: {model.name} on {name}, {threads} thread(s), {kernels or 'default'} kernels, "
                f"{options.warmup} + {options.runs} inferences")
            spec = specs.get(model)
            args = runner.bench_args(str(model), options.runs, options.warmup, threads, name,
                                     spec and str(spec), options.data and str(options.data), kernels)
            try:
                proc = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                                      text=True, timeout=options.timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise DeviceError(f"benchmarking {model.name} on {name} took over {options.timeout:g} s",
                                  "raise --timeout, or use fewer --runs") from None
            result = runner.parse_result(proc.returncode, proc.stdout, proc.stderr, "this computer", name)
            machine = runner.split_machine(result)
            result.pop("outputs", None)  # --data's int8 outputs: compared by the emulated bench, not here
            rows.append(result)
    return BenchResult("host", "host", results=rows, machine=machine)  # one row per model x runtime x threads x kernels

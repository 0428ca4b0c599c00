"""The same benchmark on a Raspberry Pi over SSH: copy, check the runtime, run, bring back, clean.

Only the model, its spec.json, the runner and its preprocessing copy travel; the device needs
python3, numpy, Pillow and one TFLite interpreter (``install=True`` pip-installs LiteRT, or
tflite-runtime where LiteRT has no wheel).
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgecxr import remote
from edgecxr.bench import runner
from edgecxr.bench.host import model_files, spec_beside
from edgecxr.device.exits import EXIT_NO_RUNTIME
from edgecxr.device.runtime import CHAIN, RUNTIMES
from edgecxr.device.runtime import INSTALL_HINT as DEVICE_INSTALL_HINT
from edgecxr.device.spec import SPEC_FILE
from edgecxr.errors import DeviceError, ModelError

COMMAND_NOT_FOUND = (126, 127)  # the remote shell could not run the interpreter
TIMED_OUT = 124  # coreutils `timeout`
PI_RUNTIMES = CHAIN[:2]  # what --install tries on a Pi, in the chain's order (not all of TensorFlow)
INSTALL_COMMAND = " || ".join(f"{{py}} -m pip install --quiet {RUNTIMES[n].distribution}" for n in PI_RUNTIMES)
INSTALL_HINT = f"pass --install, or on the device: {DEVICE_INSTALL_HINT}"


@dataclass
class RpiOptions:
    runs: int = 100
    warmup: int = 10
    threads: int | None = None  # None: the runtime's default (all cores for LiteRT)
    runtime: str | None = None  # None: the first installed on the device
    install: bool = False
    python: str = "python3"  # the interpreter on the device (e.g. a venv's bin/python3)
    timeout: float = 600  # seconds for the benchmark run itself
    kernels: str | None = None  # None: the runner's default (reference)

    def __post_init__(self):
        from edgecxr.checks import check_number

        for name in ("runs", "warmup", "threads", "timeout"):
            check_number(name, getattr(self, name), f"--{name}")


def bench_rpi(target: str | Path, ssh: remote.SSHTarget, options: RpiOptions | None = None) -> dict:
    """{"device": "rpi", "host": ..., "machine": {...}, "results": [one row per model]}."""
    options = options or RpiOptions()
    if options.kernels:
        from edgecxr.runtimes import check_kernels

        check_kernels(options.kernels)
    models = model_files(target)
    rows, machine = [], {}
    specs = [spec] if (spec := spec_beside(models[0])) else []
    with tempfile.TemporaryDirectory(prefix="edgecxr-rpi-") as local, \
            remote.remote_tempdir(ssh, "edgecxr-bench") as folder:
        remote.copy_to(ssh, [*runner.stage(Path(local)), *models, *specs], folder)
        for model in models:
            result = _run(ssh, folder, model.name, options, specs and f"{folder}/{SPEC_FILE}")
            machine = runner.split_machine(result)
            rows.append(result)
    return {"device": "rpi", "host": ssh.host, "machine": machine, "results": rows}


def _run(ssh: remote.SSHTarget, folder: str, model: str, options: RpiOptions, spec: str | None) -> dict:
    args = runner.bench_args(f"{folder}/{model}", options.runs, options.warmup, options.threads, options.runtime,
                             spec or None, kernels=options.kernels)
    command = remote.reporting_signals(["timeout", "--kill-after=5", f"{options.timeout:g}", options.python,
                                        f"{folder}/classify.py", *args])
    for attempt in ("first", "after install"):
        proc = remote.run(ssh, command, timeout=options.timeout + ssh.connect_timeout + 30)
        if proc.returncode in COMMAND_NOT_FOUND:
            raise DeviceError(f"no {options.python} on {ssh.host}",
                              "install Python 3 on the device (sudo apt install python3 python3-numpy "
                              "python3-pil), or pass --remote-python PATH")
        if proc.returncode == TIMED_OUT:
            raise DeviceError(f"the benchmark on {ssh.host} timed out after {options.timeout:g} s",
                              "use fewer --runs, or raise --timeout")
        if proc.returncode == 0 and not proc.stdout.strip():
            raise DeviceError(f"--remote-python {options.python} on {ssh.host} ran but printed nothing: not a Python "
                              "that runs the runner", "pass --remote-python PATH to the device's python3")
        if proc.returncode == EXIT_NO_RUNTIME and options.install and attempt == "first":
            _install(ssh, options.python)
            continue
        try:
            return runner.parse_result(proc.returncode, proc.stdout, proc.stderr, ssh.host, options.runtime)
        except ModelError as e:
            if proc.returncode == EXIT_NO_RUNTIME:
                raise DeviceError(f"no TFLite runtime on {ssh.host}: {e.message}", INSTALL_HINT) from None
            raise
    raise DeviceError(f"installing a TFLite runtime on {ssh.host} did not make one importable", INSTALL_HINT)


def _install(ssh: remote.SSHTarget, python: str) -> None:
    py = shlex.quote(python)
    proc = remote.run(ssh, ["sh", "-c", INSTALL_COMMAND.format(py=py)], timeout=900)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise DeviceError(f"pip could not install a TFLite runtime on {ssh.host}: {last}",
                          "on Raspberry Pi OS Bookworm make a venv (python3 -m venv ~/edgecxr) and pass "
                          "--remote-python ~/edgecxr/bin/python3")

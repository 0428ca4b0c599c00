"""The Raspberry Pi runner (firmware_bundle/rpi/classify.py), staged and run the same way on
the host and on a device, so both benchmarks measure one thing one way.

The runner imports the device's rules from the edgecxr_device package placed next to it;
``stage`` writes both.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path

from edgecxr.device.exits import EXIT_MISSING_DEPENDENCY, EXIT_NO_RUNTIME
from edgecxr.errors import DeviceError, ModelError
from edgecxr.resources import resource, ship_device_package

RUNNER = "firmware_bundle/rpi/classify.py"  # shipped beside the package (edgecxr.resources)
# what the runner says about the machine it ran on (the rest of its JSON is about the model)
MACHINE_KEYS = ("python", "machine", "cores", "cpu", "board", "throttled", "emulated")
# what edgecxr.remote.reporting_signals prints when a remote command dies from a signal
SIGNAL_LINE = re.compile(r"^edgecxr: killed by signal (\w+)$", re.M)
SIGNAL_NAME = re.compile(r"killed by (SIG\w+)")  # in the message parse_result raises for a crash
CRASH_HINT = ("the TFLite runtime itself crashed (not a Python error): try another --runtime or --kernels, "
              "and check that its wheel is built for this device's CPU and OS")


def stage(folder: Path) -> list[Path]:
    """Copy the runner and the device package into ``folder``; returns both (the runner first),
    ready to copy to a device."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(resource(RUNNER), folder / "classify.py")
    return [folder / "classify.py", ship_device_package(folder)]


def bench_args(model: str, runs: int, warmup: int, threads: int | None, runtime: str | None,
               spec: str | None = None, data: str | None = None, kernels: str | None = None) -> list[str]:
    args = ["--model", model, "--bench", str(runs), "--warmup", str(warmup)]
    for flag, value in (("--threads", threads), ("--runtime", runtime), ("--spec", spec), ("--data", data),
                        ("--kernels", kernels)):
        if value is not None:
            args += [flag, str(value)]
    return args


def crash_signal(returncode: int, stderr: str) -> str | None:
    """The name of the signal that killed the runner ("SIGSEGV"), or None when it exited.
    Locally a signal is a negative status; over SSH it is the line reporting_signals printed."""
    if returncode < 0:
        return signal.Signals(-returncode).name
    found = SIGNAL_LINE.search(stderr)
    return f"SIG{found.group(1)}" if found and returncode > 128 else None


def split_machine(result: dict) -> dict:
    """Take the machine's keys out of a runner result (in place); returns them."""
    return {k: result.pop(k) for k in MACHINE_KEYS if k in result}


def parse_result(returncode: int, stdout: str, stderr: str, where: str, runtime: str | None) -> dict:
    """The runner's JSON, or the one-line error that its exit status stands for."""
    crashed = crash_signal(returncode, stderr)
    if crashed:
        raise DeviceError(f"the runner crashed on {where}" + (f" ({runtime})" if runtime else "")
                          + f": killed by {crashed}", CRASH_HINT)
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    said = next((ln[len("error: "):] for ln in lines if ln.startswith("error: ")), lines[-1] if lines else "")
    hint = next((ln[len("hint: "):] for ln in lines if ln.startswith("hint: ")), "")
    if returncode == EXIT_NO_RUNTIME:
        raise ModelError(f"{where}: {said}", hint)
    if returncode == EXIT_MISSING_DEPENDENCY:
        raise DeviceError(f"{where}: {said}", hint)
    if returncode != 0:
        raise DeviceError(f"the benchmark failed on {where} (exit {returncode}): {said}",
                          "set EDGECXR_DEBUG=1 and run the runner by hand to see more")
    try:
        return json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise DeviceError(f"the runner on {where} printed no JSON result", "run it by hand to see its output") from None

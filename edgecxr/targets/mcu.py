"""Kind ``mcu``: a physical microcontroller board. fit is the verdict (edgecxr.bench.mcu: RAM,
flash, latency; measured on the emulated board of its core when it can be, else estimated) and
is what bench reports; flash builds the bundle's Arduino example with arduino-cli and uploads it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgecxr.deploy import ARDUINO_PART, INSTALL_TIMEOUT, STEP_TIMEOUT
from edgecxr.errors import ConfigError, DeviceError, RunError
from edgecxr.targets.result import BenchChoices, BenchResult, int8_choice


@dataclass(frozen=True)
class FlashOptions:
    port: str | None = None  # physical boards: serial port; None: where arduino-cli finds the board
    dry_run: bool = False  # physical boards: print the commands only
    model: str | None = None  # ptq or qat; None: the run's choice
    engine: str = "edgecxr"  # emulated boards: edgecxr or tflm
    tflm: Path | None = None  # emulated boards, engine tflm: the TFLM tree
    kernels: str = "cmsis-nn"  # emulated boards, engine tflm
    runs_root: Path | None = None  # where a run name is looked up (None: edgecxr.runs.DEFAULT_RUNS_ROOT)
    timeout: float = 120  # emulated boards: seconds QEMU may run
    out: Path | None = None  # emulated boards, build: where the firmware project and ELF go


def _model_file(run) -> Path:
    """A verdict is per model: the file given, a run's int8 model (what export ships), or a
    folder's first int8 .tflite."""
    from edgecxr.bench.host import model_files

    choice = int8_choice(run)
    if choice:
        return choice.path
    files = model_files(run)
    return ([f for f in files if "int8" in f.name] or files)[0]


def fit(target, run, choices: BenchChoices | None = None) -> BenchResult:
    """Fits or not, with margins and advice; measured for a run when the toolchain and QEMU are here."""
    from edgecxr.bench.mcu import mcu_report, measure_on_emulated

    c = choices or BenchChoices()
    measured = measure_on_emulated(run, target.key, c.tflm, target.path, c.timeout)
    report = mcu_report(_model_file(run), target.key, target.path, measured)
    return BenchResult.of(target.kind, report, int8_choice(run))


bench = fit  # a physical board cannot be measured from here: its bench is the verdict


def _library(bundle: Path) -> tuple[Path, Path]:
    libraries = sorted((bundle / ARDUINO_PART).glob("*/library.properties"))
    if not libraries:
        raise RunError(f"{bundle / ARDUINO_PART} holds no Arduino library",
                       "re-export it: edgecxr export RUN --format bundle --force")
    library = libraries[0].parent
    sketch = next(p.parent for p in sorted((library / "examples").glob("*/*.ino")))
    return library, sketch


def _find_port(fqbn: str, port: str | None) -> str | None:
    """``port`` if it exists; without one, the port where ``arduino-cli board list`` sees a board
    of ``fqbn``; None when there is none."""
    if port is not None:
        return port if Path(port).exists() else None
    proc = subprocess.run(["arduino-cli", "board", "list", "--format", "json"], check=False, capture_output=True,
                          text=True, timeout=STEP_TIMEOUT)
    if proc.returncode != 0:
        return None
    doc = json.loads(proc.stdout or "{}")
    for entry in (doc.get("detected_ports", doc) if isinstance(doc, dict) else doc) or []:
        if any(m.get("fqbn") == fqbn for m in entry.get("matching_boards", []) or []):
            return (entry.get("port") or {}).get("address")
    return None


def flash(target, run, options: FlashOptions | None = None) -> dict:
    """Build the bundle's Arduino example with arduino-cli and upload it (``dry_run``: only the commands)."""
    from edgecxr.deploy import bundle_folder
    from edgecxr.export.arduino import FlashTarget, build_commands, setup_commands
    from edgecxr.runs import DEFAULT_RUNS_ROOT, Run

    o = options or FlashOptions()
    board = target.facts
    if not board.fqbn:
        raise ConfigError(f"board {target.key} has no fqbn (its arduino-cli board id)",
                          f"add fqbn = \"VENDOR:ARCH:BOARD\" to [boards.{target.key}] (see `arduino-cli board listall`)")
    arduino = FlashTarget(board.name, board.fqbn, o.port or FlashTarget.port)  # --dry-run's port without --port
    library, sketch = _library(bundle_folder(Run.open(run, o.runs_root or DEFAULT_RUNS_ROOT), o.model))
    result = {"board": target.key, "fqbn": arduino.fqbn, "port": arduino.port, "library": str(library),
              "setup": [shlex.join(c) for c in setup_commands(arduino)],
              "commands": [shlex.join(c) for c in build_commands(library, sketch, arduino)], "dry_run": o.dry_run}
    if o.dry_run:
        return result
    if not shutil.which("arduino-cli"):
        raise DeviceError("arduino-cli is not installed",
                          "install it (https://arduino.github.io/arduino-cli/latest/installation/), "
                          "or pass --dry-run to print the commands")
    port = _find_port(arduino.fqbn, o.port)
    if port is None:
        raise DeviceError(f"no {arduino.name} ({arduino.fqbn}) found" + (f" at {o.port}" if o.port else ""),
                          "connect the board by USB, check `arduino-cli board list`, or pass --port")
    commands = build_commands(library, sketch, arduino, port)
    result.update(port=port, commands=[shlex.join(c) for c in commands])
    for argv in commands:
        proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
            raise DeviceError(f"`{' '.join(argv[:2])}` failed: {lines[-1] if lines else f'exit {proc.returncode}'}",
                              "run the one-time setup first: " + " && ".join(result["setup"]))
    return result

"""Running a firmware ELF on one of QEMU's emulated Cortex-M boards and reading what it says.

The firmware's protocol (firmware_bundle/firmware/app + boards/qemu): a ``ready`` line (arena),
one ``result`` line per image (label, score, instructions, raw int8 outputs), ``layer`` lines
for the first image when built with PROFILE=1, and a ``done`` line (stack peak). Images go in
through a file in QEMU's working directory, read by the firmware over semihosting, so one boot
classifies them all. ``-icount shift=0`` makes the instruction counts deterministic.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgecxr.errors import DeviceError

IMAGES_FILE = "edgecxr_images.bin"  # the firmware reads it as EDGECXR_IMAGES_FILE (from boards.mk)
_FIELDS = re.compile(r"(\w+)=(\S+)")


def qemu_args(board) -> list[str]:
    """QEMU's command line for ``board`` without the ELF (also written into boards.mk for `make run`)."""
    return ["qemu-system-arm", "-M", board.qemu_machine, "-cpu", board.qemu_cpu, "-icount", "shift=0",
            "-semihosting-config", "enable=on,target=native", "-nographic", "-monitor", "none", "-serial", "none"]


def command(board, elf: Path) -> list[str]:
    return [*qemu_args(board), "-kernel", str(elf)]


def boot(board, elf: Path, images: np.ndarray | None = None, timeout: float = 600) -> tuple[str, dict]:
    """Run ``elf`` on ``board`` (with ``images``, int8 N x ...; else its self-test image).
    Returns the console text and the parsed report; a crash, a hang or an error line raises."""
    with tempfile.TemporaryDirectory(prefix="edgecxr-qemu-") as cwd:
        if images is not None:
            (Path(cwd) / IMAGES_FILE).write_bytes(np.ascontiguousarray(images, dtype=np.int8).tobytes())
        try:
            proc = subprocess.run(command(board, elf), cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"the firmware did not finish on {board.name} within {timeout:.0f} s (hung?)",
                              "raise --timeout for many images or reference kernels; a hang is a firmware bug") from None
    text = proc.stdout + proc.stderr
    error = next((ln for ln in text.splitlines() if ln.startswith("error: ")), None)
    if error or proc.returncode != 0:
        why = error[len("error: "):] if error else f"qemu-system-arm exited with status {proc.returncode}"
        hint = ("the arena comes from TFLM's measurement (model_settings.h); re-export the model"
                if "arena" in why else "run `make run` in the exported firmware folder to see the whole output")
        raise DeviceError(f"the firmware failed on {board.name}: {why.strip()}", hint)
    return text, parse(text)


def parse(text: str) -> dict:
    report = {"results": [], "layers": []}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        fields = dict(_FIELDS.findall(rest))
        if kind == "ready":
            report.update(arena_size=int(fields["arena_size"]), arena_used_bytes=int(fields["arena_used"]),
                          unit=fields["unit"])
        elif kind == "result":
            report["results"].append({"label": fields["label"], "score": float(fields["score"]),
                                      "instructions": int(fields["instructions"]),
                                      "raw": [int(v) for v in fields["raw"].split(",")]})
        elif kind == "layer":
            report["layers"].append({"op": fields["op"], "instructions": int(fields["ticks"])})
        elif kind == "done":
            report.update(stack_peak_bytes=int(fields["stack_peak"]),
                          instructions_per_tick=int(fields["instructions_per_tick"]))
    if "arena_used_bytes" not in report or "stack_peak_bytes" not in report:
        raise DeviceError("the firmware's output is incomplete", "run `make run` in the exported firmware folder")
    return report

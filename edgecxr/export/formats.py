"""The one table of export formats: it drives the CLI's choices and help, option validation,
"did you mean" for a mistyped format, and dispatch to the module that writes the format.

Handlers are named as ``module:function`` and imported only when used, so ``edgecxr --help``
never loads TensorFlow.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from edgecxr.errors import ConfigError


@dataclass(frozen=True)
class Format:
    name: str
    writes: str  # what lands in the output folder
    folder: str  # default output folder under <run>/export/
    options: frozenset[str]  # export options (besides --out/--force) this format accepts
    help: str
    handler: str  # "module:function": handler(source, out_dir[, test_image=]) -> dict
    archive: bool = False  # also pack the folder as <folder>.tar.gz

    def load_handler(self) -> Callable[..., dict]:
        module, func = self.handler.split(":")
        return getattr(importlib.import_module(module), func)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("tflite", "model.tflite, labels.txt, spec.json", "tflite", frozenset({"model"}),
           "the int8 .tflite with its labels and model spec alongside",
           "edgecxr.export.tflite:export_tflite"),
    Format("c-header", "<name>_model.h/.c, model_settings.h, edgecxr_ops.h", "c-header", frozenset({"model", "name"}),
           "C99/C++ source: the model as an aligned byte array, a generated model_settings.h "
           "(input size, quantization, labels, TFLM operators, arena size) and edgecxr_ops.h (the TFLM resolver)",
           "edgecxr.export.c_header:export_c_header"),
    Format("arduino", "an Arduino library folder with a TFLM example sketch", "arduino",
           frozenset({"model", "name", "test_image"}),
           "Arduino library (library.properties, src/, examples/) whose sketch classifies a bundled "
           "test image with TensorFlow Lite Micro",
           "edgecxr.export.arduino:export_arduino"),
    Format("firmware", "a bare-metal TFLM project: Makefile, app/, boards/qemu/, generated/", "firmware",
           frozenset({"model", "name", "test_image"}),
           "bare-metal TensorFlow Lite Micro firmware (main loop, exactly the model's operators, measured "
           "arena, start-up, linker script, semihosting) with a Makefile for arm-none-eabi-g++ "
           "(TFLM_DIR, KERNELS=cmsis-nn|reference, BOARD=qemu-m4|qemu-m7|qemu-m3)",
           "edgecxr.firmware.project:export_firmware"),
    Format("rpi", "classify.py, model, spec, install.sh, systemd unit, self-test", "rpi",
           frozenset({"model", "test_image"}),
           "a self-contained Raspberry Pi runner folder with an install script and a self-test",
           "edgecxr.export.rpi:export_rpi"),
    Format("bundle", "all of the above + manifest.json, as a folder and a .tar.gz", "bundle",
           frozenset({"model", "name", "test_image"}),
           "every format in firmware_bundle layout with a sha256 manifest, plus a .tar.gz of it",
           "edgecxr.export.bundle:export_bundle", archive=True),
)}

# CLI option spelling of each export option (for messages)
OPTION_FLAGS = {"model": "--model", "name": "--name", "test_image": "--test-image"}


def get_format(name: str) -> Format:
    """The format called ``name``; an unknown name suggests the nearest one."""
    if name in FORMATS:
        return FORMATS[name]
    near = difflib.get_close_matches(name, FORMATS, n=1, cutoff=0.4)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise ConfigError(f"unknown export format {name!r}", f"{hint}formats: {', '.join(FORMATS)}")


def check_options(fmt: Format, given: dict) -> dict:
    """The options set in ``given`` (not None) that ``fmt`` accepts; any other set one is an error."""
    set_ = {k: v for k, v in given.items() if v is not None}
    extra = sorted(set(set_) - fmt.options)
    if extra:
        flags = ", ".join(OPTION_FLAGS[k] for k in extra)
        takes = ", ".join(OPTION_FLAGS[k] for k in sorted(fmt.options)) or "no options"
        raise ConfigError(f"{flags} does not apply to --format {fmt.name}", f"{fmt.name} takes {takes}")
    return set_


def formats_help() -> str:
    def takes(f: Format) -> str:
        return ", ".join(OPTION_FLAGS[k] for k in sorted(f.options))

    return "; ".join(f"{f.name}: {f.help} (takes {takes(f)})" for f in FORMATS.values())

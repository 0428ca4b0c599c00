"""Which ``MicroMutableOpResolver`` method registers each TFLite operator, taken from TFLM itself.

The one source is TFLM's ``micro_mutable_op_resolver.h``: every ``AddX()`` method calls
``AddBuiltin(BuiltinOperator_Y, ...)``, and the kernel headers declare the int8-only
registrations (``Register_CONV_2D_INT8()``) that leave the other dtypes' code out of the
firmware. ``tflm_resolver.json`` is that table parsed from the pinned tree (so exporting a
C header needs no tree); ``python -m edgecxr.firmware.resolver TFLM_DIR`` rewrites it, and a
test checks it against the tree's header. No name is spelled by hand here.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from edgecxr.errors import ModelError

TABLE_FILE = Path(__file__).with_name("tflm_resolver.json")
RESOLVER_HEADER = "tensorflow/lite/micro/micro_mutable_op_resolver.h"
KERNEL_HEADERS = "tensorflow/lite/micro/kernels"
_METHOD = re.compile(r"TfLiteStatus\s+(Add\w+)\s*\([^{;]*\)\s*\{(.*?)\n  \}", re.S)
_BUILTIN = re.compile(r"AddBuiltin\(\s*BuiltinOperator_(\w+)")
_INT8 = re.compile(r"^TFLMRegistration\s+(Register_(\w+)_INT8)\(\);", re.M)


def parse_tree(tflm_dir: Path) -> dict[str, dict]:
    """{BUILTIN: {"method": "AddConv2D", "int8": "Register_CONV_2D_INT8" | None, "header": ...}}."""
    text = (Path(tflm_dir) / RESOLVER_HEADER).read_text()
    table = {}
    for method, body in _METHOD.findall(text):
        found = _BUILTIN.search(body)
        if found:
            table[found.group(1)] = {"method": method, "int8": None, "header": None}
    for header in sorted((Path(tflm_dir) / KERNEL_HEADERS).glob("*.h")):
        for func, builtin in _INT8.findall(header.read_text()):
            if builtin in table:
                table[builtin].update(int8=func, header=f"{KERNEL_HEADERS}/{header.name}")
    return dict(sorted(table.items()))


@lru_cache(maxsize=1)
def table() -> dict[str, dict]:
    return json.loads(TABLE_FILE.read_text())["operators"]


def registration(builtin: str) -> dict:
    """The resolver entry of operator ``builtin`` (e.g. "CONV_2D")."""
    if builtin not in table():
        raise ModelError(f"TensorFlow Lite Micro has no kernel for operator {builtin}",
                         "retrain without that layer (the layers of `edgecxr models` all run on TFLM)")
    return table()[builtin]


def write_table(tflm_dir: Path, provenance: str) -> None:
    TABLE_FILE.write_text(json.dumps({"source": provenance, "operators": parse_tree(tflm_dir)}, indent=1) + "\n")


if __name__ == "__main__":
    write_table(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else f"{RESOLVER_HEADER} of {sys.argv[1]}")

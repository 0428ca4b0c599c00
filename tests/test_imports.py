"""Importing edgecxr does not load TensorFlow (seconds of start-up and GBs of noise): only the
modules that must subclass Keras classes at definition time do, and they say so."""

import subprocess
import sys
from pathlib import Path

import edgecxr

# modules whose import loads TensorFlow on purpose; a new one belongs here only with a reason
LOADS_TENSORFLOW = {
    "edgecxr.train.callbacks",  # subclasses keras.callbacks.Callback; imported when training starts
}
PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    if "tensorflow" in sys.modules:
        print(name)
        break
"""


def _modules() -> list[str]:
    root = Path(edgecxr.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in LOADS_TENSORFLOW and name != "edgecxr.__main__":
            names.append(name)
    return names


def test_no_module_but_the_listed_ones_loads_tensorflow_on_import():
    modules = _modules()
    assert "edgecxr.train" in modules and "edgecxr.cli" in modules
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing {out.stdout.strip()} loads TensorFlow"


def test_the_listed_ones_do_load_it():
    """The exception list stays true: a module that no longer needs TensorFlow leaves it."""
    for name in LOADS_TENSORFLOW:
        out = subprocess.run([sys.executable, "-c", PROBE, name], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == name

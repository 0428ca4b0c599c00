"""host: the generated C compiled by the host's C compiler into a shared library and called
through ctypes, so evaluation and benchmarks on a PC run the very code a microcontroller runs.

Builds are cached under edgecxr's cache folder (``engine/<key>.so``), keyed by the sha256 of
the generated sources and the compiler command, so a model is compiled once. No compiler is
one error line with a hint."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgecxr.engine import SOURCE, Generated, generate
from edgecxr.errors import DeviceError

CFLAGS = ["-std=c99", "-O3", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]
COMPILER_ENV = "CC"


def compiler() -> str:
    """The host C compiler ($CC, else cc, gcc or clang), or a DeviceError."""
    for name in [os.environ.get(COMPILER_ENV), "cc", "gcc", "clang"]:
        if name and shutil.which(name.split()[0]):
            return name
    raise DeviceError("no C compiler found to build the edgecxr engine on this computer",
                      "install one (Debian/Ubuntu: sudo apt-get install gcc) or set CC, "
                      "or pass --kernels reference to use TFLite's reference kernels")


def build(gen: Generated, cache: Path | None = None) -> Path:
    """The shared library of ``gen`` (built once, then taken from the cache)."""
    from edgecxr.resources import cache_dir

    cc = compiler()
    key = hashlib.sha256("\0".join([cc, *CFLAGS, *(gen.files[n] for n in sorted(gen.files))]).encode()).hexdigest()
    folder = Path(cache) if cache else cache_dir("engine")
    lib = folder / f"{key[:32]}.so"
    if lib.is_file():
        return lib
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgecxr-engine-") as tmp:
        gen.write(tmp)
        out = Path(tmp) / "model.so"
        proc = subprocess.run([*cc.split(), *CFLAGS, "-o", str(out), str(Path(tmp) / SOURCE)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            said = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
            raise DeviceError(f"{cc} could not build the generated engine: {said}",
                              "report this with the model; pass --kernels reference meanwhile")
        staged = folder / f".{lib.name}.{os.getpid()}"
        shutil.copyfile(out, staged)  # the temp folder may be on another file system
        os.replace(staged, lib)  # atomic: a concurrent build of the same key finds a whole library
    return lib


class HostEngine:
    """A model's generated C, compiled for this computer: ``engine(x)`` -> int8 output."""

    def __init__(self, model: str | Path | bytes, cache: Path | None = None):
        self.generated = generate(model)
        self.lib = _load(build(self.generated, cache))
        self.input_shape = self.generated.graph.input.shape
        self.output_shape = self.generated.graph.output.shape
        self._out = np.zeros(self.output_shape, np.int8)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(self.input_shape)
        out = np.zeros(self.output_shape, np.int8)
        self.lib.edgecxr_invoke(x.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p))
        return out


class DeviceEngine(HostEngine):
    """HostEngine with the TFLite interpreter's face (input/output details, a batch of one in and
    out), so edgecxr.device.runtime.Model runs it as the ``engine`` kernel family."""

    def __init__(self, content: bytes):
        super().__init__(content)
        g = self.generated.graph
        self.input, self.output = _details(g.input), _details(g.output)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return super().__call__(x).reshape(self.output["shape"])


def _details(t) -> dict:
    return {"index": t.index, "shape": np.array(t.shape, np.int32), "dtype": np.int8,
            "quantization_parameters": {"scales": np.array(t.quant.scale, np.float32),
                                        "zero_points": np.array(t.quant.zero_point, np.int32)}}


@lru_cache(maxsize=8)
def _load(path: Path):
    lib = ctypes.CDLL(str(path))
    lib.edgecxr_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.edgecxr_invoke.restype = ctypes.c_int
    return lib

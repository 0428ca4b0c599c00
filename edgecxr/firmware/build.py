"""Building the exported firmware and reading flash and RAM from the ELF. With edgecxr's own
engine (``engine="edgecxr"``) that is one make call: the generated C, the main loop and the
board, arm-none-eabi-gcc and newlib only. With TFLM: find the TFLM tree, compile only the TFLM
files the model needs into a shared object cache, link.

The project's own Makefile does the work (one set of flags); this module chooses its inputs:
``TFLM_SRCS`` (the runtime core, the kernels that define the model's registrations and their
``*_common`` siblings, and for CMSIS-NN the library functions the link asks for) and
``TFLM_OBJ_DIR`` under ``~/.cache/edgecxr/tflm/<core, kernel set, flags>``, so the second build
of any model takes seconds.

Every ``VAR=value`` on make's command line is expanded by make (``$(shell ...)`` would run) and
again by the shell in a recipe, so no value a user chose goes there as it is: paths (the
``--tflm`` tree, the cache folder, the build folder) and the tree's listed file names must be
plain (``make_safe``); the board's values were checked when the board table was read.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgecxr.errors import ConfigError, DeviceError
from edgecxr.resources import cache_dir

TFLM_ENV = "EDGECXR_TFLM_DIR"
CACHE_ENV = "EDGECXR_TFLM_CACHE"
# TFLM kernel set -> its source lists in the tree (firmware builds, flash and the emulated bench)
KERNEL_SETS = {"reference": ["kernels_ref.txt"], "cmsis-nn": ["kernels_cmsis.txt", "cmsis_nn.txt"]}
TOOLS = {"make": "apt install make", "arm-none-eabi-gcc": "apt install gcc-arm-none-eabi libnewlib-arm-none-eabi",
         "arm-none-eabi-g++": "apt install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"}
ENGINE_TOOLS = ("make", "arm-none-eabi-gcc")  # edgecxr's own engine needs no C++
STACK_BYTES = 8192  # the Makefile's STACK_BYTES: the stack the linker script reserves
KERNELS_DIR = "tensorflow/lite/micro/kernels/"
SUPPORT_KERNELS = ("kernel_util.cc", "micro_tensor_utils.cc")  # helpers every kernel links against
BUILD_TIMEOUT = 1800
_UNDEFINED = re.compile(r"undefined reference to `([A-Za-z_]\w*)")
_C_DEFINITION = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(arm_\w+)\s*\([^;{]*\)\s*\{", re.M)
# What make and the shell read literally in a path; a path with anything else is refused.
_MAKE_SAFE = re.compile(r"[A-Za-z0-9_./+-]+")
_LISTED_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+-]*")
TREE_HINT = (f"pass --tflm DIR or set {TFLM_ENV} to a TensorFlow Lite Micro tree with sources/*.txt "
             "(README: 'The TFLM tree')")


def check_tools(extra: tuple[str, ...] = (), engine: str = "tflm") -> None:
    tools = {t: how for t, how in TOOLS.items() if engine == "tflm" or t in ENGINE_TOOLS}
    for tool, how in [*tools.items(), *((t, "apt install qemu-system-arm") for t in extra)]:
        if not shutil.which(tool):
            raise DeviceError(f"{tool} is not installed", how)


def tflm_tree(given: Path | None = None) -> Path:
    """The TFLM tree: ``given`` (--tflm), else $EDGECXR_TFLM_DIR; checked for its file lists."""
    path = given or (Path(os.environ[TFLM_ENV]) if os.environ.get(TFLM_ENV) else None)
    if path is None:
        raise ConfigError("no TensorFlow Lite Micro tree given", TREE_HINT)
    path = Path(path).expanduser().resolve()
    missing = [f for f in ("core.txt", *sum(KERNEL_SETS.values(), [])) if not (path / "sources" / f).is_file()]
    if not path.is_dir() or missing or not (path / "tensorflow/lite/micro/micro_interpreter.h").is_file():
        raise ConfigError(f"{path} is not a TFLM tree" + (f" (no sources/{missing[0]})" if missing else ""),
                          TREE_HINT)
    return make_safe(path, "the TFLM tree")


def make_safe(path: Path, what: str) -> Path:
    """``path`` if make and the shell read it literally; else one error naming ``what``."""
    if not _MAKE_SAFE.fullmatch(str(path)):
        bad = sorted({c for c in str(path) if not _MAKE_SAFE.fullmatch(c)})
        raise ConfigError(f"{what} {str(path)!r} holds characters that make or the shell would interpret "
                          f"({' '.join(map(repr, bad))})",
                          "use a path of letters, digits and _ . / + - (a symbolic link with such a name will do)")
    return path


def _list(tree: Path, name: str) -> list[str]:
    """The files sources/``name`` lists: plain relative names of files the tree holds."""
    listed = [ln.strip() for ln in (tree / "sources" / name).read_text(errors="replace").splitlines() if ln.strip()]
    for f in listed:
        if not _LISTED_FILE.fullmatch(f) or ".." in Path(f).parts:
            raise ConfigError(f"the TFLM tree's sources/{name} lists {f!r}, which is not a plain relative file name",
                              "list files as relative paths of letters, digits and _ . / + - (README: 'The TFLM tree')")
        if not (tree / f).is_file():
            raise ConfigError(f"the TFLM tree's sources/{name} lists {f}, which {tree} does not hold",
                              "use a complete TFLM tree (README: 'The TFLM tree')")
    return listed


def kernel_sources(tree: Path, kernels: str, registrations: list[str]) -> list[str]:
    """The kernel files that define ``registrations`` (e.g. Register_CONV_2D), their
    ``*_common.cc`` siblings and the shared helpers; a registration no file defines is an error."""
    listed = [f for f in _list(tree, KERNEL_SETS[kernels][0]) if f.startswith(KERNELS_DIR)]
    chosen = {f for f in listed if f.endswith(SUPPORT_KERNELS)}
    for reg in registrations:
        define = re.compile(rf"^TFLMRegistration {reg}\(\)", re.M)
        files = [f for f in listed if define.search((tree / f).read_text(errors="replace"))]
        if not files:
            raise DeviceError(f"the TFLM tree {tree} has no {kernels} kernel defining {reg}()",
                              "use a complete TFLM tree (README: 'The TFLM tree') or --kernels reference")
        for f in files:
            stem = Path(f).stem
            chosen |= {g for g in listed if Path(g).stem in (stem, f"{stem}_common")}
    return sorted(chosen)


@dataclass
class Build:
    """One firmware build: project folder, board, engine (TFLM: its kernel set and tree), where
    objects and the ELF go."""

    project: Path
    board: object  # edgecxr.targets.table.Board (emulated)
    kernels: str  # TFLM's kernel set; edgecxr's own engine: "generated"
    tree: Path | None  # the TFLM tree (None for the own engine)
    out: Path
    profile: bool = False
    engine: str = "tflm"

    @property
    def elf(self) -> Path:
        return self.out / "firmware.elf"

    def obj_dir(self) -> Path:
        """Objects shared by every model: keyed by core flags, kernel set, compiler and tree."""
        gcc = subprocess.run(["arm-none-eabi-g++", "--version"], capture_output=True, text=True).stdout
        makefile = (self.project / "Makefile").read_text()
        key = hashlib.sha256("\n".join([self.board.gcc_cpu, self.kernels, gcc, str(self.tree), makefile])
                             .encode()).hexdigest()[:16]
        base = Path(os.environ.get(CACHE_ENV) or cache_dir("tflm"))
        return base / f"{self.board.core}-{self.kernels}-{key}"

    def make_args(self, sources: list[str], jobs: int) -> list[str]:
        """make's command line; every path on it checked by ``make_safe``."""
        out = make_safe(self.out, "the firmware build folder")
        common = [f"BOARD={self.board.key}", f"BUILD_DIR={out}", f"ELF={out / self.elf.name}",
                  f"PROFILE={int(self.profile)}"]
        if self.engine == "edgecxr":
            return ["make", "-C", str(self.project), f"-j{jobs}", "ENGINE=edgecxr", *common]
        tree = make_safe(self.tree, "the TFLM tree")
        objs = make_safe(self.obj_dir(), "the TFLM object cache folder")
        return ["make", "-C", str(self.project), f"-j{jobs}", "ENGINE=tflm", f"TFLM_DIR={tree}",
                f"KERNELS={self.kernels}", *common, f"TFLM_OBJ_DIR={objs}", f"TFLM_SRCS={' '.join(sources)}"]

    def make(self, sources: list[str], jobs: int) -> subprocess.CompletedProcess:
        return subprocess.run(self.make_args(sources, jobs), capture_output=True, text=True, timeout=BUILD_TIMEOUT)


def _fail(proc: subprocess.CompletedProcess, build: Build) -> None:
    text = proc.stderr + proc.stdout
    if "does not fit the board's flash" in text or "do not fit the board's RAM" in text:
        what = "flash" if "flash" in text.split("edgecxr:")[-1] else "RAM"
        raise DeviceError(f"the firmware does not fit {build.board.name}'s {what}",
                          "use a smaller model (alpha, input size) or a board with more memory")
    errors = [ln for ln in text.splitlines() if re.search(r"error:|undefined reference", ln)]
    errors = errors or text.strip().splitlines()[-1:] or [f"make exited with status {proc.returncode}"]
    # the build folder itself may be temporary
    log = (build.obj_dir().parent if build.engine == "tflm" else Path(cache_dir("firmware"))) / "last-build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(text)
    raise DeviceError(f"building the firmware failed: {errors[0].strip()[:300]}", f"the whole log: {log}")


def _c_functions(tree: Path, files: list[str]) -> dict[str, str]:
    """{function: file} of the functions the C ``files`` define (CMSIS-NN: arm_*)."""
    return {name: f for f in files for name in _C_DEFINITION.findall((tree / f).read_text(errors="replace"))}


def check_fits(gen, board) -> None:
    """Refuse, before compiling, a plan the board cannot hold: RAM = static arena + input and
    output buffers + the reserved stack; flash = the constant data alone (code comes on top)."""
    ram = gen.plan.arena + gen.graph.input.nbytes + gen.graph.output.nbytes + STACK_BYTES
    flash = sum(t.nbytes for t in gen.graph.tensors if t.is_constant)
    ram_budget, flash_budget = int((board.ram_kb - board.reserved_ram_kb) * 1024), int(board.flash_kb * 1024)
    for what, need, have in (("RAM", ram, ram_budget), ("flash", flash, flash_budget)):
        if need > have:
            detail = (f"arena {gen.plan.arena} + input/output {gen.graph.input.nbytes + gen.graph.output.nbytes}"
                      f" + stack {STACK_BYTES}" if what == "RAM" else "weights and constants")
            raise DeviceError(f"the model needs {need} bytes of {what} on {board.name} ({detail}), "
                              f"which has {have}", "use a smaller model (alpha, input size) or a board with more memory")


def registrations(model) -> list[str]:
    """The TFLM registration functions of ``model``'s operators (a path, bytes or its description,
    edgecxr.tflite_facts.describe): the kernels ``build`` links with TFLM."""
    from edgecxr.tflite_facts import builtin_ops

    return [f"Register_{op}" for op in builtin_ops(model)]


def build(b: Build, registrations: list[str] | None = None, jobs: int | None = None) -> Path:
    """Compile and link ``b``; with TFLM, CMSIS-NN library files are added as the link asks for them."""
    check_tools(engine=b.engine)
    jobs = jobs or os.cpu_count() or 1
    b.make_args([], jobs)  # every path checked before anything is compiled
    b.out.mkdir(parents=True, exist_ok=True)
    if b.engine == "edgecxr":
        proc = b.make([], jobs)
        (b.out / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            _fail(proc, b)
        return b.elf
    core = _list(b.tree, "core.txt")
    sources = core + kernel_sources(b.tree, b.kernels, registrations or [])
    library = _c_functions(b.tree, _list(b.tree, "cmsis_nn.txt")) if b.kernels == "cmsis-nn" else {}
    for _ in range(8):  # each round adds the library functions the last link missed
        proc = b.make(sources, jobs)
        (b.out / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode == 0:
            return b.elf
        wanted = {library[s] for s in _UNDEFINED.findall(proc.stderr) if s in library} - set(sources)
        if not wanted:
            break
        sources += sorted(wanted)
    _fail(proc, b)
    raise AssertionError("unreachable")


def sizes(elf: Path) -> dict:
    """Flash (.text + .rodata + .data + tables) and RAM (.data + .bss with the arena) in bytes."""
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    flash = sum(sections.get(s, 0) for s in (".text", ".rodata", ".ARM.exidx", ".init_array", ".data"))
    return {"flash_bytes": flash, "ram_bytes": sections.get(".data", 0) + sections.get(".bss", 0),
            "text_bytes": sections.get(".text", 0), "rodata_bytes": sections.get(".rodata", 0),
            "data_bytes": sections.get(".data", 0), "bss_bytes": sections.get(".bss", 0)}

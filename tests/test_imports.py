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


def _loaded_by(package: str) -> set[str]:
    """The edgecxr modules that importing every module of ``package`` loads."""
    probe = ("import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
             "print(' '.join(m for m in sys.modules if m.startswith('edgecxr')))")
    names = [n for n in _modules() if n == package or n.startswith(package + ".")]
    out = subprocess.run([sys.executable, "-c", probe, *names], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_export_does_not_import_bench():
    """Shared facts (boards, kernel sets, .tflite facts, the runtime chain) live with their owners."""
    loaded = _loaded_by("edgecxr.export")
    assert "edgecxr.export.formats" in loaded and not [m for m in loaded if m.startswith("edgecxr.bench")]


def test_the_device_package_imports_nothing_else_of_edgecxr():
    loaded = _loaded_by("edgecxr.device")
    assert "edgecxr.device.runtime" in loaded and loaded <= {"edgecxr"} | {m for m in loaded if m.startswith("edgecxr.device")}


def _import_graph() -> dict[str, set[str]]:
    """edgecxr module -> the edgecxr modules it imports, anywhere in its code (a function-level
    import is a dependency too). ``from pkg import name`` counts the submodule when ``name`` is
    one; a module's own parent packages are not counted (Python runs them first, whatever the code)."""
    import ast

    root = Path(edgecxr.__file__).parent
    paths = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def owner(name: str) -> str:
        while name not in paths:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names}
        graph[module] = {owner(n) for n in found if n.split(".")[0] == "edgecxr"} - {module} \
            - {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import loops: strongly connected components of more than one module (Tarjan)."""
    index, low, stack, loops = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            loop = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(loop) > 1:
                loops.append(sorted(loop))

    for v in graph:
        if v not in index:
            visit(v)
    return loops


def test_no_import_loop_between_edgecxr_modules():
    """Without a loop the modules form levels, each importing only from below (no upward import)."""
    graph = _import_graph()
    assert "edgecxr.engine.parse" in graph["edgecxr.tflite_facts"]  # the graph sees real edges
    assert _cycles(graph) == []


def test_the_loop_finder_finds_a_loop():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

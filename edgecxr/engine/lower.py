"""lower: a parsed graph -> one Kernel per operator, or the one error that says why not.

The engine runs single-subgraph int8 models whose every operator is in kernels.OPS; a float
model, an operator it lacks or an option it does not handle is refused here, before any file
is written, with the hint to use the TFLM engine."""

from __future__ import annotations

from edgecxr.engine.kernels import OPS, TFLM_HINT, Kernel, unsupported
from edgecxr.engine.parse import Graph
from edgecxr.errors import ModelError


def check_model(graph: Graph) -> None:
    """A ModelError unless the engine can run ``graph`` (int8 in and out, one subgraph, known ops)."""
    if graph.subgraphs != 1:
        raise unsupported(f"models with {graph.subgraphs} subgraphs (control flow)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise unsupported(f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs (it takes one of each)")
    for role, t in (("input", graph.input), ("output", graph.output)):
        if t.dtype != "int8":
            raise ModelError(f"the edgecxr engine runs int8 models only; this model's {role} is {t.dtype}",
                             f"quantize it (`edgecxr quantize`) and export the int8 model, or {TFLM_HINT}")
    missing = sorted({op.code for op in graph.operators if op.code not in OPS})
    if missing:
        raise unsupported(f"the operator{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def lower(graph: Graph) -> list[Kernel]:
    check_model(graph)
    return [OPS[op.code](graph, op) for op in graph.operators]

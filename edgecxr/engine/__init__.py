"""edgecxr's own int8 inference engine: C generated from a .tflite, bit-exact with TFLite's
reference kernels, no interpreter, no flatbuffer and no malloc at run time.

    parse   .tflite -> Graph (typed tensors, quantization, constants, operators)   parse.py
    lower   Graph -> one Kernel per operator (or one error naming what is missing)  lower.py, kernels/
    plan    tensor lifetimes, in-place layers, offsets in one static arena          plan.py
    emit    C99 sources                                                             emit.py

Generated files (stable names):

    edgecxr_model.h   #define EDGECXR_INPUT_BYTES, EDGECXR_OUTPUT_BYTES, EDGECXR_INPUT_HEIGHT,
                      EDGECXR_INPUT_WIDTH, EDGECXR_INPUT_CHANNELS, EDGECXR_INPUT_DIMS,
                      EDGECXR_INPUT_SHAPE, EDGECXR_OUTPUT_DIMS, EDGECXR_OUTPUT_SHAPE,
                      EDGECXR_INPUT_SCALE, EDGECXR_INPUT_ZERO_POINT, EDGECXR_OUTPUT_SCALE,
                      EDGECXR_OUTPUT_ZERO_POINT, EDGECXR_ARENA_BYTES, EDGECXR_LAYERS, EDGECXR_MACS,
                      EDGECXR_MODEL_SHA256;
                      int edgecxr_invoke(const int8_t *input, int8_t *output);  (returns 0)
                      extern const char *const edgecxr_layer_ops[EDGECXR_LAYERS];
    edgecxr_model.c   weights (const), the arena (static), the layers, edgecxr_invoke()
    edgecxr_ops.h     fixed-point helpers (included by edgecxr_model.c only)

Build: any C99 compiler, ``-std=c99`` (which keeps -ffp-contract=off: the few float32 steps
TFLite takes in SOFTMAX/MEAN must not be fused). Cortex-M cores with the DSP extension use
ACLE intrinsics automatically (``__ARM_FEATURE_DSP``). Compile edgecxr_model.c with
``-DEDGECXR_LAYER_HOOK(i)=my_hook(i)`` to run code before each layer (and after the last).

    generate(model) -> Generated(files, plan, graph, kernels)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgecxr.engine.emit import FILES, HEADER, OPS_HEADER, SOURCE, emit
from edgecxr.engine.kernels import Kernel
from edgecxr.engine.lower import check_model, lower
from edgecxr.engine.parse import Graph, parse
from edgecxr.engine.plan import Plan, make_plan


@dataclass
class Generated:
    files: dict[str, str]  # file name -> C text
    graph: Graph
    kernels: list[Kernel]
    plan: Plan

    def plan_table(self) -> str:
        return self.plan.table(self.graph, self.kernels)

    def write(self, folder: str | Path) -> list[Path]:
        from edgecxr.files import write_all

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {folder / name: text.encode() for name, text in self.files.items()}
        write_all(paths)
        return list(paths)


def generate(model: str | Path | bytes) -> Generated:
    """The C sources of ``model`` (a .tflite path or its bytes); a ModelError when the engine
    cannot run it."""
    from edgecxr.tflite_facts import check_tflite

    content = model if isinstance(model, bytes) else check_tflite(Path(model))
    graph = parse(content)
    kernels = lower(graph)
    plan = make_plan(graph, kernels)
    return Generated(emit(graph, plan, kernels, content), graph, kernels, plan)


__all__ = ["FILES", "HEADER", "SOURCE", "OPS_HEADER", "Generated", "generate", "check_model", "parse"]

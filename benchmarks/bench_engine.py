"""edgecxr's own int8 engine on the host: bit-exactness with TFLite's reference kernels on real
X-rays, speed next to the TFLite kernel families, and the memory plan (arena vs the largest
single tensor) for a run's int8 model (MobileNetV1 0.25 96x96x1 from `edgecxr train`).

The engine is the C generated from the .tflite (edgecxr.engine), compiled by the host's C
compiler: the code a microcontroller runs. Every image's int8 outputs are compared with
np.array_equal against LiteRT's BUILTIN_REF kernels.

    python benchmarks/bench_engine.py RUN [--data ../shared/data/kermany224] [--images 1000]
    python benchmarks/bench_engine.py --zoo      # every model of the table, random weights, tiny input
    python benchmarks/bench_engine.py RUN --qemu-m4   # + instructions per layer on QEMU's Cortex-M4 (mps2-an386)

RUN: a run directory with an int8 model (`edgecxr train` + `edgecxr quantize --int8`); for the
figures in the README: `edgecxr train --data ../shared/data/kermany224 --recipe si-edge-impulse
--epochs 3 --backbone none` then `edgecxr quantize RUN --int8`.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from edgecxr.cli.common import table
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_folder
from edgecxr.engine import generate
from edgecxr.runs import Run
from edgecxr.runtimes import TFLiteModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kermany224"
LARGEST_NOTE = "largest single tensor of MobileNetV1 0.25 96x96x1: 48x48x16 = 36,864 B (issue 19)"


def _images(folder: Path, n: int, seed: int) -> list[Path]:
    paths = sorted(s.path for s in scan_folder(folder).samples)
    rng = np.random.default_rng(seed)
    return [paths[i] for i in sorted(rng.choice(len(paths), min(n, len(paths)), replace=False))]


def _timed(model: TFLiteModel, tensors: np.ndarray) -> tuple[np.ndarray, float]:
    """Raw outputs of every tensor, and the median milliseconds per image."""
    outs, times = [], []
    for t in tensors:
        start = time.perf_counter()
        outs.append(model.invoke(t))
        times.append(time.perf_counter() - start)
    return np.stack(outs), 1000 * float(np.median(times))


def zoo(n: int) -> None:
    """Every model of the model table (mondal_xception included) at its smallest input, random
    weights, full int8: on how many of n inputs (saturating ones included) the engine equals
    the reference kernels. Minutes: Xception's 21 M parameters are slow to convert."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from edgecxr.models.zoo import MODELS
    from tests.test_engine_zoo import check_exact, zoo_int8

    rows = []
    for name in MODELS:
        start = time.perf_counter()
        content = zoo_int8(name)
        same, distinct = check_exact(content, None, n)
        ops = sorted({op.code for op in generate(content).graph.operators})
        rows.append({"model": name, "identical": f"{same}/{n}", "distinct_outputs": distinct,
                     "seconds": round(time.perf_counter() - start, 1), "operators": " ".join(ops)})
        print(table(rows[-1:], list(rows[0])), flush=True)
    print(table(rows, list(rows[0])))


# A bare-metal probe: one inference on a fixed pseudo-random image, the CMSDK timer read before
# every layer (QEMU -icount shift=0: 1 ns of virtual time per instruction, calibrated at boot).
PROBE = r"""
#include <stdint.h>
#include "semihosting.h"
#include "edgecxr_model.h"
struct timer { volatile uint32_t ctrl, value, reload, intstatus; };
#define TIMER ((struct timer *)0x40000000u)
static uint32_t ticks(void) { return 0xFFFFFFFFu - TIMER->value; }
static void __attribute__((noinline)) spin(uint32_t n) { __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc"); }
static uint32_t at[EDGECXR_LAYERS + 1];
void probe_hook(int i) { at[i] = ticks(); }
static void num(uint32_t v) { char b[16]; int i = 15; b[i] = 0; do { b[--i] = (char)('0' + v % 10u); v /= 10u; } while (v);
  semihosting_write0(&b[i]); semihosting_write0(" "); }
static int8_t in[EDGECXR_INPUT_BYTES], out[EDGECXR_OUTPUT_BYTES];
extern uint32_t edgecxr_stack_peak(void);
void SysTick_Handler(void);  /* the board start-up's vector; this harness keeps no time */
void SysTick_Handler(void) {}
int main(void) {
  uint32_t s, t, i, x = 12345u, per_tick;
  TIMER->reload = 0xFFFFFFFFu; TIMER->value = 0xFFFFFFFFu; TIMER->ctrl = 1u;
  s = ticks(); spin(1000000u); t = ticks() - s; per_tick = t ? (2000000u + t / 2u) / t : 1u;
  for (i = 0; i < EDGECXR_INPUT_BYTES; ++i) { x = x * 1103515245u + 12345u; in[i] = (int8_t)(x >> 24); }
  edgecxr_invoke(in, out);
  semihosting_write0("stack "); num(edgecxr_stack_peak()); semihosting_write0("\n");
  for (i = 0; i < EDGECXR_LAYERS; ++i) { semihosting_write0("layer "); num((at[i + 1] - at[i]) * per_tick); semihosting_write0("\n"); }
  return 0;
}
"""


def qemu_m4(gen, folder: Path) -> None:
    """Instructions per layer and per MAC of the generated C on QEMU's Cortex-M4F (DSP path)."""
    import subprocess

    from edgecxr.resources import resource

    board = resource("firmware_bundle/firmware/boards/qemu")
    gen.write(folder)
    (folder / "probe.c").write_text(PROBE)
    (folder / "hook.h").write_text("void probe_hook(int i);\n")
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    common = [*cpu, "-O2", "-ffunction-sections", "-fdata-sections", "-fno-tree-loop-distribute-patterns",
              f"-I{folder}", f"-I{board}"]
    steps = [["-std=c99", "-c", str(folder / "probe.c"), "-o", str(folder / "probe.o")],
             ["-std=c99", "-Wall", "-Wextra", "-Werror", "-include", str(folder / "hook.h"),
              "-DEDGECXR_LAYER_HOOK(i)=probe_hook(i)", "-c", str(folder / "edgecxr_model.c"), "-o", str(folder / "model.o")],
             ["-std=gnu99", "-c", str(board / "startup.c"), "-o", str(folder / "startup.o")]]
    for step in steps:
        subprocess.run(["arm-none-eabi-gcc", *common, *step], check=True)
    elf = folder / "probe.elf"
    subprocess.run(["arm-none-eabi-gcc", *cpu, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
                    "-Wl,--gc-sections", "-L", str(board), "-T", str(board / "mps2.ld"), "-Wl,--defsym=EDGECXR_FLASH_BYTES=4194304",
                    "-Wl,--defsym=EDGECXR_RAM_BYTES=4194304", "-Wl,--defsym=EDGECXR_STACK_BYTES=8192",
                    *(str(folder / f) for f in ("probe.o", "model.o", "startup.o")), "-o", str(elf)], check=True)
    run = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-icount", "shift=0",
                          "-semihosting-config", "enable=on,target=native", "-nographic", "-monitor", "none",
                          "-serial", "none", "-kernel", str(elf)], capture_output=True, text=True, timeout=900,
                         stdin=subprocess.DEVNULL)
    lines = (run.stdout + run.stderr).splitlines()
    counts = [int(line.split()[1]) for line in lines if line.startswith("layer")]
    stack = next(int(line.split()[1]) for line in lines if line.startswith("stack"))
    rows, by_op = [], {}
    for i, (k, n) in enumerate(zip(gen.kernels, counts)):
        rows.append({"#": i, "op": k.op.code, "note": k.note, "MACs": k.macs, "instructions": n,
                     "instr/MAC": round(n / k.macs, 2) if k.macs else "-"})
        total = by_op.setdefault(k.op.code, [0, 0])
        total[0], total[1] = total[0] + k.macs, total[1] + n
    macs = sum(k.macs for k in gen.kernels)
    print(f"\nqemu-m4 (mps2-an386, Cortex-M4F, DSP path), one image: {sum(counts)} instructions, "
          f"{sum(counts) / macs:.2f} per MAC; stack peak {stack} B (target: <= 1.6 per MAC)")
    print(table([{"op": op, "MACs": m, "instructions": n, "instr/MAC": round(n / m, 2) if m else "-",
                  "share": f"{100 * n / sum(counts):.0f} %"} for op, (m, n) in by_op.items()],
                ["op", "MACs", "instructions", "instr/MAC", "share"]))
    print(table(rows, list(rows[0])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, nargs="?")
    p.add_argument("--zoo", action="store_true", help="check every model of the table instead of a run")
    p.add_argument("--qemu-m4", action="store_true", help="also count instructions per layer on QEMU's Cortex-M4")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("EDGECXR_BENCH_DATA", DATA)))
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.zoo:
        return zoo(50)
    if args.run is None:
        p.error("pass a run directory (or --zoo)")
    run = Run.open(args.run)
    choice = run.int8()
    spec, model_file, model_path = run.spec(), choice.artifact.file, choice.path
    gen = generate(model_path)
    paths = _images(args.data, args.images, args.seed)
    pixels = load_pixels(paths, spec, progress=False)
    families = {name: TFLiteModel(model_path, runtime="litert" if name != "engine" else None, threads=1, kernels=name)
                for name in ("reference", "engine", "builtin", "xnnpack")}
    tensors = np.stack([families["reference"].input_tensor(px) for px in pixels.x])
    raw, ms = {}, {}
    for name, model in families.items():
        raw[name], ms[name] = _timed(model, tensors)
    ref = raw["reference"]
    rows = []
    for name in families:
        same = int(sum(np.array_equal(a, b) for a, b in zip(raw[name], ref)))
        steps = int(np.max(np.abs(raw[name].astype(int) - ref.astype(int))))
        rows.append({"kernels": name, "images": len(ref), "identical_to_reference": same,
                     "max_step_difference": steps, "median_ms": round(ms[name], 3)})
    # saturating inputs (all -128, all 127) too: the clamps and the softmax table's ends
    extremes = [np.full(tensors.shape[1:], v, np.int8) for v in (-128, 127)]
    extreme_same = sum(np.array_equal(families["engine"].invoke(x), families["reference"].invoke(x)) for x in extremes)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; run {run.path}; "
          f"model {model_file} ({sum(k.macs for k in gen.kernels)} MACs, {len(gen.kernels)} layers); "
          f"{len(ref)} X-rays from {args.data} (seed {args.seed}), 1 thread")
    print(table(rows, list(rows[0])))
    distinct = len({r.tobytes() for r in ref})
    spread = ref.astype(int)
    print(f"reference outputs: {distinct} distinct int8 vectors over {len(ref)} images, values {spread.min()}..{spread.max()}"
          + (" -- a collapsed model: this proves little, use a trained run" if distinct < 10 else ""))
    print(f"saturating inputs (all -128, all 127): engine identical on {extreme_same}/2")
    print(f"\nmemory plan (edgecxr.engine.plan): arena {gen.plan.arena} B = largest tensor "
          f"{gen.plan.largest_tensor} B + {gen.plan.arena - gen.plan.largest_tensor} B "
          f"({100 * (gen.plan.arena / gen.plan.largest_tensor - 1):.1f} % over); {LARGEST_NOTE}")
    print(gen.plan_table())
    if args.qemu_m4:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="edgecxr-bench-engine-") as tmp:
            qemu_m4(gen, Path(tmp))


if __name__ == "__main__":
    main()

"""The engine's generated C, compiled on the host, equals TFLite's reference kernels bit for bit
on random small int8 graphs (kernels 1/3/5, strides 1/2, SAME and VALID, odd sizes, channel
counts that are not multiples of 4, per-tensor and per-channel weights, extreme zero points and
multipliers) and on inputs that saturate."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine_graphs import Reference, convert, inputs, randomize

pytestmark = pytest.mark.slow


def _graph_separable(k):
    """conv k3 s2 SAME -> dw k3 s1 SAME -> 1x1 expand -> dw k5 s2 VALID -> 1x1 shrink -> GAP -> softmax."""
    L = k.layers
    inp = k.Input((13, 11, 3))
    x = L.Conv2D(5, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.ReLU()(x)
    x = L.Conv2D(7, 1)(x)
    x = L.DepthwiseConv2D(5, strides=2, padding="valid")(x)
    x = L.Conv2D(3, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return k.Model(inp, L.Dense(4, activation="softmax")(x))


def _graph_pointwise(k):
    """1x1 chains on 42 pixels (groups of 8 and a tail of 2): 8 -> 12 channels (whole words,
    expanding: walked backwards in place), 12 -> 6 (forwards), 6 -> 5 (rows padded to words)."""
    L = k.layers
    inp = k.Input((7, 6, 8))
    x = L.Conv2D(12, 1, activation="relu")(inp)
    x = L.Conv2D(6, 1)(x)
    x = L.BatchNormalization()(x)
    x = L.Conv2D(5, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return k.Model(inp, L.Dense(3, activation="softmax")(x))


def _graph_pools(k):
    """conv k5 VALID -> max-pool 3 s2 SAME -> 1x1 s2 conv -> avg-pool 2 -> flatten -> dense -> sigmoid."""
    L = k.layers
    inp = k.Input((17, 15, 1))
    x = L.Conv2D(6, 5, padding="valid", activation="relu")(inp)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Conv2D(9, 1, strides=2)(x)
    x = L.AveragePooling2D(2, padding="valid")(x)
    x = L.Flatten()(x)
    x = L.Dense(5, activation="relu")(x)
    return k.Model(inp, L.Dense(1, activation="sigmoid")(x))


def _graph_residual(k):
    """conv + skip ADD -> standalone RELU (the sum is read again) -> dw multiplier 2 s2 ->
    x * gate (MUL) -> max-pool 3 s2 SAME -> mean keepdims -> dense -> softmax."""
    L = k.layers
    inp = k.Input((9, 9, 4))
    s = L.Add()([L.Conv2D(4, 3, padding="same")(inp), inp])
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(L.ReLU()(s))
    g = L.Conv2D(8, 1, strides=2, activation="sigmoid")(s)
    x = L.Multiply()([x, g])
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Lambda(lambda t: k.backend.mean(t, axis=[1, 2], keepdims=True))(x)
    x = L.Flatten()(x)
    return k.Model(inp, L.Dense(3, activation="softmax")(x))


def _graph_paper_bn(k):
    """paper-order BN (MUL/ADD left in the graph), conv k3 s2 VALID on an even size."""
    L = k.layers
    inp = k.Input((12, 10, 2))
    x = L.Conv2D(3, 3, padding="same", activation="relu")(inp)
    x = L.BatchNormalization()(x)
    x = L.Conv2D(5, 3, strides=2, padding="valid")(x)
    x = L.ReLU(6.0)(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    return k.Model(inp, L.Dense(2, activation="softmax")(x))


def _graph_depthwise_wide(k):
    """3x3 depthwise layers on channels in fours after an expanding stage, so that later, smaller
    tensors leave the in-place buffer a tail the plan gives their widened ring (the fast DSP
    variant): dw s2 SAME (right/bottom padding), s1 SAME (all borders), s1 VALID, odd widths."""
    L = k.layers
    inp = k.Input((12, 9, 3))
    x = L.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = L.Conv2D(8, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same")(x)
    x = L.ReLU(6.0)(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="valid")(x)
    x = L.GlobalAveragePooling2D()(x)
    return k.Model(inp, L.Dense(3, activation="softmax")(x))


# (builder, per-channel weights, calibration range): ranges off zero give extreme zero points
# (all positive -> -128, all negative -> 127) and tiny ones extreme multipliers
CASES = {
    "separable-per-channel": (_graph_separable, True, (0.0, 1.0)),
    "separable-per-tensor-tiny-scale": (_graph_separable, False, (0.0, 0.01)),
    "pointwise": (_graph_pointwise, True, (-1.0, 1.0)),
    "pools-negative-input": (_graph_pools, True, (-100.0, -99.0)),
    "pools-per-tensor": (_graph_pools, False, (-1.0, 1.0)),
    "residual": (_graph_residual, True, (-2.0, 3.0)),
    "paper-bn": (_graph_paper_bn, True, (0.0, 255.0)),
    "depthwise-wide": (_graph_depthwise_wide, True, (-1.0, 1.0)),
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from edgecxr.tfenv import keras, set_seed

    k = keras()
    out = {}
    for i, (name, (builder, per_channel, (low, high))) in enumerate(CASES.items()):
        set_seed(i)
        model = builder(k)
        randomize(model, i)
        out[name] = convert(model, seed=i, per_channel=per_channel, low=low, high=high)
    return out


@pytest.fixture(scope="module")
def engine_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("engine-builds")


@pytest.mark.parametrize("case", list(CASES))
def test_random_graph_bit_exact(converted, engine_cache, case):
    from edgecxr.engine.host import HostEngine

    content = converted[case]
    ref, eng = Reference(content), HostEngine(content, cache=engine_cache)
    xs = inputs(ref.shape[1:], 40, seed=hash(case) % 1000)
    outputs = [ref(x[None]) for x in xs]
    mismatched = [i for i, (x, want) in enumerate(zip(xs, outputs)) if not np.array_equal(eng(x), want)]
    assert mismatched == [], f"{case}: engine differs from the reference kernels on inputs {mismatched}"
    # the comparison is not vacuous: the outputs vary with the input
    assert len({o.tobytes() for o in outputs}) > 1


def test_per_tensor_case_really_is_per_tensor(converted):
    from edgecxr.engine.parse import parse

    g = parse(converted["separable-per-tensor-tiny-scale"])
    weights = [g.tensors[op.inputs[1]] for op in g.operators if op.code in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert weights and not any(w.quant.per_channel for w in weights)
    g = parse(converted["separable-per-channel"])
    assert any(g.tensors[op.inputs[1]].quant.per_channel for op in g.operators if op.code == "CONV_2D")


def test_cases_cover_the_operators(converted):
    from edgecxr.engine.parse import parse

    ops = {op.code for content in converted.values() for op in parse(content).operators}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
            "ADD", "MUL", "RESHAPE", "SOFTMAX", "LOGISTIC", "RELU"} <= ops


def test_extreme_zero_points_reach_the_engine(converted):
    from edgecxr.engine.parse import parse

    assert parse(converted["pools-negative-input"]).input.zero_point == 127
    assert parse(converted["separable-per-tensor-tiny-scale"]).input.zero_point == -128


def test_wide_depthwise_only_where_it_costs_no_arena(converted):
    """The fast 3x3 depthwise variant (its widened ring is larger than the plain line buffer) is
    taken where the ring fits in the tail of the in-place buffer, so the arena is the one the
    plain kernels get; a depth multiplier of 2 has no such variant."""
    import dataclasses

    from edgecxr.engine import generate
    from edgecxr.engine.plan import make_plan

    gen = generate(converted["depthwise-wide"])
    dw = {i for i, k in enumerate(gen.kernels) if k.op.code == "DEPTHWISE_CONV_2D"}
    assert len(dw) == 3 and gen.plan.fast == dw
    plain = make_plan(gen.graph, [dataclasses.replace(k, fast=None) for k in gen.kernels])
    assert not plain.fast and plain.arena == gen.plan.arena
    assert all(k.fast is None for k in generate(converted["residual"]).kernels)


def test_generated_c_compiles_warning_free(converted, tmp_path):
    """-Wall -Wextra -Werror -std=c99 with the host compiler, and for a Cortex-M4 when the ARM
    toolchain is installed (the DSP intrinsics path)."""
    import shutil
    import subprocess

    from edgecxr.engine import SOURCE, generate

    compilers = [["cc", "-std=c99", "-O2"]]
    if shutil.which("arm-none-eabi-gcc"):
        compilers.append(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
                          "-std=c99", "-O2"])
    for case in ("residual", "pools-negative-input"):
        folder = tmp_path / case
        generate(converted[case]).write(folder)
        for cc in compilers:
            proc = subprocess.run([*cc, "-Wall", "-Wextra", "-Werror", "-c", str(folder / SOURCE), "-o",
                                   str(folder / "model.o")], capture_output=True, text=True)
            assert proc.returncode == 0, f"{cc[0]} on {case}: {proc.stderr}"


QEMU_MAIN = r"""
#include <stdint.h>
#include "semihosting.h"
#include "edgecxr_model.h"
#include "inputs.h"
static int8_t out[EDGECXR_OUTPUT_BYTES];
void SysTick_Handler(void);  /* the board start-up's vector; this harness keeps no time */
void SysTick_Handler(void) {}
int main(void) {
  char line[8];
  int n, i;
  for (n = 0; n < N_INPUTS; ++n) {
    edgecxr_invoke(INPUTS[n], out);
    for (i = 0; i < EDGECXR_OUTPUT_BYTES; ++i) {
      const int v = out[i] + 128;
      line[0] = (char)('0' + v / 100); line[1] = (char)('0' + v / 10 % 10); line[2] = (char)('0' + v % 10);
      line[3] = ' '; line[4] = 0;
      semihosting_write0(line);
    }
    semihosting_write0("\n");
  }
  return 0;
}
"""


def test_cortex_m4_dsp_path_equals_the_host_build(converted, engine_cache, tmp_path):
    """The ACLE (SXTB16/SMLAD/SMLABB) kernels, built for a Cortex-M4 and run on QEMU's mps2-an386,
    give the same int8 outputs as the portable C the host runs (which equals the reference);
    depthwise-wide runs the widened-ring depthwise variant on every depthwise layer."""
    import shutil
    import subprocess

    from edgecxr.engine import SOURCE, generate
    from edgecxr.engine.host import HostEngine
    from edgecxr.resources import resource

    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        pytest.skip("the ARM toolchain or qemu-system-arm is not installed")
    board = resource("firmware_bundle/firmware/boards/qemu")
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    for case in ("separable-per-channel", "residual", "pointwise", "depthwise-wide"):
        folder = tmp_path / case
        generate(converted[case]).write(folder)
        host = HostEngine(converted[case], cache=engine_cache)
        xs = inputs(host.input_shape[1:], 6, seed=11)
        arrays = ",\n".join("{" + ", ".join(str(int(v)) for v in x.ravel()) + "}" for x in xs)
        (folder / "inputs.h").write_text(f"#define N_INPUTS {len(xs)}\nstatic const int8_t INPUTS[{len(xs)}]"
                                         f"[{xs[0].size}] = {{\n{arrays}\n}};\n")
        (folder / "main.c").write_text(QEMU_MAIN)
        elf = folder / "check.elf"
        build = ["arm-none-eabi-gcc", *cpu, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{folder}",
                 f"-I{board}", "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
                 "-fno-tree-loop-distribute-patterns", "-L", str(board), "-T", str(board / "mps2.ld"),
                 "-Wl,--defsym=EDGECXR_FLASH_BYTES=4194304", "-Wl,--defsym=EDGECXR_RAM_BYTES=4194304",
                 "-Wl,--defsym=EDGECXR_STACK_BYTES=8192", str(folder / "main.c"), str(folder / SOURCE), "-o", str(elf)]
        startup = ["arm-none-eabi-gcc", *cpu, "-O2", "-std=gnu99", "-c", str(board / "startup.c"), f"-I{board}",
                   "-o", str(folder / "startup.o")]
        assert subprocess.run(startup, capture_output=True).returncode == 0
        proc = subprocess.run([*build[:-3], str(folder / "startup.o"), *build[-3:]], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        run = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-semihosting-config",
                              "enable=on,target=native", "-nographic", "-monitor", "none", "-serial", "none",
                              "-kernel", str(elf)], capture_output=True, text=True, timeout=300,
                             stdin=subprocess.DEVNULL)
        lines = [line.split() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
        device = [np.array(line, int) - 128 for line in lines]
        assert len(device) == len(xs), run.stdout + run.stderr
        for x, got in zip(xs, device):
            assert np.array_equal(got, host(x).ravel().astype(int)), case

"""Does a model fit a microcontroller board, and how fast would it run there?

Measured, when the ARM toolchain and QEMU are installed and the board's core has an emulated
board (``measured``, from edgecxr.bench.qemu): edgecxr's own engine's firmware built for that
core and run there; RAM = its .data + .bss + measured stack peak, flash = the whole ELF's,
latency = its instructions per inference at this board's clock (and TFLM's kernel sets' beside
it when a TFLM tree was given). Otherwise estimated: RAM = the tensor arena TFLM allocates
(edgecxr.tflite_facts) + the input and output buffers; flash = model bytes + the runtime's code
for that core; latency = MACs x cycles-per-MAC / clock, for the reference kernels and the core's
optimized library, with coefficients (and their sources) in edgecxr/boards.toml.
"""

from __future__ import annotations

from pathlib import Path

from edgecxr import tflite_facts
from edgecxr.errors import DeviceError
from edgecxr.targets.table import Board, get_board

KB = 1024


def _latency_ms(macs: int, cycles_per_mac: float, clock_mhz: float) -> float:
    return round(macs * cycles_per_mac / (clock_mhz * 1e3), 3)


def _advice(ram_over_kb: float, flash_over_kb: float, is_float: bool) -> list[str]:
    """What to change, for each budget that is exceeded (activations ~ input pixels x alpha;
    weights ~ alpha^2; int8 weights are 4x smaller than float)."""
    advice = []
    if is_float and (ram_over_kb > 0 or flash_over_kb > 0):
        advice.append("quantize to int8 (`edgecxr quantize`): weights and activations shrink 4x")
    if ram_over_kb > 0:
        advice.append(f"RAM is {ram_over_kb:.0f} KB short: use a smaller input (the arena scales with "
                      "the pixel count: 64x64 needs ~0.44x of 96x96) or a smaller alpha (e.g. 0.25 -> 0.2)")
    if flash_over_kb > 0:
        advice.append(f"flash is {flash_over_kb:.0f} KB short: use a smaller alpha (weights scale with "
                      "alpha squared) or fewer layers")
    return advice


def measured_latency(instructions: int, clock_mhz: float) -> float:
    """Milliseconds at one instruction per cycle: a lower bound (no wait states, no stalls)."""
    return round(instructions / (clock_mhz * 1e3), 3)


def mcu_report(model_path: str | Path, board_key: str, devices_file: Path | None = None,
               measured: dict | None = None) -> dict:
    """Fits / does not fit on ``board_key``, with RAM and flash margins, MACs and latency estimates.

    ``measured`` ({"board": "qemu-m4", "edgecxr": row[, "reference": row, "cmsis-nn": row]}, rows of
    ``edgecxr.bench.qemu`` on the emulated board of the same core) replaces the estimates: RAM and
    flash of the own engine's firmware, latencies from instruction counts at this board's clock."""
    model_path = Path(model_path)
    content = tflite_facts.check_tflite(model_path)
    model_bytes, model = len(content), tflite_facts.describe(content)  # the model read and parsed once
    board = get_board(board_key, devices_file)
    is_float = bool(tflite_facts.float_ops(model))
    if is_float and not board.fpu:
        raise DeviceError(f"{model_path.name} is a float model and {board.name} ({board.core}) has no FPU",
                          "quantize it to int8 with `edgecxr quantize` and bench the int8 .tflite")
    arena, io = tflite_facts.measure_arena(model_path), tflite_facts.io_bytes(model)
    macs = tflite_facts.count_macs(model)
    engine = (measured or {}).get("edgecxr")
    ram_needed_kb = (engine["ram_total_bytes"] if engine else arena + io["input"] + io["output"]) / KB
    ram_available_kb = board.ram_kb - board.reserved_ram_kb
    flash_needed_kb = engine["flash_bytes"] / KB if engine else model_bytes / KB + board.runtime_code_kb
    ram_margin_kb, flash_margin_kb = ram_available_kb - ram_needed_kb, board.flash_kb - flash_needed_kb
    fits = ram_margin_kb >= 0 and flash_margin_kb >= 0
    return {
        "device": board.key, "board": board.name, "mcu": board.mcu, "core": board.core,
        "clock_mhz": board.clock_mhz, "model": model_path.name, "dtype": "float32" if is_float else "int8",
        "arena_bytes": arena, "input_bytes": io["input"], "output_bytes": io["output"],
        "ram_needed_kb": round(ram_needed_kb, 1), "ram_available_kb": ram_available_kb,
        "ram_margin_kb": round(ram_margin_kb, 1),
        "model_bytes": model_bytes, "runtime_code_kb": board.runtime_code_kb,
        "flash_needed_kb": round(flash_needed_kb, 1), "flash_kb": board.flash_kb,
        "flash_margin_kb": round(flash_margin_kb, 1),
        "macs": macs, "ops": tflite_facts.tflm_ops(model),
        "latency_ms_reference": _latency_ms(macs, board.cycles_per_mac_reference, board.clock_mhz),
        # the optimized libraries (CMSIS-NN, ESP-NN) have int8 kernels only
        "latency_ms_optimized": None if is_float else _latency_ms(macs, board.cycles_per_mac_optimized,
                                                                  board.clock_mhz),
        "optimized_library": board.optimized_library,
        "fits": fits, "verdict": "fits" if fits else "does not fit",
        "advice": [] if fits else _advice(-ram_margin_kb, -flash_margin_kb, is_float),
        "estimate_note": "latency = MACs x cycles/MAC (MLPerf Tiny-derived, see boards.toml) / clock; "
                         "RAM arena measured with the TFLM Python runtime (64-bit host: slight over-estimate)",
    } | (_measured(measured, board) if measured else {})


# measured row -> the report's latency and instruction fields
MEASURED_FIELDS = {"edgecxr": "edgecxr", "reference": "reference", "cmsis-nn": "optimized"}


def _measured(measured: dict, board: Board) -> dict:
    out = {}
    for key, name in MEASURED_FIELDS.items():
        if key in measured:
            instructions = measured[key]["instructions_per_inference"]
            out[f"latency_ms_{name}"] = measured_latency(instructions, board.clock_mhz)
            out[f"instructions_{name}"] = instructions
    return {**out, "measured_on": measured["board"],
            "estimate_note": f"measured on {measured['board']} (QEMU, same core): RAM = .data + .bss + stack peak and "
                             "flash of edgecxr's own engine's firmware; latency = instructions per inference / "
                             f"{board.clock_mhz:g} MHz, at one instruction per cycle: a lower bound (real cores add "
                             "wait states and stalls)"}


def emulation_installed() -> bool:
    """The ARM toolchain, make and QEMU: what measuring on an emulated board needs."""
    import shutil

    from edgecxr.firmware.build import ENGINE_TOOLS

    return all(shutil.which(t) for t in (*ENGINE_TOOLS, "qemu-system-arm"))


def measure_on_emulated(target: str | Path, board_key: str, tflm: Path | None = None,
                        devices_file: Path | None = None, timeout: float = 600, images: int = 3) -> dict | None:
    """The ``measured`` argument of ``mcu_report``: for a run (its spec and images feed the
    firmware), with the toolchain and QEMU installed and an emulated board of ``board_key``'s core,
    the run ``target``'s firmware measured there (edgecxr's own engine; with a TFLM tree also
    TFLM's kernel sets); else None (the verdict estimates)."""
    from edgecxr.bench.qemu import QemuOptions, bench_qemu

    board = get_board(board_key, devices_file)
    if not Path(target).is_dir() or not board.emulated_by or not emulation_installed():
        return None
    rows = bench_qemu(target, board.emulated_by, QemuOptions(tflm, images=images, timeout=timeout), devices_file)
    return {"board": board.emulated_by,
            **{r["kernels"] if r["engine"] == "tflm" else "edgecxr": r for r in rows["results"]}}

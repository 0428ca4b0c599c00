"""Kind ``emulated-pi``: a Raspberry Pi emulated by qemu-user on this computer, its core and
/proc/cpuinfo from the row (edgecxr.bench.pi_emu). bench runs the Pi runner there and compares
its int8 outputs with this computer's (edgecxr.bench.emulated)."""

from __future__ import annotations

from edgecxr.targets.result import BenchChoices, BenchResult, int8_choice


def bench(target, run, choices: BenchChoices | None = None) -> BenchResult:
    from edgecxr.bench.emulated import EmuOptions, bench_emulated

    c = choices or BenchChoices()
    report = bench_emulated(run, target.key, EmuOptions(c.runs, c.warmup, c.first("threads"), c.runtimes, c.kernels,
                                                        c.data, timeout=c.timeout), target.path)
    return BenchResult.of(target.kind, report, int8_choice(run))

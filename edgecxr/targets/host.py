"""Kind ``host``: this computer. bench times every installed TFLite runtime (edgecxr.bench.host,
the ``bench`` stage)."""

from __future__ import annotations

from edgecxr.targets.result import BenchChoices, BenchResult, int8_choice


def bench(target, run, choices: BenchChoices | None = None) -> BenchResult:
    from edgecxr.bench.host import BenchOptions, bench_host

    c = choices or BenchChoices()
    result = bench_host(run, BenchOptions(c.runs, c.warmup, c.threads, c.runtimes, c.data, c.timeout, c.kernels))
    return BenchResult.of(target.kind, {**result.to_dict(), "device": target.key}, int8_choice(run))

"""The emulated Raspberry Pi 4 / 5 (edgecxr.bench.pi_emu): what setting it up costs, whether
each kernel family gives this computer's int8 bytes on real chest X-rays, and whether an
exported bundle installs from its own requirements and passes its self-test there.

    python benchmarks/bench_pi_emu.py RUN [--data DIR] [--model qat|ptq]

1. the userland built twice into fresh caches: with an empty pip cache (as CI) and a warm one;
2. per board, `edgecxr bench MODEL --device pi4-emu|pi5-emu --data DIR` (its two tables);
3. per board, the run exported with `--format rpi`, installed by its own install.sh with the
   board's python3 (venv + pip -r requirements.txt, then the self-test), and the self-test run
   again for each kernel family.
Timings under emulation are this computer's, not a Pi's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecxr.bench import pi_emu  # noqa: E402
from edgecxr.bench.emulated import EmuOptions, bench_emulated  # noqa: E402
from edgecxr.cli.bench import _print  # noqa: E402
from edgecxr.device.runtime import KERNELS  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kermany224" / "val"


def megabytes(folder: Path) -> int:
    return int(subprocess.run(["du", "-sm", str(folder)], capture_output=True, text=True).stdout.split()[0])


def build_costs(root: Path) -> None:
    pip_cache = root / "pip-cache"
    for label in ("cold pip cache", "warm pip cache"):
        cache = root / label.split()[0]
        os.environ["PIP_CACHE_DIR"], os.environ["EDGECXR_CACHE"] = str(pip_cache), str(cache)
        t0 = time.perf_counter()
        pi_emu.userland("pi4-emu")
        t1 = time.perf_counter()
        pi_emu.userland("pi5-emu")
        print(f"userland build, {label}: {t1 - t0:.1f} s (pi4-emu), +{time.perf_counter() - t1:.1f} s (pi5-emu), "
              f"{megabytes(cache)} MB")
    del os.environ["PIP_CACHE_DIR"]


def selftest_on_board(run: Path, model: str | None, board: str, folder: Path) -> None:
    from edgecxr.export import ExportOptions, export

    out = folder / board
    export(run, ExportOptions("rpi", model=model, out=out))
    python = pi_emu.userland(board)
    t0 = time.perf_counter()
    proc = subprocess.run(["sh", str(out / "install.sh")], env={**os.environ, "PYTHON": str(python)},
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    report = next((json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
    print(f"{board}: install.sh (venv + pip -r requirements.txt + self-test) exit {proc.returncode} in {seconds:.1f} s;"
          f" self-test ok={report and report['ok']}")
    if proc.returncode != 0:
        for line in (proc.stdout.strip().splitlines() + proc.stderr.strip().splitlines())[-4:]:
            print("  " + line[:200])
        return
    for kernels in KERNELS:
        t0 = time.perf_counter()
        done = subprocess.run([str(out / ".venv" / "bin" / "python"), str(out / "selftest.py"), "--kernels", kernels],
                              capture_output=True, text=True)
        r = json.loads(done.stdout)
        print(f"  self-test --kernels {kernels:9s} ok={r['ok']!s:5s} {r['images'] - r.get('images_differ', 0)}/"
              f"{r['images']} images bit-exact with {r['expected_from']} (max {r.get('max_step_difference')} steps, "
              f"{r.get('labels_differ')} labels changed) on {r['machine']} with {r.get('runtime')}, "
              f"{time.perf_counter() - t0:.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a run directory with an int8 model, spec.json and split.json")
    p.add_argument("--model", choices=["qat", "ptq"], help="which int8 model (default: qat when present)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="chest X-rays to compare outputs on")
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}")
    model = args.run / ("model_ptq_int8.tflite" if args.model == "ptq" or not (args.run / "model_qat_int8.tflite")
                        .exists() else "model_qat_int8.tflite")
    with tempfile.TemporaryDirectory(prefix="bench-pi-emu-") as tmp:
        build_costs(Path(tmp))
        for board in pi_emu.BOARDS:
            print()
            _print(bench_emulated(model, board, EmuOptions(runs=args.runs, warmup=2, data=args.data,
                                                           images=args.runs)))
        print()
        for board in pi_emu.BOARDS:
            selftest_on_board(args.run, args.model, board, Path(tmp) / "export")


if __name__ == "__main__":
    main()

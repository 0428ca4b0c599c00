"""Images/s for the first (decoding) pass and for the cached load of a dataset split.

    python benchmarks/bench_data_loading.py [DATA] [--size 96] [--split train]

DATA defaults to ../shared/data/kermany224 relative to the repository. The first pass runs
against an empty, temporary cache (so it really decodes); the second loads what it wrote.
Targets on a 2-core machine (issue 2): whole Kermany train split decoded to 96x96 in <= 60 s,
loaded from the cache in <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "kermany224")
    parser.add_argument("--size", type=int, default=96, help="square model input size")
    parser.add_argument("--split", default="train", help="split folder to load (train, val, test)")
    args = parser.parse_args()

    cache = tempfile.mkdtemp(prefix="edgecxr-bench-cache-")
    os.environ["EDGECXR_CACHE"] = cache
    try:
        run(args)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    from edgecxr.data.cache import load_pixels
    from edgecxr.data.dataset import scan_folder
    from edgecxr.device.spec import ModelSpec

    dataset = scan_folder(args.data)
    paths = [s.path for s in dataset.by_split(args.split)]
    spec = ModelSpec(width=args.size, height=args.size, channels=1, labels=dataset.classes)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"data: {args.data} split {args.split}: {len(paths)} images -> {spec.cache_key()}")

    t0 = time.perf_counter()
    first = load_pixels(paths, spec, progress=False)
    t_decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    cached = load_pixels(paths, spec, progress=False)
    t_cached = time.perf_counter() - t0
    assert cached.from_cache and (cached.x == first.x).all(), "cache returned different pixels"

    n = len(first.paths)
    print(f"decode pass: {n} images in {t_decode:.2f} s = {n / t_decode:.0f} images/s (target <= 60 s)")
    print(f"cached load: {n} images in {t_cached:.3f} s = {n / t_cached:.0f} images/s (target <= 2 s)")
    print(f"unreadable: {len(first.errors)}; array {first.x.shape} {first.x.dtype}, {first.x.nbytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

"""Transfer learning as the default path: the 3-class COVID task (covid3) with the default
commands, from the cached Kermany backbone vs from scratch.

    python benchmarks/bench_transfer.py [--runs-root DIR] [--heldout 0.2] [--seed 11]

covid3's test split is a hold-out not in ../shared, so a seeded, class-stratified 20 % of its
train/ folder is held out here (symlinks; covid3 names no patients, so every image counts as its
own patient -- near-duplicate images of one patient, if any, could sit on both sides). On the
rest: `edgecxr train --data TRAIN` (the default: a training set this small starts from the
`kermany-mnv1` backbone, built first if this machine has none) and the same with
`--backbone none`; then `edgecxr quantize` and `edgecxr evaluate --data HELDOUT`. Printed: float
and int8 accuracy (95 % intervals) on the held-out images, and the int8 model the run ships.

    python benchmarks/bench_transfer.py --seeds 11 12 13 --weights RUN/model.keras --no-scratch

repeats it over several held-out draws (50 images cannot tell 94 from 96 %) and prints their
mean; ``--weights`` starts from a Kermany run's model instead of the cached backbone, e.g. a
run of the current default recipe on kermany224 with seed 0, which is what `edgecxr backbone
build kermany-mnv1` makes today (the cached one may be older); ``--average-fraction 0`` keeps
each fine-tune's best epoch instead of the recipe's weight average.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from bench_external import SHARED, edgecxr  # the sibling scripts (benchmarks/ is on sys.path)
from bench_train_throughput import REPO, machine

VARIANTS = {"default (auto backbone)": [], "--backbone none": ["--backbone", "none"]}


def hold_out(source: Path, out: Path, fraction: float, seed: int) -> dict[str, dict[str, int]]:
    """out/{train,heldout}/CLASS/ symlinks: a seeded ``fraction`` of each class held out."""
    rng, counts = random.Random(seed), {"train": {}, "heldout": {}}
    for cls in sorted(d.name for d in source.iterdir() if d.is_dir()):
        files = sorted(p for p in (source / cls).iterdir() if p.is_file())
        rng.shuffle(files)
        k = round(len(files) * fraction)
        for part, chosen in (("heldout", files[:k]), ("train", files[k:])):
            (out / part / cls).mkdir(parents=True)
            for f in chosen:
                (out / part / cls / f.name).symlink_to(f)
            counts[part][cls] = len(chosen)
    return counts


def ci(m: dict) -> str:
    return f"{100 * m['value']:.1f} [{100 * m['ci95'][0]:.1f}, {100 * m['ci95'][1]:.1f}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED / "covid3" / "train")
    p.add_argument("--runs-root", type=Path, default=REPO.parent / "runs-bench-transfer")
    p.add_argument("--heldout", type=float, default=0.2)
    p.add_argument("--seeds", type=int, nargs="+", default=[11], help="held-out draws")
    p.add_argument("--weights", type=Path, help="start the default variant from this model instead of the backbone")
    p.add_argument("--no-scratch", action="store_true", help="skip the --backbone none variant")
    p.add_argument("--average-fraction", type=float, help="train's --average-fraction for every variant "
                   "(default: the recipe's; 0 keeps the best epoch)")
    args = p.parse_args()

    from edgecxr.cli.common import table

    print(f"machine: {machine()}")
    common = [] if args.average_fraction is None else ["--average-fraction", args.average_fraction]
    variants = {("default (--weights)" if args.weights else "default (auto backbone)"):
                (["--weights", args.weights] if args.weights else []) + common,
                **({} if args.no_scratch else {"--backbone none": ["--backbone", "none", *common]})}
    rows, counts = [], {}
    for seed in args.seeds:
        work = Path(tempfile.mkdtemp(prefix="covid3-heldout-"))
        counts = hold_out(args.data, work, args.heldout, seed)
        print(f"data: {args.data}; train {counts['train']}, held out {counts['heldout']} (seed {seed})")
        for i, (name, flags) in enumerate(variants.items()):
            rows.append(transfer_row(name, flags, work, args.runs_root / f"seed{seed}", f"covid3-{i}", seed))
            print(table(shown(rows[-1:])), flush=True)
    print(f"\ncovid3, {sum(counts['heldout'].values())} held-out images per draw (accuracy %, 95 % intervals):")
    print(table(shown(rows)))
    if len(args.seeds) > 1:
        for name in variants:
            mine = [r for r in rows if r["variant"] == name]
            print(f"{name}: mean over {len(mine)} draws: float {sum(r['_float'] for r in mine) / len(mine):.1f} %, "
                  f"int8 {sum(r['_int8'] for r in mine) / len(mine):.1f} %")


def shown(rows: list[dict]) -> list[dict]:
    """The rows without their raw values (kept for the mean)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def transfer_row(name: str, flags: list, work: Path, runs_root: Path, run_name: str, seed: int) -> dict:
    """Train on work/train, quantize, evaluate on work/heldout: one table row."""
    started = time.perf_counter()
    trained = edgecxr("train", "--data", work / "train", *flags, "--name", run_name, "--runs-root", runs_root, "--force")
    minutes = (time.perf_counter() - started) / 60
    run = trained["run_dir"]
    edgecxr("quantize", run, "--force")
    ev = edgecxr("evaluate", run, "--data", work / "heldout", "--force")
    chosen = ev["int8_model"]
    f, i8 = ev["models"]["keras_float"]["metrics"]["accuracy"], ev["models"][chosen["model"]]["metrics"]["accuracy"]
    return {"variant": name, "seed": seed, "backbone": trained["backbone"] or "-", "train_min": f"{minutes:.1f}",
            "float_acc": ci(f), "int8_acc": ci(i8), "int8": chosen["model"],
            "agreement": f"{100 * ev['comparisons'][chosen['model']]['agreement']['value']:.1f}",
            "_float": 100 * f["value"], "_int8": 100 * i8["value"]}


if __name__ == "__main__":
    main()

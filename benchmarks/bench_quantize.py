"""Float vs PTQ int8 vs QAT int8 on Kermany's patient-grouped validation split.

Prints accuracy of each model, its agreement with the Keras float model, the .tflite sizes
and how long each quantization took, against the targets of issue 4: PTQ loses <= 1.0
point, QAT <= 0.3 point, float/int8 agree on >= 99 % of images. The TFLM person-detection
model (the same MobileNetV1 0.25 96x96 gray) is ~300 KB for comparison.

    python benchmarks/bench_quantize.py                       # trains mobilenet_v1 for --epochs
    python benchmarks/bench_quantize.py --run runs/my-run     # uses an existing trained run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = {"ptq_int8": 1.0, "qat_int8": 0.3}  # max accuracy loss in points vs Keras float
MIN_AGREEMENT = 0.99


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.machine()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "kermany224")
    ap.add_argument("--run", type=Path, help="an existing trained run (skips training)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs when training a new run")
    ap.add_argument("--runs-root", type=Path, default=Path("runs"))
    ap.add_argument("--name", default="bench-quantize")
    ap.add_argument("--qat-epochs", type=int, default=None)
    ap.add_argument("--calibration-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = ap.parse_args()

    from edgecxr.evaluate.stage import EvalOptions, evaluate
    from edgecxr.quantize import DEFAULT_CALIBRATION_SIZE, DEFAULT_QAT_EPOCHS, QuantizeOptions, quantize
    from edgecxr.runs import Run

    print(f"machine: {machine()}")
    if args.run:
        run = Run.open(args.run)
        print(f"run: {run.path} (existing)")
    else:
        from edgecxr.config import TrainConfig
        from edgecxr.train import train

        t0 = time.perf_counter()
        res = train(TrainConfig(model="mobilenet_v1", alpha=0.25, epochs=args.epochs, seed=args.seed),
                    data=args.data, runs_root=args.runs_root, name=args.name)
        run = Run(res.run_dir)
        print(f"run: {run.path} (trained {res.epochs_run} epochs on {res.train_images} images "
              f"in {time.perf_counter() - t0:.0f} s)")

    q = quantize(run, QuantizeOptions(int8=True, qat=True, seed=args.seed, force=True,
                                      calibration_size=args.calibration_size or DEFAULT_CALIBRATION_SIZE,
                                      qat_epochs=args.qat_epochs or DEFAULT_QAT_EPOCHS))
    ev = evaluate(run, EvalOptions(split="val", force=True, seed=args.seed))
    models, cmps = ev.report["models"], ev.report["comparisons"]
    sizes = {a["file"]: a for a in q.to_dict()["artifacts"]}
    ref_acc = models["keras_float"]["metrics"]["accuracy"]["value"]

    print(f"validation split: {ev.report['dataset']['n']} images (patient-grouped), "
          f"threshold {ev.report['threshold']['value']:.4f} ({ev.report['threshold']['source']})")
    print(f"{'model':14} {'accuracy %':>11} {'loss pt':>8} {'agree %':>8} {'flips':>6} {'max|dp|':>8} "
          f"{'KB':>7} {'quant s':>8}  target")
    figures = {}
    for key, m in models.items():
        acc = m["metrics"]["accuracy"]["value"]
        loss = 100 * (ref_acc - acc)
        cmp = cmps.get(key)
        agree = cmp["agreement"]["value"] if cmp else 1.0
        art = sizes.get(m["file"])
        verdict = ""
        if key in TARGETS:
            ok = loss <= TARGETS[key] and agree >= MIN_AGREEMENT
            verdict = f"{'PASS' if ok else 'MISS'} (loss <= {TARGETS[key]} pt, agreement >= {100 * MIN_AGREEMENT:.0f} %)"
        print(f"{m['title']:14} {100 * acc:11.2f} {loss:8.2f} {100 * agree:8.2f} "
              f"{len(cmp['flips']) if cmp else 0:6d} {cmp['max_abs_prob_diff'] if cmp else 0:8.4f} "
              f"{art['bytes'] / 1024 if art else float('nan'):7.1f} {art['seconds'] if art else float('nan'):8.1f}  {verdict}")
        figures[key] = {"accuracy": acc, "loss_points": loss, "agreement": agree,
                        "bytes": art["bytes"] if art else None, "seconds": art["seconds"] if art else None}
    print(f"QAT: {q.qat['epochs']} epochs at lr {q.qat['lr']:g} on {q.qat['images']} images; "
          f"calibration {q.calibration['size']} training images")
    print(f"report: {ev.out_dir / 'report.html'}")
    if args.json:
        print(json.dumps({"machine": machine(), "run": str(run.path), "figures": figures}))


if __name__ == "__main__":
    main()

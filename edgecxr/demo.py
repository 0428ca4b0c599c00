"""`edgecxr demo`: the whole pipeline on a built-in synthetic dataset, in a few minutes.

    synthetic chest-like images (train + a held-out test folder)
      -> inspect + patient-grouped split -> train MobileNetV1 0.25 96x96 (a few epochs)
      -> quantize (float .tflite, PTQ int8, QAT int8) -> evaluate on the held-out folder
      -> bench on the host and one board verdict -> export the firmware bundle

STAGES is the table that drives it: data and train make the data and the run, then each
stage of edgecxr.stages runs on that run as a STEPS row says (its options; the few figures
the summary prints).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgecxr import stages
from edgecxr.progress import log

DEMO_BOARD = "nano33ble"


@dataclass
class DemoContext:
    out: Path
    epochs: int
    seed: int
    force: bool
    data: Path | None = None
    test_data: Path | None = None
    run: Path | None = None
    summary: dict = field(default_factory=dict)


def _data(ctx: DemoContext) -> dict:
    from edgecxr.data.dataset import scan_folder
    from edgecxr.data.inspect import inspect_dataset
    from edgecxr.data.synth import make_dataset

    root = make_dataset(ctx.out / "data", per_class=250, size=128, seed=ctx.seed,
                        splits={"train": 1.0, "test": 0.3}, force=ctx.force)
    ctx.data, ctx.test_data = root / "train", root / "test"
    report = inspect_dataset(scan_folder(root), progress=False)
    return {"folder": str(root), "counts": report["counts"], "patients": report["patients"]["total"],
            "unreadable": len(report["unreadable"])}


def _train(ctx: DemoContext) -> dict:
    from edgecxr.train import demo_config, train

    result = train(demo_config(ctx.epochs), data=ctx.data, runs_root=ctx.out / "runs", name="demo",
                   force=ctx.force)
    ctx.run = Path(result.run_dir)
    return {"run": str(result.run_dir), "epochs": result.epochs_run, "best_epoch": result.best_epoch,
            "seconds": round(result.seconds, 1), "val": result.val_metrics}


def _quantized(r: dict, ctx: DemoContext) -> dict:
    return {a["file"]: {"bytes": a["bytes"], "seconds": round(a["seconds"], 1)} for a in r["artifacts"]}


def _evaluated(r: dict, ctx: DemoContext) -> dict:
    models = {key: {"accuracy": m["metrics"]["accuracy"]["value"],
                    "agreement_with_keras": r["comparisons"].get(key, {}).get("agreement", {}).get("value")}
              for key, m in r["models"].items()}
    return {"report": str(Path(r["out_dir"]) / "report.html"), "images": r["dataset"]["n"],
            "threshold": r["threshold"]["value"], "models": models}


def _benched(r: dict, ctx: DemoContext) -> dict:
    """The host timings, and the board verdict of the run's int8 model (the one export ships):
    measured on the emulated board of the board's core when the ARM toolchain and QEMU are
    installed (edgecxr's own engine, no TFLM tree), else estimated."""
    from edgecxr.targets.table import get_target

    return {"host": r, "board": get_target(DEMO_BOARD, job="fit").call("fit", ctx.run).to_dict()}


def _exported(r: dict, ctx: DemoContext) -> dict:
    return {"folder": r["out"], "archive": r["archive"], "selftest": r.get("selftest"), "model": r["model"],
            "model_reason": r["model_reason"]}


@dataclass(frozen=True)
class Step:
    """One stage of edgecxr.stages on the demo's run: its options, and the figures the summary keeps."""

    stage: str
    options: Callable[[DemoContext], dict]
    summary: Callable[[dict, DemoContext], dict]  # the stage's result.to_dict() -> figures


# after data and train (which make the data and the run), every stage runs the same way
STEPS = (
    Step("quantize", lambda ctx: {"int8": True, "qat": True, "qat_epochs": 1, "seed": ctx.seed, "force": ctx.force},
         _quantized),
    Step("evaluate", lambda ctx: {"data": ctx.test_data, "force": ctx.force, "seed": ctx.seed},
         _evaluated),
    # the reference kernels (what the device computes, bit for bit) and XNNPACK (the fast path)
    Step("bench", lambda ctx: {"runs": 50, "warmup": 5, "threads": [1], "runtimes": ["litert"],
                               "kernels": ["reference", "xnnpack"]}, _benched),
    Step("export", lambda ctx: {"format": "bundle", "force": ctx.force}, _exported),
)


def _step(step: Step) -> Callable[[DemoContext], dict]:
    def run(ctx: DemoContext) -> dict:
        result = stages.function(step.stage)(ctx.run, stages.options(step.stage, **step.options(ctx)))
        return step.summary(result.to_dict(), ctx)
    return run


STAGES: list[tuple[str, Callable[[DemoContext], dict]]] = [
    ("data", _data),
    ("train", _train),
    *((step.stage, _step(step)) for step in STEPS),
]


def run_demo(out: Path, epochs: int = 20, seed: int = 0, force: bool = False) -> dict:
    """Run every stage in order; returns {stage: figures} plus where the results are."""
    from edgecxr.checks import check_number
    from edgecxr.files import check_replaceable, mark

    check_number("epochs", epochs, "--epochs")
    check_number("seed", seed, "--seed")
    check_replaceable(out, force, ("demo",), " (it is not an earlier demo)")
    Path(out).mkdir(parents=True, exist_ok=True)
    mark(out, "demo")
    ctx = DemoContext(out=Path(out), epochs=epochs, seed=seed, force=force)
    for i, (name, stage) in enumerate(STAGES, 1):
        log(f"[bold]demo {i}/{len(STAGES)}: {name}[/bold]")
        ctx.summary[name] = stage(ctx)
    ctx.summary["run"] = str(ctx.run)
    return ctx.summary

"""`edgecxr tune`: search width, input size and recipe choices under a board's limits.

In the spirit of Edge Impulse's EON Tuner, with every figure measured where it can be:

  1. plan (nothing written): every candidate of the search space is built; flash is checked on
     its int8 size estimate, then the model is settled with a few training steps on real
     training images (an untrained int8 model underflows its scales and TFLM aborts),
     converted to int8 and planned by the TFLite Micro runtime (measured arena -> RAM) and its
     latency estimated from its MACs (edgecxr.bench.mcu). Candidates over the board's flash,
     RAM or --max-latency-ms are pruned. The settling steps also time one training step, from
     which the epochs that fit the budget follow.
  2. search: each surviving candidate goes through the stages (edgecxr.stages): train (the
     recipe, epochs scaled to the budget), quantize (PTQ int8), and its int8 model scored on
     validation (edgecxr.evaluate.validation). The state file is written after each
     candidate, so `--resume` continues after an interruption.
  3. report: every candidate, the Pareto front over (int8 validation accuracy up; RAM, flash,
     latency down) marked.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgecxr.checks import check_number
from edgecxr.config import RECIPES, recipe_config
from edgecxr.data.dataset import Dataset, scan_folder
from edgecxr.data.split import split_by_patient
from edgecxr.errors import ConfigError, RunError
from edgecxr.files import check_replaceable, read_json_object, write_json
from edgecxr.progress import log
from edgecxr.runs import DEFAULT_RUNS_ROOT, Run, check_name, new_run_name

STATE_FILE = "tune.json"
KB = 1024
SETTLE_IMAGES = 64
SETTLE_STEPS = 4
OVERHEAD_S = 25.0  # per candidate beyond its epochs: decoding, PTQ conversion, int8 validation (estimate)
SHORT_OVERHEAD_S = 5.0


# The search space as data: every combination is one candidate. Recipe choices are rows of
# edgecxr.config.RECIPES plus overrides.
@dataclass(frozen=True)
class Space:
    alphas: tuple[float, ...]
    sizes: tuple[int, ...]
    recipes: dict[str, tuple[str, dict]]  # choice -> (RECIPES row, overrides)
    max_epochs: int


SPACES = {
    "full": Space(alphas=(0.1, 0.25, 0.5), sizes=(64, 96, 128),
                  recipes={"cxr": ("cxr", {}), "cxr-rotate": ("cxr", {"rotation": 5.0, "shift": 0.05})},
                  max_epochs=RECIPES["cxr"]["epochs"]),
    # CI: one tiny architecture, two recipe choices, one epoch each (each int8 conversion costs
    # ~10 s, so one architecture to measure)
    "short": Space(alphas=(0.1,), sizes=(32,),
                   recipes={"cxr": ("cxr", {"warmup_steps": 4}),
                            "cxr-rotate": ("cxr", {"warmup_steps": 4, "rotation": 5.0, "shift": 0.05})},
                   max_epochs=1),
}


@dataclass
class Candidate:
    id: str
    alpha: float
    size: int
    recipe: str
    status: str = "planned"  # planned | pruned | trained | skipped
    reason: str | None = None
    int8_kb_estimate: float | None = None
    flash_needed_kb: float | None = None
    arena_kb: float | None = None
    ram_needed_kb: float | None = None
    latency_ms: float | None = None
    step_seconds: float | None = None
    epochs: int | None = None
    seconds: float | None = None
    int8_kb: float | None = None
    val: dict = field(default_factory=dict)
    pareto: bool = False


def candidates(space: Space) -> list[Candidate]:
    return [Candidate(f"a{alpha:g}-{size}px-{choice}", alpha, size, choice)
            for choice in space.recipes for size in space.sizes for alpha in space.alphas]


def _config(space: Space, c: Candidate, epochs: int, seed: int):
    """A candidate's training config. Without the recipe's self-supervised pretraining: a fixed
    cost the same for every candidate, which the budget spends on the search instead."""
    recipe, overrides = space.recipes[c.recipe]
    return recipe_config(recipe, **{"pretrain_epochs": 0, **overrides, "alpha": c.alpha, "size": c.size,
                                    "epochs": epochs, "seed": seed})


# ---------------------------------------------------------------------------------------------
# 1. plan: prune by flash (estimate), RAM (measured TFLM arena), latency (MACs estimate)
# ---------------------------------------------------------------------------------------------
def _settle_images(dataset: Dataset, assignment: dict, spec, n: int) -> tuple[np.ndarray, np.ndarray]:
    from edgecxr.data.cache import load_pixels

    rng = np.random.default_rng(0)
    train = [s for s in dataset.samples if assignment[s.path] == "train"]
    picked = [train[i] for i in rng.choice(len(train), min(n, len(train)), replace=False)]
    pixels = load_pixels([s.path for s in picked], spec, progress=False)
    by_path = {s.path: s for s in picked}
    y = np.array([by_path[Path(p)].labels[0] for p in pixels.paths])
    return pixels.x, y


def _settle(space: Space, c: Candidate, board, dataset: Dataset, assignment: dict, task: str, seed: int):
    """Flash check on the int8 size estimate; then a few timed training steps on real training
    images (c.step_seconds). Returns (settled model, its float inputs), or None when pruned."""
    from edgecxr.device.preprocess import to_float
    from edgecxr.models import zoo
    from edgecxr.tfenv import keras, set_seed
    from edgecxr.train.arrays import model_spec

    config = _config(space, c, 1, seed)
    set_seed(seed)
    model = zoo.build_model(config.model, task, len(dataset.classes), c.size, config.channels, c.alpha,
                            config.dropout)
    c.int8_kb_estimate = round(zoo.int8_size_estimate(model) / KB, 1)
    c.flash_needed_kb = round(c.int8_kb_estimate + board.runtime_code_kb, 1)
    if c.flash_needed_kb > board.flash_kb:
        c.status, c.reason = "pruned", f"flash {c.flash_needed_kb:.0f} KB > {board.flash_kb:.0f} KB"
        return None
    shape = model.input_shape[1:]
    units, activation = zoo.output_head(zoo.get_entry(config.model), task, len(dataset.classes))
    spec = model_spec(config, shape, dataset.classes, task, activation)
    x_u8, index = _settle_images(dataset, assignment, spec, SETTLE_IMAGES)
    x = to_float(x_u8)
    y = np.eye(units, dtype=np.float32)[index] if units > 1 else index[:, None].astype(np.float32)
    model.compile(keras().optimizers.Adam(config.learning_rate),
                  "categorical_crossentropy" if activation == "softmax" else "binary_crossentropy")
    batch = min(config.batch_size, len(x))
    model.train_on_batch(x[:batch], y[:batch])  # first step builds the graph: not timed
    started = time.perf_counter()
    for step in range(SETTLE_STEPS):
        lo = (step * batch) % max(1, len(x) - batch + 1)
        model.train_on_batch(x[lo:lo + batch], y[lo:lo + batch])
    c.step_seconds = (time.perf_counter() - started) / SETTLE_STEPS
    return model, x


def _measure_board(c: Candidate, model, x: np.ndarray, board, devices_file: Path | None) -> None:
    """RAM from the TFLM arena of the settled model's int8 conversion; latency from its MACs."""
    from edgecxr.quantize import convert_int8
    from edgecxr.targets.table import get_target

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{c.id}.tflite"
        path.write_bytes(convert_int8(model, x))
        report = get_target(board.key, devices_file, job="fit").call("fit", path).to_dict()
    c.arena_kb = round(report["arena_bytes"] / KB, 1)
    c.ram_needed_kb = report["ram_needed_kb"]
    c.latency_ms = report["latency_ms_optimized"] or report["latency_ms_reference"]
    if report["ram_margin_kb"] < 0:
        c.status, c.reason = "pruned", f"RAM {c.ram_needed_kb:.0f} KB > {report['ram_available_kb']:.0f} KB"


def _limit_failure(cands: list[Candidate], board, max_latency_ms: float | None) -> str:
    """Which limit stops the candidate closest to fitting, and by how much."""
    ram_available = board.ram_kb - board.reserved_ram_kb

    def overs(c: Candidate) -> list[tuple[str, float, float, float]]:
        """(limit, needed, available, relative excess) of each limit c exceeds."""
        rows = [("flash", c.flash_needed_kb, board.flash_kb)]
        if c.ram_needed_kb is not None:
            rows.append(("RAM", c.ram_needed_kb, ram_available))
        if c.latency_ms is not None and max_latency_ms is not None:
            rows.append(("latency", c.latency_ms, max_latency_ms))
        return [(name, need, have, need / have - 1) for name, need, have in rows if need > have]

    closest = min(cands, key=lambda c: sum(o[3] for o in overs(c)) if overs(c) else float("inf"))
    name, need, have, _ = max(overs(closest), key=lambda o: o[3])
    unit = "ms" if name == "latency" else "KB"
    return (f"{closest.id} (the closest) needs {need:.0f} {unit} of {name}, the limit is {have:.0f} {unit} "
            f"({need - have:.0f} {unit} over)")


MEASURED = ("status", "reason", "int8_kb_estimate", "flash_needed_kb", "arena_kb", "ram_needed_kb", "latency_ms",
            "step_seconds")


def plan(space: Space, board, dataset: Dataset, assignment: dict, task: str, seed: int,
         devices_file: Path | None, max_latency_ms: float | None, budget_check=None) -> list[Candidate]:
    """Measure each architecture (alpha, size) once -- its recipe choices share the figures --
    in two passes: flash and step time (cheap; then ``budget_check(alive candidates)``), then
    the TFLM arena and latency of those within the flash."""
    cands = candidates(space)
    first: dict[tuple[float, int], Candidate] = {}
    settled = {}
    n_arch = len({(c.alpha, c.size) for c in cands})
    for c in cands:
        arch = (c.alpha, c.size)
        if arch not in first:
            log(f"tune: settling alpha {c.alpha:g} at {c.size}x{c.size} ({len(first) + 1} of {n_arch} architectures)")
            first[arch] = c
            settled[arch] = _settle(space, c, board, dataset, assignment, task, seed)
    _no_fit(cands, first, board, max_latency_ms)
    if budget_check is not None:
        budget_check([c for c in first.values() if c.status == "planned"])
    for arch, c in first.items():
        if settled[arch] is not None:
            log(f"tune: TFLM arena of alpha {c.alpha:g} at {c.size}x{c.size} for {board.key}")
            _measure_board(c, *settled[arch], board, devices_file)
            if c.status == "planned" and max_latency_ms is not None and c.latency_ms > max_latency_ms:
                c.status, c.reason = "pruned", f"latency {c.latency_ms:.0f} ms > {max_latency_ms:g} ms"
    _no_fit(cands, first, board, max_latency_ms)
    return cands


def _no_fit(cands: list[Candidate], first: dict, board, max_latency_ms: float | None) -> None:
    """Copy each architecture's figures to its recipe choices; a one-line error when none fits."""
    for c in cands:
        source = first[(c.alpha, c.size)]
        for key in MEASURED:
            setattr(c, key, getattr(source, key))
    if not any(c.status == "planned" for c in cands):
        raise ConfigError(f"no candidate fits {board.key}: "
                          f"{_limit_failure(list(first.values()), board, max_latency_ms)}",
                          "choose a larger board, raise --max-latency-ms, or add smaller candidates "
                          "(alpha, size) to edgecxr.tune.SPACES")


def epochs_for_budget(cands: list[Candidate], train_images: int, batch_size: int, budget_s: float,
                      max_epochs: int, overhead_s: float) -> int:
    """The epochs per candidate that let every surviving candidate finish within the budget
    (at least 1: the candidates beyond the budget are then skipped, cheapest first kept)."""
    steps = -(-train_images // batch_size)
    alive = [c for c in cands if c.status == "planned"]
    per_epoch = sum(c.step_seconds * steps for c in alive)
    spare = budget_s - overhead_s * len(alive)
    return int(max(1, min(max_epochs, spare // per_epoch if per_epoch > 0 else max_epochs)))


def check_budget(cands: list[Candidate], train_images: int, batch_size: int, budget_s: float,
                 overhead_s: float) -> None:
    """``budget_s`` = what is left of the budget; a ConfigError when one epoch of the cheapest
    candidate (plus its quantization and validation) does not fit in it."""
    steps = -(-train_images // batch_size)
    cheapest = min(c.step_seconds * steps + overhead_s for c in cands if c.status == "planned")
    if cheapest > budget_s:
        raise ConfigError(f"budget too small for one candidate: one epoch of the cheapest takes ~{cheapest / 60:.1f} "
                          f"min here, {max(0.0, budget_s) / 60:.1f} min of the budget is left after measuring",
                          f"pass --budget-minutes {max(1, int(np.ceil(cheapest / 60)))} or more (or --short)")


# ---------------------------------------------------------------------------------------------
# 2. search
# ---------------------------------------------------------------------------------------------
VAL_FIGURES = ("accuracy", "sensitivity", "specificity", "roc_auc")  # of a binary task; accuracy otherwise


def _ptq_candidate(cand_run: Run, seed: int) -> tuple[dict, float]:
    """The quantize stage's PTQ int8 model (without the float .tflite, which a candidate does not
    need: each conversion costs ~10 s), scored on validation: (figures, int8 KB)."""
    from edgecxr.artifacts import BY_KIND
    from edgecxr.evaluate.models import load_predictor
    from edgecxr.evaluate.validation import score_on_validation
    from edgecxr.quantize import QuantizeOptions, quantize

    quantize(cand_run, QuantizeOptions(int8=True, float_tflite=False, seed=seed, force=True))
    ptq = BY_KIND["ptq"]
    m = score_on_validation(cand_run, cand_run.spec(), load_predictor(cand_run, ptq).predict, seed)
    figures = {k: round(m[k]["value"], 4) for k in VAL_FIGURES if isinstance(m.get(k), dict) and m[k]["value"] is not None}
    return figures, round(cand_run.file(ptq.file).stat().st_size / KB, 1)


def pareto(cands: list[Candidate]) -> None:
    """Mark the trained candidates no other beats on all of (accuracy up; RAM, flash, latency down)."""
    done = [c for c in cands if c.status == "trained"]

    def key(c):
        return (-c.val["accuracy"], c.ram_needed_kb, c.int8_kb, c.latency_ms)

    for c in done:
        c.pareto = not any(all(a <= b for a, b in zip(key(o), key(c), strict=True)) and key(o) != key(c) for o in done)


@dataclass
class TuneResult:
    tune_dir: Path
    board: str
    budget_minutes: float
    epochs: int
    seconds: float
    candidates: list[Candidate]
    resumed: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tune_dir"] = str(self.tune_dir)
        return d


def _read_state(run: Run) -> dict:
    """tune.json of an interrupted tune; a damaged one is a RunError."""
    again = "start the tune again without --resume (a new --name)"
    state = read_json_object(run.file(STATE_FILE), again,
                             keys=("board", "devices_file", "data", "space", "seed", "budget_minutes", "epochs",
                                   "train_images", "batch_size", "overhead_s", "spent_seconds", "candidates"))
    try:
        state["candidates"] = [asdict(Candidate(**c)) for c in state["candidates"]]
        if state["space"] not in SPACES:
            raise ValueError(f"unknown space {state['space']!r}")
        check_number("budget_minutes", state["budget_minutes"])
    except (TypeError, ValueError, ConfigError) as e:
        raise RunError(f"{run.file(STATE_FILE)} is damaged: {e}", again) from None
    return state


def _save(run: Run, state: dict, cands: list[Candidate]) -> None:
    write_json(run.file(STATE_FILE), {**state, "candidates": [asdict(c) for c in cands]})


def tune(board: str, data: str | Path | None = None, budget_minutes: float = 60.0, short: bool = False,
         resume: bool = False, name: str | None = None, runs_root: str | Path = DEFAULT_RUNS_ROOT,
         devices_file: Path | None = None, max_latency_ms: float | None = None, seed: int = 0,
         force: bool = False) -> TuneResult:
    """Plan, search and report (module docstring) into ``runs_root/name`` (tune.json + one run
    per trained candidate under candidates/)."""
    from edgecxr.targets.table import get_board
    from edgecxr.train import infer_task, train

    started = time.perf_counter()
    runs_root = Path(runs_root)
    if resume:
        if name is None:
            raise ConfigError("--resume needs the --name of the tune to continue", "pass --name NAME")
        run = Run.open(runs_root / check_name(name))
        if not run.has(STATE_FILE):
            raise RunError(f"{run.path} has no {STATE_FILE} to resume from", "start it again without --resume")
        state = _read_state(run)
        if board != state["board"]:
            raise ConfigError(f"{run.path} tunes for {state['board']}, not {board}",
                              f"resume it with --board {state['board']}, or start a new tune")
        cands = [Candidate(**c) for c in state["candidates"]]
        board_obj = get_board(state["board"], Path(state["devices_file"]) if state["devices_file"] else None)
        space = SPACES[state["space"]]
        dataset = scan_folder(state["data"])
        log(f"tune: resuming {run.path}: {sum(c.status == 'trained' for c in cands)} candidates done")
    else:
        check_number("budget_minutes", budget_minutes, "--budget-minutes")
        check_number("max_latency_ms", max_latency_ms, "--max-latency-ms")
        check_number("seed", seed, "--seed")
        if name is not None:
            check_name(name)
        if data is None:
            raise ConfigError("no data given", "pass --data FOLDER (class folders)")
        space = SPACES["short" if short else "full"]
        board_obj = get_board(board, devices_file)
        if name and (runs_root / name).exists() and not force:
            raise RunError(f"{runs_root / name} already exists", "choose another --name, --resume it, or --force")
        if name:
            check_replaceable(runs_root / name, force, ("run",), " (it is not a tune)")
        dataset = scan_folder(data)
        assignment = split_by_patient(dataset, recipe_config().val_fraction, seed)
        task = infer_task(dataset, None)
        train_images = sum(v == "train" for v in assignment.values())
        batch = recipe_config().batch_size
        overhead = SHORT_OVERHEAD_S if short else OVERHEAD_S

        def budget_check(alive):
            check_budget(alive, train_images, batch, budget_minutes * 60 - (time.perf_counter() - started), overhead)

        cands = plan(space, board_obj, dataset, assignment, task, seed, devices_file, max_latency_ms, budget_check)
        planned_s = time.perf_counter() - started
        epochs = epochs_for_budget(cands, train_images, batch, budget_minutes * 60 - planned_s, space.max_epochs,
                                   overhead)
        run = Run.create(name or new_run_name(f"tune-{board_obj.key}"), runs_root, force=force)
        state = {"board": board_obj.key, "devices_file": str(devices_file) if devices_file else None,
                 "data": str(Path(data).resolve()), "space": "short" if short else "full", "seed": seed,
                 "budget_minutes": budget_minutes, "epochs": epochs, "max_latency_ms": max_latency_ms,
                 "train_images": train_images, "batch_size": batch, "overhead_s": overhead,
                 "spent_seconds": planned_s}
        _save(run, state, cands)
    budget_s = state["budget_minutes"] * 60
    spent_before = state["spent_seconds"]
    session = time.perf_counter()
    for c in cands:
        if c.status != "planned":
            continue
        spent = spent_before + time.perf_counter() - session
        need = c.step_seconds * state["epochs"] * -(-state["train_images"] // state["batch_size"]) + state["overhead_s"]
        if spent + need > budget_s:
            c.status, c.reason = "skipped", (f"budget: ~{need / 60:.1f} min needed, "
                                             f"{max(0.0, budget_s - spent) / 60:.1f} min left")
            _save(run, {**state, "spent_seconds": spent}, cands)
            continue
        log(f"tune: training {c.id} for {state['epochs']} epochs")
        t0 = time.perf_counter()
        config = _config(space, c, state["epochs"], state["seed"])
        try:
            trained = train(config, dataset, runs_root=run.file("candidates"), name=c.id, force=True, progress=False)
            c.val, c.int8_kb = _ptq_candidate(Run(trained.run_dir), state["seed"])
        except (KeyboardInterrupt, RunError) as e:
            raise RunError(f"tune {run.path} stopped at candidate {c.id}: {str(e) or 'interrupted'}",
                           f"continue it with: edgecxr tune --board {state['board']} --resume --name {run.name} "
                           f"--runs-root {runs_root}") from None
        c.epochs, c.seconds, c.status = state["epochs"], round(time.perf_counter() - t0, 1), "trained"
        pareto(cands)
        _save(run, {**state, "spent_seconds": spent_before + time.perf_counter() - session}, cands)
    pareto(cands)
    _save(run, {**state, "spent_seconds": spent_before + time.perf_counter() - session}, cands)
    run.update_manifest("tune", {"board": state["board"], "trained": sum(c.status == "trained" for c in cands),
                                 "pareto": [c.id for c in cands if c.pareto]})
    return TuneResult(run.path, state["board"], state["budget_minutes"], state["epochs"],
                      round(time.perf_counter() - started, 1), cands, resumed=resume)

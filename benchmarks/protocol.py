"""The protocol every recipe decision goes through (issue 21): each recipe variant trained with
several seeds on Kermany's train split, quantized as the default pipeline ships it (PTQ int8),
scored on two external sets at the threshold each run chose on its own validation split, and
compared with the current default seed for seed, on the same images.

    python benchmarks/protocol.py --nih DIR [--variants default fast20 ...] [--seeds 0 1 2]
        [--runs-root DIR] [--results FILE] [--exclude FILE] [--baseline default] [--report-only]

External sets: covid3's Normal / Viral Pneumonia read as NORMAL / PNEUMONIA (140; near-copies
of Kermany's separately acquired test split) and nih-ozturk (1000 adult NIH ChestX-ray14
images, datasets.toml; DIR is where you extracted it, verified against the registry's git tree
ids). Each run is VARIANT-sSEED under --runs-root, made by `edgecxr train --data KERMANY
--config ... --backbone none`, `edgecxr quantize` (PTQ) and `edgecxr evaluate RUN --data SET
--class-map ...` (its default views and their validation threshold); an existing run is reused
(it must have been trained with the variant's options) and a (run, set) already in --results
is not evaluated again, so an interrupted protocol resumes where it stopped. --results (JSON)
keeps every run's per-image int8 and float scores, threshold and training time.

Printed: per run and set, int8 accuracy / sensitivity / specificity / ROC-AUC with 95 %
intervals that resample patients (NIH names repeat them), float/int8 agreement and training
minutes (SimCLR + epochs, wall, as the run recorded them, under the machine's load at the
time); per variant and set, the mean over seeds and the paired difference to `default` with
its seed + patient bootstrap interval; then the verdict (edgecxr.verdict): a change enters
the default only when it wins beyond noise on both sets, with at least 3 seeds. --exclude
names NIH images (one file name a line) to leave out: nih-ozturk is then also scored without
them (reported, not judged); by default the 57 Pneumonia images RSNA's radiologists labelled
Normal (benchmarks/nih_ozturk_rsna_normal.txt, made by benchmarks/rsna_normal.py), `--exclude ''`
for none.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_external import edgecxr  # the sibling scripts (benchmarks/ is on sys.path)
from bench_train_throughput import REPO, machine

# ../shared/data from the repository (main), or from a worktree one level deeper (wt/NAME)
SHARED = next((d for d in (REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data") if d.is_dir()),
              REPO.parent / "shared" / "data")
# external set -> (folder, --class-map); nih-ozturk's folder comes from --nih, its map from datasets.toml
COVID3_MAP = "Viral Pneumonia=PNEUMONIA,Normal=NORMAL,Covid="
# variant -> TrainConfig overrides on top of today's default recipe (edgecxr.config.DEFAULT_RECIPE)
VARIANTS = {
    "default": {},
    # the default without its costly phases: no SimCLR pretraining, 20 epochs (cosine over 20),
    # still the mean of the second half's epochs; about 1/8 of the default's training time
    "fast20": {"pretrain_epochs": 0, "epochs": 20},
    # fast20 with stronger intensity augmentation (gamma, contrast, brightness, blur/sharpen,
    # noise): aimed at another scanner's gray curve and noise; compare with --baseline fast20
    "fast20_intensity": {"pretrain_epochs": 0, "epochs": 20, "gamma": 0.5, "contrast": 0.4, "brightness": 0.15,
                         "sharpness": 0.3, "noise": 0.03},
}
RSNA_NORMAL = Path(__file__).with_name("nih_ozturk_rsna_normal.txt")  # --exclude's default
METRIC_NAMES = ("accuracy", "sensitivity", "specificity", "roc_auc")
POSITIVE = "PNEUMONIA"


def fail(message: str, hint: str) -> None:
    print(f"error: {message}\nhint: {hint}", file=sys.stderr)
    sys.exit(2)


# -- runs -----------------------------------------------------------------------------------------

def variant_config(name: str, seed: int):
    from edgecxr.config import DEFAULT_RECIPE, recipe_config

    return recipe_config(DEFAULT_RECIPE, **{**VARIANTS[name], "seed": seed})


def ensure_run(name: str, seed: int, data: Path, root: Path) -> Path:
    """The trained and PTQ-quantized run VARIANT-sSEED: reused when it exists with the
    variant's options (a run of other options is refused), resumed when it was interrupted,
    else trained now."""
    from dataclasses import asdict

    from edgecxr.config import read_run_config
    from edgecxr.tomlio import to_toml

    run, config = root / f"{name}-s{seed}", variant_config(name, seed)
    if (run / "config.toml").exists():
        had = asdict(read_run_config(run / "config.toml"))
        if differ := sorted(k for k, v in asdict(config).items() if had.get(k) != v and k != "backbone"):
            fail(f"{run} was trained with other options than variant {name} ({', '.join(differ)})",
                 "use another --runs-root, or delete that run to train it again")
    if (run / "checkpoints").is_dir() and not (run / "model.keras").exists():  # interrupted
        print(f"resuming {run.name} ...", flush=True)
        edgecxr("train", "--resume", "--name", run.name, "--runs-root", root)
    elif not (run / "model.keras").exists():
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(to_toml(config))
        print(f"training {run.name} ...", flush=True)
        edgecxr("train", "--data", data, "--config", f.name, "--backbone", "none", "--name", run.name,
                "--runs-root", root, *(["--force"] if run.exists() else []))
        os.unlink(f.name)
    if not (run / "model_ptq_int8.tflite").exists():
        edgecxr("quantize", run)
    return run


def train_minutes(run: Path) -> float:
    """Training wall minutes as the run recorded them: its epochs, plus SimCLR pretraining."""
    seconds = json.loads((run / "manifest.json").read_text())["stages"]["train"]["seconds"]
    pretrained = json.loads((run / "val_metrics.json").read_text()).get("pretrained") or {}
    return (seconds + pretrained.get("seconds", 0.0)) / 60


def score_run(name: str, seed: int, run: Path, set_name: str, folder: Path, class_map: str) -> dict:
    """One run on one external set: per-image int8 and float P(PNEUMONIA), sorted by file."""
    from edgecxr.data.dataset import patient_id

    ext = edgecxr("evaluate", run, "--data", folder, "--class-map", class_map, "--force")
    int8 = ext["int8_model"]["model"]
    rows = sorted(csv.DictReader((Path(ext["out_dir"]) / "predictions.csv").open()),
                  key=lambda r: Path(r["file"]).relative_to(folder).as_posix())
    names = [Path(r["file"]).relative_to(folder).as_posix() for r in rows]
    return {"variant": name, "seed": seed, "set": set_name, "run": str(run), "overrides": VARIANTS[name],
            "threshold": ext["threshold"]["value"], "views": len(ext.get("tta_zooms") or []) or 1,
            "int8_model": int8, "agreement": ext["comparisons"][int8]["agreement"]["value"],
            "train_minutes": round(train_minutes(run), 2),
            "files": names, "patients": [patient_id(Path(n).name, n) for n in names],
            "y": [int(r["true"] == POSITIVE) for r in rows],
            "p_int8": [float(r[f"{int8}:{POSITIVE}"]) for r in rows],
            "p_float": [float(r[f"keras_float:{POSITIVE}"]) for r in rows]}


def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text())["records"] if path.exists() else []


def append_result(path: Path, record: dict) -> None:
    records = [r for r in load_results(path) if (r["variant"], r["seed"], r["set"]) !=
               (record["variant"], record["seed"], record["set"])] + [record]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"records": records}) + "\n")
    os.replace(tmp, path)


# -- report ---------------------------------------------------------------------------------------

def views(records: list[dict], exclude: set[str]) -> dict[str, list[dict]]:
    """External set -> its records; with ``exclude``, nih-ozturk also without those images."""
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["set"], []).append(r)
        if exclude and r["set"] == "nih-ozturk":
            keep = [i for i, f in enumerate(r["files"]) if Path(f).name not in exclude]
            out.setdefault("nih-ozturk-excl", []).append(
                {**r, **{k: [r[k][i] for i in keep] for k in ("files", "patients", "y", "p_int8", "p_float")}})
    return out


def scored(record: dict):
    from edgecxr.verdict import Scored

    return Scored(np.asarray(record["y"]), np.asarray(record["p_int8"]), record["threshold"])


def ci(m: dict, digits: int = 3) -> str:
    if m.get("value") is None:
        return "-"
    return f"{m['value']:.{digits}f} [{m['ci95'][0]:.{digits}f}, {m['ci95'][1]:.{digits}f}]"


def run_rows(sets: dict[str, list[dict]]) -> list[dict]:
    from edgecxr.stats import bootstrap_ci
    from edgecxr.verdict import METRICS

    rows = []
    for set_name, records in sets.items():
        for r in sorted(records, key=lambda r: (r["variant"], r["seed"])):
            s = scored(r)
            metrics = {m: bootstrap_ci(lambda y, p, m=m, t=s.threshold: METRICS[m](y, p, t), s.y, s.p,
                                       groups=r["patients"]) for m in METRIC_NAMES}
            rows.append({"set": set_name, "variant": r["variant"], "seed": r["seed"], "n": len(s.y),
                         "threshold": f"{s.threshold:.3f}", **{m: ci(v) for m, v in metrics.items()},
                         "agree_int8": f"{r['agreement']:.4f}", "train_min": f"{r['train_minutes']:.1f}"})
    return rows


def compare(sets: dict[str, list[dict]], variant: str, baseline: str) -> dict[str, dict[str, dict]]:
    """set -> metric -> paired_difference(variant - baseline)."""
    from edgecxr.verdict import paired_difference

    out = {}
    for set_name, records in sets.items():
        by = {v: {r["seed"]: r for r in records if r["variant"] == v} for v in (baseline, variant)}
        if by[baseline] and by[variant]:
            check_same_images(set_name, by)
        groups = next(iter(by[baseline].values()))["patients"] if by[baseline] else None
        base = {s: scored(r) for s, r in by[baseline].items()}
        other = {s: scored(r) for s, r in by[variant].items()}
        out[set_name] = {m: paired_difference(base, other, m, groups=groups) for m in METRIC_NAMES}
    return out


def check_same_images(set_name: str, by: dict[str, dict[int, dict]]) -> None:
    files = {tuple(r["files"]) for runs in by.values() for r in runs.values()}
    if len(files) > 1:
        fail(f"the runs of {set_name} were scored on different images", "re-run with the same --nih folder")


def summary_rows(sets: dict[str, list[dict]], variant: str, diffs: dict) -> list[dict]:
    """Per set: the variant's mean over seeds (each seed) and, unless it is the baseline
    (``diffs`` empty), its paired differences."""
    from edgecxr.verdict import point

    rows = []
    for set_name, records in sets.items():
        mine = sorted((r for r in records if r["variant"] == variant), key=lambda r: r["seed"])
        if not mine:
            continue
        row = {"set": set_name, "variant": variant, "seeds": ",".join(str(r["seed"]) for r in mine)}
        for m in METRIC_NAMES:
            values = [point(m, scored(r)) for r in mine]
            row[m] = f"{np.mean(values):.3f} ({' '.join(f'{v:.3f}' for v in values)})"
        row["train_min"] = f"{np.mean([r['train_minutes'] for r in mine]):.1f}"
        for m in ("roc_auc", "accuracy", "specificity"):  # the baseline's own rows: "-"
            row[f"d_{m}"] = ci(diffs[set_name][m]) if diffs else "-"
        rows.append(row)
    return rows


def report(records: list[dict], exclude: set[str], verdict_metric: str, baseline: str = "default") -> None:
    from edgecxr.cli.common import table
    from edgecxr.verdict import verdict

    if not records:
        print("no results yet")
        return
    sets = views(records, exclude)
    print("\nper run (int8 PTQ at the run's validation threshold; 95 % intervals resample patients):")
    print(table(run_rows(sets)))
    print(f"\nper variant: mean over seeds (each seed), and the paired difference to {baseline} "
          "(mean over paired seeds, 95 % interval redrawing seeds and patients):")
    variants = sorted({r["variant"] for r in records}, key=lambda v: (v != baseline, v))
    verdicts = {}
    rows = []
    for v in variants:
        diffs = compare(sets, v, baseline) if v != baseline else {}
        rows += summary_rows(sets, v, diffs)
        if v != baseline:
            judged = {s: d[verdict_metric] for s, d in diffs.items() if s != "nih-ozturk-excl"}
            verdicts[v] = verdict(judged)
    print(table(rows))
    if any(len(r["seeds"].split(",")) < 2 for r in rows):
        print("(a variant of one seed: its interval holds the patients' noise only, not the seeds')")
    against = "" if baseline == "default" else f" against {baseline}, not the default: exploratory"
    for v, result in verdicts.items():
        print(f"verdict {v} (on {verdict_metric}, int8{against}): {result['text']}")


# -- main -----------------------------------------------------------------------------------------

def nih_set(folder: Path) -> tuple[Path, str]:
    """The nih-ozturk folder, checked against the registry's git tree ids, and its class map."""
    from edgecxr.data.registry import get_dataset, git_tree_id

    info = get_dataset("nih-ozturk")
    for path, tree in zip(info.git_paths, info.git_trees):
        sub = folder / Path(path).name
        if not sub.is_dir() or git_tree_id(sub) != tree:
            fail(f"{sub} is not the registry's {path} (git tree {tree})",
                 "extract it as `edgecxr data info nih-ozturk` says")
    return folder, info.class_map


def read_exclude(path: Path | None, folder: Path) -> set[str]:
    if path is None or not str(path):
        return set()
    if not path.is_file():
        fail(f"exclude list {path} not found", "pass a text file with one image file name a line")
    names = {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}
    present = {p.name for p in folder.glob("*/*.png")}
    if missing := sorted(names - present):
        fail(f"{len(missing)} names of {path} are not images of {folder} (e.g. {missing[0]})",
             "list file names as they are in the folder, e.g. 00000061_012.png")
    return names


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nih", type=Path, required=True, help="the extracted nih-ozturk folder (No_findings/, Pneumonia/)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--data", type=Path, default=SHARED / "kermany224")
    p.add_argument("--runs-root", type=Path, default=REPO.parent / "runs-protocol")
    p.add_argument("--results", type=Path, help="JSON of every scored run (default: RUNS_ROOT/protocol.json)")
    p.add_argument("--exclude", type=Path, default=RSNA_NORMAL,
                   help="NIH image names to also score nih-ozturk without ('' for none; default: RSNA's Normal reads)")
    p.add_argument("--metric", default="roc_auc", choices=METRIC_NAMES, help="what the verdict judges")
    p.add_argument("--baseline", default="default", choices=list(VARIANTS),
                   help="the variant the others are paired against (only `default` decides the default)")
    p.add_argument("--report-only", action="store_true", help="print the table of --results; train nothing")
    args = p.parse_args()
    results = args.results or args.runs_root / "protocol.json"
    nih, nih_map = nih_set(args.nih)
    exclude = read_exclude(args.exclude, nih)
    external = {"covid3": (SHARED / "covid3" / "train", COVID3_MAP), "nih-ozturk": (nih, nih_map)}

    print(f"machine: {machine()}")
    if not args.report_only:
        args.runs_root.mkdir(parents=True, exist_ok=True)
        done = {(r["variant"], r["seed"], r["set"]) for r in load_results(results)}
        for seed in args.seeds:  # seed by seed: every variant's pair is complete as early as possible
            for name in args.variants:
                todo = [s for s in external if (name, seed, s) not in done]
                if not todo:
                    continue
                started = time.perf_counter()
                run = ensure_run(name, seed, args.data, args.runs_root)
                for set_name in todo:
                    append_result(results, score_run(name, seed, run, set_name, *external[set_name]))
                print(f"{run.name}: done in {(time.perf_counter() - started) / 60:.1f} min "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    report(load_results(results), exclude, args.metric, args.baseline)
    print(f"\nresults: {results}. Thresholds were chosen on each run's validation split only; "
          "training minutes are wall time under the load of the machine when the run trained.")


if __name__ == "__main__":
    main()

"""Hostile inputs against the command line: how many end in a clean error, a traceback or a hang?

Each case runs `edgecxr ...` in this process (typer's CliRunner; TensorFlow loads once) on a
fresh copy of a small real run (synthetic data, trained, quantized and exported once, kept in
--base), then checks the contract: exit 0, or exit 2 with exactly one ``error:`` and one
``hint:`` line; no traceback; no hang; nothing lost; nothing written outside the output path;
nothing injected into generated C. Filesystem cases mount small tmpfs folders (full, read-only)
and so need root with CAP_SYS_ADMIN; without it they are left out (and counted as such).

    python benchmarks/probe_hostile.py                # all cases
    python benchmarks/probe_hostile.py -k numbers     # the cases whose class or name has "numbers"
    python benchmarks/probe_hostile.py -k force,misleading,tracebacks,hangs,leftovers,rough   # issue 22's classes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("EDGECXR_CACHE", tempfile.mkdtemp(prefix="edgecxr-probe-cache-"))
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TIMEOUT_S = 60


class Hang(Exception):
    pass


@dataclass
class Work:
    """One case's sandbox: a copy of the base run and data, plus a sentinel folder."""

    root: Path  # everything of the case lives under here
    runs: Path  # --runs-root, holding `base` (a copy of the finished run)
    data: Path  # synthetic class folders
    outside: Path  # must never change

    @property
    def run(self) -> Path:
        return self.runs / "base"


@dataclass
class Case:
    klass: str
    name: str
    argv: object  # Work -> list of args
    setup: object = None  # Work -> None
    check: object = None  # (Work, result) -> problem text or None
    env: object = field(default_factory=dict)  # a dict, or Work -> dict (paths inside the sandbox)
    needs_mount: bool = False
    patch: object = None  # Work -> {(module, attribute): value} set while the case runs (a misbehaving board)


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file() and not p.is_symlink()}


# -- the base run ---------------------------------------------------------------------------------
def build_base(base: Path) -> None:
    from dataclasses import replace

    from edgecxr.config import TrainConfig
    from edgecxr.data.synth import make_dataset
    from edgecxr.export import ExportOptions, export
    from edgecxr.quantize import QuantizeOptions, quantize
    from edgecxr.train import train

    data = make_dataset(base / "data", per_class=24, size=64, seed=1)
    cfg = replace(TrainConfig(), size=32, epochs=1, batch_size=8, learning_rate=0.005, bn_momentum=0.5,
                  augment=False)
    result = train(cfg, data, runs_root=base / "runs", name="base", progress=False)
    quantize(result.run_dir, QuantizeOptions(int8=True, qat=False, calibration_size=16))
    export(result.run_dir, ExportOptions("bundle"))
    (base / "done").write_text("ok\n")


def sandbox(base: Path, root: Path) -> Work:
    root.mkdir(parents=True)
    shutil.copytree(base / "data", root / "data", symlinks=True)
    (root / "runs").mkdir()
    shutil.copytree(base / "runs" / "base", root / "runs" / "base", symlinks=True)
    # split.json names the base data folder by absolute path: point it at this copy
    split = root / "runs" / "base" / "split.json"
    doc = json.loads(split.read_text())
    doc["root"] = str((root / "data").resolve())
    split.write_text(json.dumps(doc))
    from edgecxr.runs import Run

    Run(root / "runs" / "base").update_manifest("probe")
    outside = root / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("user data\n")
    return Work(root, root / "runs", root / "data", outside)


# -- helpers for cases ----------------------------------------------------------------------------
def truncate(rel: str, keep: float = 0.5):
    def setup(w: Work):
        p = w.run / rel
        data = p.read_bytes()
        p.write_bytes(data[:int(len(data) * keep)])
    return setup


def write(rel: str, content: bytes | str):
    def setup(w: Work):
        p = w.run / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return setup


def unrelated_folder(rel: str, files: dict[str, str]):
    def setup(w: Work):
        folder = w.root / rel
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    return setup


def survives(rel: str, name: str):
    def check(w: Work, result):
        return None if (w.root / rel / name).exists() else f"data loss: {rel}/{name} deleted"
    return check


def no_run_left(name: str):
    def check(w: Work, result):
        if result.exit_code != 0 and (w.runs / name).exists():
            return f"half-written run {name} left behind ({sorted(p.name for p in (w.runs / name).iterdir())})"
        return None
    return check


def nothing_outside_runs(w: Work, result):
    stray = [p for p in w.root.iterdir() if p.name not in ("runs", "data", "outside", "mnt")]
    stray += [p for p in Path("/tmp").glob("probe13-abs*")]
    return f"wrote outside --runs-root: {stray}" if stray else None


def csv_case(rows: list[str], encoding: str = "utf-8"):
    def setup(w: Work):
        outside_img = w.outside / "secret.png"
        shutil.copyfile(next((w.data / "NORMAL").iterdir()), outside_img)
        text = "Image Index,Finding Labels,Patient ID\n" + "".join(r + "\n" for r in rows)
        (w.root / "labels.csv").write_bytes(text.encode(encoding))
    return setup


def csv_stays_inside(w: Work, result):
    if result.exit_code == 0:
        try:
            doc = json.loads(result.stdout)
        except json.JSONDecodeError:
            return None
        if doc.get("images", 0) > 2:
            return f"a CSV row opened a file outside the image folder ({doc.get('images')} images)"
    return None


def c_not_injected(folder_rel: str):
    def check(w: Work, result):
        for p in (w.root / folder_rel).rglob("*"):
            if p.suffix in (".h", ".c", ".ino", ".cpp") and p.is_file():
                if any(line.startswith("#error INJECTED") for line in p.read_text(errors="replace").splitlines()):
                    return f"code injected into {p.name}"
        return None
    return check


def zip_bomb(w: Work):
    zpath = w.root / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for cls in ("NORMAL", "PNEUMONIA"):
            for p in sorted((w.data / cls).iterdir())[:3]:
                z.write(p, f"ds/{cls}/{p.name}")
        with z.open("ds/NORMAL/huge.png", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(1200):  # 1.2 GB of zeros, ~1.2 MB compressed
                f.write(block)


def dangling_symlink(w: Work):
    (w.data / "NORMAL" / "gone.png").symlink_to(w.root / "nowhere.png")


def unreadable_image(w: Work):
    test = w.root / "test"
    shutil.copytree(w.data, test)
    (test / "NORMAL" / "broken.png").write_bytes(b"not a png")
    # evaluate refuses training images; keep only the run's validation ones + the broken file
    split = json.loads((w.run / "split.json").read_text())
    train = {it["path"] for it in split["items"] if it["split"] == "train"}
    for rel in train:
        (test / rel).unlink()


def lists_unreadable(w: Work, result):
    if result.exit_code == 0 and "broken.png" not in result.output:
        return "evaluate skipped an unreadable image without listing it"
    return None


def lists_symlink(w: Work, result):
    if result.exit_code == 0 and "gone.png" not in result.output:
        return "a dangling symlink was neither counted nor listed"
    return None


def float_in_int8_slot(w: Work):
    shutil.copyfile(w.run / "model_float.tflite", w.run / "model_ptq_int8.tflite")


def not_reported_as_ptq(w: Work, result):
    if result.exit_code == 0 and "PTQ int8" in result.output:
        return "a float model in the int8 slot was reported as PTQ int8"
    return None


def keep_models(w: Work):
    w.before = {p.name: p.read_bytes() for p in w.run.glob("*.tflite")}


def models_kept(w: Work, result):
    now = {p.name: p.read_bytes() for p in w.run.glob("*.tflite")}
    return None if now == w.before else "models rewritten although the command failed"


def mount(w: Work, kind: str, size: str = "64k", before=None) -> Path:
    """A small tmpfs at w.root/mnt: ``before(mnt)`` fills it while writable, then it is filled up
    to a few KB (full) or made read-only (ro)."""
    mnt = w.root / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
    if before:
        before(mnt)
    if kind == "full":
        free = shutil.disk_usage(mnt).free
        with contextlib.suppress(OSError), open(mnt / "filler", "wb") as f:
            f.write(b"\0" * max(0, free - 4096))
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
    return mnt


def full_leftovers(w: Work, result):
    mnt = w.root / "mnt"
    stray = [p.name for p in mnt.rglob("*") if p.is_file() and p.name != "filler" and p.name.startswith(".")]
    return f"temp files left on the full disk: {stray}" if stray else None


# -- the cases ------------------------------------------------------------------------------------
def cases() -> list[Case]:
    R = lambda w: str(w.runs)  # noqa: E731
    T = lambda *a: (lambda w: ["train", "--data", str(w.data), "--size", "32", "--epochs", "1", "--batch-size", "8",  # noqa: E731
                               "--runs-root", R(w), *a])
    out: list[Case] = []
    add = lambda *a, **k: out.append(Case(*a, **k))  # noqa: E731

    # data loss
    add("data-loss", "train --force on a folder with config.toml", T("--name", "docs", "--force"),
        unrelated_folder("runs/docs", {"config.toml": "x = 1\n", "thesis.txt": "years of work\n"}),
        survives("runs/docs", "thesis.txt"))
    add("data-loss", "train --force on a folder with a foreign manifest.json", T("--name", "web", "--force"),
        unrelated_folder("runs/web", {"manifest.json": '{"name": "my web app"}', "index.html": "<p>\n"}),
        survives("runs/web", "index.html"))
    add("data-loss", "train --force on a folder with checkpoints/", T("--name", "ck", "--force"),
        lambda w: (unrelated_folder("runs/ck", {"notes.txt": "mine\n"})(w), (w.runs / "ck" / "checkpoints").mkdir()),
        survives("runs/ck", "notes.txt"))
    add("data-loss", "import --force over unrelated files",
        lambda w: ["data", "import", str(w.data), "--out", str(w.root / "mine"), "--force"],
        unrelated_folder("mine", {"photos.txt": "holiday\n"}), survives("mine", "photos.txt"))
    add("data-loss", "export --force over unrelated files",
        lambda w: ["export", str(w.run), "--format", "tflite", "--out", str(w.root / "mine"), "--force"],
        unrelated_folder("mine", {"photos.txt": "holiday\n"}), survives("mine", "photos.txt"))
    add("data-loss", "export bundle --force over unrelated files",
        lambda w: ["export", str(w.run), "--out", str(w.root / "mine"), "--force"],
        unrelated_folder("mine", {"photos.txt": "holiday\n"}), survives("mine", "photos.txt"))
    add("data-loss", "split --force over an unrelated file",
        lambda w: ["data", "split", str(w.data), "--out", str(w.root / "mine" / "notes.txt"), "--force"],
        unrelated_folder("mine", {"notes.txt": "important\n"}),
        lambda w, r: None if (w.root / "mine" / "notes.txt").read_text() == "important\n" else "data loss: notes.txt overwritten")
    add("data-loss", "demo --force over unrelated files (stops at a bad --epochs)",
        lambda w: ["demo", "--out", str(w.root / "mine"), "--force", "--epochs", "100000000"],
        unrelated_folder("mine/runs/demo", {"config.toml": "x = 1\n", "notes.txt": "mine\n"}),
        survives("mine/runs/demo", "notes.txt"))
    add("data-loss", "tune --force on a folder that is not a tune",
        lambda w: ["tune", "--board", "nano33ble", "--data", str(w.data), "--short", "--name", "docs",
                   "--runs-root", R(w), "--force", "--budget-minutes", "0.01"],
        unrelated_folder("runs/docs", {"thesis.txt": "years of work\n"}), survives("runs/docs", "thesis.txt"))

    # paths
    add("paths", "train --name ../escape", T("--name", "../escape"), check=nothing_outside_runs)
    add("paths", "train --name ../../escape2", T("--name", "../../escape2"), check=nothing_outside_runs)
    add("paths", "train --name /tmp/probe13-abs", T("--name", "/tmp/probe13-abs"), check=nothing_outside_runs)
    add("paths", "train --name a/b", T("--name", "a/b"), check=nothing_outside_runs)
    add("paths", "train --name ..", T("--name", ".."), check=nothing_outside_runs)
    add("paths", "train --resume --name ../runs/base", lambda w: ["train", "--resume", "--name", "../runs/base",
                                                                  "--runs-root", R(w)])
    add("paths", "tune --name ../escape",
        lambda w: ["tune", "--board", "nano33ble", "--data", str(w.data), "--short", "--name", "../escape",
                   "--runs-root", R(w)], check=nothing_outside_runs)
    for row in ("../../outside/secret.png", "../../../outside/secret.png", "/etc/passwd"):
        add("paths", f"CSV row {row}",
            lambda w: ["data", "inspect", str(w.data / "NORMAL"), "--csv", str(w.root / "labels.csv"), "--json"],
            csv_case(["person1_synth_0.png,NORMAL,1", "person1_synth_1.png,PNEUMONIA,2", f"{row},NORMAL,3"]),
            csv_stays_inside)

    # numbers
    for opt, values in {"--epochs": ["0", "-1", "100000000"], "--batch-size": ["0", "-8", "1000000000"],
                        "--lr": ["nan", "-1", "inf", "0"], "--val-fraction": ["0", "1", "nan", "-0.5"],
                        "--alpha": ["0", "-1", "nan"], "--size": ["0", "3", "100000"], "--channels": ["2", "0"],
                        "--seed": ["-1", "99999999999"], "--distill-alpha": ["nan", "2"],
                        "--distill-temperature": ["0", "nan"]}.items():
        for v in values:
            add("numbers", f"train {opt} {v}", T(opt, v, "--name", "n"), check=no_run_left("n"))
    for v in ("0", "-1", "nan", "inf", "1e308"):
        add("numbers", f"tune --budget-minutes {v}",
            lambda w, v=v: ["tune", "--board", "nano33ble", "--data", str(w.data), "--short", "--name", "t",
                            "--runs-root", R(w), "--budget-minutes", v], check=no_run_left("t"))
    add("numbers", "tune --max-latency-ms -1",
        lambda w: ["tune", "--board", "nano33ble", "--data", str(w.data), "--short", "--name", "t",
                   "--runs-root", R(w), "--max-latency-ms", "-1"], check=no_run_left("t"))
    for opt, v in (("--calibration-size", "0"), ("--calibration-size", "-5"), ("--qat-epochs", "0"),
                   ("--qat-lr", "nan"), ("--qat-lr", "-1"), ("--qat-epochs", "1000000")):
        add("numbers", f"quantize {opt} {v}", lambda w, opt=opt, v=v: ["quantize", str(w.run), "--qat", "--force", opt, v])
    for opt, v in (("--timeout", "0"), ("--timeout", "-1"), ("--timeout", "nan"), ("--threads", "0"),
                   ("--threads", "-2"), ("--threads", "100000"), ("--runs", "100000000000"), ("--warmup", "-1")):
        add("numbers", f"bench {opt} {v}",
            lambda w, opt=opt, v=v: ["bench", str(w.run / "model_ptq_int8.tflite"), "--runs", "2", "--warmup", "0", opt, v])
    for opt, v in (("--size", "100000"), ("--size", "0"), ("--per-class", "0"), ("--per-class", "-3"),
                   ("--per-class", "1000000000")):
        add("numbers", f"data synth {opt} {v}", lambda w, opt=opt, v=v: ["data", "synth", str(w.root / "syn"), opt, v])
    for v in ("nan", "0", "1", "-0.2", "inf"):
        add("numbers", f"data split --val-fraction {v}",
            lambda w, v=v: ["data", "split", str(w.data), "--val-fraction", v, "--out", str(w.root / "s.json")])
    for v in ("nan", "0", "2", "-1"):
        add("numbers", f"evaluate --target-sensitivity {v}",
            lambda w, v=v: ["evaluate", str(w.run), "--target-sensitivity", v, "--force"])
    for opt, v in (("--port", "0"), ("--port", "70000"), ("--port", "-1"), ("--connect-timeout", "100000000")):
        add("numbers", f"deploy {opt} {v}", lambda w, opt=opt, v=v: ["deploy", str(w.run), "--host", "127.0.0.1", opt, v])
    for opt, v in (("--epochs", "100000000"), ("--epochs", "0")):
        add("numbers", f"demo {opt} {v}", lambda w, opt=opt, v=v: ["demo", "--out", str(w.root / "demo"), opt, v])
    for key, value in (("resize_mode", '"bogus"'), ("normalize", '"bogus"'), ("epochs", "0"), ("batch_size", "-1"),
                       ("learning_rate", "nan"), ("schedule", '"bogus"'), ("monitor", '"bogus"'),
                       ("threshold_rule", '"bogus"'), ("task", '"bogus"'), ("val_fraction", "1.5"),
                       ("zoom_max", "0.5"), ("brightness", "-1"), ("target_sensitivity", "2"),
                       ("dropout", "1.5"), ("bn_momentum", "2"), ("label_smoothing", "1"), ("model", '"nope"')):
        add("numbers", f"train --config {key} = {value}",
            lambda w: ["train", "--data", str(w.data), "--config", str(w.root / "c.toml"), "--name", "c",
                       "--runs-root", R(w), "--size", "32", "--epochs", "1"],
            lambda w, key=key, value=value: (w.root / "c.toml").write_text(f"{key} = {value}\n"),
            no_run_left("c"))

    # corrupt run files
    commands = {"quantize": ["quantize", "{run}", "--force", "--calibration-size", "8"],
                "evaluate": ["evaluate", "{run}", "--force"],
                "export": ["export", "{run}", "--format", "tflite", "--out", "{root}/x"],
                "bench": ["bench", "{run}", "--runs", "2", "--warmup", "0", "--threads", "1"]}
    for rel, used_by in {"spec.json": ("quantize", "evaluate", "export", "bench"),
                         "manifest.json": ("quantize", "evaluate", "export"), "split.json": ("quantize", "evaluate"),
                         "model.keras": ("quantize", "evaluate"), "model_ptq_int8.tflite": ("evaluate", "export", "bench"),
                         "model_float.tflite": ("evaluate",), "val_metrics.json": ("export",)}.items():
        for keep in (0.0, 0.5):
            for cmd in used_by:
                add("corrupt", f"{cmd} with {rel} truncated to {int(keep * 100)} %",
                    lambda w, cmd=cmd: [c.format(run=w.run, root=w.root) for c in commands[cmd]],
                    lambda w, rel=rel, keep=keep: (keep_models(w), truncate(rel, keep)(w)),
                    models_kept if cmd == "quantize" and rel == "manifest.json" else None)
    for content in ('{"width": "abc"}', "[]", '{"labels": 5}', "null", '{"width": -3, "labels": ["a", "b"]}'):
        add("corrupt", f"evaluate with spec.json = {content}", lambda w: ["evaluate", str(w.run), "--force"],
            write("spec.json", content))
        add("corrupt", f"export with spec.json = {content}",
            lambda w: ["export", str(w.run), "--format", "tflite", "--out", str(w.root / "x")], write("spec.json", content))
    for content in ('{"items": 3}', "[]", '{"root": 1}'):
        add("corrupt", f"quantize with split.json = {content}",
            lambda w: ["quantize", str(w.run), "--force", "--calibration-size", "8"], write("split.json", content))
    add("corrupt", "train --resume with state.json truncated",
        lambda w: ["train", "--resume", "--name", "base", "--runs-root", R(w)], write("checkpoints/state.json", '{"epoch'))
    add("corrupt", "float model in the int8 slot (evaluate)", lambda w: ["evaluate", str(w.run), "--force"],
        float_in_int8_slot, not_reported_as_ptq)
    add("corrupt", "float model in the int8 slot (export)",
        lambda w: ["export", str(w.run), "--format", "tflite", "--out", str(w.root / "x")], float_in_int8_slot)
    add("corrupt", "quantize with a broken manifest keeps the models",
        lambda w: ["quantize", str(w.run), "--force", "--calibration-size", "8"],
        lambda w: (keep_models(w), write("manifest.json", "{broken")(w)), models_kept)
    add("corrupt", "eval.json truncated, then export bundle",
        lambda w: ["export", str(w.run), "--out", str(w.root / "b")],
        lambda w: write("eval/x/eval.json", '{"models": {"ptq_int8"')(w))
    add("corrupt", "tune --resume with tune.json truncated",
        lambda w: ["tune", "--board", "nano33ble", "--resume", "--name", "base", "--runs-root", R(w)],
        write("tune.json", '{"board": "nano'))

    # encodings
    add("encodings", "latin-1 CSV", lambda w: ["data", "inspect", str(w.data / "NORMAL"), "--csv", str(w.root / "labels.csv")],
        csv_case(["person1_synth_0.png,Pneumonie é,1", "person1_synth_1.png,Normal,2"], "latin-1"))
    add("encodings", "binary CSV", lambda w: ["data", "inspect", str(w.data), "--csv", str(w.root / "labels.csv")],
        lambda w: (w.root / "labels.csv").write_bytes(bytes(range(256)) * 4))
    add("encodings", "latin-1 CSV in train", lambda w: ["train", "--data", str(w.data / "NORMAL"), "--csv",
                                                        str(w.root / "labels.csv"), "--runs-root", R(w), "--name", "e"],
        csv_case(["person1_synth_0.png,Pneumonie é,1", "person1_synth_1.png,Normal,2"], "latin-1"),
        no_run_left("e"))
    add("encodings", "latin-1 devices file", lambda w: ["bench", str(w.run / "model_ptq_int8.tflite"), "--device",
                                                        "nano33ble", "--devices-file", str(w.root / "d.toml")],
        lambda w: (w.root / "d.toml").write_bytes("# caf\xe9\n[boards]\n".encode("latin-1")))
    add("encodings", "latin-1 config", lambda w: ["train", "--data", str(w.data), "--config", str(w.root / "c.toml"),
                                                  "--runs-root", R(w), "--name", "e"],
        lambda w: (w.root / "c.toml").write_bytes("recipe = \"caf\xe9\"\n".encode("latin-1")))
    add("encodings", "non-UTF-8 spec.json", lambda w: ["evaluate", str(w.run), "--force"],
        write("spec.json", b'{"labels": ["\xff\xfe"]}'))

    # filesystem
    for kind in ("full", "ro"):
        add("filesystem", f"train into a {kind} runs root",
            lambda w: ["train", "--data", str(w.data), "--size", "32", "--epochs", "1", "--batch-size", "8",
                       "--runs-root", str(w.root / "mnt"), "--name", "f"],
            lambda w, kind=kind: mount(w, kind), full_leftovers if kind == "full" else None, needs_mount=True)
        add("filesystem", f"data synth into a {kind} folder",
            lambda w: ["data", "synth", str(w.root / "mnt" / "syn"), "--per-class", "40"],
            lambda w, kind=kind: mount(w, kind), needs_mount=True)
        add("filesystem", f"data import into a {kind} folder",
            lambda w: ["data", "import", str(w.data), "--out", str(w.root / "mnt" / "ds")],
            lambda w, kind=kind: mount(w, kind), full_leftovers if kind == "full" else None, needs_mount=True)
        add("filesystem", f"data split to a {kind} folder",
            lambda w: ["data", "split", str(w.data), "--out", str(w.root / "mnt" / "s.json")],
            lambda w, kind=kind: (mount(w, kind), (w.root / "mnt").exists()), needs_mount=True)
        add("filesystem", f"export into a {kind} folder",
            lambda w: ["export", str(w.run), "--out", str(w.root / "mnt" / "b")],
            lambda w, kind=kind: mount(w, kind), full_leftovers if kind == "full" else None, needs_mount=True)

        def run_on_mount(w, kind=kind):
            mount(w, kind, "16m", lambda mnt: shutil.copytree(w.run, mnt / "r", ignore=shutil.ignore_patterns("export")))
        add("filesystem", f"evaluate a run on a {kind} disk", lambda w: ["evaluate", str(w.root / "mnt" / "r"), "--force"],
            run_on_mount, needs_mount=True)
        add("filesystem", f"quantize a run on a {kind} disk",
            lambda w: ["quantize", str(w.root / "mnt" / "r"), "--force", "--calibration-size", "8"], run_on_mount,
            needs_mount=True)

    # silent skips
    add("skips", "evaluate lists an unreadable image",
        lambda w: ["evaluate", str(w.run), "--data", str(w.root / "test")], unreadable_image, lists_unreadable)
    add("skips", "inspect lists a dangling symlink", lambda w: ["data", "inspect", str(w.data)], dangling_symlink,
        lists_symlink)

    # archives
    add("archives", "zip bomb member", lambda w: ["data", "import", str(w.root / "bomb.zip"), "--out", str(w.root / "ds")],
        zip_bomb, lambda w, r: "bomb extracted" if (w.root / "ds" / "NORMAL" / "huge.png").exists() else None)

    # injection
    add("injection", "deploy --remote-dir with $(...)",
        lambda w: ["deploy", str(w.run), "--host", "nobody@127.0.0.1", "--port", "1", "--remote-dir",
                   "x$(touch /tmp/probe13-pwned)"],
        check=lambda w, r: "remote dir accepted unchecked" if "unreachable" in r.output else None)
    add("injection", "train --name with $(...)", T("--name", "r$(touch pwned)"), check=no_run_left("r$(touch pwned)"))
    add("injection", "newline in a test image name (arduino)",
        lambda w: ["export", str(w.run), "--format", "arduino", "--out", str(w.root / "ard"),
                   "--test-image", str(w.root / "a\n#error INJECTED\n.png")],
        lambda w: shutil.copyfile(next((w.data / "NORMAL").iterdir()), w.root / "a\n#error INJECTED\n.png"),
        c_not_injected("ard"))
    add("injection", "*/ and newline in the run folder name (c-header)",
        lambda w: ["export", str(w.root / "evil*"), "--format", "c-header", "--out", str(w.root / "ch")],
        lambda w: shutil.copytree(w.run, w.root / "evil*"), c_not_injected("ch"))
    add("injection", "newline in the run folder name (arduino)",
        lambda w: ["export", str(w.root / "e\n#error INJECTED\n"), "--format", "arduino", "--out", str(w.root / "ard")],
        lambda w: shutil.copytree(w.run, w.root / "e\n#error INJECTED\n"), c_not_injected("ard"))
    out += issue22_cases(R, T)
    return out


# -- issue 22's classes -----------------------------------------------------------------------------
LATIN1 = os.fsdecode(b"caf\xe9_person900_1.png")


def run_copy(rel: str):
    """A copy of the base run at w.root/rel (a trained run some --force must never replace)."""
    def setup(w: Work):
        shutil.copytree(w.run, w.root / rel, symlinks=True)
        w.before = _snapshot(w.root / rel)
    return setup


def dataset_copy(rel: str):
    """A dataset `edgecxr data synth` wrote (its marker) at w.root/rel."""
    def setup(w: Work):
        shutil.copytree(w.data, w.root / rel)
        (w.root / rel / ".edgecxr").write_text('{"written_by": "edgecxr", "kind": "dataset"}')
        w.before = _snapshot(w.root / rel)
    return setup


def unchanged(rel: str):
    def check(w: Work, result):
        return None if _snapshot(w.root / rel) == w.before else f"data loss: {rel} changed"
    return check


def earlier_output_plus_user_file(argv, rel: str):
    """Run the command once (its own output), then add a user's file into that output."""
    def setup(w: Work):
        from typer.testing import CliRunner

        import edgecxr.cli

        CliRunner().invoke(edgecxr.cli.app, argv(w))
        (w.root / rel / "reviewed.txt").write_text("signed by a radiologist\n")
    return setup


def swapped_without_manifest(content: str | None):
    """Another run's int8 model in the int8 slot (the same run quantized again with another
    calibration sample), the manifest deleted (None) or emptied."""
    def setup(w: Work):
        from edgecxr.quantize import QuantizeOptions, quantize

        other = w.root / "other"
        shutil.copytree(w.run, other, ignore=shutil.ignore_patterns("export", "eval"))
        quantize(other, QuantizeOptions(int8=True, qat=False, calibration_size=4, seed=7, force=True))
        assert (other / "model_ptq_int8.tflite").read_bytes() != (w.run / "model_ptq_int8.tflite").read_bytes()
        shutil.copyfile(other / "model_ptq_int8.tflite", w.run / "model_ptq_int8.tflite")
        if content is None:
            (w.run / "manifest.json").unlink()
        else:
            (w.run / "manifest.json").write_text(content)
    return setup


def refused(w: Work, result):
    return "misleading success: exit 0" if result.exit_code == 0 else None


def no_new_manifest(w: Work, result):
    return "a new manifest blessed the swapped model" if (w.run / "manifest.json").is_file() and \
        '"evaluate"' in (w.run / "manifest.json").read_text() else refused(w, result)


def board_python(body: str):
    """The emulated Pi's python replaced by a program that misbehaves (the host side stays real)."""
    def patch(w: Work):
        from edgecxr.bench import pi_emu

        script = w.root / "pi4-emu-python3"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
        return {(pi_emu, "userland"): lambda *a, **k: script}
    return patch


def backbone_json(content: str):
    def setup(w: Work):
        folder = w.root / "cache" / "backbones" / "kermany-mnv1"
        folder.mkdir(parents=True)
        (folder / "model.keras").write_bytes(b"x")
        (folder / "backbone.json").write_text(content)
    return setup


def latin1_file(where: str):
    def setup(w: Work):
        target = w.root / where / LATIN1 if where else w.root / LATIN1
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(next((w.data / "NORMAL").iterdir()), target)
    return setup


def held_out(extra=None):
    """The run's validation images as a folder (evaluate refuses training images), plus ``extra``."""
    def setup(w: Work):
        split = json.loads((w.run / "split.json").read_text())
        for it in split["items"]:
            if it["split"] == "val":
                (w.root / "test" / Path(it["path"]).parent).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(w.data / it["path"], w.root / "test" / it["path"])
        if extra:
            extra(w.root / "test")
    return setup


def zip_with(flags: int, method: int | None):
    def setup(w: Work):
        archive = w.root / "ds.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(w.data.rglob("*.png")):
                z.write(p, f"ds/{p.relative_to(w.data)}")
        data = bytearray(archive.read_bytes())
        with zipfile.ZipFile(archive) as z:
            local = z.infolist()[0].header_offset
        central = data.index(b"PK\x01\x02")
        for flag_at, method_at in ((local + 6, local + 8), (central + 8, central + 10)):
            data[flag_at] |= flags
            if method is not None:
                data[method_at:method_at + 2] = method.to_bytes(2, "little")
        archive.write_bytes(bytes(data))
    return setup


def nothing_at(rel: str):
    def check(w: Work, result):
        return f"half-written {rel} left" if (w.root / rel).exists() and result.exit_code != 0 else None
    return check


def replace_run_file(name: str, make):
    def setup(w: Work):
        (w.run / name).unlink()
        make(w.run / name)
    return setup


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def killed_export(w: Work):
    staging = w.run / "export" / f".tflite.edgecxr-tmp-{dead_pid()}-probe"
    staging.mkdir(parents=True)
    (staging / "model.tflite").write_bytes(b"half a model")


def leftovers_gone(w: Work, result):
    stray = [str(p.relative_to(w.run)) for p in w.run.rglob("*edgecxr-tmp*")]
    listed = [f for f in json.loads((w.run / "manifest.json").read_text()).get("files", {}) if "tmp" in f]
    return f"leftovers kept {stray} / recorded {listed}" if stray or listed else None


def decoded(name: str, make, expect):
    """An image the data inspect command reads, then decoded as every loader does and compared."""
    def setup(w: Work):
        folder = w.root / "imgs"
        for cls in ("NORMAL", "PNEUMONIA"):
            (folder / cls).mkdir(parents=True)
            shutil.copyfile(next((w.data / cls).iterdir()), folder / cls / "person1_a.png")
        make(folder / "NORMAL" / name)

    def check(w: Work, result):
        import numpy as np

        from edgecxr.device.preprocess import preprocess_file
        from edgecxr.device.spec import ModelSpec

        x = preprocess_file(w.root / "imgs" / "NORMAL" / name, ModelSpec(width=32, height=48))[..., 0].astype(int)
        return None if np.abs(x - expect()).max() <= 2 else f"decoded wrong (max difference {np.abs(x - expect()).max()})"
    return setup, check


def _gradient():
    import numpy as np

    y, x = np.mgrid[0:48, 0:32]
    return (255 - (y * 160 // 48 + x * 95 // 32)).astype(np.uint8)


def _exif_rotated(path: Path):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    Image.fromarray(_gradient(), "L").transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes())


def _float_tiff(path: Path):
    from PIL import Image

    Image.fromarray((_gradient() / 255.0).astype("float32"), "F").save(path)


def _png12(path: Path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.round(_gradient() / 255.0 * 4095).astype(np.uint16)).save(path)


def _stretched():
    g = _gradient().astype(float)
    return (g - g.min()) / (g.max() - g.min()) * 255


def issue22_cases(R, T) -> list[Case]:
    out: list[Case] = []
    add = lambda *a, **k: out.append(Case(*a, **k))  # noqa: E731
    E = lambda *a: (lambda w: ["export", str(w.run), *a])  # noqa: E731

    # --force replaces only what the same command wrote
    for name, argv in {"export tflite": E("--format", "tflite", "--out", "{v}", "--force"),
                       "export bundle": E("--out", "{v}", "--force"),
                       "data synth": lambda w: ["data", "synth", "{v}", "--per-class", "4", "--size", "32", "--force"],
                       "data import": lambda w: ["data", "import", str(w.data), "--out", "{v}", "--force"]}.items():
        add("force", f"{name} --force onto a trained run",
            lambda w, argv=argv: [a.replace("{v}", str(w.root / "victim")) for a in argv(w)],
            run_copy("victim"), unchanged("victim"))
    add("force", "export --force over an earlier export holding a user's file",
        E("--format", "tflite", "--out", "{root}/x", "--force"),
        earlier_output_plus_user_file(lambda w: ["export", str(w.run), "--format", "tflite", "--out", str(w.root / "x")],
                                      "x"), survives("x", "reviewed.txt"))
    add("force", "evaluate --force over its report holding a user's file",
        lambda w: ["evaluate", str(w.run), "--force"],
        earlier_output_plus_user_file(lambda w: ["evaluate", str(w.run), "--force"], "runs/base/eval/val"),
        survives("runs/base/eval/val", "reviewed.txt"))
    add("force", "export --force onto a dataset folder", E("--format", "tflite", "--out", "{root}/ds", "--force"),
        dataset_copy("ds"), unchanged("ds"))

    # misleading success
    for content in (None, "{}\n"):
        what = "deleted" if content is None else "emptied"
        add("misleading", f"evaluate a run whose manifest was {what} (another model swapped in)",
            lambda w: ["evaluate", str(w.run), "--force"], swapped_without_manifest(content), no_new_manifest)
        add("misleading", f"export a run whose manifest was {what} (another model swapped in)",
            E("--format", "tflite", "--out", "{root}/x"), swapped_without_manifest(content), refused)
    for as_json in ([], ["--json"]):
        add("misleading", f"pi4-emu {' '.join(as_json)} with every call killed by a signal",
            lambda w, as_json=as_json: ["bench", str(w.run / "model_ptq_int8.tflite"), "--device", "pi4-emu",
                                        "--runtime", "litert", "--kernels", "reference", "--runs", "2", "--warmup",
                                        "0", "--images", "2", *as_json],
            check=refused, patch=board_python("kill -SEGV $$"))
    add("misleading", "train --pretrain-epochs with --backbone", T("--backbone", "kermany-mnv1", "--pretrain-epochs",
                                                                    "2", "--name", "p"), check=refused)
    add("misleading", "backbone build --data of three other classes, labelled Kermany",
        lambda w: ["backbone", "build", "kermany-mnv1", "--data", str(w.root / "multi"), "--epochs", "1", "--json"],
        lambda w: [shutil.copytree(w.data / "NORMAL", w.root / "multi" / c) for c in ("Covid", "Normal", "Viral")],
        check=lambda w, r: "labelled with Kermany's name" if r.exit_code == 0 and '"dataset": "kermany"' in r.stdout
        else None, env=lambda w: {"EDGECXR_CACHE": str(w.root / "cache"), "EDGECXR_SHARED_DATA": str(w.root / "no")})
    for name, make, expect in (("exif.png", _exif_rotated, _gradient), ("float.tif", _float_tiff, _stretched),
                               ("gray12.png", _png12, _gradient)):
        setup, check = decoded(name, make, expect)
        add("misleading", f"decode {name}", lambda w: ["data", "inspect", str(w.root / "imgs")], setup, check)

    # tracebacks
    for content in ("[]", '{"name": "kermany-mnv1"}', "7"):
        cache = lambda w: {"EDGECXR_CACHE": str(w.root / "cache")}  # noqa: E731
        add("tracebacks", f"backbone show with backbone.json = {content}",
            lambda w: ["backbone", "show", "kermany-mnv1"], backbone_json(content), env=cache)
        add("tracebacks", f"backbone list with backbone.json = {content}", lambda w: ["backbone", "list"],
            backbone_json(content), env=cache)
        add("tracebacks", f"train --backbone with backbone.json = {content}",
            T("--backbone", "kermany-mnv1", "--name", "bb"), backbone_json(content), no_run_left("bb"), env=cache)
    add("tracebacks", "evaluate --data with a dangling symlink",
        lambda w: ["evaluate", str(w.run), "--data", str(w.root / "test")],
        held_out(lambda t: (t / "NORMAL" / "gone.png").symlink_to(t / "nowhere.png")))
    add("tracebacks", "evaluate --data with a non-UTF-8 file name",
        lambda w: ["evaluate", str(w.run), "--data", str(w.root / "test")],
        held_out(lambda t: shutil.copyfile(next((t / "NORMAL").iterdir()), t / "NORMAL" / LATIN1)))
    add("tracebacks", "train --data with a non-UTF-8 file name", T("--name", "nu"),
        lambda w: shutil.copyfile(next((w.data / "NORMAL").iterdir()), w.data / "NORMAL" / LATIN1), no_run_left("nu"))
    for fmt in ("arduino", "rpi"):
        add("tracebacks", f"export {fmt} --test-image with a non-UTF-8 name",
            lambda w, fmt=fmt: ["export", str(w.run), "--format", fmt, "--out", str(w.root / fmt), "--test-image",
                                str(w.root / LATIN1)], latin1_file(""), nothing_at(fmt))
    for flags, method, what in ((0x1, None, "encrypted"), (0, 9, "Deflate64")):
        add("tracebacks", f"data import of a zip with a {what} member",
            lambda w: ["data", "import", str(w.root / "ds.zip"), "--out", str(w.root / "out")], zip_with(flags, method),
            nothing_at("out"))
    for device in ("pi4-emu", "qemu-m4"):
        for v in ("nan", "inf", "-1"):
            add("tracebacks", f"bench --device {device} --timeout {v}",
                lambda w, device=device, v=v: ["bench", str(w.run), "--device", device, "--timeout", v])
    for body, what in (("sleep 30", "times out"), ("echo garbage; exit 1", "crashes"), ("exec /nonexistent", "cannot start")):
        add("tracebacks", f"emulated Pi runner that {what}",
            lambda w: ["bench", str(w.run / "model_ptq_int8.tflite"), "--device", "pi4-emu", "--runtime", "litert",
                       "--kernels", "reference", "--runs", "2", "--warmup", "0", "--images", "2", "--timeout", "5"],
            patch=board_python(body))

    def full_cache(w: Work):
        mount(w, "full")
    add("tracebacks", "evaluate with the cache folder on a full disk", lambda w: ["evaluate", str(w.run), "--force"],
        full_cache, full_leftovers,
        env=lambda w: {"EDGECXR_CACHE": str(w.root / "mnt")}, needs_mount=True)

    # hangs: nothing that is not a regular file is opened
    for name, make, what in (("spec.json", os.mkfifo, "a FIFO"), ("manifest.json", os.mkfifo, "a FIFO"),
                             ("model_ptq_int8.tflite", os.mkfifo, "a FIFO"),
                             ("model_ptq_int8.tflite", lambda p: p.symlink_to("/dev/zero"), "a link to /dev/zero"),
                             ("split.json", lambda p: p.symlink_to("/dev/zero"), "a link to /dev/zero")):
        add("hangs", f"evaluate with {name} {what}", lambda w: ["evaluate", str(w.run), "--force"],
            replace_run_file(name, make))
        if name != "split.json":
            add("hangs", f"export with {name} {what}", E("--format", "tflite", "--out", "{root}/x"),
                replace_run_file(name, make))
    add("hangs", "data import of a folder holding a FIFO",
        lambda w: ["data", "import", str(w.data), "--out", str(w.root / "ds")],
        lambda w: os.mkfifo(w.data / "NORMAL" / "pipe.png"))

    # leftovers
    add("leftovers", "a killed export's staging folder, then export", E("--format", "tflite"), killed_export,
        leftovers_gone)
    add("leftovers", "a killed export's staging folder, then evaluate", lambda w: ["evaluate", str(w.run), "--force"],
        killed_export, leftovers_gone)

    # rough edges
    add("rough", "--json true", lambda w: ["evaluate", str(w.run), "--json", "true"])
    for case in out:  # "{root}" in a template argument is the case's sandbox
        case.argv = (lambda f: lambda w: [a.replace("{root}", str(w.root)) for a in f(w)])(case.argv)
    return out


# -- running ----------------------------------------------------------------------------------------
def classify(result, elapsed: float) -> str:
    if isinstance(result.exception, Hang):
        return "hang"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "traceback"
    output = result.output
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if result.exit_code == 0:
        return "ok"
    errors = [ln for ln in output.splitlines() if ln.startswith("error:")]
    hints = [ln for ln in output.splitlines() if ln.startswith("hint:")]
    if result.exit_code == 2 and len(errors) == 1 and len(hints) == 1:
        return "clean"
    return "unclean"


def run_case(case: Case, base: Path, tmp: Path, can_mount: bool) -> tuple[str, str | None, float, str]:
    from typer.testing import CliRunner

    import edgecxr.cli

    w = sandbox(base, tmp)
    if case.setup:
        case.setup(w)
    argv = case.argv(w)

    def alarm(*_):
        raise Hang()

    env = case.env(w) if callable(case.env) else case.env
    patches = case.patch(w) if case.patch else {}
    saved = {(m, a): getattr(m, a) for m, a in patches}
    for (m, a), value in patches.items():
        setattr(m, a, value)
    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(TIMEOUT_S)
    started = time.perf_counter()
    try:
        result = CliRunner().invoke(edgecxr.cli.app, argv, env=env or None)
        outcome = classify(result, time.perf_counter() - started)
    except Hang:
        return "hang", None, time.perf_counter() - started, ""
    finally:
        signal.alarm(0)
        for (m, a), value in saved.items():
            setattr(m, a, value)
    problem = case.check(w, result) if case.check else None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        detail = "".join(traceback.format_exception(result.exception)).strip().splitlines()[-1]
    else:
        detail = " | ".join(ln for ln in result.output.splitlines() if ln.startswith(("error:", "hint:")))[:300]
    return outcome, problem, time.perf_counter() - started, detail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, default=Path(tempfile.gettempdir()) / "edgecxr-probe-base")
    ap.add_argument("-k", default="", help="only cases whose class or name contains this (or one of these, "
                                            "comma-separated)")
    ap.add_argument("-v", action="store_true", help="print every case")
    args = ap.parse_args()
    if not (args.base / "done").exists():
        shutil.rmtree(args.base, ignore_errors=True)
        print(f"building the base run in {args.base} ...", file=sys.stderr)
        build_base(args.base)
    can_mount = os.geteuid() == 0 and subprocess.run(
        ["sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=4k tmpfs $d && umount $d"], capture_output=True).returncode == 0
    wanted = args.k.split(",")
    selected = [c for c in cases() if any(k in c.klass or k in c.name for k in wanted)]
    counts, problems, per_class = Counter(), [], {}
    skipped = 0
    for case in selected:
        if case.needs_mount and not can_mount:
            skipped += 1
            continue
        tmp = Path(tempfile.mkdtemp(prefix="probe13-"))
        try:
            outcome, problem, seconds, detail = run_case(case, args.base, tmp / "w", can_mount)
        finally:
            with contextlib.suppress(Exception):
                subprocess.run(["umount", str(tmp / "w" / "mnt")], capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
            for stray in Path("/tmp").glob("probe13-abs*"):
                shutil.rmtree(stray, ignore_errors=True)
        counts[outcome] += 1
        per_class.setdefault(case.klass, Counter())[outcome] += 1
        if problem:
            problems.append((case, problem))
            per_class[case.klass]["problem"] += 1
        if args.v or outcome in ("traceback", "hang", "unclean") or problem:
            print(f"[{outcome:9}] {case.klass:10} {case.name}: {detail}" + (f"  PROBLEM: {problem}" if problem else ""),
                  flush=True)
    n = sum(counts.values())
    print(f"\n{n} cases, {counts['clean']} clean errors, {counts['ok']} exit 0, {counts['traceback']} tracebacks, "
          f"{counts['hang']} hangs, {counts['unclean']} other exits; {len(problems)} contract problems "
          f"(data loss, escape, injection, silent skip)" + (f"; {skipped} filesystem cases left out (no mount)" if skipped else ""))
    for k, c in per_class.items():
        print(f"  {k:10} " + ", ".join(f"{o} {v}" for o, v in sorted(c.items())))


if __name__ == "__main__":
    main()

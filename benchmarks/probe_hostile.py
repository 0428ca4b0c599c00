"""Hostile inputs against the command line: how many end in a clean error, a traceback or a hang?

Each case runs `edgecxr ...` in this process (typer's CliRunner; TensorFlow loads once) on a
fresh copy of a small real run (synthetic data, trained, quantized and exported once, kept in
--base), then checks the contract: exit 0, or exit 2 with exactly one ``error:`` and one
``hint:`` line; no traceback; no hang; nothing lost; nothing written outside the output path;
nothing injected into generated C. Filesystem cases mount small tmpfs folders (full, read-only)
and so need root with CAP_SYS_ADMIN; without it they are left out (and counted as such).

    python benchmarks/probe_hostile.py                # all cases
    python benchmarks/probe_hostile.py -k numbers     # the cases whose class or name has "numbers"
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
    env: dict = field(default_factory=dict)
    needs_mount: bool = False


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

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(TIMEOUT_S)
    started = time.perf_counter()
    try:
        result = CliRunner().invoke(edgecxr.cli.app, argv, env=case.env or None)
        outcome = classify(result, time.perf_counter() - started)
    except Hang:
        return "hang", None, time.perf_counter() - started, ""
    finally:
        signal.alarm(0)
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
    ap.add_argument("-k", default="", help="only cases whose class or name contains this")
    ap.add_argument("-v", action="store_true", help="print every case")
    args = ap.parse_args()
    if not (args.base / "done").exists():
        shutil.rmtree(args.base, ignore_errors=True)
        print(f"building the base run in {args.base} ...", file=sys.stderr)
        build_base(args.base)
    can_mount = os.geteuid() == 0 and subprocess.run(
        ["sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=4k tmpfs $d && umount $d"], capture_output=True).returncode == 0
    selected = [c for c in cases() if args.k in c.klass or args.k in c.name]
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

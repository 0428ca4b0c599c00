"""The command line's contract for any input (issue 13), checked with generated inputs.

For every command: exit 0, or exit 2 with exactly one ``error:`` line and one ``hint:`` line;
never a traceback; nothing outside the command's output path changed; a run it failed on left
as it was. Hypothesis generates the hostile option values, names and damaged run files; each
example runs on a fresh copy of one small real run (quantized_run: trained, PTQ and QAT int8).
"""

from __future__ import annotations

import math
import shutil
import string
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.checks import CHOICES, LIMITS
from edgecxr.errors import ConfigError
from edgecxr.runs import NAME_PATTERN, check_name
from tests.fixtures_run import file_hashes

# no "explain" phase: tracing every line under TensorFlow takes many minutes per failure
SETTINGS = settings(max_examples=80, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def invoke(*args, env=None):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args], env=env)


def assert_contract(result) -> bool:
    """Exit 0 (True), or exit 2 with one error: and one hint: line and no traceback (False)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail("traceback:\n" + "".join(traceback.format_exception(result.exception)))
    assert "Traceback (most recent call last)" not in result.output
    if result.exit_code == 0:
        return True
    lines = result.output.splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    hints = [ln for ln in lines if ln.startswith("hint:")]
    assert (result.exit_code, len(errors), len(hints)) == (2, 1, 1), result.output
    return False


class Box:
    """A fresh folder per example: a copy of the run, an output path, and everything to watch."""

    def __init__(self, run: Path, data: Path):
        self.root = Path(tempfile.mkdtemp(prefix="edgecxr-contract-"))
        self.run = self.root / "run"
        shutil.copytree(run, self.run)
        self.data = data
        self.out = self.root / "out"
        self.before = self.snapshot()

    def snapshot(self) -> dict:
        return {"box": file_hashes(self.root), "data": file_hashes(self.data)}

    def assert_unchanged(self, except_out: bool = False) -> None:
        now = self.snapshot()
        if except_out:
            now["box"] = {k: v for k, v in now["box"].items() if not k.startswith("out")}
        assert now == self.before

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def base(quantized_run, synth_binary):
    run, _ = quantized_run
    return run.path, synth_binary


# -- hostile option values ----------------------------------------------------------------------
def _hostile(limit_key: str, integer: bool):
    """Values that must be refused: outside LIMITS[limit_key] (bounds included when excluded),
    NaN, infinities, text, a float for an int."""
    words = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e400", "abc", "", " ", "0x10", "1,5", "--", "-"])
    if limit_key in CHOICES:
        allowed = {v for v in CHOICES[limit_key] if v is not None}
        return st.one_of(words, st.integers(-10**6, 10**6).filter(lambda v: v not in allowed).map(str))
    lo, hi, lo_open, hi_open = LIMITS[limit_key]
    if integer:
        below = st.integers(max_value=math.ceil(lo) - (0 if lo_open else 1), min_value=-10**20)
        above = st.integers(min_value=math.floor(hi) + (0 if hi_open else 1), max_value=10**20)
        return st.one_of(words, below.map(str), above.map(str), st.just("1.5"))
    below = st.floats(max_value=lo, min_value=-1e300, exclude_max=not lo_open)
    above = st.floats(min_value=hi, max_value=1e300, exclude_min=not hi_open)
    return st.one_of(words, below.map(repr), above.map(repr))


def _train(b):
    return ["train", "--data", b.data, "--name", "n", "--runs-root", b.out, "--size", "32", "--epochs", "1",
            "--pretrain-epochs", "0"]


# (command prefix, option, LIMITS/CHOICES key, integer?)
OPTIONS = [
    *[(_train, flag, key, integer) for flag, key, integer in [
        ("--epochs", "epochs", True), ("--batch-size", "batch_size", True), ("--lr", "learning_rate", False),
        ("--val-fraction", "val_fraction", False), ("--alpha", "alpha", False), ("--size", "size", True),
        ("--channels", "channels", True), ("--seed", "seed", True), ("--distill-alpha", "distill_alpha", False),
        ("--distill-temperature", "distill_temperature", False)]],
    (lambda b: ["quantize", b.run, "--force"], "--calibration-size", "calibration_size", True),
    (lambda b: ["quantize", b.run, "--force", "--qat"], "--qat-epochs", "qat_epochs", True),
    (lambda b: ["quantize", b.run, "--force", "--qat"], "--qat-lr", "qat_lr", False),
    (lambda b: ["evaluate", b.run, "--force"], "--target-sensitivity", "target_sensitivity", False),
    (lambda b: ["evaluate", b.run, "--force"], "--seed", "seed", True),
    *[(lambda b: ["bench", b.run / "model_ptq_int8.tflite"], flag, key, integer) for flag, key, integer in [
        ("--runs", "runs", True), ("--warmup", "warmup", True), ("--threads", "threads", True),
        ("--timeout", "timeout", False)]],
    *[(lambda b: ["tune", "--board", "nano33ble", "--data", b.data, "--short", "--runs-root", b.out], flag, key,
       integer) for flag, key, integer in [("--budget-minutes", "budget_minutes", False),
                                           ("--max-latency-ms", "max_latency_ms", False), ("--seed", "seed", True)]],
    (lambda b: ["data", "synth", b.out / "syn"], "--per-class", "per_class", True),
    (lambda b: ["data", "synth", b.out / "syn"], "--size", "image_size", True),
    (lambda b: ["data", "split", b.data, "--out", b.out / "s.json"], "--val-fraction", "val_fraction", False),
    (lambda b: ["deploy", b.run, "--host", "nobody@127.0.0.1"], "--port", "port", True),
    (lambda b: ["deploy", b.run, "--host", "nobody@127.0.0.1"], "--connect-timeout", "connect_timeout", True),
    (lambda b: ["demo", "--out", b.out / "demo"], "--epochs", "epochs", True),
]


@pytest.mark.slow
@SETTINGS
@given(data=st.data())
def test_any_bad_option_value_is_one_clean_error_and_writes_nothing(base, data):
    prefix, flag, key, integer = data.draw(st.sampled_from(OPTIONS), label="option")
    value = data.draw(_hostile(key, integer), label="value")
    b = Box(*base)
    try:
        result = invoke(*prefix(b), flag, value)
        assert not assert_contract(result), f"{flag} {value!r} was accepted"
        b.assert_unchanged()
        assert not b.out.exists()
    finally:
        b.close()


# -- names that become paths ----------------------------------------------------------------------
HOSTILE_NAMES = st.one_of(
    st.sampled_from(["../escape", "../../x", "/tmp/abs", "a/b", "..", ".", "-rf", "x$(touch pwned)", "a;b",
                     "a\nb", "a b", "`id`", "~", ".hidden", "x" * 101, "", "a\\b", "é"]),
    st.text(alphabet=string.printable + "é\u00a0\u202e", max_size=30).filter(lambda s: not NAME_PATTERN.fullmatch(s)),
)


@given(name=st.text(max_size=40))
@settings(max_examples=200, deadline=None, database=None)
def test_a_name_is_refused_or_stays_one_folder_inside_the_root(name):
    try:
        check_name(name)
    except ConfigError:
        return
    root = Path("/runs-root")
    assert (root / name).parent == root and ".." not in name.split("/") and "/" not in name


@pytest.mark.slow
@SETTINGS
@given(name=HOSTILE_NAMES, command=st.sampled_from(["train", "tune"]))
def test_a_hostile_run_name_is_refused_before_anything_is_written(base, name, command):
    b = Box(*base)
    try:
        args = (["train", "--data", b.data, "--size", "32", "--epochs", "1", "--pretrain-epochs", "0"] if command == "train" else
                ["tune", "--board", "nano33ble", "--data", b.data, "--short"])
        result = invoke(*args, "--name", name, "--runs-root", b.out / "runs")
        assert not assert_contract(result)
        b.assert_unchanged()
        assert not b.out.exists()
    finally:
        b.close()


# -- damaged run files ---------------------------------------------------------------------------
# file of the run -> commands that read it (each checks it against the manifest before any work)
READERS = {
    "manifest.json": ("evaluate", "quantize", "export", "bench"),
    "spec.json": ("evaluate", "quantize", "export"),
    "split.json": ("evaluate", "quantize"),
    "model.keras": ("evaluate", "quantize"),
    "model_float.tflite": ("evaluate", "bench"),
    "model_ptq_int8.tflite": ("evaluate", "export", "bench"),
    "model_qat_int8.tflite": ("evaluate", "export", "bench"),
}
COMMANDS = {
    "evaluate": lambda b: ["evaluate", b.run, "--force"],
    "quantize": lambda b: ["quantize", b.run, "--force", "--calibration-size", "8"],
    "export": lambda b: ["export", b.run, "--format", "tflite", "--out", b.out, "--model", b.int8],
    "bench": lambda b: ["bench", b.run, "--runs", "2", "--warmup", "0", "--threads", "1"],
}


@st.composite
def damage(draw):
    rel = draw(st.sampled_from(sorted(READERS)))
    command = draw(st.sampled_from(READERS[rel]))
    how = draw(st.sampled_from(["truncate", "flip", "empty"]))
    where = draw(st.floats(0.0, 1.0, exclude_max=True))
    return rel, command, how, where


def _damage(path: Path, how: str, where: float) -> None:
    data = path.read_bytes()
    cut = int(len(data) * where)
    if how == "truncate":
        # a cut of trailing white space only leaves the same JSON: not damage, so cut into the content
        cut = min(cut, len(data.rstrip()) - 1)
        path.write_bytes(data[:cut])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1:])


@pytest.mark.slow
@SETTINGS
@given(d=damage())
def test_a_damaged_run_file_is_one_clean_error_and_the_run_stays_as_it_was(base, d):
    rel, command, how, where = d
    b = Box(*base)
    try:
        b.int8 = "qat" if rel == "model_qat_int8.tflite" else "ptq"  # export reads the one asked for
        _damage(b.run / rel, how, where)
        b.before = b.snapshot()
        result = invoke(*COMMANDS[command](b))
        assert not assert_contract(result), f"{command} used a damaged {rel}"
        b.assert_unchanged()
        assert not b.out.exists()
    finally:
        b.close()


# -- generated C never carries a name's newline, comment end or line splice out of its comment --
@given(text=st.text(max_size=60))
@settings(max_examples=300, deadline=None, database=None)
def test_c_comment_text_cannot_leave_its_comment(text):
    from edgecxr.export.c_header import c_comment

    out = c_comment(text)
    assert all(0x20 <= ord(c) < 0x7F for c in out)
    assert "*/" not in out and "/*" not in out and "\\" not in out and "?" not in out


@pytest.mark.slow
@given(name=st.text(alphabet=string.printable + "é*/\\?", min_size=1, max_size=40))
@settings(max_examples=15, deadline=None, database=None)
def test_a_test_image_name_cannot_inject_code_into_test_image_h(name, tmp_path_factory):
    """The generated header, with any file name in its comments, compiles to exactly the one array."""
    import subprocess

    import numpy as np

    from edgecxr.export.arduino import test_image_header
    from edgecxr.export.source import Reference

    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    ref = Reference(image=Path(name.replace("/", "_") or "x"), pixels=np.zeros((2, 2, 1), np.uint8),
                    input_int8=np.zeros((1, 2, 2, 1), np.int8), raw=[1, -1], scores=[0.5, 0.5], label=name)
    folder = tmp_path_factory.mktemp("c")
    (folder / "test_image.h").write_text(test_image_header(ref, (2, 2, 1)))
    (folder / "main.c").write_text('#include "test_image.h"\n'
                                   "int main(void) { return edgecxr_test_image[0] + EDGECXR_TEST_IMAGE_SIZE - 4; }\n")
    proc = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-trigraphs", "-fsyntax-only",
                           str(folder / "main.c")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

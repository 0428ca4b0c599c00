"""Issue 22's hostile cases about what commands write: ``--force`` replaces only what the same
command wrote (never a run, another command's output or a file a user added), a run whose
manifest is gone ships nothing, and what a killed command leaves is neither kept nor recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures_run import copy_run, file_hashes
from tests.test_cli_contract import invoke
from tests.test_hostile_inputs import error_line

REPO = Path(__file__).resolve().parents[1]


# -- --force replaces only the same command's output ------------------------------------------------
@pytest.mark.parametrize("command", [
    lambda run, data, victim: ["export", run, "--format", "tflite", "--out", victim, "--force"],
    lambda run, data, victim: ["export", run, "--out", victim, "--force"],
    lambda run, data, victim: ["data", "synth", victim, "--per-class", "4", "--size", "32", "--force"],
    lambda run, data, victim: ["data", "import", data, "--out", victim, "--force"],
], ids=["export-tflite", "export-bundle", "synth", "import"])
def test_force_never_replaces_a_trained_run(tmp_path, export_run, synth_binary, command):
    victim = copy_run(export_run, tmp_path / "victim").path
    before = file_hashes(victim)
    line = error_line(invoke(*command(export_run.path, synth_binary, victim)))
    assert "is a run" in line
    assert file_hashes(victim) == before


def test_force_never_replaces_another_commands_output(tmp_path, export_run, synth_binary):
    dataset = tmp_path / "ds"
    assert invoke("data", "synth", dataset, "--per-class", "4", "--size", "32").exit_code == 0
    before = file_hashes(dataset)
    assert "is a dataset" in error_line(invoke("export", export_run.path, "--format", "tflite", "--out", dataset,
                                               "--force"))
    assert file_hashes(dataset) == before


def test_export_force_keeps_a_file_added_to_an_earlier_export(tmp_path, export_run):
    out = tmp_path / "x"
    assert invoke("export", export_run.path, "--format", "tflite", "--out", out).exit_code == 0
    assert invoke("export", export_run.path, "--format", "tflite", "--out", out, "--force").exit_code == 0
    (out / "my-notes.txt").write_text("mine\n")
    before = file_hashes(out)
    assert "my-notes.txt" in error_line(invoke("export", export_run.path, "--format", "tflite", "--out", out, "--force"))
    assert file_hashes(out) == before


def test_evaluate_force_keeps_a_file_added_to_its_report_folder(tmp_path, export_run):
    run = copy_run(export_run, tmp_path / "run")
    assert invoke("evaluate", run.path).exit_code == 0
    report = next((run.path / "eval").iterdir())
    assert invoke("evaluate", run.path, "--force").exit_code == 0  # its own report: replaced
    (report / "reviewed-by-radiologist.txt").write_text("signed\n")
    before = file_hashes(report)
    assert "reviewed-by-radiologist.txt" in error_line(invoke("evaluate", run.path, "--force"))
    assert file_hashes(report) == before


# -- a run without its record ships nothing --------------------------------------------------------
@pytest.mark.parametrize("manifest", [None, "{}\n", '{"files": {}}\n'], ids=["deleted", "empty-object", "no-files"])
@pytest.mark.parametrize("command", [
    lambda run, out: ["evaluate", run, "--force"],
    lambda run, out: ["export", run, "--format", "tflite", "--out", out],
    lambda run, out: ["bench", run, "--runs", "2", "--warmup", "0"],
], ids=["evaluate", "export", "bench"])
def test_a_run_without_its_manifest_is_refused_not_blessed(tmp_path, export_run, command, manifest):
    run = copy_run(export_run, tmp_path / "run")
    other = copy_run(export_run, tmp_path / "other")  # "another run's" model swapped in
    (run.path / "model_ptq_int8.tflite").write_bytes((other.path / "model_float.tflite").read_bytes())
    if manifest is None:
        (run.path / "manifest.json").unlink()
    else:
        (run.path / "manifest.json").write_text(manifest)
    before = file_hashes(run.path)
    assert "manifest.json" in error_line(invoke(*command(run.path, tmp_path / "out")))
    assert file_hashes(run.path) == before and not (tmp_path / "out").exists()


def test_a_model_the_manifest_does_not_list_is_refused(tmp_path, export_run):
    run = copy_run(export_run, tmp_path / "run")
    (run.path / "model_qat_int8.tflite").write_bytes((run.path / "model_ptq_int8.tflite").read_bytes())
    assert "not in the run's manifest.json" in error_line(invoke("export", run.path, "--model", "qat", "--out",
                                                                 tmp_path / "out"))


# -- what a killed command leaves -------------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_exports_staging_folder_is_removed_and_never_recorded(tmp_path, export_run):
    run = copy_run(export_run, tmp_path / "run")
    staging = run.path / "export" / f".tflite.edgecxr-tmp-{_dead_pid()}-abc"
    staging.mkdir(parents=True)
    (staging / "model.tflite").write_bytes(b"half a model")
    assert invoke("export", run.path, "--format", "tflite").exit_code == 0
    assert not staging.exists()
    assert not [f for f in run.read_manifest()["files"] if "edgecxr-tmp" in f]


def test_kill_9_during_export_leaves_nothing_the_next_command_keeps(tmp_path, export_run):
    """A real ``kill -9`` while the export writes: the next export removes its staging folder."""
    run = copy_run(export_run, tmp_path / "run")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-m", "edgecxr", "export", str(run.path), "--format", "bundle"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if list((run.path / "export").glob(".bundle.edgecxr-tmp-*")):
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    child.wait()
    if child.returncode != -signal.SIGKILL:
        pytest.skip("the export finished before it could be killed")
    assert invoke("export", run.path, "--format", "tflite").exit_code == 0
    assert not list(run.path.rglob("*edgecxr-tmp*"))
    assert not [f for f in run.read_manifest()["files"] if "edgecxr-tmp" in f or f.startswith("export/.")]


# -- modes follow the umask --------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_honour_the_umask(tmp_path, export_run, umask):
    old = os.umask(umask)
    try:
        assert invoke("export", export_run.path, "--out", tmp_path / "b").exit_code == 0
    finally:
        os.umask(old)
    paths = [tmp_path / "b", *(tmp_path / "b").rglob("*")]
    wrong = {str(p): oct(p.stat().st_mode & 0o777) for p in paths
             if p.stat().st_mode & 0o777 != (0o777 if p.is_dir() or p.stat().st_mode & 0o100 else 0o666) & ~umask}
    assert not wrong
    assert (tmp_path / "b.tar.gz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_exported_model_without_a_run_around_it_still_benches(tmp_path, export_run):
    """Only a run needs its manifest: an export's model and spec.json are read as they are."""
    assert invoke("export", export_run.path, "--format", "tflite", "--out", tmp_path / "x").exit_code == 0
    result = invoke("bench", tmp_path / "x" / "model.tflite", "--runs", "2", "--warmup", "0", "--runtime", "litert",
                    "--threads", "1", "--json")
    assert result.exit_code == 0, result.output


def test_a_script_written_atomically_stays_executable(tmp_path):
    """The emulated Pi's python3 wrapper is written through atomic_path and made executable there."""
    from edgecxr.files import atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "run.sh") as tmp:
            tmp.write_text("#!/bin/sh\necho ok\n")
            tmp.chmod(0o755)
        with atomic_path(tmp_path / "data.txt") as tmp:
            tmp.write_text("x\n")
    finally:
        os.umask(old)
    assert (tmp_path / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "data.txt").stat().st_mode & 0o777 == 0o644

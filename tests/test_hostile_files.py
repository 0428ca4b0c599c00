"""Issue 22's odd files: names that are not UTF-8, dangling links, FIFOs and links to devices
where a run file or an import source file should be, zip members Python cannot extract, and a
full cache disk. Each is one error line (or a listed skip), never a traceback or a hang."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fixtures_run import copy_run, file_hashes
from tests.test_cli_contract import invoke
from tests.test_hostile_inputs import error_line

REPO = Path(__file__).resolve().parents[1]
LATIN1 = os.fsdecode(b"caf\xe9_person900_1.png")  # a name written on a latin-1 system


def _cli_with_timeout(*args, timeout: float = 180) -> subprocess.CompletedProcess:
    """The command in its own process: a hang fails the test instead of stopping the suite."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        return subprocess.run([sys.executable, "-m", "edgecxr", *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"edgecxr {' '.join(map(str, args))} hung (over {timeout} s)")


def _one_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert (proc.returncode, len(errors), len([ln for ln in lines if ln.startswith("hint:")])) == (2, 1, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    return errors[0]


# -- names that are not UTF-8, dangling links -----------------------------------------------------
def _held_out(tmp_path: Path, run, extra: str | None = None) -> Path:
    """The run's validation images as a folder to evaluate (plus one copy named ``extra``)."""
    from edgecxr.data.split import read_split

    dataset, assignment = read_split(run.file("split.json"))
    folder = tmp_path / "held-out"
    for s in dataset.samples:
        if assignment[s.path] == "val":
            (folder / s.path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(s.path, folder / s.path.parent.name / s.path.name)
    if extra:
        shutil.copyfile(next((folder / "NORMAL").iterdir()), folder / "NORMAL" / extra)
    return folder


def test_a_file_name_that_is_not_utf8_is_one_error(tmp_path, export_run, synth_binary):
    folder = _held_out(tmp_path, export_run, LATIN1)
    assert "not UTF-8" in error_line(invoke("evaluate", export_run.path, "--data", folder, "--force"))
    data = tmp_path / "train"
    shutil.copytree(synth_binary, data)
    shutil.copyfile(next((data / "NORMAL").iterdir()), data / "NORMAL" / LATIN1)
    assert "not UTF-8" in error_line(invoke("train", "--data", data, "--size", "32", "--epochs", "1",
                                            "--pretrain-epochs", "0", "--runs-root", tmp_path / "runs"))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    image = tmp_path / LATIN1
    shutil.copyfile(next((synth_binary / "NORMAL").iterdir()), image)
    for fmt in ("arduino", "rpi"):
        assert "not UTF-8" in error_line(invoke("export", export_run.path, "--format", fmt, "--out",
                                                tmp_path / fmt, "--test-image", image))
        assert not (tmp_path / fmt).exists()


def test_evaluate_lists_a_dangling_link_in_its_data(tmp_path, export_run):
    run = copy_run(export_run, tmp_path / "run")
    folder = _held_out(tmp_path, run)
    (folder / "NORMAL" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    result = invoke("evaluate", run.path, "--data", folder)
    assert result.exit_code == 0, result.output
    assert "gone.png" in result.output and "unreadable" in result.output


# -- FIFOs and devices: never opened ----------------------------------------------------------------
@pytest.mark.parametrize("name, make", [
    ("spec.json", lambda p: os.mkfifo(p)),
    ("manifest.json", lambda p: os.mkfifo(p)),
    ("model_ptq_int8.tflite", lambda p: os.mkfifo(p)),
    ("model_ptq_int8.tflite", lambda p: p.symlink_to("/dev/zero")),
    ("split.json", lambda p: p.symlink_to("/dev/zero")),
], ids=["spec-fifo", "manifest-fifo", "model-fifo", "model-dev-zero", "split-dev-zero"])
def test_a_run_file_that_is_a_fifo_or_a_device_is_one_error_not_a_hang(tmp_path, export_run, name, make):
    run = copy_run(export_run, tmp_path / "run")
    (run.path / name).unlink()
    make(run.path / name)
    commands = [["evaluate", run.path, "--force"], ["export", run.path, "--format", "tflite", "--out", tmp_path / "x"]]
    for args in commands[:1] if name == "split.json" else commands:  # export does not read split.json
        line = _one_error(_cli_with_timeout(*args))
        assert name in line or "manifest" in line
    assert not (tmp_path / "x").exists()


def test_a_fifo_in_an_import_source_is_skipped_and_listed_not_opened(tmp_path, synth_binary):
    source = tmp_path / "src"
    shutil.copytree(synth_binary, source)
    os.mkfifo(source / "NORMAL" / "pipe.png")
    proc = _cli_with_timeout("data", "import", source, "--out", tmp_path / "ds", "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"not_regular_files": ["NORMAL/pipe.png"]' in proc.stdout
    assert not (tmp_path / "ds" / "NORMAL" / "pipe.png").exists()


# -- zip members Python cannot extract --------------------------------------------------------------
def _zip_of(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*.png")):
            z.write(p, f"ds/{p.relative_to(folder)}")
    return out


def _patch_first_member(archive: Path, flags: int = 0, method: int | None = None) -> None:
    """Rewrite the first member's flags / compression method in its local and central headers
    (what another zip tool writes for an encrypted or Deflate64 member)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        local = z.infolist()[0].header_offset
    central = data.index(b"PK\x01\x02")
    for flag_at, method_at in ((local + 6, local + 8), (central + 8, central + 10)):
        data[flag_at:flag_at + 2] = (int.from_bytes(data[flag_at:flag_at + 2], "little") | flags).to_bytes(2, "little")
        if method is not None:
            data[method_at:method_at + 2] = method.to_bytes(2, "little")
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize("flags, method, words", [(0x1, None, "encrypted"), (0, 9, "Deflate64")],
                         ids=["encrypted", "deflate64"])
def test_a_zip_member_python_cannot_extract_is_one_error_before_anything_is_written(tmp_path, synth_binary,
                                                                                     flags, method, words):
    archive = _zip_of(synth_binary, tmp_path / "ds.zip")
    _patch_first_member(archive, flags, method)
    assert words in error_line(invoke("data", "import", archive, "--out", tmp_path / "out"))
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["ds.zip"]


def test_a_zip_encrypted_by_zip_is_one_error(tmp_path, synth_binary):
    if not shutil.which("zip"):
        pytest.skip("the zip program is not installed")
    subprocess.run(["zip", "-q", "-r", "-P", "secret", str(tmp_path / "ds.zip"), "."], cwd=synth_binary, check=True)
    assert "encrypted" in error_line(invoke("data", "import", tmp_path / "ds.zip", "--out", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# -- a full cache disk -----------------------------------------------------------------------------
def test_a_full_cache_disk_is_one_error_and_nothing_half_written(tmp_path, export_run, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(cache)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        with open(cache / "filler", "wb") as f, pytest.raises(OSError):
            f.write(b"\0" * (1 << 20))
        monkeypatch.setenv("EDGECXR_CACHE", str(cache))
        run = copy_run(export_run, tmp_path / "run")
        before = file_hashes(run.path)
        line = error_line(invoke("evaluate", run.path))
        assert "cache" in line and "No space left" in line
        assert file_hashes(run.path) == before
        assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == ["filler"]
    finally:
        subprocess.run(["umount", str(cache)], check=True)

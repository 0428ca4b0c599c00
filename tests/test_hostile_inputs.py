"""Issue 13's classes of hostile input, one concrete case or more each: data loss by --force,
paths out of the folder, encodings, full and read-only disks, silent skips, archive bombs,
injection into remote shells and generated C, and TensorFlow's noise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgecxr.runs import Run
from tests.fixtures_run import copy_run, file_hashes
from tests.test_cli_contract import assert_contract, invoke

REPO = Path(__file__).resolve().parents[1]
# what TensorFlow, absl, LiteRT and Python warnings print when not told to keep quiet
NOISE = re.compile(r"^[IWEF]\d{4} |absl::|cuInit|cuda|XNNPACK|Warning|warn\(|Deprecat|\.cc:\d+\]|\.py:\d+: ")


def error_line(result) -> str:
    assert not assert_contract(result), result.output
    return next(ln for ln in result.output.splitlines() if ln.startswith("error:"))


# -- data loss: --force replaces only what edgecxr wrote -------------------------------------------
def _someones_folder(path: Path, **files: str) -> Path:
    path.mkdir(parents=True)
    for name, text in {"thesis.txt": "years of work\n", **files}.items():
        (path / name).write_text(text)
    return path


@pytest.mark.parametrize("files", [{"config.toml": "x = 1\n"}, {"manifest.json": '{"name": "my web app"}'},
                                   {"manifest.json": '{"versions": "edgecxr"}'}])
def test_train_force_never_deletes_a_folder_that_is_not_a_run(tmp_path, synth_binary, files):
    folder = _someones_folder(tmp_path / "runs" / "docs", **files)
    before = file_hashes(folder)
    result = invoke("train", "--data", synth_binary, "--size", "32", "--epochs", "1", "--pretrain-epochs", "0", "--name", "docs",
                    "--runs-root", tmp_path / "runs", "--force")
    assert "did not write" in error_line(result)
    assert file_hashes(folder) == before


@pytest.mark.parametrize("command", [
    lambda run, data, out: ["data", "import", data, "--out", out, "--force"],
    lambda run, data, out: ["export", run, "--format", "tflite", "--out", out, "--force"],
    lambda run, data, out: ["export", run, "--out", out, "--force"],
    lambda run, data, out: ["demo", "--out", out, "--force"],
    lambda run, data, out: ["tune", "--board", "nano33ble", "--data", data, "--short", "--runs-root", out.parent,
                            "--name", out.name, "--force"],
], ids=["import", "export-tflite", "export-bundle", "demo", "tune"])
def test_force_never_replaces_a_folder_of_someones_files(tmp_path, export_run, synth_binary, command):
    folder = _someones_folder(tmp_path / "mine", **{"config.toml": "x = 1\n"})
    before = file_hashes(folder)
    result = invoke(*command(export_run.path, synth_binary, folder))
    assert "did not write" in error_line(result)
    assert file_hashes(folder) == before


def test_split_force_overwrites_only_a_split_file(tmp_path, synth_binary):
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    assert "not a split file" in error_line(invoke("data", "split", synth_binary, "--out", notes, "--force"))
    assert notes.read_text() == '{"mine": true}\n'
    ours = tmp_path / "split.json"
    for force in ([], ["--force"]):
        assert invoke("data", "split", synth_binary, "--out", ours, *force).exit_code == 0


# -- paths -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("row", ["../../outside/secret.png", "../outside/secret.png", "/etc/passwd"])
def test_a_csv_row_never_opens_a_file_outside_the_image_folder(tmp_path, synth_binary, row):
    images = tmp_path / "images"
    shutil.copytree(synth_binary / "NORMAL", images / "x")
    (tmp_path / "outside").mkdir()
    shutil.copyfile(next((synth_binary / "PNEUMONIA").iterdir()), tmp_path / "outside" / "secret.png")
    shutil.copyfile(next((synth_binary / "PNEUMONIA").iterdir()), images / "outside")  # a decoy file, not a folder
    csv = tmp_path / "labels.csv"
    csv.write_text("Image Index,Finding Labels,Patient ID\nx/person1_synth_0.png,NORMAL,1\n"
                   f"x/person1_synth_1.png,PNEUMONIA,2\n{row},PNEUMONIA,3\n")
    result = invoke("data", "inspect", images, "--csv", csv, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["images"] == 2 and "not found" in doc["notes"][0]


# -- encodings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["Image Index,Finding Labels,Patient ID\na.png,Pneumonie é,1\n".encode("latin-1"),
                                     bytes(range(256)) * 4, b"Image Index,Finding Labels\x00,x\n"])
def test_a_csv_that_is_not_utf8_text_is_one_clean_error(tmp_path, synth_binary, content):
    csv = tmp_path / "labels.csv"
    csv.write_bytes(content)
    line = error_line(invoke("data", "inspect", synth_binary / "NORMAL", "--csv", csv))
    assert str(csv) in line


# -- full and read-only disks ---------------------------------------------------------------------
@pytest.fixture(params=["full", "read-only"])
def bad_disk(request, tmp_path):
    """A folder on a tiny tmpfs that is full or read-only (needs root with CAP_SYS_ADMIN; as a
    user, a folder without write permission plays read-only)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        if os.geteuid() == 0 or request.param == "full":
            pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        mnt.chmod(0o555)
        yield mnt, request.param
        mnt.chmod(0o755)
        return
    if request.param == "full":
        with open(mnt / "filler", "wb") as f, pytest.raises(OSError):
            f.write(b"\0" * (1 << 20))
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
    yield mnt, request.param
    subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize("command", [
    lambda run, data, mnt: ["train", "--data", data, "--size", "32", "--epochs", "1", "--pretrain-epochs", "0", "--runs-root",
                            mnt, "--name", "r"],
    lambda run, data, mnt: ["data", "synth", mnt / "syn", "--per-class", "20"],
    lambda run, data, mnt: ["data", "import", data, "--out", mnt / "ds"],
    lambda run, data, mnt: ["data", "split", data, "--out", mnt / "split.json"],
    lambda run, data, mnt: ["export", run, "--format", "tflite", "--out", mnt / "x"],
], ids=["train", "synth", "import", "split", "export"])
def test_a_full_or_read_only_disk_is_one_clean_error_and_leaves_no_files(bad_disk, export_run, synth_binary, command):
    mnt, _ = bad_disk
    before = {p.name for p in mnt.iterdir()}
    assert_contract(result := invoke(*command(export_run.path, synth_binary, mnt)))
    assert result.exit_code == 2, result.output
    assert {p.name for p in mnt.rglob("*")} <= before  # no temp files, no half-written run


@pytest.mark.parametrize("bad_disk", ["read-only"], indirect=True)
def test_train_refuses_a_runs_root_it_cannot_write_before_any_work(bad_disk, synth_binary):
    """Found before the minutes of pretraining and training, not when the run is written."""
    mnt, _ = bad_disk
    result = invoke("train", "--data", synth_binary, "--size", "32", "--epochs", "1", "--pretrain-epochs", "2",
                    "--backbone", "none", "--runs-root", mnt / "runs")
    assert result.exit_code == 2 and "is not writable" in error_line(result)
    assert "pretraining" not in result.output


# -- silent skips ----------------------------------------------------------------------------------
def test_a_dangling_symlink_is_counted_and_listed(tmp_path, synth_binary):
    data = tmp_path / "ds"
    shutil.copytree(synth_binary, data)
    (data / "NORMAL" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    doc = json.loads(invoke("data", "inspect", data, "--json").stdout)
    assert doc["images"] == 81 and [u["path"] for u in doc["unreadable"]] == ["NORMAL/gone.png"]


@pytest.mark.slow
def test_evaluate_lists_the_unreadable_images_it_skipped(tmp_path, quantized_run):
    run = copy_run(quantized_run[0], tmp_path / "run")
    split = json.loads(run.file("split.json").read_text())
    held_out = tmp_path / "held-out"
    for item in split["items"]:
        if item["split"] == "val":
            (held_out / Path(item["path"]).parent).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(split["root"]) / item["path"], held_out / item["path"])
    (held_out / "NORMAL" / "broken.png").write_bytes(b"not a png")
    result = invoke("evaluate", run.path, "--data", held_out)
    assert result.exit_code == 0, result.output
    assert "1 unreadable image(s) skipped" in result.output and "broken.png" in result.output
    report = json.loads(next(run.file("eval").glob("*/eval.json")).read_text())
    assert [Path(u["path"]).name for u in report["dataset"]["unreadable_files"]] == ["broken.png"]


# -- damaged and swapped run files --------------------------------------------------------------------
def test_a_float_model_in_the_int8_slot_is_refused_not_reported_as_int8(tmp_path, quantized_run):
    run = copy_run(quantized_run[0], tmp_path / "run")
    shutil.copyfile(run.file("model_float.tflite"), run.file("model_ptq_int8.tflite"))
    assert "changed since edgecxr wrote it" in error_line(invoke("evaluate", run.path, "--force"))
    run.update_manifest("swap")  # even when the manifest was rewritten to match, the dtype gives it away
    assert "is not an int8 model" in error_line(invoke("evaluate", run.path, "--force"))


def test_quantize_with_a_broken_manifest_rewrites_nothing(tmp_path, quantized_run):
    run = copy_run(quantized_run[0], tmp_path / "run")
    run.file("manifest.json").write_text('{"files": {"model.keras"')
    before = file_hashes(run.path)
    assert "manifest.json is damaged" in error_line(invoke("quantize", run.path, "--force", "--qat"))
    assert file_hashes(run.path) == before


# -- archives -----------------------------------------------------------------------------------------
def test_an_archive_member_over_the_cap_is_refused_before_anything_is_written(tmp_path, synth_binary, monkeypatch):
    from edgecxr.data import importer

    monkeypatch.setattr(importer, "MAX_MEMBER_BYTES", 4 << 20)  # the real cap (256 MB) would take a 256 MB test
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for cls in ("NORMAL", "PNEUMONIA"):
            for p in sorted((synth_binary / cls).iterdir())[:2]:
                z.write(p, f"ds/{cls}/{p.name}")
        with z.open("ds/NORMAL/huge.png", "w") as f:
            f.write(b"\0" * (5 << 20))
    assert "cap for one file" in error_line(invoke("data", "import", bomb, "--out", tmp_path / "ds"))
    assert not (tmp_path / "ds").exists() and [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


# -- injection ----------------------------------------------------------------------------------------
def test_a_remote_folder_with_shell_syntax_is_refused_before_connecting(tmp_path, export_run):
    marker = tmp_path / "pwned"
    result = invoke("deploy", export_run.path, "--host", "nobody@127.0.0.1", "--port", "9",
                    "--remote-dir", f"x$(touch {marker})")
    assert "the device's shell would interpret" in error_line(result)
    assert not marker.exists()


def test_every_scp_target_is_quoted_and_checked():
    from edgecxr.errors import ConfigError
    from edgecxr.remote import SSHTarget

    assert SSHTarget("pi@h").scp_command([Path("a")], "edgecxr/run-1")[-1] == "pi@h:edgecxr/run-1/"
    for bad in ("x$(id)", "a b", "`id`", "-oProxyCommand=x", "a;b", "a\nb", "~/x"):
        with pytest.raises(ConfigError):
            SSHTarget("pi@h").scp_command([Path("a")], bad)


@pytest.mark.slow
def test_names_with_newlines_and_comment_ends_stay_inside_the_generated_comments(tmp_path, export_run):
    run = Path(shutil.copytree(export_run.path, tmp_path / "evil*\n#error INJECTED\n"))
    image = tmp_path / "a\n#error INJECTED \\\n.png"  # the run folder's name brings the "*/"
    from edgecxr.data.split import read_split

    dataset, _ = read_split(Run(run).file("split.json"))
    shutil.copyfile(dataset.samples[0].path, image)
    result = invoke("export", run, "--format", "arduino", "--out", tmp_path / "ard", "--test-image", image)
    assert result.exit_code == 0, result.output
    generated = [p for p in (tmp_path / "ard").rglob("*") if p.suffix in (".h", ".c", ".ino", ".cpp")]
    assert generated
    for p in generated:
        assert not any(ln.lstrip().startswith("#error INJECTED") for ln in p.read_text().splitlines()), p


# -- noise and debug ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,debug", [("0", False), ("false", False), ("", False), ("no", False), ("1", True),
                                          ("true", True), ("YES", True)])
def test_edgecxr_debug_only_1_true_yes_turn_debug_on(value, debug, monkeypatch):
    from edgecxr.errors import debug_enabled

    monkeypatch.setenv("EDGECXR_DEBUG", value)
    assert debug_enabled() is debug
    result = invoke("data", "inspect", "/nowhere", env={"EDGECXR_DEBUG": value})
    assert (result.exception is not None and not isinstance(result.exception, SystemExit)) is debug


def test_a_usage_error_is_one_error_and_one_hint_line():
    result = invoke("train", "--epochs", "many")
    assert "Invalid value for '--epochs'" in error_line(result) and "edgecxr train --help" in result.output


@pytest.mark.slow
def test_the_output_is_only_edgecxrs_own_lines(tmp_path, quantized_run):
    """A real process: TensorFlow loads (its CUDA probe), LiteRT runs (its XNNPACK line), nothing of theirs shows."""
    run = copy_run(quantized_run[0], tmp_path / "run")
    env = {k: v for k, v in os.environ.items() if k not in ("EDGECXR_DEBUG", "TF_CPP_MIN_LOG_LEVEL")}
    proc = subprocess.run([sys.executable, "-m", "edgecxr", "evaluate", str(run.path), "--force"], cwd=REPO,
                          env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert any(ln.startswith("evaluating ") for ln in lines), proc.stderr
    assert not [ln for ln in lines if NOISE.search(ln)], proc.stderr


@pytest.mark.slow
def test_the_converter_prints_nothing(capfd):
    from edgecxr.quantize import convert_float
    from tests.fixtures_models import _tiny_keras

    model = _tiny_keras()
    capfd.readouterr()
    assert convert_float(model)[4:8] == b"TFL3"
    assert capfd.readouterr().err == ""


def test_force_replaces_an_export_made_before_markers_as_the_run_recorded_it(tmp_path, export_run):
    run = copy_run(export_run, tmp_path / "run")
    assert invoke("export", run.path, "--format", "tflite").exit_code == 0
    (run.file("export") / "tflite" / ".edgecxr").unlink()  # as an older edgecxr left it
    run.update_manifest("export")
    assert invoke("export", run.path, "--format", "tflite", "--force").exit_code == 0
    (run.file("export") / "tflite" / "notes.txt").write_text("mine\n")  # not recorded: not replaced
    (run.file("export") / "tflite" / ".edgecxr").unlink()
    assert "did not write" in error_line(invoke("export", run.path, "--format", "tflite", "--force"))

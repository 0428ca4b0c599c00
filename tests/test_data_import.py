"""`edgecxr data import`: Kaggle's zip layout, zip slip, symlinks, no overwrite without --force."""

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.dataset import scan_folder
from edgecxr.data.importer import import_dataset
from edgecxr.errors import DataError


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def png(synth_binary) -> bytes:
    return next((synth_binary / "NORMAL").iterdir()).read_bytes()


def kaggle_zip(path: Path, png: bytes) -> Path:
    """Kermany as Kaggle ships it: the dataset twice (chest_xray/ and chest_xray/chest_xray/) + __MACOSX."""
    with zipfile.ZipFile(path, "w") as z:
        for prefix in ("chest_xray/", "chest_xray/chest_xray/"):
            for split in ("train", "val", "test"):
                for cls in ("NORMAL", "PNEUMONIA"):
                    for i in range(2):
                        z.writestr(f"{prefix}{split}/{cls}/person{i}_{cls}_{split}.jpeg", png)
        z.writestr("chest_xray/__MACOSX/train/NORMAL/._person0.jpeg", b"junk")
        z.writestr("chest_xray/train/.DS_Store", b"junk")
    return path


def test_kaggle_zip_imports_one_clean_copy(tmp_path, png):
    result = import_dataset(kaggle_zip(tmp_path / "archive.zip", png), tmp_path / "kermany", progress=False)
    assert result["root_in_source"] == "chest_xray" and result["images"] == 12
    assert result["classes"] == ["NORMAL", "PNEUMONIA"] and result["splits"] == ["test", "train", "val"]
    assert result["skipped"]["junk"] == 2 and result["skipped"]["outside_dataset_root"] == 12
    assert sorted(p.name for p in (tmp_path / "kermany").iterdir()) == [".edgecxr", "test", "train", "val"]
    assert len(scan_folder(tmp_path / "kermany").samples) == 12


def test_zip_slip_is_refused_and_nothing_is_written(tmp_path, png):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("ds/NORMAL/a.png", png)
        z.writestr("ds/PNEUMONIA/b.png", png)
        z.writestr("ds/../../escaped.png", png)
    with pytest.raises(DataError, match="outside the target folder"):
        import_dataset(evil, tmp_path / "out" / "ds", progress=False)
    assert not (tmp_path / "escaped.png").exists() and not (tmp_path / "out" / "ds").exists()
    absolute = tmp_path / "abs.zip"
    with zipfile.ZipFile(absolute, "w") as z:
        z.writestr("/etc/evil.png", png)
    with pytest.raises(DataError, match="outside the target folder"):
        import_dataset(absolute, tmp_path / "abs", progress=False)


def test_symlinks_in_a_zip_are_not_created(tmp_path, png):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ds/NORMAL/a.png", png)
        z.writestr("ds/PNEUMONIA/b.png", png)
        link = zipfile.ZipInfo("ds/NORMAL/passwd.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    result = import_dataset(archive, tmp_path / "ds", progress=False)
    assert result["skipped"]["symlinks"] == ["ds/NORMAL/passwd.png"]
    assert not (tmp_path / "ds" / "NORMAL" / "passwd.png").exists()


def test_folder_import_skips_symlinks_and_never_overwrites(tmp_path, synth_binary):
    src = tmp_path / "src"
    for cls in ("NORMAL", "PNEUMONIA"):
        (src / cls).mkdir(parents=True)
        for p in sorted((synth_binary / cls).iterdir())[:3]:
            (src / cls / p.name).write_bytes(p.read_bytes())
    os.symlink(tmp_path, src / "NORMAL" / "loop")
    os.symlink(synth_binary / "NORMAL" / "person1_synth_0.png", src / "NORMAL" / "linked.png")
    out = tmp_path / "out"
    result = cli("data", "import", src, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["images"] == 6 and sorted(doc["skipped"]["symlinks"]) == ["NORMAL/linked.png", "NORMAL/loop"]
    before = sorted(p.name for p in (out / "NORMAL").iterdir())
    again = cli("data", "import", src, "--out", out)
    assert again.exit_code == 2 and "already exists" in again.output and "--force" in again.output
    assert sorted(p.name for p in (out / "NORMAL").iterdir()) == before
    assert cli("data", "import", src, "--out", out, "--force").exit_code == 0


def test_import_of_something_that_is_no_dataset_fails_cleanly(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    result = cli("data", "import", tmp_path / "notes.txt", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "neither a folder nor a .zip" in result.output
    result = cli("data", "import", tmp_path / "missing.zip", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "x").exists()

"""Every bad input of issue 2 gets a clear message naming the file and what to do."""

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_csv, scan_folder
from edgecxr.data.inspect import inspect_dataset
from edgecxr.device.preprocess import MAX_PIXELS, ImageError, open_gray
from edgecxr.device.spec import ModelSpec
from edgecxr.errors import DataError

SPEC = ModelSpec(width=32, height=32)


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def broken(tmp_path_factory, synth_binary) -> tuple[Path, dict[str, Path]]:
    """A copy of synth_binary with one file of each bad kind added to NORMAL."""
    root = tmp_path_factory.mktemp("bad") / "ds"
    shutil.copytree(synth_binary, root)
    good_jpeg = root / "NORMAL" / "good.jpeg"
    Image.open(root / "NORMAL" / "person1_synth_0.png").convert("RGB").save(good_jpeg, quality=90)
    bad = {"zero": root / "NORMAL" / "zero.jpeg", "truncated": root / "NORMAL" / "truncated.jpeg",
           "text": root / "NORMAL" / "notes.jpeg", "huge": root / "NORMAL" / "huge.png"}
    bad["zero"].write_bytes(b"")
    bad["truncated"].write_bytes(good_jpeg.read_bytes()[:400])
    bad["text"].write_text("this is not an image\n")
    Image.new("1", (8200, 8000)).save(bad["huge"])  # 65.6 MP > MAX_PIXELS, a 1-bit PNG of a few KB
    return root, bad


@pytest.mark.parametrize("kind,message", [("zero", "empty file"), ("truncated", "truncated"),
                                          ("text", "not an image"), ("huge", "over the")])
def test_each_bad_image_is_named_with_what_to_do(broken, kind, message):
    _, bad = broken
    with pytest.raises(ImageError, match=message) as e:
        open_gray(bad[kind])
    assert str(bad[kind]) in str(e.value)
    assert 8200 * 8000 > MAX_PIXELS


def test_unreadable_images_are_skipped_and_listed_or_refused_with_strict(broken):
    root, bad = broken
    paths = sorted((root / "NORMAL").iterdir())
    pixels = load_pixels(paths, SPEC, use_cache=False, progress=False)
    assert sorted(Path(p) for p, _ in pixels.errors) == sorted(bad.values())
    assert len(pixels.paths) == len(paths) - 4 and pixels.x.shape == (len(paths) - 4, 32, 32, 1)
    with pytest.raises(DataError) as e:
        load_pixels(paths, SPEC, strict=True, use_cache=False, progress=False)
    assert any(str(p) in str(e.value) for p in bad.values()) and "drop --strict" in e.value.hint


def test_inspect_lists_unreadable_files_and_strict_fails(broken):
    root, bad = broken
    report = inspect_dataset(scan_folder(root), progress=False)
    assert sorted(u["path"] for u in report["unreadable"]) == sorted(f"NORMAL/{p.name}" for p in bad.values())
    assert any("unreadable" in w for w in report["warnings"])
    result = cli("data", "inspect", root, "--strict")
    assert result.exit_code == 2 and "error: 4 unreadable image(s)" in result.output
    doc = json.loads(cli("data", "inspect", root, "--json").stdout)
    assert len(doc["unreadable"]) == 4


def test_empty_class_folder(tmp_path, synth_binary):
    shutil.copytree(synth_binary, tmp_path / "ds")
    (tmp_path / "ds" / "COVID").mkdir()
    result = cli("data", "inspect", tmp_path / "ds")
    assert result.exit_code == 2
    assert f"class folder {tmp_path / 'ds' / 'COVID'} holds no images" in result.output
    assert "remove the empty folder" in result.output


def test_dataset_with_one_class(tmp_path, synth_binary):
    shutil.copytree(synth_binary / "NORMAL", tmp_path / "ds" / "NORMAL")
    with pytest.raises(DataError, match=r"only one class \(NORMAL\)"):
        scan_folder(tmp_path / "ds")
    assert "at least two class folders" in cli("data", "split", tmp_path / "ds", "--out", tmp_path / "s.json").output


def test_path_that_does_not_exist(tmp_path):
    for command in ("inspect", "split"):
        result = cli("data", command, tmp_path / "nowhere")
        assert result.exit_code == 2 and f"error: {tmp_path / 'nowhere'} does not exist" in result.output
        assert "hint:" in result.output


def test_unknown_dataset_name():
    result = cli("data", "fetch", "nih-sampel")
    assert result.exit_code == 2 and "unknown dataset 'nih-sampel'" in result.output
    assert "did you mean 'nih-chestxray14-sample'" in result.output


def test_csv_with_missing_columns(tmp_path, synth_binary):
    csv = tmp_path / "labels.csv"
    csv.write_text("file,diagnosis\nperson1_synth_0.png,NORMAL\n")
    with pytest.raises(DataError, match=r"no column 'Image Index', 'Finding Labels', 'Patient ID' \(its columns: file, diagnosis\)"):
        scan_csv(csv, synth_binary / "NORMAL")
    result = cli("data", "inspect", synth_binary / "NORMAL", "--csv", csv, "--image-col", "file")
    assert result.exit_code == 2 and "'Finding Labels', 'Patient ID'" in result.output and "--label-col" in result.output

"""`edgecxr data split|synth|inspect` and the decode cache, on synthetic data."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.cache import load_pixels
from edgecxr.data.dataset import scan_folder
from edgecxr.data.inspect import inspect_dataset
from edgecxr.data.split import patients_in_several_splits, read_split
from edgecxr.device.preprocess import preprocess_file
from edgecxr.device.spec import ModelSpec


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def test_split_is_patient_grouped_stratified_seeded_and_never_overwrites(tmp_path, synth_multiclass):
    out = tmp_path / "split.json"
    result = cli("data", "split", synth_multiclass, "--val-fraction", "0.25", "--seed", "3", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["patients_in_several_splits"] == 0
    assert doc["counts"]["val"] == {"Covid": 6, "Normal": 6, "Viral Pneumonia": 6}
    dataset, assignment = read_split(out)
    assert patients_in_several_splits(dataset, assignment) == []
    again = cli("data", "split", synth_multiclass, "--seed", "3", "--out", out)
    assert again.exit_code == 2 and "already exists" in again.output
    assert cli("data", "split", synth_multiclass, "--val-fraction", "0.25", "--seed", "3", "--out",
               tmp_path / "same.json").exit_code == 0
    assert json.loads((tmp_path / "same.json").read_text())["items"] == json.loads(out.read_text())["items"]
    cli("data", "split", synth_multiclass, "--val-fraction", "0.25", "--seed", "4", "--out", out, "--force")
    assert json.loads(out.read_text())["seed"] == 4


def test_synth_is_deterministic_and_refuses_to_overwrite(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = cli("data", "synth", out, "--per-class", "3", "--size", "32", "--classes", "multiclass", "--json")
        assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"] == 9
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert len(files) == 9 and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert cli("data", "synth", a).exit_code == 2


def test_inspect_finds_duplicates_across_splits_and_shared_patients(tmp_path, synth_binary):
    root = tmp_path / "ds"
    shutil.copytree(synth_binary, root / "train")
    (root / "val" / "NORMAL").mkdir(parents=True)
    (root / "val" / "PNEUMONIA").mkdir(parents=True)
    shutil.copy(synth_binary / "NORMAL" / "person1_synth_0.png", root / "val" / "NORMAL")  # same bytes, same patient
    shutil.copy(synth_binary / "PNEUMONIA" / "person21_synth_0.png", root / "val" / "PNEUMONIA" / "x.png")
    report = inspect_dataset(scan_folder(root), progress=False)
    assert report["counts"] == {"train": {"NORMAL": 40, "PNEUMONIA": 40}, "val": {"NORMAL": 1, "PNEUMONIA": 1}}
    assert report["duplicates"]["groups"] == 2 and report["duplicates_across_splits"]["groups"] == 2
    assert report["patients"]["shared_across_splits"] == 1
    assert report["patients"]["per_class"] == {"NORMAL": 20, "PNEUMONIA": 21}  # x.png: its own patient
    assert report["modes"] == {"L": 82} and report["sizes"]["most_common"] == {"64x64": 82}
    human = cli("data", "inspect", root).stdout
    assert "appear in more than one split" in human and "train  40" in human


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16"])
def test_any_image_mode_becomes_one_gray_channel(tmp_path, mode):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (48, 1))  # 48x64
    img = Image.fromarray(gray, "L")
    img = {"I;16": lambda: Image.fromarray(gray.astype(np.uint16) * 257).convert("I;16"),
           "P": lambda: img.convert("P")}.get(mode, lambda: img.convert(mode))()
    path = tmp_path / f"x_{mode.replace(';', '')}.png"
    img.save(path)
    for resize in ("squash", "crop", "pad"):
        x = preprocess_file(path, ModelSpec(width=32, height=24, resize_mode=resize))
        assert x.shape == (24, 32, 1) and x.dtype == np.uint8
    x = preprocess_file(path, ModelSpec(width=64, height=48))
    assert np.abs(x[..., 0].astype(int) - gray).max() <= 2


def test_cache_is_keyed_by_spec_and_returns_the_same_pixels(synth_binary):
    paths = sorted(synth_binary.rglob("*.png"))[:10]
    spec = ModelSpec(width=24, height=24)
    first = load_pixels(paths, spec, progress=False)
    second = load_pixels(paths, spec, progress=False)
    assert not first.from_cache and second.from_cache and np.array_equal(first.x, second.x)
    other = load_pixels(paths, ModelSpec(width=24, height=24, resize_mode="pad"), progress=False)
    assert not other.from_cache

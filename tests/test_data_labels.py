"""Labels from folders (with and without split folders) and from CSVs (single- and multi-label)."""

import json
import shutil

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.dataset import patient_id, scan_csv, scan_folder
from edgecxr.errors import DataError


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def test_kermany_file_names_give_patients():
    assert patient_id("person1946_bacteria_4874.jpeg") == "person1946"
    assert patient_id("IM-0115-0001.jpeg") == patient_id("NORMAL2-IM-0115-0001.jpeg") == "IM-0115"
    assert patient_id("01.jpeg", fallback="Covid/01") == "Covid/01"


def test_nih_file_names_give_patients():
    """NIH ChestX-ray14 <patient>_<follow-up>.png: follow-ups of one patient share it."""
    assert patient_id("00000061_012.png") == patient_id("00000061_015.png") == "nih00000061"
    assert patient_id("00000061_012.png") != patient_id("00000150_002.png")
    assert patient_id("0000061_012.png", fallback="x") == "x"  # not eight digits: not an NIH name


def test_folders_with_and_without_split_folders(tmp_path, synth_binary):
    flat = scan_folder(synth_binary)
    assert flat.classes == ["NORMAL", "PNEUMONIA"] and flat.splits == [None] and len(flat.samples) == 80
    nested = tmp_path / "archive" / "chest_xray"  # a wrapping folder is descended into
    for split in ("train", "test"):
        shutil.copytree(synth_binary, nested / split)
    ds = scan_folder(tmp_path / "archive")
    assert ds.root == nested and ds.splits == ["test", "train"] and len(ds.by_split("test")) == 80


def test_same_file_name_in_two_classes_is_two_patients(tmp_path, synth_binary):
    for cls in ("Covid", "Normal"):
        (tmp_path / cls).mkdir()
        shutil.copy(synth_binary / "NORMAL" / "person1_synth_0.png", tmp_path / cls / "01.png")
    assert len({s.patient for s in scan_folder(tmp_path).samples}) == 2


def nih_csv(tmp_path, synth_binary):
    """The NIH ChestX-ray14 sample_labels.csv format, with images in a nested images/ folder."""
    images = tmp_path / "sample" / "images"
    images.mkdir(parents=True)
    files = sorted(synth_binary.rglob("*.png"))[:6]
    for p in files:
        shutil.copy(p, images / p.name)
    labels = ["No Finding", "Effusion|Infiltration", "Pneumonia", "No Finding", "Effusion", "Infiltration|Pneumonia"]
    rows = [f"{p.name},{lab},0,{100 + i // 2},58,M,PA" for i, (p, lab) in enumerate(zip(files, labels))]
    csv = tmp_path / "sample" / "sample_labels.csv"
    csv.write_text("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position\n"
                   + "\n".join(rows + ["missing.png,Effusion,0,999,40,F,AP"]) + "\n")
    return csv, files


def test_nih_multilabel_csv(tmp_path, synth_binary):
    csv, _ = nih_csv(tmp_path, synth_binary)
    ds = scan_csv(csv)  # images found by name below the CSV's folder
    assert ds.multilabel and ds.classes == ["Effusion", "Infiltration", "No Finding", "Pneumonia"]
    assert [s.labels for s in ds.samples][:2] == [(2,), (0, 1)]
    assert {s.patient for s in ds.samples} == {"100", "101", "102"}
    assert ds.notes and "'missing.png'" in ds.notes[0]
    with pytest.raises(DataError, match="1 image"):
        scan_csv(csv, strict=True)
    doc = json.loads(cli("data", "inspect", tmp_path / "sample", "--csv", csv, "--json").stdout)
    assert doc["multilabel"] and doc["counts"]["all"]["Effusion"] == 2 and doc["patients"]["total"] == 3


def test_single_label_csv_and_patients_from_file_names(tmp_path, synth_binary):
    csv = tmp_path / "labels.csv"
    files = sorted((synth_binary / "NORMAL").iterdir())[:2] + sorted((synth_binary / "PNEUMONIA").iterdir())[:2]
    csv.write_text("path,label\n" + "".join(f"{p.parent.name}/{p.name},{p.parent.name}\n" for p in files))
    ds = scan_csv(csv, synth_binary, image_col="path", label_col="label", patient_col=None)
    assert not ds.multilabel and [s.labels for s in ds.samples] == [(0,), (0,), (1,), (1,)]
    assert [s.patient for s in ds.samples] == [p.name.split("_")[0] for p in files]  # e.g. person10
    csv.write_text("path,label\n" + f"NORMAL/{files[0].name},NORMAL|PNEUMONIA\n")
    with pytest.raises(DataError, match="not exactly one"):
        scan_csv(csv, synth_binary, image_col="path", label_col="label", patient_col=None, multilabel=False)

"""`edgecxr data` on the real images in ../shared/data (skipped when absent)."""

import json

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.dataset import scan_folder
from edgecxr.data.split import patients_in_several_splits, split_by_patient

pytestmark = pytest.mark.realdata


def cli(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def test_kermany_inspect_counts_and_patients(shared_data):
    result = cli("data", "inspect", shared_data / "kermany224", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"] == {"train": {"NORMAL": 1341, "PNEUMONIA": 3875}, "val": {"NORMAL": 8, "PNEUMONIA": 8}}
    assert report["unreadable"] == [] and report["modes"] == {"RGB": 5232}
    assert report["imbalance"]["train"]["majority"] == "PNEUMONIA"
    assert report["duplicates_across_splits"]["groups"] == 0


def test_kermany_train_patients_and_split_without_leaks(shared_data):
    dataset = scan_folder(shared_data / "kermany224")
    train_patients = {s.patient for s in dataset.by_split("train")}
    assert len(train_patients) == 2635  # IM-0115 and NORMAL2-IM-0115 grouped, see shared/data/README.md
    assignment = split_by_patient(dataset, 0.2, seed=0)
    assert patients_in_several_splits(dataset, assignment) == []
    val = sum(1 for v in assignment.values() if v == "val")
    assert 0.19 * 5232 < val < 0.21 * 5232


def test_covid3_space_in_class_name_mixed_formats_and_modes(shared_data):
    result = cli("data", "inspect", shared_data / "covid3", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"] == {"train": {"Covid": 111, "Normal": 70, "Viral Pneumonia": 70}}
    assert set(report["formats"]) == {"JPEG", "PNG"} and set(report["modes"]) == {"L", "RGB"}
    assert report["patients"]["total"] == 251  # names like 01.jpeg repeat across classes: still 251 patients
    assert report["unreadable"] == []

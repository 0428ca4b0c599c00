"""`edgecxr train --data IMAGES --csv labels.csv`: a multi-label model from an NIH-style CSV."""

import csv
import json

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.data.dataset import scan_folder
from edgecxr.device.spec import ModelSpec


@pytest.mark.slow
def test_multilabel_model_from_a_csv_end_to_end(synth_binary, tmp_path):
    rows = []
    for i, s in enumerate(scan_folder(synth_binary).samples):
        sick = s.labels == (1,)
        healthy = "No Finding" if i % 2 else "Nodule"
        findings = ("Effusion|Infiltration" if i % 3 else "Infiltration") if sick else healthy
        rows.append({"Image Index": s.path.name, "Finding Labels": findings, "Patient ID": s.patient})
    labels = tmp_path / "Data_Entry.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(edgecxr.cli.app, [
        "train", "--data", str(synth_binary), "--csv", str(labels), "--recipe", "edge-impulse", "--size", "32",
        "--epochs", "1", "--batch-size", "8", "--name", "nih", "--runs-root", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["task"] == "multilabel" and out["labels"] == ["Effusion", "Infiltration", "No Finding", "Nodule"]
    assert set(out["val_metrics"]["per_class"]) == set(out["labels"])
    spec = ModelSpec.load(tmp_path / "runs" / "nih" / "spec.json")
    assert (spec.task, spec.output) == ("multilabel", "sigmoid")
    split = json.loads((tmp_path / "runs" / "nih" / "split.json").read_text())
    assert {it["patient"] for it in split["items"]} == {r["Patient ID"] for r in rows}


def test_csv_without_the_label_column_is_one_line(synth_binary, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,diagnosis\na.png,x\n")
    result = CliRunner().invoke(edgecxr.cli.app, ["train", "--data", str(synth_binary), "--csv", str(labels),
                                                  "--runs-root", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "has no column 'Image Index'" in result.output
    assert not (tmp_path / "runs").exists()

"""The HTML report carries what report.md does (the int8 model export ships, the kernel
families) and the curves a reader needs: ROC with the operating point, and precision-recall."""

from __future__ import annotations

import numpy as np
import pytest

from edgecxr.evaluate.metrics import average_precision, pr_curve
from tests.fixtures_run import copy_run
from tests.test_cli_contract import invoke


def test_the_html_report_has_the_sections_of_report_md(tmp_path, quantized_run):
    run = copy_run(quantized_run[0], tmp_path / "run")
    assert invoke("evaluate", run.path).exit_code == 0
    folder = run.path / "eval" / "val"
    html, md = (folder / "report.html").read_text(), (folder / "report.md").read_text()
    for heading in ("The int8 model export ships", "int8 outputs by kernel family"):
        assert f"## {heading}" in md and f"<h2>{heading}</h2>" in html
    shipped = run.int8()
    assert shipped.artifact.file in html and shipped.artifact.file in md
    assert "with xnnpack kernels instead of reference" in html
    assert "precision-recall" in html and "operating point" in html


def test_the_pr_curve_is_what_average_precision_sums():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    score = np.where(y, rng.normal(0.7, 0.2, 200), rng.normal(0.4, 0.2, 200))
    c = pr_curve(y, score)
    recall, precision = np.array(c["recall"]), np.array(c["precision"])
    assert recall[-1] == 1.0 and np.all(np.diff(recall) >= 0)
    assert np.sum(np.diff(np.r_[0.0, recall]) * precision) == pytest.approx(average_precision(y, score))


def test_flags_are_shown_as_flags_and_take_no_value():
    for command in (["evaluate"], ["export"], ["train"], ["data", "synth"], ["bench"], ["backbone", "list"]):
        shown = invoke(*command, "--help", env={"COLUMNS": "200"}).output
        flags = [ln for ln in shown.splitlines() if "--json" in ln or "--force" in ln]
        assert flags and not [ln for ln in flags if "<bool>" in ln], command
    result = invoke("evaluate", "somerun", "--json", "true")
    assert result.exit_code == 2 and "unexpected extra argument" in result.output

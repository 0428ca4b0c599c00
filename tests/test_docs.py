"""The documentation keeps its promises: every figure names the script that printed it, every
script it names exists, README stays a short tour, CI runs README's own test command, and
the site builds without a broken link."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = re.compile(r"benchmarks/[\w./-]+\.py")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def sections(text: str) -> dict[str, str]:
    """The page's `## ` sections by title."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_figure_section_names_the_script_that_printed_it():
    figures = sections((REPO / "docs" / "figures.md").read_text())
    assert len(figures) >= 10
    unnamed = [title for title, body in figures.items() if not SCRIPT.search(body)]
    assert unnamed == [], f"figure sections without a benchmarks/ script: {unnamed}"


def test_every_script_the_docs_name_exists():
    named = {m for page in PAGES for m in SCRIPT.findall(page.read_text())}
    assert named, "the docs name no benchmark script"
    missing = sorted(s for s in named if not (REPO / s).is_file())
    assert missing == []


def test_readme_is_a_short_tour_that_points_to_the_docs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 300
    assert "Not a medical device" in readme
    for page in ("docs/commands.md", "docs/figures.md", "docs/limits.md", "docs/design.md"):
        assert page in readme and (REPO / page).is_file()


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.rstrip().endswith("python -m pytest"))
    assert command in (REPO / ".ci" / "run").read_text().splitlines()


def test_the_documentation_site_builds_with_no_broken_link(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs not installed (pip install -e '.[dev]')")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "figures" / "index.html").is_file()

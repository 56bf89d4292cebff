"""``reviewmine --version`` and the citation file agree with the package."""

from pathlib import Path

import yaml
from typer.testing import CliRunner

from reviewmine import __version__
from reviewmine.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_version_prints_the_package_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"reviewmine {__version__}"


def test_citation_file_names_this_version_and_the_codebook_source():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == __version__
    refs = {r.get("doi") for r in citation["references"]}
    assert "10.2196/24387" in refs

"""The numbered notebooks run top to bottom on the shipped sample and show their figures."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))


@pytest.fixture(scope="module")
def sample_tmp(tmp_path_factory) -> Path:
    """One temporary directory for the module: notebook 01 builds the sample data there,
    02 and 03 reuse it, as they do for a user."""
    return tmp_path_factory.mktemp("notebooks")


def test_the_three_numbered_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01-collect-and-explore.ipynb", "02-engagement-factors.ipynb", "03-topics-over-time.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_figures(path, sample_tmp, monkeypatch):
    monkeypatch.delenv("REVIEWMINE_DATA_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(sample_tmp))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} showed no figure"

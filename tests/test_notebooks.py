"""The numbered notebooks run top to bottom on real analysed output (the shipped sample,
processed and analysed with topics, as `make demo` does) and show every figure."""

from __future__ import annotations

import re
from pathlib import Path

import nbclient
import nbformat
import pytest
from tests.analyze.test_embeddings import distilled_model_dir

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
DRAWS = re.compile(r"\bfig\s*=|plt\.subplots|\.plot\(")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> Path:
    """The shipped sample processed and analysed with topics (the demo's output)."""
    from reviewmine.analyze import analyze
    from reviewmine.config import sample_dir
    from reviewmine.process import process

    distilled_model_dir(tmp_path_factory)
    root = tmp_path_factory.mktemp("notebooks")
    data = root / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWMINE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "reviewmine-cache"))
        process(data, inputs=[sample_dir() / "reviews_sample.csv"], include_raw=False, key_file=root / "key")
        analyze(data, topics=True)
    assert (data / "processed" / "topics.parquet").exists()
    return data


def test_the_three_numbered_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01-collect-and-explore.ipynb", "02-engagement-factors.ipynb", "03-topics-over-time.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_that_draws_is_tagged_as_a_figure(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and DRAWS.search(cell.source):
            assert "figure" in cell.metadata.get("tags", []), cell.source[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_analysed_output_and_shows_every_figure(path, analysed, monkeypatch, tmp_path):
    monkeypatch.setenv("REVIEWMINE_DATA_DIR", str(analysed))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    figures = [cell for cell in code if "figure" in cell.metadata.get("tags", [])]
    assert figures, f"{path.name} has no figure cell"
    for cell in figures:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"no figure shown by: {cell.source[:80]}"

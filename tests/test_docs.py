"""The documentation describes what the tool actually has."""

from pathlib import Path

import typer

from reviewmine.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_lists_every_command():
    import click

    group = typer.main.get_command(app)
    text = (ROOT / "docs" / "cli.md").read_text()
    for name in group.list_commands(click.Context(group)):
        assert f"## reviewmine {name}\n" in text, f"docs/cli.md lacks {name}; run python docs/make_cli_reference.py"


def test_readme_has_the_two_command_quick_start():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text


def test_analysis_dictionary_documents_every_column():
    """Every column the analyze stage writes has a row in docs/data-dictionary-analysis.md."""
    from reviewmine.analyze.batch import _CODE_COLS, _SCORE_COLS, _SENT_COLS, REVIEW_COLUMNS

    doc = (ROOT / "docs" / "data-dictionary-analysis.md").read_text()
    meta = [c for c in REVIEW_COLUMNS if c not in ("title", "text", "is_english", "is_spam")]
    for column in {*meta, *_SCORE_COLS, *_CODE_COLS, *_SENT_COLS, "topic_id", "label", "factor", "is_emerging"}:
        assert f"`{column}`" in doc, f"{column} is not in docs/data-dictionary-analysis.md"


DOCS_WITH_FIGURES = [
    "README.md", "data/training/README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
]


def test_quoted_figures_match_the_results_files_they_come_from():
    """Every cog block in README/docs renders the same text from the models' and benchmarks'
    JSON files as the committed file holds: `make docs` after a retrain or a benchmark run."""
    from cogapp import Cog

    cog = Cog()
    status = cog.main(["cog", "--check", "-I", str(ROOT / "docs"), *(str(ROOT / f) for f in DOCS_WITH_FIGURES)])
    assert status == 0, "a quoted figure differs from its results file; run 'make docs'"


def test_figure_check_fails_when_a_quoted_figure_is_edited(tmp_path):
    from cogapp import Cog

    readme = (ROOT / "README.md").read_text()
    assert "[[[cog" in readme
    start = readme.index("]]] -->", readme.index("[[[cog")) + len("]]] -->\n")
    edited = tmp_path / "README.md"
    edited.write_text(readme[:start] + "micro-F1 0.99 (typed by hand)\n" + readme[start:])
    assert Cog().main(["cog", "--check", "-I", str(ROOT / "docs"), str(edited)]) != 0

"""`reviewmine run` chains collect -> process -> analyze -> report against the local fake store."""

from tests.collect.test_collect_e2e import FAST_ENV, make_population, point_at
from tests.fakestore.server import FakeStore
from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.process import find_names_in_files, raw_reviewer_names, read_reviews


def test_run_collects_processes_analyses_and_reports(tmp_path, monkeypatch):
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(tmp_path / "secret" / "key"))
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "apps:\n  - slug: calm-mind\n    name: Calm Mind\n    google_play: org.example.calmmind\n"
        "    app_store: '1234567890'\n    countries: [us]\n    languages: [en]\n"
    )
    data_dir = tmp_path / "data"
    with FakeStore(make_population()) as store:
        point_at(monkeypatch, store)
        result = CliRunner().invoke(
            app, ["run", "--data-dir", str(data_dir), "--catalog", str(catalog), "--no-topics"]
        )
    assert result.exit_code == 0, result.output
    reviews = read_reviews(data_dir)
    assert set(reviews["store"]) == {"google_play", "app_store"}
    assert reviews["review_key"].is_unique
    reports = list((data_dir / "reports").glob("*/report.html"))
    assert len(reports) == 1 and "Report:" in result.output
    names = raw_reviewer_names(data_dir)
    assert names and not find_names_in_files(sorted((data_dir / "reports").rglob("*.*")), names)

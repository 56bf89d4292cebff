"""Hostile input: ragged CSV rows, out-of-range options, and environment failures that must
end in one ``error:`` line and exit code 2 (never a traceback), with nothing written."""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.errors import InputError
from reviewmine.io import read_table

runner = CliRunner()


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private pseudonymisation key per test, outside its data directory."""
    path = tmp_path / "secrets" / "pseudonym.key"
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(path))
    return path


def error_line(result) -> str:
    """The single ``error:`` line of a failed command (exit 2, no traceback)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# --------------------------------------------------------------------------- ragged CSV rows
@pytest.mark.parametrize(
    "body, line, fields",
    [
        ("1,Crashes all the time,extra\n2,Love it\n", 2, 3),  # pandas made column 1 an index
        ("1,Crashes all the time,\n2,Love it,\n", 2, 3),  # trailing commas
        ("1,Crashes all the time\n2\n", 3, 1),  # pandas filled the missing text with ""
        ('1,"Crashes,\nevery\n\ntime"\n\n2,Love it,x\n', 7, 3),  # lines of a quoted field count
    ],
)
def test_ragged_row_is_an_error_with_its_file_line(tmp_path, body, line, fields):
    src = tmp_path / "in.csv"
    src.write_text("uid,text\n" + body)
    with pytest.raises(InputError, match=rf"in\.csv: line {line} has {fields} field\(s\) but the header has 2"):
        read_table(src)


def test_code_refuses_a_shifted_first_row_and_writes_nothing(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("uid,text\n1,The app crashes every time I open it,oops\n2,Love it\n")
    out = tmp_path / "out.csv"
    line = error_line(runner.invoke(app, ["code", str(src), "--out", str(out)]))
    assert str(src) in line and "line 2 has 3 field(s)" in line
    assert not out.exists()


def test_topics_reads_through_the_same_ragged_row_check(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text,app\nCrashes,calm,extra\n")
    out = tmp_path / "topics"
    line = error_line(runner.invoke(app, ["topics", str(src), "--out", str(out)]))
    assert "line 2 has 3 field(s)" in line
    assert not out.exists()


def test_rectangular_csv_with_quoted_commas_and_newlines_reads_unchanged(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('uid,text\n1,"Slow, and\nit crashes"\n2,""\n')
    df = read_table(src)
    assert df.to_dict("records") == [{"uid": "1", "text": "Slow, and\nit crashes"}, {"uid": "2", "text": ""}]


def test_process_import_rejects_ragged_rows_of_either_kind(tmp_path):
    src = tmp_path / "import.csv"
    src.write_text(
        "store,app,text\n"
        "google_play,calm,The stories help me sleep,extra\n"
        "google_play,calm,Fine\n"
        "google_play,calm\n"
    )
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["process", "--data-dir", str(data_dir), "--input", str(src), "--no-raw"])
    assert result.exit_code == 0, result.output
    reviews = pd.read_parquet(data_dir / "processed" / "reviews.parquet")
    rejects = pd.read_parquet(data_dir / "processed" / "rejects.parquet")
    assert reviews["text"].tolist() == ["Fine"]
    assert sorted(rejects["preview"]) == ["google_play,calm", "google_play,calm,The stories help me sleep,extra"]
    assert set(rejects["reason"]) == {"malformed CSV row (wrong number of fields)"}


# --------------------------------------------------------------------------- process
def _import_csv(tmp_path: Path, rows: str) -> Path:
    src = tmp_path / "import.csv"
    src.write_text("store,app,text,at\n" + rows)
    return src


def test_review_times_before_the_stores_or_in_the_future_are_rejected(tmp_path):
    src = _import_csv(
        tmp_path,
        "google_play,calm,Ancient,0001-01-01\n"
        "google_play,calm,Far future,9999-12-31\n"
        "google_play,calm,Just before,2008-06-30T23:59:59Z\n"
        "google_play,calm,Fine,2024-01-01\n"
        "google_play,calm,Undated,\n",
    )
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["process", "--data-dir", str(data_dir), "--input", str(src), "--no-raw"])
    assert result.exit_code == 0, result.output
    reviews = pd.read_parquet(data_dir / "processed" / "reviews.parquet")
    rejects = pd.read_parquet(data_dir / "processed" / "rejects.parquet").sort_values("row")
    assert sorted(reviews["text"]) == ["Fine", "Undated"]
    assert sorted(reviews["month"].dropna()) == ["2024-01"]
    assert rejects["row"].tolist() == [1, 2, 3]
    assert rejects["reason"].tolist() == [
        "review time '0001-01-01' is before the stores opened (2008-07-01)",
        "review time '9999-12-31' is in the future",
        "review time '2008-06-30T23:59:59Z' is before the stores opened (2008-07-01)",
    ]


def test_unknown_time_zone_is_one_line(tmp_path):
    src = _import_csv(tmp_path, "google_play,calm,Fine,2024-01-01 10:00\n")
    data_dir = tmp_path / "data"
    line = error_line(runner.invoke(app, ["process", "--data-dir", str(data_dir), "--input", str(src),
                                          "--assume-tz", "Mars/Olympus"]))
    assert "--assume-tz 'Mars/Olympus': unknown time zone" in line
    assert not (data_dir / "processed").exists()


@pytest.mark.parametrize("yaml_text, key", [("columns:\n  - text\n", "columns"), ("defaults: [x]\n", "defaults")])
def test_mapping_file_whose_sections_are_lists_is_one_line(tmp_path, yaml_text, key):
    src = _import_csv(tmp_path, "google_play,calm,Fine,2024-01-01\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml_text)
    line = error_line(runner.invoke(app, ["process", "--data-dir", str(tmp_path / "data"), "--input", str(src),
                                          "--mapping", str(mapping)]))
    assert str(mapping) in line and f"'{key}' is a list, not a mapping" in line

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


# --------------------------------------------------------------------------- out-of-range options
@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    """Thirty short English reviews of two apps, as a CSV any command can read."""
    texts = ["The app crashes every time I open it", "Love the sleep stories, they help a lot",
             "Too expensive for what it offers", "Great reminders keep me on track",
             "Customer support never answered me"]
    path = tmp_path / "reviews.csv"
    pd.DataFrame({
        "uid": [f"r{i}" for i in range(30)],
        "store": "google_play",
        "app": ["calm", "wysa"] * 15,
        "rating": [str(1 + i % 5) for i in range(30)],
        "text": [f"{texts[i % 5]} (review {i})" for i in range(30)],
        "at": "2024-03-05",
    }).to_csv(path, index=False)
    return path


@pytest.fixture
def processed(tmp_path: Path, reviews_csv: Path) -> Path:
    """A data directory whose processed layer holds the thirty reviews."""
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["process", "--data-dir", str(data_dir), "--input", str(reviews_csv), "--no-raw"])
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.mark.parametrize(
    "options, message",
    [
        (["--n", "-5"], "--n -5: out of range; use a whole number of 1 or more"),
        (["--n", "0"], "--n 0: out of range"),
        (["--seed", "-1"], "--seed -1: out of range; use a whole number from 0 to 4,294,967,295"),
        (["--seed", str(2**32)], f"--seed {2**32}: out of range"),
    ],
)
def test_sample_for_coding_refuses_out_of_range_options(tmp_path, reviews_csv, options, message):
    out = tmp_path / "sheet.csv"
    line = error_line(runner.invoke(app, ["sample-for-coding", str(reviews_csv), "--out", str(out), *options]))
    assert message in line
    assert not out.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--min-topic-size", "-5"], "--min-topic-size -5: out of range; use a whole number of 2 or more"),
        (["--sample-size", "0"], "--sample-size 0: out of range; use a whole number of 20 or more"),
        (["--seed", "-1"], "--seed -1: out of range"),
        (["--embeddings", "bogus"], "--embeddings 'bogus': unknown backend; use one of static, minilm"),
    ],
)
def test_topics_refuses_out_of_range_options(tmp_path, reviews_csv, options, message):
    out = tmp_path / "topics"
    line = error_line(runner.invoke(app, ["topics", str(reviews_csv), "--out", str(out), *options]))
    assert message in line
    assert not out.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--since", "2024-02-01", "--until", "2024-01-01"],
         "--since 2024-02-01 is after --until 2024-01-01; swap them or widen the range"),
        (["--since", "2024-13-01"], "--since '2024-13-01': not a date; use YYYY-MM-DD"),
        (["--store", "bogus"], "--store 'bogus': unknown store; use one of google_play, app_store"),
        (["--language", "xx"], "--language 'xx': not a language the detector knows"),
        (["--language", "EN"], "--language 'EN': not a language the detector knows"),
        (["--min-rating", "4", "--max-rating", "2"], "--min-rating 4 is above --max-rating 2"),
        (["--with-codes"], "analyze_summary.json: not found; run 'reviewmine analyze"),
    ],
)
def test_export_refuses_filters_that_cannot_match(tmp_path, processed, options, message):
    out = tmp_path / "export.csv"
    line = error_line(runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(out), *options]))
    assert message in line
    assert not out.exists()


def test_export_accepts_a_one_day_range(tmp_path, processed):
    out = tmp_path / "export.csv"
    result = runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(out),
                                 "--since", "2024-03-05", "--until", "2024-03-05", "--language", "en"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 30


def _analyze_outputs(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "processed").iterdir()
                  if p.name.startswith(("review_scores", "codes", "sentences", "topic", "analyze")))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--language", "xx"], "--language 'xx': not a language the detector knows"),
        (["--embeddings", "bogus"], "--embeddings 'bogus': unknown backend"),
        (["--embeddings", "bogus", "--no-topics"], "--embeddings 'bogus': unknown backend"),
        (["--seed", "-1", "--no-topics"], "--seed -1: out of range"),
    ],
)
def test_analyze_checks_options_before_writing_anything(processed, options, message):
    line = error_line(runner.invoke(app, ["analyze", "--data-dir", str(processed), *options]))
    assert message in line
    assert _analyze_outputs(processed) == []


def test_analyze_with_no_review_in_the_languages_names_those_present(processed):
    line = error_line(runner.invoke(app, ["analyze", "--data-dir", str(processed), "--language", "de", "--no-topics"]))
    assert "no review to analyse in de (spam left out); languages present: en 30; choose them with --language" in line
    assert _analyze_outputs(processed) == []


def test_analyze_with_too_few_reviews_for_topics_suggests_no_topics(tmp_path, reviews_csv):
    few = tmp_path / "few.csv"
    pd.read_csv(reviews_csv).head(5).to_csv(few, index=False)
    data_dir = tmp_path / "few-data"
    assert runner.invoke(app, ["process", "--data-dir", str(data_dir), "--input", str(few), "--no-raw"]).exit_code == 0
    line = error_line(runner.invoke(app, ["analyze", "--data-dir", str(data_dir)]))
    assert "only 5 review(s) to analyse in en; topic modelling needs at least 20; add reviews or run with --no-topics" in line
    assert _analyze_outputs(data_dir) == []
    result = runner.invoke(app, ["analyze", "--data-dir", str(data_dir), "--no-topics"])
    assert result.exit_code == 0, result.output


def test_language_list_is_the_detectors():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from reviewmine.process.language import LANGUAGES

    labels = LanguageIdentifier.from_model_file(MODEL_FILE).labels
    assert {code for code in labels if len(code) == 2} == LANGUAGES


# --------------------------------------------------------------------------- environment failures
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> Path:
    """A data directory processed and analysed (no topics) once for the report tests."""
    root = tmp_path_factory.mktemp("analysed")
    texts = ["The app crashes every time I open it", "Love the sleep stories, they help a lot",
             "Too expensive for what it offers", "Great reminders keep me on track"]
    src = root / "reviews.csv"
    pd.DataFrame({"store": "google_play", "app": ["calm", "wysa"] * 10,
                  "text": [f"{texts[i % 4]} ({i})" for i in range(20)], "at": "2024-03-05"}).to_csv(src, index=False)
    data_dir = root / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWMINE_KEY_FILE", str(root / "key"))
        for args in (["process", "--input", str(src), "--no-raw"], ["analyze", "--no-topics"]):
            result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
            assert result.exit_code == 0, result.output
    return data_dir


def test_topics_out_that_is_a_file_is_refused_before_fitting(tmp_path, reviews_csv):
    out = tmp_path / "topics.txt"
    out.write_text("keep me")
    line = error_line(runner.invoke(app, ["topics", str(reviews_csv), "--out", str(out)]))
    assert f"{out}: is a file; give --out a directory" in line
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("command", ["topics", "report", "process", "export"])
def test_a_path_under_a_regular_file_is_one_line(tmp_path, reviews_csv, analysed, command):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = {
        "topics": ["topics", str(reviews_csv), "--out", str(blocker / "sub")],
        "report": ["report", "--data-dir", str(analysed), "--out", str(blocker / "sub")],
        "process": ["process", "--data-dir", str(blocker / "sub"), "--input", str(reviews_csv), "--no-raw"],
        "export": ["export", "--data-dir", str(analysed), "--out", str(blocker / "sub.csv")],
    }[command]
    line = error_line(runner.invoke(app, args))
    assert str(blocker / "sub") in line and "cannot write" in line
    assert blocker.read_text() == "x"


@pytest.mark.parametrize(
    "args", [["process", "--input", "IN"], ["analyze"], ["export", "--out", "OUT"], ["report", "--out", "OUT"]]
)
def test_a_data_dir_that_is_a_file_is_one_line(tmp_path, reviews_csv, args):
    data_dir = tmp_path / "data"
    data_dir.write_text("not a directory")
    args = [{"IN": str(reviews_csv), "OUT": str(tmp_path / "out.csv")}.get(a, a) for a in args]
    line = error_line(runner.invoke(app, [*args, "--data-dir", str(data_dir)]))
    assert line == f"error: --data-dir {data_dir}: is a file, not a directory; pass the project data directory"
    assert data_dir.read_text() == "not a directory"


def test_report_into_a_read_only_directory_is_one_line(tmp_path, analysed, monkeypatch):
    out = tmp_path / "readonly" / "run"
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if str(self).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    line = error_line(runner.invoke(app, ["report", "--data-dir", str(analysed), "--out", str(out)]))
    assert f"{out}: cannot write: read-only file system; choose a location you can write to" in line


def test_disk_full_in_code_is_one_line_and_leaves_no_file(tmp_path, reviews_csv, monkeypatch):
    out = tmp_path / "coded.csv"
    monkeypatch.setattr(pd.DataFrame, "to_csv", _no_space)
    line = error_line(runner.invoke(app, ["code", str(reviews_csv), "--out", str(out)]))
    assert f"{out}: cannot write: no space left on device; free some space and run again" in line
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not out.exists()


def test_disk_full_in_export_is_one_line_and_leaves_no_file(tmp_path, processed, monkeypatch):
    out = tmp_path / "export.csv"
    monkeypatch.setattr(pd.DataFrame, "to_csv", _no_space)
    line = error_line(runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(out)]))
    assert f"{out}: cannot write: no space left on device" in line
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not out.exists()


def test_disk_full_in_process_is_one_line_and_keeps_the_previous_outputs(tmp_path, processed, reviews_csv, monkeypatch):
    import pyarrow.parquet as pq

    reviews = processed / "processed" / "reviews.parquet"
    before = reviews.read_bytes()
    monkeypatch.setattr(pq.ParquetWriter, "write_table", _no_space)
    line = error_line(runner.invoke(app, ["process", "--data-dir", str(processed), "--input", str(reviews_csv), "--no-raw"]))
    assert f"{processed / 'processed'}: cannot write: no space left on device" in line
    assert reviews.read_bytes() == before
    assert [p.name for p in (processed / "processed").iterdir() if p.name.startswith(".")] == []


def _damaged_excel(path: Path) -> Path:
    pd.DataFrame({"uid": ["1"], "text": ["The app crashes"], "codes": [""]}).to_excel(path, index=False)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


@pytest.mark.parametrize("command", ["code", "evaluate"])
def test_damaged_xlsx_is_one_line(tmp_path, command):
    sheet = _damaged_excel(tmp_path / "sheet.xlsx")
    args = {"code": ["code", str(sheet), "--out", str(tmp_path / "out.csv")],
            "evaluate": ["evaluate", "--gold", str(sheet), "--disagreements", str(tmp_path / "d.csv")]}[command]
    line = error_line(runner.invoke(app, args))
    assert f"{sheet}: damaged Excel file" in line


@pytest.mark.parametrize("command", ["analyze", "export", "report"])
def test_damaged_processed_reviews_are_one_line(tmp_path, analysed, command):
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(analysed, data_dir)
    reviews = data_dir / "processed" / "reviews.parquet"
    whole = reviews.read_bytes()
    reviews.write_bytes(whole[: len(whole) // 2] + whole[-8:])  # footer magic kept, metadata gone
    args = {"analyze": ["analyze", "--no-topics"], "export": ["export", "--out", str(tmp_path / "x.csv")],
            "report": ["report", "--out", str(tmp_path / "report")]}[command]
    line = error_line(runner.invoke(app, [*args, "--data-dir", str(data_dir)]))
    assert f"{reviews}: damaged or not a Parquet file; rebuild it with 'reviewmine process'" in line


@pytest.mark.parametrize(
    "change, message",
    [
        ({"parameters": [1]}, "parameters is [1] but must be an object"),
        ({"inputs": "x"}, "inputs is \"x\" but must be a list"),
        ({"inputs": [{"path": 3, "sha256": "ab"}]}, "inputs[].path is 3 but must be text"),
        ({"data_dir": 5}, "data_dir is 5 but must be text"),
        ({"run_name": None}, "run_name is null but must be text"),
        ({"parameters": {"small_n": "30"}}, "parameters.small_n is \"30\" but must be a whole number"),
        ({"parameters": {"small_n": True}}, "parameters.small_n is true but must be a whole number"),
        ({"parameters": {"apps": "calm"}}, "parameters.apps is \"calm\" but must be a list or null"),
        ({"parameters": {"apps": [1]}}, "an entry of parameters.apps is 1 but must be text"),
    ],
)
def test_manifest_with_wrong_typed_fields_is_one_line(tmp_path, change, message):
    import json

    manifest = {"run_name": "r1", "data_dir": str(tmp_path / "data"), "inputs": [],
                "parameters": {"apps": None, "small_n": 30}}
    manifest.update(change)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    line = error_line(runner.invoke(app, ["report", "--from-manifest", str(path)]))
    assert f"{path}: {message}" in line


def _read_only(*args, **kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def test_process_into_a_read_only_data_dir_is_one_line(processed, reviews_csv, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "mkdtemp", _read_only)
    line = error_line(runner.invoke(app, ["process", "--data-dir", str(processed), "--input", str(reviews_csv), "--no-raw"]))
    assert f"{processed / 'processed'}: cannot write: read-only file system" in line


def test_export_into_a_read_only_dir_is_one_line(tmp_path, processed, monkeypatch):
    import tempfile

    out = tmp_path / "out" / "export.csv"
    monkeypatch.setattr(tempfile, "mkstemp", _read_only)
    line = error_line(runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(out)]))
    assert str(out) in line and "Read-only file system" in line
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "--small-n", "0"], "--small-n"),
        (["report", "--quotes", "0"], "--quotes"),
        (["collect", "--max-pages", "0"], "--max-pages must be at least 1"),
        (["collect", "--max-pages", "-1"], "--max-pages must be at least 1"),
    ],
)
def test_other_numeric_options_out_of_range_exit_2(tmp_path, args, message):
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "data").exists()


def test_export_takes_an_app_by_name_or_slug_and_names_the_known_ones_otherwise(tmp_path, processed):
    for name in ("Calm", "calm"):  # name or slug
        out = tmp_path / "calm.csv"
        result = runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(out), "--app", name])
        assert result.exit_code == 0, result.output
        assert set(pd.read_csv(out)["app"]) == {"calm"} and len(pd.read_csv(out)) == 15
    out = tmp_path / "none.csv"
    line = error_line(runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(out), "--app", "Headspace"]))
    assert "--app Headspace: not in" in line and "the apps there are: calm, wysa" in line
    assert not out.exists()

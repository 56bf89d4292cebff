"""End-to-end: raw layer and imports -> processed layer, through Python and the CLI."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.config import sample_dir
from reviewmine.errors import InputError
from reviewmine.process import (
    PROCESSED_SCHEMA,
    find_names,
    find_names_in_files,
    process,
    raw_reviewer_names,
    read_reviews,
)

runner = CliRunner()


def test_same_review_in_several_runs_and_storefronts_is_one_row(data_dir, make_review, raw_writer):
    raw_writer("run1-us", [make_review(review_id="1", country="us"), make_review(review_id="2", text="Okay I guess.")])
    raw_writer("run2-gb", [make_review(review_id="1", country="gb", run_id="run-2",
                                       fetched_at=datetime(2024, 4, 1, tzinfo=UTC))])
    summary = process(data_dir)
    df = read_reviews(data_dir)
    assert sorted(df["review_id"]) == ["1", "2"]
    one = df.set_index("review_id").loc["1"]
    assert one["n_sightings"] == 2 and one["run_id"] == "run-2"
    assert summary.duplicates_collapsed == 1 and summary.reviews == 2
    assert df["review_key"].is_unique


def test_edited_review_keeps_its_history(data_dir, make_review, raw_writer):
    raw_writer("run1", [make_review(review_id="9", rating=2, text="Crashes all the time.")])
    raw_writer("run2", [make_review(review_id="9", rating=4, text="Fixed now, works well.",
                                    at=datetime(2024, 5, 1, tzinfo=UTC), run_id="run-2",
                                    fetched_at=datetime(2024, 5, 2, tzinfo=UTC))])
    summary = process(data_dir)
    current = read_reviews(data_dir)
    both = read_reviews(data_dir, versions=True).sort_values("version")
    assert current[["rating", "text", "version", "n_versions"]].values.tolist() == [
        [4, "Fixed now, works well.", 2, 2]
    ]
    assert both["is_current"].tolist() == [False, True]
    assert both["review_key"].nunique() == 1
    assert summary.edited_reviews == 1 and summary.previous_versions == 1


def test_imported_rows_without_ids_are_deduplicated_and_matched(data_dir, make_review, raw_writer, tmp_path):
    raw_writer("run1", [make_review(review_id="77", text="Sleep stories are the best thing here.")])
    csv = tmp_path / "import.csv"
    pd.DataFrame({
        "store": ["google_play", "google_play", "google_play"],
        "app_name": ["Calm", "Calm", "Calm"],
        "content": ["Sleep stories are the BEST thing here!", "New one from a paper", "New one from a paper"],
        "score": [5, 3, 3],
        "date": ["2024-03-05 08:00:00", "2024-01-01", "2024-01-01"],
    }).to_csv(csv, index=False)
    summary = process(data_dir, inputs=[csv], column_map="app=app_name")
    df = read_reviews(data_dir)
    assert len(df) == 2
    assert summary.merged_across_sources == 1
    assert set(df["review_id_kind"]) == {"store", "content"}
    assert df.loc[df["review_id_kind"] == "content", "review_id"].str.startswith("ck_").all()


def test_copy_paste_across_apps_is_flagged_not_dropped(data_dir, make_review, raw_writer):
    pasted = "Best app ever download it now and tell your friends about it"
    raw_writer("r", [make_review(review_id=str(i), app=a, text=pasted)
                     for i, a in enumerate(["calm", "headspace", "wysa"])]
               + [make_review(review_id="x", text="Great app, love it"),
                  make_review(review_id="y", text="great app love it"),
                  make_review(review_id="z", text="good " * 12),
                  make_review(review_id="w", text="hahahahahahahahahahahahaha")])
    summary = process(data_dir)
    df = read_reviews(data_dir).set_index("review_id")
    assert len(df) == 7
    assert df.loc[["z", "w"], "spam_reason"].eq("repetitive").all()
    assert df.loc[["0", "1", "2"], "is_copy_paste"].all()
    assert (df.loc[["0", "1", "2"], "copy_n_apps"] == 3).all()
    assert df.loc[["0", "1", "2"], "spam_reason"].eq("cross_app_copy").all()
    # short common phrases are said independently by many people
    assert not df.loc[["x", "y"], "is_copy_paste"].any()
    assert summary.copy_paste == 3 and summary.cross_app_copy_paste == 3 and summary.spam == 5


def test_no_reviewer_name_survives_into_data_logs_or_output(data_dir, make_review, raw_writer, caplog):
    raw_writer("r", [
        make_review(review_id="1", reviewer_name="Sarah Kowalski",
                    text="Sarah Kowalski here: email me sarah.k@example.com",
                    developer_reply="Hi Sarah, sorry about that! Write to help@calm.com"),
        make_review(review_id="2", reviewer_name="Tomasz Brzęczyszczykiewicz", title="Tomasz says",
                    text="Works for me"),
        make_review(review_id="3", reviewer_name="A Google user", text="fine"),
        make_review(review_id="4", reviewer_name="Marguerite Okonkwo", rating=9,
                    text="Marguerite Okonkwo says the rating is broken"),
        make_review(review_id="5", reviewer_name="Marguerite Okonkwo", store="myspace",
                    text="Marguerite wrote this for the wrong store"),
    ])
    names = raw_reviewer_names(data_dir)
    assert "Sarah Kowalski" in names
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(app, ["process", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    processed = sorted((data_dir / "processed").glob("*"))
    rejects = pd.read_parquet(data_dir / "processed" / "rejects.parquet")
    assert sorted(rejects["review_id"]) == ["4", "5"]
    assert find_names_in_files(processed, names) == []
    assert find_names([("cli", result.output), ("log", caplog.text)], names) == []
    df = read_reviews(data_dir).set_index("review_id")
    assert df.loc["1", "developer_reply"] == "Hi [NAME], sorry about that! Write to [EMAIL]"
    assert df.loc["1", "text"] == "[NAME] here: email me [EMAIL]"
    assert df.loc["1", "reviewer_pseudonym"].startswith("rv_")
    assert pd.isna(df.loc["3", "reviewer_pseudonym"])
    assert "reviewer_name" not in df.columns


def test_bad_rows_are_kept_or_rejected_with_a_reason(data_dir, tmp_path):
    csv = tmp_path / "messy.csv"
    rows = [
        "store,app,review_id,rating,text,at",
        "google_play,calm,a,5,fine app,2024-01-01",
        "google_play,calm,b,seven,bad rating,2024-01-01",
        "google_play,calm,c,4,bad date,not a date",
        "google_play,calm,d,4,too,many,fields",
        "myspace,calm,e,4,unknown store,2024-01-01",
        "google_play,,f,4,no app,2024-01-01",
        'google_play,calm,g,4,"\x00\x01\x02\x03\x04junk",2024-01-01',
        "google_play,calm,h,,,2024-01-01",
        "google_play,calm,i,3," + "long " * 250_000 + ",2024-01-01",
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = process(data_dir, inputs=[csv])
    df = read_reviews(data_dir).set_index("review_id")
    rejects = pd.read_parquet(data_dir / "processed" / "rejects.parquet")
    assert sorted(df.index) == ["a", "b", "c", "i"]
    assert pd.isna(df.loc["b", "rating"]) and pd.isna(df.loc["c", "at"])
    assert df.loc["i", "text_truncated"] and df.loc["i", "text_chars"] <= 20_000
    reasons = dict(zip(rejects["review_id"].fillna("?"), rejects["reason"], strict=True))
    assert reasons["b"] == "invalid rating 'seven' set to null"
    assert reasons["c"] == "unparseable date 'not a date' set to null"
    assert "unknown store 'myspace'" in reasons["e"]
    assert reasons["f"] == "no app name"
    assert reasons["g"].startswith("binary data")
    assert reasons["h"].startswith("empty review")
    assert reasons["?"].startswith("malformed CSV row")
    assert summary.rows_read == 9 and summary.rows_rejected == 5 and summary.reviews == 4
    assert summary.rejected_by_reason == {
        "malformed_row": 1, "unknown_store": 1, "missing_app": 1, "binary_text": 1, "empty_review": 1,
    }
    assert summary.kept_with_issues == {"invalid_rating": 1, "unparseable_date": 1, "text_truncated": 1}
    assert set(rejects["action"]) == {"kept", "rejected"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "file is empty"),
        (b"store,app,rating\ngoogle_play,calm,5\n", "no review text column"),
        (b"store,text\ngoogle_play,hello\n", "no column for 'app'"),
        (b"store,app,text\ngoogle_play,calm,caf\xe9 \xe0 la cr\xe8me\n", "not UTF-8"),
        (b"store,app,text\n", "no data rows"),
    ],
)
def test_bad_files_fail_with_one_line_and_write_nothing(data_dir, tmp_path, content, message):
    good = tmp_path / "good.csv"
    good.write_text("store,app,text\ngoogle_play,calm,first run\n")
    process(data_dir, inputs=[good], include_raw=False)
    before = (data_dir / "processed" / "reviews.parquet").read_bytes()
    bad = tmp_path / "bad.csv"
    if content is not None:
        bad.write_bytes(content)
    result = runner.invoke(app, ["process", "--data-dir", str(data_dir), "--input", str(good),
                                 "--input", str(bad)])
    assert result.exit_code == 2
    assert result.stdout == ""
    # Exactly one line: no blank line from the progress bar, nothing wrapped or styled away.
    assert result.stderr.count("\n") == 1
    line = result.stderr.rstrip("\n")
    assert line.startswith("error: ") and str(bad) in line and message in line
    assert (data_dir / "processed" / "reviews.parquet").read_bytes() == before
    assert not list((data_dir / "processed").glob(".tmp-*"))


def test_shipped_sample_imports_without_mapping(data_dir):
    summary = process(data_dir, inputs=[sample_dir() / "reviews_sample.csv"])
    df = read_reviews(data_dir)
    assert summary.rows_rejected == 0
    assert len(df) == summary.reviews > 1000
    assert set(df["store"]) <= {"google_play", "app_store"}
    assert df["is_english"].mean() > 0.8


def test_dev_style_file_with_documented_mapping(data_dir, tmp_path):
    csv = tmp_path / "dev.csv"
    pd.DataFrame({
        "uid": ["u1", "u2"], "dataset": ["meditation_proj", "et6"],
        "store": ["app_store (inferred)", "google_play"], "country": ["us", ""],
        "app_name": ["Daylio", "7 Cups"], "review_id": ["", "abc"], "rating": [4, 1],
        "date": ["2019-10-31 16:20:04", ""], "title": ["Nice", ""],
        "text": ["Helps me track my mood every day", "Costs too much"],
        "app_version": ["3.0.3", ""], "thumbs_up": ["", "2.0"], "developer_reply": ["", ""],
        "is_exact_dup_text": [False, False],
    }).to_csv(csv, index=False)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns:\n  app: app_name\n  at: date\n  source: dataset\n")
    process(data_dir, inputs=[csv], mapping=mapping, include_raw=False)
    df = read_reviews(data_dir).set_index("app")
    assert df.loc["daylio", "store"] == "app_store" and df.loc["daylio", "store_inferred"]
    assert df.loc["daylio", "month"] == "2019-10" and df.loc["daylio", "source"] == "meditation_proj"
    assert df.loc["7-cups", "thumbs_up"] == 2 and df.loc["7-cups", "review_id"] == "abc"


def test_output_matches_the_schema_and_the_data_dictionary(data_dir, make_review, raw_writer):
    raw_writer("r", [make_review(review_id=str(i)) for i in range(3)])
    process(data_dir)
    schema = pq.read_schema(data_dir / "processed" / "reviews.parquet")
    assert schema.remove_metadata().equals(PROCESSED_SCHEMA)
    dictionary = (Path(__file__).parents[2] / "docs" / "data-dictionary-processed.md").read_text()
    for field in PROCESSED_SCHEMA:
        assert f"| `{field.name}` | {field.type} |" in dictionary
    summary = json.loads((data_dir / "processed" / "process_summary.json").read_text())
    assert summary["reviews"] == 3


def test_cli_and_python_give_the_same_table(tmp_path):
    sample = sample_dir() / "reviews_sample.csv"
    a, b = tmp_path / "a", tmp_path / "b"
    process(a, inputs=[sample])
    result = runner.invoke(app, ["process", "--data-dir", str(b), "--input", str(sample)])
    assert result.exit_code == 0, result.output
    assert "reviews (current versions)" in result.output
    left = read_reviews(a).sort_values("review_key").reset_index(drop=True)
    right = read_reviews(b).sort_values("review_key").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


def test_export_filters_and_formats(data_dir, make_review, raw_writer, tmp_path):
    raw_writer("r", [
        make_review(review_id="1", rating=1, at=datetime(2024, 1, 10, tzinfo=UTC)),
        make_review(review_id="2", rating=5, at=datetime(2024, 3, 31, 23, 0, tzinfo=UTC)),
        make_review(review_id="3", rating=5, app="wysa", at=datetime(2024, 3, 1, tzinfo=UTC)),
        make_review(review_id="4", rating=4, text="Muy buena aplicación, me ayuda a dormir mejor"),
    ])
    process(data_dir)
    out = tmp_path / "calm.csv"
    result = runner.invoke(app, ["export", "--data-dir", str(data_dir), "--format", "csv", "--out", str(out),
                                 "--app", "calm", "--since", "2024-02-01", "--until", "2024-03-31",
                                 "--min-rating", "4", "--language", "en"])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out, dtype={"review_id": str})
    assert exported["review_id"].tolist() == ["2"]
    assert exported["at"].tolist() == ["2024-03-31T23:00:00Z"]
    for fmt in ("parquet", "xlsx"):
        path = tmp_path / f"all.{fmt}"
        result = runner.invoke(app, ["export", "--data-dir", str(data_dir), "--out", str(path)])
        assert result.exit_code == 0, result.output
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_excel(path)
        assert len(frame) == 4
    assert len(read_reviews(data_dir, store="google_play", max_rating=1)) == 1
    bad = runner.invoke(app, ["export", "--data-dir", str(data_dir), "--out", str(tmp_path / "x.json")])
    assert bad.exit_code == 2 and "use one of csv, parquet, xlsx" in bad.output


def test_process_without_any_input_says_what_to_do(data_dir):
    with pytest.raises(InputError, match="reviewmine collect"):
        process(data_dir)


def test_reader_handles_a_dataset_partitioned_by_store_and_app(data_dir, make_review, raw_writer):
    raw_writer("r", [make_review(review_id="1"), make_review(review_id="2", app="wysa", rating=2)])
    process(data_dir)
    path = data_dir / "processed" / "reviews.parquet"
    table = pq.read_table(path)
    path.unlink()
    pq.write_to_dataset(table, path, partition_cols=["store", "app"])
    df = read_reviews(data_dir, columns=["app", "rating"], app="wysa")
    assert df["rating"].tolist() == [2]
    assert len(read_reviews(data_dir)) == 2


def test_a_file_of_only_bad_rows_gives_an_empty_table_and_the_reasons(data_dir, tmp_path):
    csv = tmp_path / "allbad.csv"
    csv.write_text("store,app,text\ngoogle_play,calm,a,b\ngoogle_play,calm,c,d,e\n")
    summary = process(data_dir, inputs=[csv])
    assert summary.reviews == 0 and summary.rows_rejected == 2
    assert read_reviews(data_dir).empty
    rejects = pd.read_parquet(data_dir / "processed" / "rejects.parquet")
    assert rejects["preview"].tolist() == ["google_play,calm,a,b", "google_play,calm,c,d,e"]

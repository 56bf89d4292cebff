import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.config import sample_dir

runner = CliRunner()


@pytest.fixture(scope="module")
def analyze_run(tmp_path_factory):
    from reviewmine.process import process

    root = tmp_path_factory.mktemp("analyze")
    sample = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    subset = pd.concat([sample[sample["app"] == a].head(150) for a in ("calm", "woebot", "replika", "wysa")])
    spanish = sample[sample["text"].str.contains(r"\b(?:muy|aplicación|excelente)\b", regex=True)].head(5)
    path = root / "subset.csv"
    pd.concat([subset, spanish]).to_csv(path, index=False)
    data_dir = root / "data"
    process(data_dir, inputs=[path], include_raw=False, key_file=root / "key")
    result = runner.invoke(app, ["analyze", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return data_dir, result.output


@pytest.fixture(scope="module")
def analysed(analyze_run):
    return analyze_run[0]


def test_reviews_skipped_for_their_language_are_counted_by_language_and_listed(analyze_run):
    data_dir, output = analyze_run
    summary = json.loads((data_dir / "processed" / "analyze_summary.json").read_text())
    assert sum(summary["skipped_by_language"].values()) == summary["skipped_non_english"]
    assert summary["skipped_by_language"].get("es", 0) >= 1
    sample = summary["skipped_language_sample"]
    assert 1 <= len(sample) <= 20 and all(isinstance(item["language"], str) and item["language"] != "en" for item in sample)
    assert any("aplicación" in item["text"] or "muy" in item["text"].lower() for item in sample)
    assert "by language" in output and "a sample to check" in output


def test_analyze_writes_every_layer_with_consistent_counts(analysed):
    proc = analysed / "processed"
    summary = json.loads((proc / "analyze_summary.json").read_text())
    scores = pd.read_parquet(proc / "review_scores.parquet")
    codes = pd.read_parquet(proc / "codes.parquet")
    sentences = pd.read_parquet(proc / "sentences.parquet")
    topics = pd.read_parquet(proc / "topics.parquet")
    info = pd.read_parquet(proc / "topic_info.parquet")
    assert summary["analysed"] == len(scores) == len(topics)
    assert summary["reviews_in"] == summary["analysed"] + summary["skipped_non_english"] + summary["skipped_spam"] + summary["skipped_empty"]
    assert summary["skipped_non_english"] >= 1
    assert summary["codes"] == len(codes) == scores["n_codes"].sum()
    assert summary["sentences"] == len(sentences)
    assert scores["sentiment"].between(-1, 1).all()
    assert set(codes["polarity"]) <= {"barrier", "facilitator", "neutral"}
    assert set(topics["topic_id"]) <= set(info["topic_id"])
    assert summary["topics"] == int((info["topic_id"] != -1).sum()) >= 2


def test_every_code_is_traceable_to_a_sentence_of_its_review(analysed):
    proc = analysed / "processed"
    codes = pd.read_parquet(proc / "codes.parquet")
    sentences = pd.read_parquet(proc / "sentences.parquet")
    known = set(zip(sentences["review_key"], sentences["sentence"], strict=True))
    assert all((k, e) in known for k, e in zip(codes["review_key"], codes["evidence"], strict=True))
    serialised = pd.read_parquet(proc / "review_scores.parquet").set_index("review_key")["codes"]
    for key, group in codes.groupby("review_key"):
        assert serialised[key] == "|".join(sorted(f"{c}:{p}" for c, p in zip(group["code"], group["polarity"], strict=True)))


def test_analyze_without_processed_data_says_what_to_run(tmp_path):
    result = runner.invoke(app, ["analyze", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "reviewmine process" in result.output


def test_streaming_in_small_batches_gives_the_same_outputs(analysed, tmp_path, monkeypatch):
    """Many batches, the first with no app versions at all: same rows as one batch."""
    import shutil

    from reviewmine.analyze import pipeline

    data_dir = tmp_path / "data"
    shutil.copytree(analysed / "processed", data_dir / "processed")
    reviews = pd.read_parquet(data_dir / "processed" / "reviews.parquet")
    reviews.loc[reviews.index[:60], "app_version"] = None
    reviews.to_parquet(data_dir / "processed" / "reviews.parquet", index=False)
    monkeypatch.setattr(pipeline, "BATCH", 50)
    summary = pipeline.analyze(data_dir, topics=False)
    one = pd.read_parquet(analysed / "processed" / "review_scores.parquet").set_index("review_key")
    many = pd.read_parquet(data_dir / "processed" / "review_scores.parquet").set_index("review_key")
    assert summary.analysed == len(many) == len(one)
    assert (many.loc[one.index, "codes"] == one["codes"]).all()
    assert many["app_version"].isna().sum() >= 50


def test_topic_info_says_which_coded_factor_dominates_each_topic(analysed):
    proc = analysed / "processed"
    info = pd.read_parquet(proc / "topic_info.parquet")
    topics = pd.read_parquet(proc / "topics.parquet")
    codes = pd.read_parquet(proc / "codes.parquet")
    assert {"coded_factor", "coded_factor_share"} <= set(info.columns)
    row = info.dropna(subset=["coded_factor"]).sort_values("size", ascending=False).iloc[0]
    members = set(topics.loc[topics["topic_id"] == row["topic_id"], "review_key"])
    with_code = set(codes.loc[codes["code"] == row["coded_factor"], "review_key"]) & members
    assert row["coded_factor_share"] == round(len(with_code) / len(members), 4)
    per_code = codes[codes["review_key"].isin(members)].groupby("code")["review_key"].nunique()
    assert per_code.max() == len(with_code)


def test_export_with_codes_joins_sentiment_codes_and_evidence(analysed, tmp_path):
    from reviewmine.analyze.outputs import export_with_codes

    out = tmp_path / "coded.csv"
    n = export_with_codes(analysed, out, app="Calm")
    table = pd.read_csv(out, dtype={"codes": str}, keep_default_na=False)
    assert n == len(table) > 0 and set(table["app"]) == {"calm"}
    codes = pd.read_parquet(analysed / "processed" / "codes.parquet")
    coded = table[table["n_codes"] > 0].iloc[0]
    mine = codes[codes["review_key"] == coded["review_key"]]
    assert coded["n_codes"] == len(mine) and set(coded["codes"].split("|")) == {f"{c}:{p}" for c, p in zip(mine["code"], mine["polarity"], strict=True)}
    assert all(f"{c}: {e}" in coded["evidence"] for c, e in zip(mine["code"], mine["evidence"], strict=True))
    assert table["at"].str.match(r"\d{4}-\d{2}-\d{2}T").all()


def test_export_with_codes_refuses_outputs_of_an_older_process_run(analysed, tmp_path):
    import shutil

    from reviewmine.analyze.outputs import export_with_codes
    from reviewmine.errors import InputError

    data = tmp_path / "data"
    shutil.copytree(analysed / "processed", data / "processed")
    reviews = pd.read_parquet(data / "processed" / "reviews.parquet")
    reviews.to_parquet(data / "processed" / "reviews.parquet")  # another generation (no process stamp)
    with pytest.raises(InputError, match="was made from an older processed/reviews.parquet"):
        export_with_codes(data, tmp_path / "x.csv")


def test_export_with_codes_on_the_command_line(analysed, tmp_path):
    out = tmp_path / "coded.xlsx"
    result = runner.invoke(app, ["export", "--data-dir", str(analysed), "--out", str(out), "--app", "Woebot", "--with-codes"])
    assert result.exit_code == 0, result.output
    table = pd.read_excel(out, dtype=str, keep_default_na=False)
    assert {"sentiment", "codes", "n_codes", "evidence"} <= set(table.columns) and set(table["app"]) == {"woebot"}
    assert (table["codes"] != "").any()

"""Topic model and the `reviewmine topics` command, on the shipped real sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.analyze.test_embeddings import distilled_model_dir
from typer.testing import CliRunner

from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.topic_metrics import npmi_coherence, topic_diversity
from reviewmine.analyze.topics import ReviewTopicModel
from reviewmine.cli import app
from reviewmine.config import sample_dir

runner = CliRunner()
SAMPLE = sample_dir() / "reviews_sample.csv"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache dir holding the static model distilled once for the session."""
    distilled_model_dir(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWMINE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "reviewmine-cache"))
        yield


@pytest.fixture(scope="module")
def run(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("topics")
    result = runner.invoke(app, ["topics", str(SAMPLE), "--text-col", "text", "--out", str(out),
                                 "--sample-size", "2000", "--seed", "7", "--metrics"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_topics_csv_has_fixed_columns_and_outlier_row(run):
    out, output = run
    table = pd.read_csv(out / "topics.csv", keep_default_na=False)
    assert list(table.columns[:3]) == ["topic_id", "size", "words"]
    assert {"label", "factor", "is_emerging"} <= set(table.columns)
    assert table.topic_id.iloc[0] == -1
    rows = len(pd.read_csv(SAMPLE))
    assert table["size"].sum() == rows
    words = table.loc[table.topic_id != -1, "words"].str.split()
    assert words.map(len).between(1, 10).all()
    # Filler and stop words never label a topic.
    assert not {"app", "the", "and", "great"} & set(words.explode())
    # Every topic maps to a codebook factor or is an emerging theme, never both.
    topics_only = table[table.topic_id != -1]
    assert ((topics_only.factor != "") ^ topics_only.is_emerging).all()
    assert set(topics_only.factor[topics_only.factor != ""]) <= set(load_codebook().ids)
    assert "topics" in output and "outliers" in output


def test_assignments_have_one_row_per_input_row(run):
    out, _ = run
    assignments = pd.read_csv(out / "assignments.csv", keep_default_na=False)
    table = pd.read_csv(out / "topics.csv", keep_default_na=False)
    assert list(assignments.columns) == ["row", "topic_id", "factor"]
    assert assignments.row.tolist() == list(range(len(pd.read_csv(SAMPLE))))
    assert set(assignments.topic_id) <= set(table.topic_id)
    factor_of = dict(zip(table.topic_id, table.factor, strict=True))
    assert (assignments.factor == assignments.topic_id.map(factor_of)).all()
    outlier_share = (assignments.topic_id == -1).mean()
    assert 0 < outlier_share <= 0.2


def test_per_app_month_version_tables_and_quotes(run):
    out, _ = run
    by_app = pd.read_csv(out / "topics_by_app.csv")
    assert np.allclose(by_app.groupby("app")["share"].sum(), 1.0, atol=0.01)
    by_month = pd.read_csv(out / "topics_by_month.csv")
    assert by_month.month.str.fullmatch(r"\d{4}-\d{2}").all()
    assert (pd.read_csv(out / "topics_by_version.csv")["n"] > 0).all()
    quotes = pd.read_csv(out / "topic_quotes.csv")
    assignments = pd.read_csv(out / "assignments.csv")
    merged = quotes.merge(assignments, on="row", suffixes=("", "_assigned"))
    assert (merged.topic_id == merged.topic_id_assigned).all()
    assert quotes.groupby("topic_id").size().max() <= 3


def test_saved_model_is_safetensors_and_reloads_for_new_reviews(run, cache):
    out, _ = run
    model_dir = out / "model"
    assert not list(model_dir.rglob("*.pkl")) and not list(model_dir.rglob("*.pickle"))
    assert (model_dir / "bertopic" / "topic_embeddings.safetensors").is_file()
    manifest = pd.read_json(model_dir / "manifest.json", typ="series")
    assert manifest["params"]["seed"] == 7 and len(manifest["fitted"]["corpus_sha256"]) == 64
    model = ReviewTopicModel.load(model_dir)
    texts = pd.read_csv(SAMPLE).text.fillna("").tolist()[:300]
    assigned = pd.read_csv(out / "assignments.csv").topic_id.to_numpy()[:300]
    assert (model.transform(texts) == assigned).all()
    crash = model.transform(["The app crashes every single time I open it after the update"])[0]
    assert model.topic_factor_[int(crash)] == "technical_issues"


def test_same_seed_gives_same_topics(cache):
    texts = pd.read_csv(SAMPLE).text.fillna("").tolist()
    a = ReviewTopicModel(seed=3, sample_size=1500).fit_transform(texts)
    b = ReviewTopicModel(seed=3, sample_size=1500).fit_transform(texts)
    assert (a == b).all()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "file not found"),
        (b"", [], "empty"),
        (b"text\n", [], "no rows"),
        (b"body\nhello there\n", [], "no column 'text'"),
        ("text\ncaf\u00e9 great\n".encode("latin-1"), [], "not UTF-8"),
        (b"text,app\nhello there,calm\n", ["--app-col", "store"], "no column 'store'"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, content, args, message):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["topics", str(path), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) <= 2  # one message, maybe soft-wrapped


def test_metrics_on_a_known_corpus():
    docs = ["sleep calm", "sleep calm", "price money", "price money"]
    analyzer = str.split
    good = npmi_coherence([["sleep", "calm"]], docs, analyzer)[0]
    bad = npmi_coherence([["sleep", "money"]], docs, analyzer)[0]
    assert good == pytest.approx(1.0) and bad == pytest.approx(-1.0)
    assert topic_diversity([["a", "b"], ["a", "c"]]) == 0.75


def test_topic_quality_scores_the_words_a_paper_would():
    from reviewmine.analyze.topic_metrics import paper_words, topic_quality

    assert paper_words("free_trial app the subscription free pay", top_n=3) == ["free", "trial", "subscription"]
    docs = ["free trial then subscription", "free trial ended", "sleep stories calm me", "calm sleep sounds",
            "the app crashes"]
    quality = topic_quality(["free_trial subscription", "sleep calm app"], docs, outliers=1)
    assert quality["topics"] == 2 and quality["diversity"] == 1.0 and quality["outlier_share"] == 0.2
    assert quality["npmi"] > 0.3  # the words of each topic occur together
    mixed = topic_quality(["free sleep", "trial calm"], docs, outliers=1)
    assert mixed["npmi"] == -1.0  # never together


def test_metrics_are_measured_on_the_corpus_and_written(run):
    import json

    out, output = run
    metrics = json.loads((out / "metrics.json").read_text())
    topics = pd.read_csv(out / "topics.csv", keep_default_na=False)
    assert metrics["topics"] <= int((topics["topic_id"] != -1).sum()) and metrics["topics"] >= 2
    assert -1 <= metrics["npmi"] <= 1 and 0 < metrics["diversity"] <= 1 and metrics["seconds"] > 0
    outliers = int(topics.loc[topics["topic_id"] == -1, "size"].sum())
    assert metrics["outlier_share"] == round(outliers / int(topics["size"].sum()), 4)
    assert "quality on this corpus: NPMI" in output

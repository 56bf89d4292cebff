"""Representative quotes are typical of their cell, dated, versioned and pseudonymised."""

from __future__ import annotations

import pandas as pd

from reviewmine.analyze.codebook import load_codebook
from reviewmine.report import ALL_APPS, ReportInputs, representative_quotes

TYPICAL = [
    "The subscription is far too expensive for me.",
    "Way too expensive, the subscription costs too much.",
    "I can't afford the expensive subscription anymore.",
    "Too expensive subscription, cancelled it after the trial.",
]
LONGEST = (
    "I have so many thoughts about this, where to begin, my cousin told me about it at a wedding "
    "and then we went on holiday and the weather was bad and the hotel was fine and anyway the "
    "subscription is expensive but also the colours are a bit odd and the owl is cute."
)
OFF = "Everything is behind a paywall."


def _inputs() -> ReportInputs:
    texts = [*TYPICAL, LONGEST, OFF]
    n = len(texts)
    keys = [f"k{i}" for i in range(n)]
    at = pd.to_datetime([f"2024-0{1 + i}-15T10:00:00Z" for i in range(n)], utc=True)
    codes = pd.DataFrame({
        "review_key": keys, "store": "google_play", "app": "calm", "at": at,
        "month": at.strftime("%Y-%m"), "app_version": [f"6.{20 + i}.0" for i in range(n)],
        "version_major_minor": [f"6.{20 + i}" for i in range(n)], "rating": 1, "language": "en",
        "code": "cost_monetization", "category": "technology", "polarity": "barrier",
        "probability": [0.9, 0.85, 0.9, 0.8, 0.99, 0.9], "evidence": texts, "cues": "",
        "sentence_sentiment": -0.5,
    })
    reviews = pd.DataFrame({"review_key": keys, "text": texts, "reviewer_pseudonym": [f"rv_{i:04x}" for i in range(n)]})
    scores = codes[["review_key", "app", "rating"]].assign(sentiment=-0.5, n_codes=1)
    return ReportInputs(data_dir=None, reviews=reviews, scores=scores, codes=codes, codebook=load_codebook())


def test_quotes_are_typical_of_their_cell_not_the_longest():
    quotes = representative_quotes(_inputs(), per_cell=2)
    calm = quotes[quotes.app == "calm"]
    assert len(calm) == 2
    assert set(calm["quote"]) <= set(TYPICAL)
    assert LONGEST not in set(quotes["quote"])
    assert list(calm["rank"]) == [1, 2]
    assert calm["cell_reviews"].eq(6).all()


def test_quotes_carry_date_version_and_pseudonym_only():
    quotes = representative_quotes(_inputs(), per_cell=3)
    row = quotes[quotes.app == "calm"].iloc[0]
    i = TYPICAL.index(row["quote"])
    assert row["date"] == f"2024-0{1 + i}-15"
    assert row["app_version"] == f"6.{20 + i}.0"
    assert row["reviewer"] == f"rv_{i:04x}"
    assert "reviewer_name" not in quotes.columns


def test_pooled_cell_gets_its_own_quotes_and_none_repeat_a_review():
    quotes = representative_quotes(_inputs(), per_cell=3)
    pooled = quotes[quotes.app == ALL_APPS]
    assert len(pooled) == 3
    assert pooled["review_key"].is_unique


def _with(codes_update: dict, texts: list[str] | None = None) -> ReportInputs:
    inputs = _inputs()
    for column, values in codes_update.items():
        inputs.codes[column] = values
    if texts is not None:
        inputs.codes["evidence"] = texts
        inputs.reviews["text"] = texts
    return inputs


def test_evidence_that_rating_and_sentence_both_contradict_is_not_quoted_unless_confident():
    # A "barrier" in a 5-star review whose sentence is positive: most likely the coder's error.
    ratings = [5, 1, 1, 1, 1, 1]
    sentiment = [0.8, -0.5, -0.5, -0.5, -0.5, -0.5]
    quotes = representative_quotes(_with({"rating": ratings, "sentence_sentiment": sentiment,
                                          "probability": [0.6, 0.85, 0.9, 0.8, 0.99, 0.9]}), per_cell=6)
    assert TYPICAL[0] not in set(quotes["quote"])
    confident = representative_quotes(_with({"rating": ratings, "sentence_sentiment": sentiment,
                                             "probability": [0.95, 0.85, 0.9, 0.8, 0.99, 0.9]}), per_cell=6)
    assert TYPICAL[0] in set(confident["quote"])


def test_self_harm_is_not_quoted_unless_asked_and_small_cells_are_flagged():
    texts = [*TYPICAL[:3], "The subscription is expensive and some days I want to end it all.", LONGEST, OFF]
    hidden = representative_quotes(_with({}, texts), per_cell=6)
    assert not hidden["quote"].str.contains("end it all").any()
    shown = representative_quotes(_with({}, texts), per_cell=6, include_sensitive=True)
    assert shown["quote"].str.contains("end it all").any()
    assert shown["small_cell"].all()  # 6 reviews in the cell


def test_sensitive_pattern_is_not_set_off_by_ordinary_words():
    from reviewmine.report.quotes import is_sensitive

    flagged = is_sensitive(pd.Series([
        "I had suicidal thoughts before", "helped me through self-harm urges", "I wanted to die",
        "this app is killing my battery", "the free trial ends", "I cut the subscription",
    ]))
    assert flagged.tolist() == [True, True, True, False, False, False]

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

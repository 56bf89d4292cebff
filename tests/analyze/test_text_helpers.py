"""The one-per-job helpers the analysis, the training scripts and the benchmarks share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reviewmine.analyze.coding import text_batches
from reviewmine.analyze.factors import BATCH
from reviewmine.analyze.pipeline import coded_factors
from reviewmine.analyze.sentences import review_texts


def test_review_texts_joins_title_and_text_and_drops_an_empty_title():
    reviews = pd.DataFrame({"title": ["Great", None, ""], "text": ["helps me sleep.", "crashes", None]})
    assert review_texts(reviews) == ["Great. helps me sleep", "crashes", ""]
    assert review_texts(reviews.drop(columns="title")) == ["helps me sleep", "crashes", ""]


def test_text_batches_cut_texts_and_titles_alike():
    texts = [f"t{i}" for i in range(BATCH + 3)]
    titles = [f"h{i}" for i in range(BATCH + 3)]
    batches = list(text_batches(texts, titles))
    assert [len(t) for t, _ in batches] == [BATCH, 3]
    assert batches[1] == (texts[BATCH:], titles[BATCH:])
    assert [h for _, h in text_batches(texts)] == [None, None]


def test_coded_factors_picks_each_topics_most_frequent_code_with_its_share():
    codes = pd.DataFrame({"review_key": ["a", "a", "b", "c", "c"], "code": ["cost", "cost", "cost", "bugs", "cost"]})
    keys, ids = np.array(["a", "b", "c"]), np.array([0, 0, 1])
    table = coded_factors(codes, keys, ids)
    assert table.to_dict("list") == {"topic_id": [0, 1], "coded_factor": ["cost", "bugs"], "coded_factor_share": [1.0, 1.0]}
    assert coded_factors(codes, keys[:0], ids[:0]).empty

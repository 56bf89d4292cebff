"""The hashed features and the model files of the linear text models."""

from collections import Counter

import numpy as np
import pytest

from reviewmine.analyze.textmodel import (
    _TOKEN,
    FEATURES_VERSION,
    LinearTextModel,
    feature_index,
    hashed_counts,
)
from reviewmine.errors import ModelError

TEXTS = [
    "Love the sleep stories but it crashes constantly",
    "",
    "   ",
    "😀😀",
    "İstanbul ÇOK güzel, don't won't it's",
    "the the the app app",
    "one",
]


def _reference_counts(text: str) -> Counter:
    tokens = _TOKEN.findall(text.lower())
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    return Counter(feature_index(g) for g in grams)


def test_hashed_counts_match_the_per_gram_definition():
    x = hashed_counts(TEXTS)
    assert x.shape[0] == len(TEXTS)
    for i, text in enumerate(TEXTS):
        row = x[i]
        assert dict(zip(row.indices.tolist(), row.data.tolist(), strict=True)) == _reference_counts(text)


def test_no_bigram_spans_two_texts():
    together = hashed_counts(["alpha beta", "gamma delta"])
    assert together[0].nnz == 3 and together[1].nnz == 3  # two words and one bigram each
    assert feature_index("beta gamma") not in together[0].indices.tolist() + together[1].indices.tolist()


def test_model_round_trip_and_version_check(tmp_path):
    texts = ["crashes all the time", "love the stories", "crash again", "great stories"]
    y = np.array([[1], [0], [1], [0]])
    model = LinearTextModel.fit(texts, y, ["bug"])
    model.save(tmp_path / "m.npz")
    loaded = LinearTextModel.load(tmp_path / "m.npz")
    assert np.allclose(loaded.decision(texts), model.decision(texts), atol=1e-2)
    assert loaded.explain("it crashes", "bug")[0][0] == "crashes"
    with np.load(tmp_path / "m.npz") as z:
        old = {k: z[k] for k in z.files if k != "features_version"}
    np.savez(tmp_path / "old.npz", **old)
    with pytest.raises(ModelError, match=f"uses {FEATURES_VERSION}; retrain"):
        LinearTextModel.load(tmp_path / "old.npz")


def test_murmurhash_matches_scikit_learn():
    import random

    from sklearn.utils import murmurhash3_32 as reference

    from reviewmine.analyze.textmodel import murmurhash3_32

    rng = random.Random(7)
    alphabet = "abcxyz'é😀İß\u200d 0"
    words = ["", "a", "ab", "abc", "abcd", "abcde", "héllo", "😀", "don't", "İstanbul", "x" * 37]
    words += ["".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(2000)]
    for word in words:
        assert murmurhash3_32(word) == reference(word, seed=0, positive=True)


def test_hashed_counts_are_the_same_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    from reviewmine.analyze import textmodel

    textmodel._HASHES.__init__()
    texts = [f"word{i} shared{i % 7} tail" for i in range(3000)]
    expected = [_reference_counts(t) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(lambda chunk: hashed_counts(chunk), [texts[i : i + 50] for i in range(0, 3000, 50)]))
    rows = [row for part in parts for row in part]
    for row, ref in zip(rows, expected, strict=True):
        assert dict(zip(row.indices.tolist(), row.data.tolist(), strict=True)) == ref

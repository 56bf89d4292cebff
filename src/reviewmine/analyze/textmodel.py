"""A small, explainable linear text model stored without pickle.

Features are hashed word uni- and bigrams (no vocabulary to ship), tf-idf weighted and
L2-normalised; the model is a set of linear heads (one per label). Weights are kept in
an ``.npz`` file, so loading runs no code from the file, and every score can be
explained as a sum of per-feature contributions.
"""

from __future__ import annotations

import re
from pathlib import Path

import mmh3
import numpy as np
from scipy import sparse

from reviewmine.errors import ModelError

N_FEATURES = 2**19
TOKEN_PATTERN = r"(?u)\b\w[\w']*\b"
_TOKEN = re.compile(TOKEN_PATTERN)
FEATURES_VERSION = 2  # 2: bigram columns mixed from the two word hashes (numpy, fast)


def murmurhash3_32(text: str, seed: int = 0) -> int:
    """MurmurHash3 (x86, 32 bit, unsigned) of the UTF-8 bytes of ``text``; the same value
    as ``sklearn.utils.murmurhash3_32(text, seed, positive=True)`` (tested), without
    importing scikit-learn (a second of start-up) at analysis time."""
    return mmh3.hash(text, seed, signed=False)


def _bigram_columns(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Columns of word pairs from the words' 32-bit hashes (a splitmix64-style mixer)."""
    x = left.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + right.astype(np.uint64)
    x ^= x >> np.uint64(29)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(32)
    return (x % np.uint64(N_FEATURES)).astype(np.int64)


def feature_index(gram: str) -> int:
    """Column of a lower-cased word, or of a bigram written as two words and one space."""
    words = gram.split(" ")
    if len(words) == 1:
        return murmurhash3_32(gram) % N_FEATURES
    left, right = (np.array([murmurhash3_32(w)], dtype=np.uint64) for w in words)
    return int(_bigram_columns(left, right)[0])


class _WordHashes:
    """Remembers each word's hash: words repeat, so each is hashed once. Bounded memory;
    safe to share between threads (a word's entry is written once, with its final value)."""

    limit = 500_000

    def __init__(self) -> None:
        self.hashes: dict[str, int] = {}

    def of(self, words: list[str]) -> np.ndarray:
        known = self.hashes
        if len(known) > self.limit:
            known = self.hashes = {}
        found = list(map(known.get, words))
        if None in found:
            for k, word in enumerate(words):
                if found[k] is None:
                    found[k] = known[word] if word in known else known.setdefault(word, murmurhash3_32(word))
        return np.array(found, dtype=np.uint32)


_HASHES = _WordHashes()


def hashed_counts(texts: list[str]) -> sparse.csr_matrix:
    """Word uni- and bigram counts of ``texts`` (lower-cased), hashed into ``N_FEATURES`` columns.

    Words are found with ``TOKEN_PATTERN`` and hashed with MurmurHash3 (each distinct
    word once); a bigram's column is mixed from its two words' hashes in numpy, so no
    per-bigram string is ever built.
    """
    findall = _TOKEN.findall
    tokenised = [findall(text.lower()) for text in texts]
    lengths = np.fromiter(map(len, tokenised), dtype=np.int64, count=len(texts))
    words = [w for tokens in tokenised for w in tokens]
    hashes = _HASHES.of(words) if words else np.zeros(0, dtype=np.uint32)
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    pair = np.ones(max(len(words) - 1, 0), dtype=bool)
    ends = np.cumsum(lengths)[lengths > 0] - 1
    pair[ends[ends < len(pair)]] = False  # no bigram across two texts
    columns = np.concatenate([hashes.astype(np.int64) % N_FEATURES, _bigram_columns(hashes[:-1][pair], hashes[1:][pair])])
    rows = np.concatenate([rows, rows[:-1][pair]])
    keys, counts = np.unique(rows * N_FEATURES + columns, return_counts=True)
    indptr = np.zeros(len(texts) + 1, dtype=np.int32)
    np.cumsum(np.bincount(keys // N_FEATURES, minlength=len(texts)), out=indptr[1:])
    return sparse.csr_matrix(
        (counts.astype(np.float32), (keys % N_FEATURES).astype(np.int32), indptr), shape=(len(texts), N_FEATURES)
    )


class LinearTextModel:
    """Linear heads over hashed tf-idf n-grams. ``labels`` name the heads."""

    def __init__(self, labels: list[str], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray):
        self.labels = list(labels)
        self.idf = idf.astype(np.float32)
        # Kept as (N_FEATURES, n_labels), C order: a sparse row times it reads contiguous memory.
        self.weights = np.ascontiguousarray(np.asarray(coef, dtype=np.float32).T)
        self.intercept = intercept.astype(np.float32)

    @property
    def coef(self) -> np.ndarray:
        """Weights as (n_labels, N_FEATURES) (a view: writing to it changes the model)."""
        return self.weights.T

    # -- features -----------------------------------------------------------------
    def features(self, texts: list[str]) -> sparse.csr_matrix:
        return self.weigh(hashed_counts(texts))

    def weigh(self, x: sparse.csr_matrix) -> sparse.csr_matrix:
        """Counts from ``hashed_counts`` (changed in place) to L2-normalised tf-idf."""
        x.data = (1.0 + np.log(x.data, dtype=np.float32)) * self.idf[x.indices]  # sublinear tf x idf
        per_row = np.diff(x.indptr)
        rows = np.repeat(np.arange(len(per_row)), per_row)
        norms = np.sqrt(np.bincount(rows, weights=x.data * x.data, minlength=len(per_row))).astype(np.float32)
        norms[norms == 0] = 1.0  # texts without a token stay all-zero
        x.data /= norms[rows]
        return x

    def decision(self, texts: list[str]) -> np.ndarray:
        """Logits, shape (n_texts, n_labels)."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = self.features(texts)
        return np.asarray(x @ self.weights) + self.intercept

    def proba(self, texts: list[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(texts)))

    def explain(self, text: str, label: str, top: int = 5) -> list[tuple[str, float]]:
        """The words and bigrams that pushed ``label``'s score most, with their contributions."""
        head = self.labels.index(label)
        x = self.features([text])
        contributions: dict[str, float] = {}
        tokens = _TOKEN.findall(text.lower())
        grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        for gram in dict.fromkeys(grams):
            j = feature_index(gram)
            value = x[0, j] * self.coef[head, j]
            if value:
                contributions[gram] = float(value)
        ranked = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))
        return ranked[:top]

    # -- persistence ----------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        coef = sparse.csr_matrix(self.coef)
        np.savez_compressed(
            tmp,
            labels=np.array(self.labels),
            idf=self.idf,
            coef_data=coef.data.astype(np.float16),  # half precision keeps the shipped files small
            coef_indices=coef.indices,
            coef_indptr=coef.indptr,
            intercept=self.intercept,
            features_version=np.array(FEATURES_VERSION),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> LinearTextModel:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["features_version"]) if "features_version" in z.files else 1
            if version != FEATURES_VERSION:
                raise ModelError(
                    f"{path}: model built with feature version {version}, this reviewmine uses "
                    f"{FEATURES_VERSION}; retrain it (python -m training.train ..., see training/train.py)"
                )
            labels = [str(x) for x in z["labels"]]
            model = cls(labels, z["idf"], np.zeros((0, N_FEATURES), dtype=np.float32), z["intercept"])
            model.weights = np.zeros((N_FEATURES, len(labels)), dtype=np.float32)
            indptr = z["coef_indptr"]
            heads = np.repeat(np.arange(len(labels)), np.diff(indptr))
            model.weights[z["coef_indices"], heads] = z["coef_data"]
            return model

    @classmethod
    def fit(
        cls,
        texts: list[str],
        targets: np.ndarray,
        labels: list[str],
        c: float = 4.0,
        class_weight: str | None = None,
    ) -> LinearTextModel:
        """Fit one logistic-regression head per column of ``targets`` (0/1 matrix)."""
        from sklearn.linear_model import LogisticRegression

        counts = hashed_counts(texts)
        df = np.bincount(counts.indices, minlength=N_FEATURES)
        n = len(texts)
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        model = cls(labels, idf, np.zeros((len(labels), N_FEATURES)), np.zeros(len(labels)))
        x = model.weigh(counts)
        targets = np.asarray(targets).reshape(n, -1)
        for k in range(targets.shape[1]):
            y = targets[:, k]
            if y.min() == y.max():
                model.intercept[k] = 10.0 if y[0] else -10.0
                continue
            lr = LogisticRegression(C=c, max_iter=2000, class_weight=class_weight, solver="liblinear")
            lr.fit(x, y)
            coef = lr.coef_[0].astype(np.float32)
            coef[np.abs(coef) < 0.02] = 0.0  # negligible weights dropped: keeps the shipped files small
            model.coef[k] = coef
            model.intercept[k] = lr.intercept_[0]
        return model

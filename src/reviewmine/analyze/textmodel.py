"""A small, explainable linear text model stored without pickle.

Features are hashed word uni- and bigrams (no vocabulary to ship), tf-idf weighted and
L2-normalised; the model is a set of linear heads (one per label). Weights are kept in
an ``.npz`` file, so loading runs no code from the file, and every score can be
explained as a sum of per-feature contributions.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

N_FEATURES = 2**19
TOKEN_PATTERN = r"(?u)\b\w[\w']*\b"
_TOKEN = re.compile(TOKEN_PATTERN)


def feature_index(gram: str) -> int:
    """Column of a (lower-cased) word or bigram, as the hashing vectorizer computes it."""
    return abs(murmurhash3_32(gram, seed=0)) % N_FEATURES


def make_vectorizer() -> HashingVectorizer:
    return HashingVectorizer(
        n_features=N_FEATURES,
        ngram_range=(1, 2),
        alternate_sign=False,
        norm=None,
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
    )


class LinearTextModel:
    """Linear heads over hashed tf-idf n-grams. ``labels`` name the heads."""

    def __init__(self, labels: list[str], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray):
        self.labels = list(labels)
        self.idf = idf.astype(np.float32)
        self.coef = coef.astype(np.float32)  # shape (n_labels, N_FEATURES)
        self.intercept = intercept.astype(np.float32)
        self._vectorizer = make_vectorizer()

    # -- features -----------------------------------------------------------------
    def features(self, texts: list[str]) -> sparse.csr_matrix:
        x = self._vectorizer.transform(texts).tocsr()
        x.data = (1.0 + np.log(x.data)) * self.idf[x.indices]  # sublinear tf x idf
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0  # texts without a token stay all-zero
        x.data = x.data / np.repeat(norms, np.diff(x.indptr))
        return x

    def decision(self, texts: list[str]) -> np.ndarray:
        """Logits, shape (n_texts, n_labels)."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = self.features(texts)
        return np.asarray(x @ self.coef.T) + self.intercept

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
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> LinearTextModel:
        with np.load(path, allow_pickle=False) as z:
            labels = [str(x) for x in z["labels"]]
            coef = sparse.csr_matrix(
                (z["coef_data"].astype(np.float32), z["coef_indices"], z["coef_indptr"]),
                shape=(len(labels), N_FEATURES),
            ).toarray()
            return cls(labels, z["idf"], coef, z["intercept"])

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

        counts = make_vectorizer().transform(texts)
        df = np.bincount(counts.indices, minlength=N_FEATURES)
        n = len(texts)
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        model = cls(labels, idf, np.zeros((len(labels), N_FEATURES)), np.zeros(len(labels)))
        x = model.features(texts)
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

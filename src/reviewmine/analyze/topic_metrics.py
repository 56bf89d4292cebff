"""Topic-quality figures used by the benchmark and the run summary.

NPMI coherence uses document co-occurrence in a reference corpus (the corpus the model
was fitted on), tokenised by the same analyzer as the topic model's vectorizer, so the
top words (including bigrams) are counted the way they were found.

>>> topic_diversity([["sleep", "calm"], ["sleep", "price"]])
0.75
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np


def topic_diversity(topics: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Share of unique words among all topics' top-``top_n`` words (Dieng et al. 2020)."""
    words = [w for t in topics for w in list(t)[:top_n]]
    return len(set(words)) / len(words) if words else 0.0


def npmi_coherence(
    topics: Sequence[Sequence[str]],
    documents: Sequence[str],
    analyzer: Callable[[str], list[str]],
    top_n: int = 10,
) -> list[float]:
    """Mean NPMI of the word pairs of each topic, by document co-occurrence.

    A pair that never co-occurs scores -1; ``analyzer`` turns a document into its terms
    (use the topic model's ``CountVectorizer().build_analyzer()``).
    """
    vocab = sorted({w for t in topics for w in list(t)[:top_n]})
    if not vocab:
        return []
    index = {w: i for i, w in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    for d, doc in enumerate(documents):
        terms = {index[w] for w in analyzer(doc) if w in index}
        rows.extend([d] * len(terms))
        cols.extend(terms)
    from scipy.sparse import csr_matrix

    n_docs = len(documents)
    occurrence = csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_docs, len(vocab))
    )
    joint = (occurrence.T @ occurrence).toarray() / n_docs
    single = np.diag(joint).copy()
    scores = []
    for topic in topics:
        ids = [index[w] for w in list(topic)[:top_n]]
        pairs = []
        for i, j in combinations(ids, 2):
            p_ij = joint[i, j]
            if p_ij <= 0:
                pairs.append(-1.0)
            elif p_ij >= 1:
                pairs.append(1.0)
            else:
                pairs.append(np.log(p_ij / (single[i] * single[j])) / -np.log(p_ij))
        scores.append(float(np.mean(pairs)) if pairs else 0.0)
    return scores

"""Topic-quality figures used by the benchmark and the run summary.

NPMI coherence uses document co-occurrence in a reference corpus (the corpus the model
was fitted on), tokenised by the same analyzer as the topic model's vectorizer, so the
top words (including bigrams) are counted the way they were found.

>>> topic_diversity([["sleep", "calm"], ["sleep", "price"]])
0.75
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
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


DROPPED_WORDS = frozenset({"app"})  # every model's reviews are about an app: no topic in it


def unigram_analyzer() -> Callable[[str], list[str]]:
    """Lower-case word tokens of two or more characters (scikit-learn's default pattern)."""
    import re

    token = re.compile(r"(?u)\b\w\w+\b")
    return lambda text: token.findall(str(text).lower())


def paper_words(words: Sequence[str] | str, top_n: int = 10) -> list[str]:
    """A topic's top words as a topic-model paper scores them: n-grams split into unigrams
    (``free_trial`` -> free, trial), English stop words (scikit-learn's list) and "app"
    dropped, repeats collapsed, the first ``top_n`` kept, for every model alike."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    terms = words.split() if isinstance(words, str) else list(words)
    out: list[str] = []
    for term in terms:
        for word in unigram_analyzer()(term.replace("_", " ")):
            if word not in ENGLISH_STOP_WORDS and word not in DROPPED_WORDS and word not in out:
                out.append(word)
    return out[:top_n]


def topic_quality(topic_words: Sequence[Sequence[str] | str], documents: Sequence[str], outliers: int) -> dict:
    """NPMI (mean over topics, document co-occurrence in ``documents``) and diversity of the
    topics' :func:`paper_words`, and the outlier share: the figures ``topics --metrics`` and
    ``benchmarks/bench_topics.py`` print side by side for any model."""
    words = [w for w in (paper_words(t) for t in topic_words) if len(w) >= 2]
    scores = npmi_coherence(words, documents, unigram_analyzer())
    return {
        "topics": len(words),
        "npmi": round(float(np.mean(scores)), 4) if scores else None,
        "diversity": round(topic_diversity(words), 4) if words else None,
        "outlier_share": round(outliers / len(documents), 4) if len(documents) else None,
    }


AGREEMENT_TOP = 2  # a mapped factor agrees when it is among this many most-coded factors


def factor_agreement(
    topic_factor: Mapping[int, str], topic_ids: Sequence[int], review_codes: Sequence[Collection[str]]
) -> dict:
    """How often a topic's mapped factor is what the factor coder finds in its reviews.

    A mapped topic agrees when its factor is among the ``AGREEMENT_TOP`` codes the coder
    assigns most often to the topic's reviews (ties at the cut count as among them);
    ``agreement`` is the share of mapped topics that agree (``None`` when none is mapped).
    ``review_codes`` holds the coded factors of each review, aligned with ``topic_ids``.
    """
    ids = np.asarray(topic_ids)
    agree = 0
    for topic_id, factor in topic_factor.items():
        counts = Counter(c for i in np.flatnonzero(ids == topic_id) for c in review_codes[i])
        ranked = counts.most_common()
        cut = ranked[min(AGREEMENT_TOP, len(ranked)) - 1][1] if ranked else 0
        agree += bool(counts.get(factor, 0)) and counts[factor] >= cut
    mapped = len(topic_factor)
    return {"mapped_topics": mapped, "agreeing_topics": agree,
            "agreement": round(agree / mapped, 4) if mapped else None}

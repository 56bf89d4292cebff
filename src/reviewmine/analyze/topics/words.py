"""Topic words a researcher can read: terms that are frequent within the topic and
reasonably frequent in the corpus.

``TopicWords.fit(texts, topics)`` builds, from the texts a topic model was fitted on:

- a **vocabulary** of words found in at least ``min_df`` reviews, ``min_df`` scaled to the
  corpus size (:func:`scaled_min_df`), so a one-off misspelling or a rare token never leads
  a topic; English stop words and app-review filler are dropped;
- **names** left out: a word written in Title case in most of its occurrences inside a
  sentence (a chatbot persona, an app, a person: "Replika", "Jay Shetty"); all-capital
  acronyms ("AI", "CBT") stay;
- **variants merged**: forms sharing an inflection stem (crash, crashes, crashing) and a
  rarer word one edit away from a much more frequent one ("medidation" -> "meditation") are
  counted as the most frequent form;
- **phrases** (two adjacent content words) only when the phrase itself recurs: in
  ``min_df``+ reviews and in at least ``PHRASE_SHARE`` of the reviews of its rarer word
  ("free trial" stays; "help sleep", two frequent words side by side, is split);
- **scores**: c-TF-IDF over the share of a topic's reviews that contain a term (review
  counts, not word counts, so one long review cannot lead a topic), with BERTopic's
  frequent-word reduction (square root of the term share) and idf ``log(1 + A / f)``; a
  topic word occurs in ``MIN_SHARE_IN_TOPIC`` of the topic's reviews, and is offered first
  only to the ``max_topics_per_term`` topics where it scores best (topic diversity);
- **MMR**: the top terms are picked by maximal marginal relevance over word vectors, so a
  topic does not list near-synonyms of one word.

>>> words = TopicWords(min_df=2).fit(texts, topics)             # doctest: +SKIP
>>> words.topic_terms[0][:3]                                    # doctest: +SKIP
['free trial', 'subscription', 'charged']
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np

MIN_DF_SHARE = 0.005  # share of the corpus's reviews a topic word must occur in
PHRASE_SHARE = 0.1  # a phrase must make up this share of its rarer word's reviews
VARIANT_RATIO = 10  # a word one edit away from one this many times more frequent is a typo
NAME_SHARE = 0.6  # share of in-sentence occurrences in Title case that marks a name
MIN_SHARE_IN_TOPIC = 0.05  # a topic word occurs in at least this share of the topic's reviews
MIN_TERMS = 3  # fewer frequent terms than this: a topic also takes its rarer ones
N_CANDIDATES = 30  # best-scored terms MMR chooses the top words from

_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*[A-Za-z]")
_SENTENCE_END = re.compile(r"[.!?:;\n\"(]\s*$")


def normalise(token: str) -> str:
    """Lower case without apostrophes or a possessive "'s" ("Tamara's" -> "tamara")."""
    word = token.lower().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word.replace("'", "")


def scaled_min_df(n_docs: int) -> int:
    """Fewest reviews a topic word must occur in: ``MIN_DF_SHARE`` of the corpus, at least 3
    (20 of 4,000 reviews, 75 of 15,000)."""
    return max(3, round(MIN_DF_SHARE * n_docs))


def inflection_stem(word: str) -> str:
    """A key shared by a word's inflected forms (crash, crashes, crashing, crashed -> crash;
    story, stories -> story); not a linguistic stem, only for grouping variants."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":  # stopping -> stop
                w = w[:-1]
            break
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def variant_map(df: dict[str, int], min_len: int = 5) -> dict[str, str]:
    """Each word -> the form it is counted as: the most frequent word sharing its
    inflection stem, or a word one edit (insert, delete, substitute) away that occurs in
    ``VARIANT_RATIO`` times more reviews (a misspelling). Words of fewer than ``min_len``
    letters are only grouped by stem (short words have many legitimate neighbours)."""
    by_stem: dict[str, list[str]] = defaultdict(list)
    for word in df:
        by_stem[inflection_stem(word)].append(word)
    canon: dict[str, str] = {}
    stem_df: dict[str, int] = {}
    for words in by_stem.values():
        head = max(words, key=lambda w: (df[w], -len(w), w))
        total = sum(df[w] for w in words)
        for w in words:
            canon[w] = head
        stem_df[head] = total
    # Symmetric-delete index over the group heads: two words are one edit apart when one is
    # a deletion of the other or both share a deletion.
    index: dict[str, list[str]] = defaultdict(list)
    for head in stem_df:
        if len(head) >= min_len - 1:
            index[head].append(head)
            for d in _deletes(head):
                index[d].append(head)
    typo_of: dict[str, str] = {}
    for head, count in stem_df.items():
        if len(head) < min_len:
            continue
        near = {v for key in (head, *_deletes(head)) for v in index.get(key, ()) if v != head}
        best = max(near, key=lambda v: (stem_df[v], v), default=None)
        if best is not None and stem_df[best] >= VARIANT_RATIO * count:
            typo_of[head] = best
    return {w: typo_of.get(head, head) for w, head in canon.items()}


def name_words(texts: Sequence[str], min_seen: int = 3) -> set[str]:
    """Lower-cased words written in Title case in ``NAME_SHARE``+ of their occurrences
    inside a sentence (names of people, personas, apps); sentence starts are not counted."""
    title: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for text in texts:
        for match in _WORD.finditer(text):
            start = match.start()
            if start == 0 or _SENTENCE_END.search(text[max(0, start - 3) : start]):
                continue
            token = match.group()
            lower = normalise(token)
            seen[lower] += 1
            if token[0].isupper() and token[1:].islower():
                title[lower] += 1
    return {w for w, n in seen.items() if n >= min_seen and title[w] / n >= NAME_SHARE}


class TopicWords:
    """The terms of each topic of a fitted topic model (see the module docstring).

    ``fit(texts, topics)`` sets ``topic_terms`` (topic id -> up to ``top_n`` terms, phrases
    with a space) and ``topic_scores`` (their c-TF-IDF scores); topic -1 is not described.
    """

    def __init__(
        self,
        stop_words: Sequence[str] = (),
        min_df: int | None = None,
        top_n: int = 10,
        mmr_diversity: float = 0.3,
        excluded: Sequence[str] = (),
        word_vectors: Callable[[list[str]], np.ndarray] | None = None,
        max_topics_per_term: int = 1,
    ) -> None:
        self.stop_words = frozenset(stop_words)
        self.min_df = min_df
        self.top_n = top_n
        self.mmr_diversity = mmr_diversity
        self.excluded = frozenset(w.lower() for w in excluded)
        self.word_vectors = word_vectors
        self.max_topics_per_term = max_topics_per_term

    def tokens(self, text: str) -> list[str]:
        """The content words of a text in order, each as the form it is counted as."""
        out = []
        for token in _WORD.findall(text):
            word = normalise(token)
            if word in self.stop_words or word in self.names_:
                continue
            word = self.canon_.get(word, word)
            if word not in self.names_:
                out.append(word)
        return out

    def fit(self, texts: Sequence[str], topics: Sequence[int]) -> TopicWords:
        """Count terms per review and per topic; score and choose each topic's words."""
        from scipy import sparse

        texts = [str(t) for t in texts]
        topics = np.asarray(topics)
        self.min_df_ = self.min_df or scaled_min_df(len(texts))
        self.names_ = name_words(texts) | self.excluded
        raw_df: Counter[str] = Counter()
        for text in texts:
            raw_df.update({normalise(t) for t in _WORD.findall(text)})
        df = {w: n for w, n in raw_df.items() if w not in self.stop_words and w not in self.names_}
        self.canon_: dict[str, str] = variant_map(df)
        docs = [self.tokens(t) for t in texts]
        unigram_df = Counter(w for d in docs for w in set(d))
        phrase_df = Counter(p for d in docs for p in {f"{a} {b}" for a, b in zip(d, d[1:], strict=False) if a != b})
        terms = [w for w, n in unigram_df.items() if n >= self.min_df_]
        for phrase, n in phrase_df.items():
            a, b = phrase.split(" ")
            if n >= self.min_df_ and n >= PHRASE_SHARE * min(unigram_df[a], unigram_df[b]):
                terms.append(phrase)
        self.vocabulary_ = sorted(terms)
        index = {t: i for i, t in enumerate(self.vocabulary_)}
        rows, cols = [], []
        for d, tokens in enumerate(docs):
            found = set(tokens) | {f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)}
            ids = [index[t] for t in found if t in index]
            rows.extend([d] * len(ids))
            cols.extend(ids)
        X = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(docs), len(index))
        )
        ids = sorted(int(t) for t in set(topics.tolist()) if t != -1)
        self.topic_terms: dict[int, list[str]] = {t: [] for t in ids}
        self.topic_scores: dict[int, list[float]] = {t: [] for t in ids}
        if not ids or not len(index):
            return self
        membership = self._membership(topics, ids)
        counts = np.asarray((membership @ X).todense())  # reviews of each topic holding each term
        sizes = np.asarray(membership.sum(axis=1)).ravel()
        scores = self._ctfidf(counts, sizes)
        # A term is first a candidate only in the topics where it scores best, so topics do
        # not share their generic words (topic diversity); a topic with too few such terms
        # takes shared ones after them.
        capped = scores
        if len(ids) > self.max_topics_per_term:
            cut = -np.sort(-scores, axis=0)[self.max_topics_per_term - 1]
            capped = np.where(scores >= cut[None, :], scores, 0.0)
        for row, topic_id in enumerate(ids):
            self.topic_terms[topic_id], self.topic_scores[topic_id] = self._choose(
                capped[row], scores[row], counts[row], sizes[row]
            )
        return self

    @staticmethod
    def _membership(topics: np.ndarray, ids: list[int]):
        from scipy import sparse

        keep = np.flatnonzero(topics != -1)
        rows = np.searchsorted(ids, topics[keep])
        return sparse.csr_matrix((np.ones(len(keep)), (rows, keep)), shape=(len(ids), len(topics)))

    @staticmethod
    def _ctfidf(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """c-TF-IDF with frequent-word reduction over review counts: sqrt(share of the topic's
        reviews with the term) x log(1 + mean reviews-with-terms per topic / term's total)."""
        share = counts / np.maximum(sizes, 1)[:, None]
        total = counts.sum(axis=0)
        avg = counts.sum(axis=1).mean()
        idf = np.log1p(avg / np.maximum(total, 1))
        return np.sqrt(share) * idf[None, :]

    def _choose(
        self, capped: np.ndarray, scores: np.ndarray, counts: np.ndarray, size: float
    ) -> tuple[list[str], list[float]]:
        """The ``top_n`` terms by MMR among the best-scored candidates that occur in enough of
        the topic's reviews (``capped``: scores left where the term is among its best topics);
        a word already inside a chosen phrase is not listed again."""
        floor = max(2.0, MIN_SHARE_IN_TOPIC * size)
        ranked = np.argsort(-capped, kind="stable")
        strong = [i for i in ranked if capped[i] > 0 and counts[i] >= floor][:N_CANDIDATES]
        # Too few distinctive frequent terms (a topic of general remarks): its frequent terms
        # shared with other topics come next.
        by_score = np.argsort(-scores, kind="stable")
        shared = [i for i in by_score if capped[i] == 0 and scores[i] > 0 and counts[i] >= floor][: self.top_n]
        if len(strong) + len(shared) < MIN_TERMS:
            # Still almost nothing (short, varied reviews): its best terms found in 2+ of its
            # reviews, so that no topic goes without words to read.
            shared += [i for i in by_score if scores[i] > 0 and 2 <= counts[i] < floor][:MIN_TERMS]
        candidates = [self.vocabulary_[i] for i in strong + shared]
        relevance = scores[strong + shared]
        picked = self._mmr(candidates[: len(strong)], relevance[: len(strong)])
        picked += list(range(len(strong), len(candidates)))
        terms: list[str] = []
        for i in picked:
            term = candidates[i]
            covered = {w for t in terms for w in t.split(" ")}
            if " " not in term and term in covered:
                continue
            terms.append(term)
            if len(terms) == self.top_n:
                break
        return terms, [float(relevance[candidates.index(t)]) for t in terms]

    def _mmr(self, candidates: list[str], relevance: np.ndarray) -> list[int]:
        """Candidate indices in MMR order (relevance order without word vectors)."""
        if self.word_vectors is None or self.mmr_diversity <= 0 or len(candidates) < 2:
            return list(range(len(candidates)))
        vectors = np.asarray(self.word_vectors(candidates), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        similarity = vectors @ vectors.T
        rel = relevance / (relevance.max() or 1.0)
        chosen = [0]
        rest = list(range(1, len(candidates)))
        while rest:
            redundancy = similarity[np.ix_(rest, chosen)].max(axis=1)
            value = (1 - self.mmr_diversity) * rel[rest] - self.mmr_diversity * redundancy
            best = rest[int(np.argmax(value))]
            chosen.append(best)
            rest.remove(best)
        return chosen


def topic_label(terms: Sequence[str], n: int = 3) -> str:
    """A short label from a topic's own terms: its first ``n``, a word replaced by a phrase of
    the topic that contains it, a word already in the label left out ("asleep, fall, stress,
    ..., fall asleep" -> "fall asleep, stress, ...")."""
    phrases = [t for t in terms if " " in t]
    label: list[str] = []
    for term in terms:
        if " " not in term:
            term = next((p for p in phrases if term in p.split(" ")), term)
        covered = {w for t in label for w in t.split(" ")}
        if set(term.split(" ")) <= covered:
            continue
        label.append(term)
        if len(label) == n:
            break
    return ", ".join(label)

"""Topic modelling of reviews with BERTopic: fast on a CPU, mapped to engagement factors.

The pipeline is BERTopic with swapped parts, its settings developed on reviews of Calm,
Replika and Woebot and measured on held-out apps (``benchmarks/bench_topics.py``; figures in
``docs/topics.md``):

- embeddings: static Model2Vec vectors distilled from the shipped all-MiniLM-L6-v2
  (``--embeddings minilm`` for the full transformer), cached by text hash;
- codebook topics: a review joins the topic of a code only when it truly matches it (the
  code's description is its most similar, at the calibrated threshold, and the code's cues
  occur in it); a code with fewer than ``min_topic_size`` such reviews gets no topic;
- free discovery of the rest: PCA (deterministic) + k-means whose number of clusters
  follows the corpus size, with clusters smaller than ``min_topic_size`` merged into their
  nearest neighbour, instead of UMAP + HDBSCAN, which on static embeddings were 50x
  slower and collapsed into 2 topics; BERTopic is given the resulting labels (manual mode);
- words (``words.TopicWords``): terms in ``min_df``+ reviews (scaled to the corpus), c-TF-IDF
  over review counts with frequent-word reduction, phrases only when they recur, variants
  merged, names left out, MMR; labels from the topic's own terms;
- factors: a codebook topic is its code's; a discovered topic is mapped to the code whose
  cues occur in ``map_share``+ of its reviews when that code is clear, else it is emerging;
- outliers: reviews with fewer than ``min_content_words`` content words ("Great app!")
  are topic -1, then reassigned with BERTopic's c-TF-IDF strategy when a word ties them
  to a topic (similarity >= ``outlier_threshold``);
- scale: the model is fitted on a seeded sample and every review is assigned in batches
  by similarity to the topic embeddings, the same rule a reloaded model uses.

>>> model = ReviewTopicModel(seed=42).fit(texts)               # doctest: +SKIP
>>> model.transform(["it crashes every time I open it"])       # doctest: +SKIP
array([3])
>>> model.topic_table()[["topic_id", "size", "label", "factor"]]  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from reviewmine.analyze.codebook import Codebook, load_codebook
from reviewmine.analyze.embeddings import BACKENDS, get_embedder
from reviewmine.analyze.topics.bertopic_adapter import BERTopicAdapter
from reviewmine.analyze.topics.words import TopicWords, topic_label
from reviewmine.errors import InputError, ReviewmineError, check_range, check_seed
from reviewmine.io import write_atomic

MODEL_VERSION = 2  # 2: our own topic words, cue-checked codebook topics and mapping
MAP_SHARE = 0.4  # share of a discovered topic's reviews with one code's cues that maps it
DEFAULT_SAMPLE_SIZE = 15_000
MIN_REVIEWS = 20  # fewest reviews with content words that topic modelling accepts
DEFAULT_BATCH_SIZE = 50_000
# Calibrated on the project's hand-coded training set (data/training/coded_reviews.csv,
# 7,560 reviews; never on the evaluation set) with `training/topic_threshold.py`: lowest
# threshold from which on >= 50% of zero-shot assignments hit a hand code, vectors centred
# on 15k development reviews; see docs/topics.md.
ZEROSHOT_THRESHOLDS = {"static": 0.22, "minilm": 0.08}

# Words that carry no topic in app reviews: the product itself, generic praise and the
# contractions left after punctuation is stripped ("don't" -> "dont").
FILLER_WORDS = frozenset(
    """
    app apps application applications use using used uses just really like good great love
    loved loves nice best amazing awesome excellent perfect thank thanks lot way thing
    things make makes made get gets got getting would could also even much many ok okay
    im ive id ill dont doesnt didnt cant isnt wont wasnt arent havent hasnt wouldnt couldnt
    shouldnt youre theyre thats theres whats lets u ur pls please lol star stars
    hes shes youve weve theyve youll yes does doing did done actually going gonna want
    wanted wants know say said tell try tried
    """.split()
)
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
# Parameters holding objects: manifest.json records the codebook's path and no component.
COMPONENT_PARAMS = ("codebook", "reducer", "clusterer")


def stop_words() -> list[str]:
    """English stop words plus app-review filler words, as used by the vectorizer."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | FILLER_WORDS)


def clean_for_words(text: str) -> str:
    """The cleaning BERTopic applies before counting words (so our vocabulary matches)."""
    return re.sub(r"[^A-Za-z0-9 ]+", "", text.replace("\n", " ").replace("\t", " "))


def corpus_hash(texts: Iterable[str]) -> str:
    """SHA-256 of the texts in order, to tie a saved model to the corpus it was fitted on."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def default_min_topic_size(n_docs: int) -> int:
    """Minimum topic size that grows with the corpus: 0.75% of the fitted reviews, at least 10
    (30 of 4,000; larger topics have words frequent enough to be read and to co-occur)."""
    return max(10, round(0.0075 * n_docs))


def check_options(
    embeddings: str | object = "static",
    seed: int = 42,
    min_topic_size: int | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> None:
    """One ``InputError`` line for a topic-model option out of range, before any work starts.

    ``embeddings`` is a backend name or an embedding object (not checked here).

    >>> check_options(embeddings="static", seed=42, min_topic_size=10, sample_size=15_000)
    """
    if isinstance(embeddings, str) and embeddings not in BACKENDS:
        raise InputError(f"--embeddings {embeddings!r}: unknown backend; use one of {', '.join(BACKENDS)}")
    check_seed(seed)
    check_range("--min-topic-size", min_topic_size, 2)
    check_range("--sample-size", sample_size, MIN_REVIEWS)


def zeroshot_descriptions(codebook: Codebook) -> list[str]:
    """One text per code (label, description and examples) to embed as a zero-shot topic."""
    texts = []
    for code in codebook.codes:
        examples = "; ".join([*code.barrier_examples, *code.facilitator_examples])
        texts.append(f"{code.label}. {code.description} {examples}".strip())
    return texts


def embedder_name(embeddings: str | object) -> str:
    """A backend's name, or an embedding object's ``name`` (else its class name)."""
    if isinstance(embeddings, str):
        return embeddings
    return str(getattr(embeddings, "name", type(embeddings).__name__))


class CentredEmbedder:
    """Subtract the corpus mean vector, then re-normalise.

    Sentence embeddings (static ones most) share a large common direction, so every
    review looks similar to every code description (cosine ~0.7 for all). Centring on the
    fitted corpus removes it: on the hand-coded reviews the most similar code is a right
    one 37% of the time instead of 16% (static) and 54% instead of 43% (MiniLM).
    """

    def __init__(self, inner, mean: np.ndarray) -> None:
        self.inner = inner
        self.name = embedder_name(inner)
        self.mean = np.asarray(mean, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.inner.encode(list(texts)) - self.mean
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


class SizedKMeans(ClusterMixin, BaseEstimator):
    """k-means whose cluster count follows the data size, with a minimum cluster size.

    ``k = n / (topic_size_factor * min_topic_size)`` (at most ``max_topics``); clusters
    smaller than ``min_topic_size`` are merged into the nearest remaining centroid, so no
    document is left as an outlier and every topic has at least ``min_topic_size`` members.
    """

    def __init__(
        self,
        min_topic_size: int,
        max_topics: int = 40,
        topic_size_factor: float = 8.0,
        random_state: int = 42,
    ) -> None:
        self.min_topic_size = min_topic_size
        self.max_topics = max_topics
        self.topic_size_factor = topic_size_factor
        self.random_state = random_state

    def fit(self, X, y=None) -> SizedKMeans:
        """Cluster ``X``; sets ``cluster_centers_`` and ``labels_``."""
        from sklearn.cluster import KMeans

        X = np.asarray(X, dtype=np.float32)
        k = int(len(X) // (self.topic_size_factor * self.min_topic_size))
        k = max(1, min(self.max_topics, k, len(X)))
        km = KMeans(n_clusters=k, random_state=self.random_state, n_init=3).fit(X)
        centers = km.cluster_centers_
        labels = km.labels_
        sizes = np.bincount(labels, minlength=k)
        keep = np.flatnonzero(sizes >= self.min_topic_size)
        if len(keep) == 0:
            keep = np.array([int(np.argmax(sizes))])
        self.cluster_centers_ = centers[keep]
        self.labels_ = self.predict(X)
        return self

    def predict(self, X) -> np.ndarray:
        """Index of the nearest kept centroid of each row."""
        check_is_fitted(self, "cluster_centers_")
        X = np.asarray(X, dtype=np.float32)
        distances = ((X[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(distances, axis=1)


class ReviewTopicModel(BaseEstimator):
    """Topic model for review texts following scikit-learn's estimator conventions.

    The constructor only stores parameters (``get_params``/``set_params``/``clone`` work);
    ``fit`` learns topics on a seeded sample, ``transform`` assigns topic ids to any texts in
    batches, ``fit_transform`` does both. The components are parameters too:
    ``embeddings`` is a backend name (``static``, ``minilm``) or any object with
    ``.encode(list[str]) -> ndarray``; ``reducer`` (default PCA) any object with
    ``fit``/``transform``; ``clusterer`` (default ``SizedKMeans``) any object with
    ``fit_predict``. Components given as objects are used as they are.

    >>> model = ReviewTopicModel(embeddings="static", seed=42, sample_size=15000)
    >>> ids = model.fit_transform(texts)                     # doctest: +SKIP
    """

    def __init__(
        self,
        embeddings: str | object = "static",
        seed: int = 42,
        min_topic_size: int | None = None,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        codebook: Codebook | str | Path | None = None,
        zeroshot: bool = True,
        zeroshot_threshold: float | None = None,
        map_share: float = MAP_SHARE,
        n_components: int | None = 10,
        max_topics: int = 40,
        min_df: int | None = None,
        min_content_words: int = 2,
        outlier_threshold: float = 0.1,
        mmr_diversity: float = 0.3,
        bm25: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        reducer: object | None = None,
        clusterer: object | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.seed = seed
        self.min_topic_size = min_topic_size
        self.sample_size = sample_size
        self.codebook = codebook
        self.zeroshot = zeroshot
        self.zeroshot_threshold = zeroshot_threshold
        self.map_share = map_share
        self.n_components = n_components
        self.max_topics = max_topics
        self.min_df = min_df
        self.min_content_words = min_content_words
        self.outlier_threshold = outlier_threshold
        self.mmr_diversity = mmr_diversity
        self.bm25 = bm25
        self.batch_size = batch_size
        self.reducer = reducer
        self.clusterer = clusterer

    # -- helpers -------------------------------------------------------------------
    def _embedder(self):
        if not isinstance(self.embeddings, str):
            return self.embeddings
        if getattr(self, "_embedder_cache", None) is None:
            if self.embeddings not in BACKENDS:
                raise ReviewmineError(
                    f"unknown embeddings '{self.embeddings}'; use one of {', '.join(BACKENDS)}"
                )
            self._embedder_cache = get_embedder(self.embeddings)
        return self._embedder_cache

    def _codebook(self) -> Codebook:
        if isinstance(self.codebook, Codebook):
            return self.codebook
        return load_codebook(self.codebook)

    def _bertopic(self) -> BERTopicAdapter:
        return BERTopicAdapter(self.model_)

    def _content_words(self, cleaned: Sequence[str]) -> np.ndarray:
        analyzer = self._unigram_analyzer()
        return np.array([len(analyzer(t)) for t in cleaned])

    def _unigram_analyzer(self):
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            stop_words=stop_words(), token_pattern=TOKEN_PATTERN, lowercase=True
        ).build_analyzer()

    def vectorizer(self, vocabulary: Sequence[str] | None = None):
        """The word counter for topic words: unigrams + bigrams, stop words and filler removed."""
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            stop_words=stop_words(),
            token_pattern=TOKEN_PATTERN,
            ngram_range=(1, 2),
            vocabulary=list(vocabulary) if vocabulary is not None else None,
            min_df=1 if vocabulary is not None else (self.min_df_ or 1),
        )

    # -- fit -----------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y=None, names: Sequence[str] = ()) -> ReviewTopicModel:
        """Learn topics from ``texts`` (a seeded sample of at most ``sample_size`` of them).

        ``names`` (e.g. the apps reviewed) are never topic words, besides the names found
        by capitalisation (``words.name_words``).
        """
        check_options(self.embeddings, self.seed, self.min_topic_size, self.sample_size)
        texts = [str(t) for t in texts]
        docs, docs_clean = self._fit_sample(texts)
        self.mean_vector_ = self._embedder().encode(docs).mean(axis=0)
        embedder = CentredEmbedder(self._embedder(), self.mean_vector_)
        vectors = embedder.encode(docs)
        codebook = self._codebook()
        code_vectors = embedder.encode(zeroshot_descriptions(codebook))
        self._fit_thresholds()
        cue_codes = self._cue_codes(docs, codebook)
        labels, zeroshot_codes = self._fit_labels(vectors, code_vectors, cue_codes, codebook)
        words = TopicWords(
            stop_words=stop_words(), min_df=self.min_df, mmr_diversity=self.mmr_diversity,
            excluded=[w for name in names for w in re.findall(r"[A-Za-z]+", str(name)) if len(w) > 2],
            word_vectors=lambda terms: self._embedder().encode(terms),
        ).fit(docs, labels)
        self.min_df_ = words.min_df_
        self.vocabulary_ = self._fit_vocabulary(docs_clean)
        adapter, topic_of = BERTopicAdapter.fit(
            docs, vectors, labels, embedder=embedder, vectorizer=self.vectorizer(self.vocabulary_),
            bm25=self.bm25,
        )
        self.model_ = adapter.model
        adapter.set_topic_words(
            {topic_of[k]: list(zip(words.topic_terms[k], words.topic_scores[k], strict=True)) for k in topic_of}
        )
        members = {topic_of[k]: np.flatnonzero(labels == k) for k in topic_of}
        zeroshot = {topic_of[k]: code for k, code in zeroshot_codes.items()}
        self._map_topics(codebook, code_vectors, members, cue_codes, zeroshot)
        self.codebook_ids_ = codebook.ids
        self.corpus_hash_ = corpus_hash(texts)
        self.n_texts_ = len(texts)
        return self

    def _cue_codes(self, docs: list[str], codebook: Codebook) -> list[set[str]]:
        """The codes whose cues (the factor coder's first stage) occur in each review."""
        from reviewmine.analyze.factors import CueMatcher

        matcher = CueMatcher(codebook)
        with matcher.time_limit():
            return [set(matcher.match_sentences([d])[0]) for d in docs]

    def _fit_labels(
        self, vectors: np.ndarray, code_vectors: np.ndarray, cue_codes: list[set[str]], codebook: Codebook
    ) -> tuple[np.ndarray, dict[int, str]]:
        """Topic label of each sampled review and the codebook topics among the labels.

        A review joins a codebook topic only when it truly matches the code: the code's
        description is its most similar (at least the zero-shot threshold) AND the code's
        cues occur in it; a code with fewer than ``min_topic_size`` such reviews gets no
        topic. The other reviews are reduced and clustered (free discovery).
        """
        labels = np.full(len(vectors), -1, dtype=np.int64)
        zeroshot: dict[int, str] = {}
        if self.zeroshot:
            sims = vectors @ code_vectors.T
            best = np.argmax(sims, axis=1)
            match = np.array(
                [sims[i, b] >= self.zeroshot_threshold_ and codebook.codes[b].id in cue_codes[i]
                 for i, b in enumerate(best)], dtype=bool,
            )
            for b in range(len(codebook.codes)):
                chosen = match & (best == b)
                if chosen.sum() >= self.min_topic_size_:
                    zeroshot[len(zeroshot)] = codebook.codes[b].id
                    labels[chosen] = len(zeroshot) - 1
        rest = np.flatnonzero(labels == -1)
        if len(rest) >= max(2, self.min_topic_size_):
            reduced = self._reducer(vectors.shape[1], len(rest)).fit_transform(vectors[rest])
            found = np.asarray(self._clusterer().fit_predict(reduced))
            _, found = np.unique(found, return_inverse=True)
            labels[rest] = len(zeroshot) + found
        elif len(rest):  # too few left to cluster: each joins its most similar codebook topic
            centres = np.vstack([vectors[labels == k].mean(axis=0) for k in zeroshot])
            labels[rest] = np.argmax(vectors[rest] @ centres.T, axis=1)
        return labels, zeroshot

    def _fit_sample(self, texts: list[str]) -> tuple[list[str], list[str]]:
        """The seeded sample to fit on (texts and their cleaned words), among the texts with
        ``min_content_words`` content words; sets ``fit_size_`` and the size-derived options."""
        cleaned = [clean_for_words(t) for t in texts]
        informative = np.flatnonzero(self._content_words(cleaned) >= self.min_content_words)
        if len(informative) < MIN_REVIEWS:
            raise InputError(
                f"only {len(informative)} reviews have {self.min_content_words}+ content words; "
                f"topic modelling needs at least {MIN_REVIEWS}"
            )
        rng = np.random.default_rng(self.seed)
        if len(informative) > self.sample_size:
            informative = np.sort(rng.choice(informative, self.sample_size, replace=False))
        n = len(informative)
        self.fit_size_ = n
        self.min_topic_size_ = self.min_topic_size or default_min_topic_size(n)
        return [texts[i] for i in informative], [cleaned[i] for i in informative]

    def _fit_vocabulary(self, docs_clean: list[str]) -> list[str]:
        """Terms in ``min_df_``+ of the sampled reviews, for c-TF-IDF outlier reduction."""
        vocab_counter = self.vectorizer()
        try:
            vocab_counter.fit(docs_clean)
        except ValueError as exc:
            raise InputError(f"no words occur in {self.min_df_}+ reviews; lower min_df") from exc
        return sorted(vocab_counter.vocabulary_)

    def _fit_thresholds(self) -> None:
        """Zero-shot and factor-mapping thresholds: given, or calibrated for the backend."""
        zs_threshold = self.zeroshot_threshold
        if zs_threshold is None:
            name = embedder_name(self.embeddings)
            if name not in ZEROSHOT_THRESHOLDS:
                raise InputError(
                    f"embeddings {name!r}: no calibrated zero-shot threshold; pass zeroshot_threshold="
                )
            zs_threshold = ZEROSHOT_THRESHOLDS[name]
        self.zeroshot_threshold_ = float(zs_threshold)

    def _reducer(self, dims: int, n_docs: int):
        """The given reducer, or a seeded PCA to ``n_components`` dimensions."""
        if self.reducer is not None:
            return self.reducer
        from sklearn.decomposition import PCA

        n_components = min(self.n_components or dims, dims, n_docs - 1)
        return PCA(n_components=n_components, random_state=self.seed)

    def _clusterer(self):
        """The given clusterer, or ``SizedKMeans`` with the fitted minimum topic size."""
        if self.clusterer is not None:
            return self.clusterer
        return SizedKMeans(self.min_topic_size_, max_topics=self.max_topics, random_state=self.seed)

    def _map_topics(
        self,
        codebook: Codebook,
        code_vectors: np.ndarray,
        members: dict[int, np.ndarray],
        cue_codes: list[set[str]],
        zeroshot: dict[int, str],
    ) -> None:
        """Map each topic to a factor: a codebook topic to its code; a discovered topic to the
        code whose cues occur in at least ``map_share`` of its reviews when that code is clear
        (twice as frequent as the runner-up); otherwise it is an emerging theme.
        ``topic_similarity_`` is the cosine of the topic centre to its factor's description
        (to the most similar one for an emerging theme)."""
        topic_vectors = self._bertopic().topic_embeddings(np.float32)
        topic_vectors /= np.linalg.norm(topic_vectors, axis=1, keepdims=True) + 1e-12
        offset = self._bertopic().outlier_offset
        index = {code: i for i, code in enumerate(codebook.ids)}
        self.topic_factor_: dict[int, str | None] = {}
        self.topic_similarity_: dict[int, float] = {}
        self.topic_is_zeroshot_: dict[int, bool] = {}
        for topic_id in sorted(members):
            sims = code_vectors @ topic_vectors[topic_id + offset]
            factor = zeroshot.get(topic_id) or self._cue_factor([cue_codes[i] for i in members[topic_id]])
            self.topic_factor_[topic_id] = factor
            self.topic_similarity_[topic_id] = float(sims[index[factor]] if factor else sims.max())
            self.topic_is_zeroshot_[topic_id] = topic_id in zeroshot

    def _cue_factor(self, cue_codes: list[set[str]]) -> str | None:
        """The code whose cues occur in ``map_share``+ of the reviews and in at least twice as
        many as any other code's, else ``None``."""
        counts = Counter(code for codes in cue_codes for code in codes).most_common(2)
        if not counts:
            return None
        code, n = counts[0]
        runner_up = counts[1][1] if len(counts) > 1 else 0
        return code if n >= self.map_share * len(cue_codes) and n >= 2 * runner_up else None

    # -- transform -----------------------------------------------------------------
    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "model_")
        except NotFittedError:
            raise ReviewmineError("this ReviewTopicModel is not fitted yet; call fit() first") from None

    def topic_vectors(self, dtype=np.float32) -> np.ndarray:
        """Topic embeddings, row ``i`` for topic ``i`` (no outlier row)."""
        self._check_fitted()
        bertopic = self._bertopic()
        return bertopic.topic_embeddings(dtype)[bertopic.outlier_offset :]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` centred on the fitted corpus, as topics are assigned by."""
        return CentredEmbedder(self._embedder(), self.mean_vector_).encode(texts)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Topic id of each text (-1: too little content to say), in batches."""
        self._check_fitted()
        texts = [str(t) for t in texts]
        out = np.full(len(texts), -1, dtype=np.int64)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out[start : start + len(batch)] = self._transform_batch(batch)
        return out

    def _transform_batch(self, texts: list[str]) -> np.ndarray:
        cleaned = [clean_for_words(t) for t in texts]
        topics = np.full(len(texts), -1, dtype=np.int64)
        informative = np.flatnonzero(self._content_words(cleaned) >= self.min_content_words)
        if len(informative):
            vectors = self.embed([texts[i] for i in informative])
            topic_vectors = self.topic_vectors(np.float32)
            topic_vectors /= np.linalg.norm(topic_vectors, axis=1, keepdims=True) + 1e-12
            topics[informative] = np.argmax(vectors @ topic_vectors.T, axis=1)
        rest = np.flatnonzero(topics == -1)
        if len(rest):
            topics[rest] = self._reduce_outliers([cleaned[i] for i in rest])
        return topics

    def _reduce_outliers(self, cleaned: list[str]) -> np.ndarray:
        """BERTopic's c-TF-IDF outlier strategy: the topic whose c-TF-IDF vector is most
        similar to the text's, if the similarity reaches ``outlier_threshold``."""
        similarity = self._bertopic().ctfidf_similarity(cleaned)
        best = np.asarray(similarity.argmax(axis=1)).ravel()
        score = similarity[np.arange(len(cleaned)), best]
        return np.where(score >= self.outlier_threshold, best, -1)

    def fit_transform(self, texts: Sequence[str], y=None) -> np.ndarray:
        """Fit on a sample of ``texts``, then assign every text (same rule for all)."""
        return self.fit(texts).transform(texts)

    # -- tables --------------------------------------------------------------------
    def topic_words(self, topic_id: int, n: int = 10) -> list[str]:
        """The ``n`` best words of a topic (bigrams contain a space)."""
        self._check_fitted()
        words = self._bertopic().topic_words(topic_id)
        return [w for w, _ in words if w][:n]

    def topic_label(self, topic_id: int) -> str:
        """Readable label from the topic's own most representative terms (never a factor name:
        the table's ``factor_label`` says which factor a topic is mapped to)."""
        self._check_fitted()
        if topic_id == -1:
            return "(too short to say)"
        return topic_label(self.topic_words(topic_id)) or f"topic {topic_id}"

    def topic_table(self, topic_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """One row per topic (outliers -1 first): size, top-10 words, label, factor mapping.

        ``size`` counts ``topic_ids`` (the assignments of the corpus) when given, else the
        fitted sample.
        """
        self._check_fitted()
        if topic_ids is None:
            sizes = pd.Series(self._bertopic().topic_sizes())
        else:
            sizes = pd.Series(np.asarray(topic_ids)).value_counts()
        codebook = self._codebook()
        rows = []
        for topic_id in [-1, *sorted(self.topic_factor_)]:
            factor = self.topic_factor_.get(topic_id)
            rows.append(
                {
                    "topic_id": topic_id,
                    "size": int(sizes.get(topic_id, 0)),
                    # Bigrams joined by "_" so the column stays 10 space-separated terms.
                    "words": " ".join(w.replace(" ", "_") for w in self.topic_words(topic_id))
                    if topic_id != -1
                    else "",
                    "label": self.topic_label(topic_id),
                    "factor": factor or "",
                    "factor_label": codebook[factor].label if factor in codebook else "",
                    "category": codebook[factor].category if factor in codebook else "",
                    "similarity": round(self.topic_similarity_.get(topic_id, float("nan")), 3),
                    "is_zeroshot": bool(self.topic_is_zeroshot_.get(topic_id, False)),
                    "is_emerging": topic_id != -1 and factor is None,
                }
            )
        return pd.DataFrame(rows)

    # -- persistence -----------------------------------------------------------------
    def manifest(self) -> dict:
        """Parameters, corpus hash and package versions of the fitted model."""
        self._check_fitted()
        from reviewmine.versions import software_versions

        versions = software_versions(("bertopic", "model2vec", "scikit-learn", "numpy"))
        # Constructor order (not get_params' sorted one), so manifests stay as they were.
        names = inspect.signature(type(self).__init__).parameters
        params = {k: getattr(self, k) for k in names if k != "self" and k not in COMPONENT_PARAMS}
        params["embeddings"] = embedder_name(self.embeddings)
        codebook = self.codebook if isinstance(self.codebook, str | Path) else None
        params["codebook"] = str(codebook) if codebook else None
        return {
            "model_version": MODEL_VERSION,
            "params": params,
            "fitted": {
                "min_topic_size": self.min_topic_size_,
                "min_df": self.min_df_,
                "zeroshot_threshold": self.zeroshot_threshold_,
                "fit_size": self.fit_size_,
                "n_texts": self.n_texts_,
                "corpus_sha256": self.corpus_hash_,
                "codebook_ids": self.codebook_ids_,
            },
            "topics": {
                str(t): {
                    "factor": self.topic_factor_[t],
                    "similarity": self.topic_similarity_[t],
                    "is_zeroshot": self.topic_is_zeroshot_[t],
                }
                for t in self.topic_factor_
            },
            "versions": versions,
        }

    def save(self, path: str | Path) -> Path:
        """Save as safetensors (no pickle) plus ``manifest.json``; reload with ``load``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        pointer: str | bool = False  # an embedding object has no name to reload it by
        if isinstance(self.embeddings, str):
            backend = self._embedder().backend
            pointer = str(getattr(backend, "model_dir", None) or "sentence-transformers/all-MiniLM-L6-v2")
        self._bertopic().save(path / "bertopic", pointer)
        from safetensors.numpy import save_file

        save_file({"mean_vector": self.mean_vector_.astype(np.float32)}, str(path / "centring.safetensors"))
        with write_atomic(path / "manifest.json") as tmp:
            tmp.write_text(json.dumps(self.manifest(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, embeddings: object | None = None) -> ReviewTopicModel:
        """Reload a model written by ``save`` (for ``transform`` on new reviews).

        A model fitted with an embedding object needs that object again as ``embeddings``.
        """
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file() or not (path / "bertopic").is_dir():
            raise InputError(f"{path}: not a saved topic model (manifest.json or bertopic/ missing)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("model_version") != MODEL_VERSION:
            raise InputError(
                f"{path}: topic model version {manifest.get('model_version')}, this reviewmine reads "
                f"version {MODEL_VERSION}; refit it with `reviewmine topics`"
            )
        params = manifest["params"]
        if embeddings is not None:
            params["embeddings"] = embeddings
        self = cls(**params)
        from safetensors.numpy import load_file

        self.mean_vector_ = load_file(str(path / "centring.safetensors"))["mean_vector"]
        embedder = CentredEmbedder(self._embedder(), self.mean_vector_)
        self.model_ = BERTopicAdapter.load(path / "bertopic", embedder).model
        fitted = manifest["fitted"]
        self.min_topic_size_ = fitted["min_topic_size"]
        self.min_df_ = fitted["min_df"]
        self.zeroshot_threshold_ = fitted["zeroshot_threshold"]
        self.fit_size_ = fitted["fit_size"]
        self.n_texts_ = fitted["n_texts"]
        self.corpus_hash_ = fitted["corpus_sha256"]
        self.codebook_ids_ = fitted["codebook_ids"]
        self.vocabulary_ = self._bertopic().vocabulary()
        topics = {int(k): v for k, v in manifest["topics"].items()}
        self.topic_factor_ = {t: v["factor"] for t, v in topics.items()}
        self.topic_similarity_ = {t: v["similarity"] for t, v in topics.items()}
        self.topic_is_zeroshot_ = {t: v["is_zeroshot"] for t, v in topics.items()}
        return self

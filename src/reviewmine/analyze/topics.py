"""Topic modelling of reviews with BERTopic: fast on a CPU, mapped to engagement factors.

The pipeline is BERTopic with swapped parts chosen by measurement on 42k real reviews
(``benchmarks/bench_topics.py``; figures in ``docs/topics.md``):

- embeddings: static Model2Vec vectors distilled from the shipped all-MiniLM-L6-v2
  (``--embeddings minilm`` for the full transformer), cached by text hash;
- the codebook's factors as zero-shot topics (one description per code built from its
  label, description and examples; similarity threshold calibrated on hand-coded reviews);
- free discovery of the rest: PCA (deterministic) + k-means whose number of clusters
  follows the corpus size, with clusters smaller than ``min_topic_size`` merged into their
  nearest neighbour, instead of UMAP + HDBSCAN, which on static embeddings were 50x
  slower and collapsed into 2 topics;
- words: c-TF-IDF over a vocabulary of unigrams and bigrams that occur in at least
  ``min_df`` reviews, without English stop words and app-review filler ("app", "great");
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
import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.codebook import Codebook, load_codebook
from reviewmine.analyze.embeddings import BACKENDS, get_embedder
from reviewmine.config import default_data_dir
from reviewmine.errors import InputError, ReviewmineError, check_range, check_seed
from reviewmine.io import read_table, refuse_overwrite, stage_dirs, write_errors, write_frame

MODEL_VERSION = 1
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
    """.split()
)
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"


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
    """Minimum topic size that grows with the corpus: 0.4% of the fitted reviews, at least 10."""
    return max(10, round(0.004 * n_docs))


def check_options(
    embeddings: str = "static",
    seed: int = 42,
    min_topic_size: int | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> None:
    """One ``InputError`` line for a topic-model option out of range, before any work starts.

    >>> check_options(embeddings="static", seed=42, min_topic_size=10, sample_size=15_000)
    """
    if embeddings not in BACKENDS:
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


def _import_bertopic():
    # Importing bertopic silences FutureWarning/UserWarning process-wide; keep the
    # caller's warning filters as they were.
    with warnings.catch_warnings():
        import bertopic
        from bertopic.backend import BaseEmbedder
        from bertopic.cluster import BaseCluster
        from bertopic.vectorizers import ClassTfidfTransformer
    return bertopic, BaseEmbedder, BaseCluster, ClassTfidfTransformer


class CentredEmbedder:
    """Subtract the corpus mean vector, then re-normalise.

    Sentence embeddings (static ones most) share a large common direction, so every
    review looks similar to every code description (cosine ~0.7 for all). Centring on the
    fitted corpus removes it: on the hand-coded reviews the most similar code is a right
    one 37% of the time instead of 16% (static) and 54% instead of 43% (MiniLM).
    """

    def __init__(self, inner, mean: np.ndarray) -> None:
        self.inner = inner
        self.name = inner.name
        self.mean = np.asarray(mean, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.inner.encode(list(texts)) - self.mean
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def _bertopic_embedder(embedder):
    """Adapt one of our embedders to BERTopic's ``BaseEmbedder`` (needed for zero-shot)."""
    _, BaseEmbedder, _, _ = _import_bertopic()

    class ReviewmineEmbedder(BaseEmbedder):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def embed(self, documents, verbose=False):
            return self.inner.encode(list(documents))

    return ReviewmineEmbedder(embedder)


class SizedKMeans:
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

    def fit(self, X, y=None):
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

    def predict(self, X):
        X = np.asarray(X, dtype=np.float32)
        distances = ((X[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(distances, axis=1)


class ReviewTopicModel:
    """Estimator-style topic model for review texts (scikit-learn conventions).

    The constructor only stores parameters; ``fit`` learns topics on a seeded sample,
    ``transform`` assigns topic ids to any texts in batches, ``fit_transform`` does both.

    >>> model = ReviewTopicModel(embeddings="static", seed=42, sample_size=15000)
    >>> ids = model.fit_transform(texts)                     # doctest: +SKIP
    """

    def __init__(
        self,
        embeddings: str = "static",
        seed: int = 42,
        min_topic_size: int | None = None,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        codebook: Codebook | str | Path | None = None,
        zeroshot: bool = True,
        zeroshot_threshold: float | None = None,
        map_threshold: float | None = None,
        n_components: int | None = 10,
        max_topics: int = 40,
        min_df: int | None = None,
        min_content_words: int = 2,
        outlier_threshold: float = 0.1,
        mmr_diversity: float | None = None,
        bm25: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.embeddings = embeddings
        self.seed = seed
        self.min_topic_size = min_topic_size
        self.sample_size = sample_size
        self.codebook = codebook
        self.zeroshot = zeroshot
        self.zeroshot_threshold = zeroshot_threshold
        self.map_threshold = map_threshold
        self.n_components = n_components
        self.max_topics = max_topics
        self.min_df = min_df
        self.min_content_words = min_content_words
        self.outlier_threshold = outlier_threshold
        self.mmr_diversity = mmr_diversity
        self.bm25 = bm25
        self.batch_size = batch_size

    # -- helpers -------------------------------------------------------------------
    def _embedder(self):
        if getattr(self, "_embedder_", None) is None:
            if self.embeddings not in BACKENDS:
                raise ReviewmineError(
                    f"unknown embeddings '{self.embeddings}'; use one of {', '.join(BACKENDS)}"
                )
            self._embedder_ = get_embedder(self.embeddings)
        return self._embedder_

    def _codebook(self) -> Codebook:
        if isinstance(self.codebook, Codebook):
            return self.codebook
        return load_codebook(self.codebook)

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
    def fit(self, texts: Sequence[str]) -> ReviewTopicModel:
        """Learn topics from ``texts`` (a seeded sample of at most ``sample_size`` of them)."""
        bertopic, _, BaseCluster, ClassTfidfTransformer = _import_bertopic()
        from sklearn.decomposition import PCA

        check_options(self.embeddings, self.seed, self.min_topic_size, self.sample_size)
        texts = [str(t) for t in texts]
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
        docs = [texts[i] for i in informative]
        docs_clean = [cleaned[i] for i in informative]
        n = len(docs)
        self.fit_size_ = n
        self.min_topic_size_ = self.min_topic_size or default_min_topic_size(n)
        self.min_df_ = self.min_df or max(2, round(0.0005 * n))
        vocab_counter = self.vectorizer()
        try:
            vocab_counter.fit(docs_clean)
        except ValueError as exc:
            raise InputError(f"no words occur in {self.min_df_}+ reviews; lower min_df") from exc
        self.vocabulary_ = sorted(vocab_counter.vocabulary_)

        raw = self._embedder().encode(docs)
        self.mean_vector_ = raw.mean(axis=0)
        embedder = CentredEmbedder(self._embedder(), self.mean_vector_)
        vectors = embedder.encode(docs)
        codebook = self._codebook()
        code_texts = zeroshot_descriptions(codebook)
        zs_threshold = self.zeroshot_threshold
        if zs_threshold is None:
            zs_threshold = ZEROSHOT_THRESHOLDS[self.embeddings]
        self.zeroshot_threshold_ = float(zs_threshold)
        self.map_threshold_ = float(
            self.map_threshold if self.map_threshold is not None else zs_threshold
        )
        representation = None
        if self.mmr_diversity is not None:
            from bertopic.representation import MaximalMarginalRelevance

            representation = MaximalMarginalRelevance(diversity=self.mmr_diversity, top_n_words=10)
        n_components = min(self.n_components or vectors.shape[1], vectors.shape[1], n - 1)
        model = bertopic.BERTopic(
            embedding_model=_bertopic_embedder(embedder),
            umap_model=PCA(n_components=n_components, random_state=self.seed),
            hdbscan_model=SizedKMeans(
                self.min_topic_size_, max_topics=self.max_topics, random_state=self.seed
            ),
            vectorizer_model=self.vectorizer(self.vocabulary_),
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True, bm25_weighting=self.bm25),
            representation_model=representation,
            zeroshot_topic_list=code_texts if self.zeroshot else None,
            zeroshot_min_similarity=self.zeroshot_threshold_,
            calculate_probabilities=False,
            top_n_words=10,
        )
        # BERTopic may modify the embeddings it is given in place; keep ours intact.
        # A vocabulary term that ends up in no topic document gets idf = log(x / 0) = inf in
        # BERTopic's c-TF-IDF, which turns a new review's vector into NaN; give it no weight.
        with np.errstate(divide="ignore"):
            model.fit(docs, vectors.copy())
        idf = model.ctfidf_model._idf_diag
        idf.data[~np.isfinite(idf.data)] = 0.0
        # Assign by similarity to topic embeddings from now on, exactly as a model
        # reloaded from safetensors does, so saved and in-memory models agree.
        model.hdbscan_model = BaseCluster()
        model.umap_model = None
        self.model_ = model
        self._map_topics(codebook, embedder.encode(code_texts))
        self.codebook_ids_ = codebook.ids
        self.corpus_hash_ = corpus_hash(texts)
        self.n_texts_ = len(texts)
        return self

    def _map_topics(self, codebook: Codebook, code_vectors: np.ndarray) -> None:
        """Map each topic to a factor: its zero-shot code, or the most similar code above the
        threshold; otherwise it is an emerging theme."""
        model = self.model_
        zeroshot_idx = dict(getattr(model, "_topic_id_to_zeroshot_topic_idx", {}) or {})
        topic_vectors = np.asarray(model.topic_embeddings_, dtype=np.float32)
        topic_vectors /= np.linalg.norm(topic_vectors, axis=1, keepdims=True) + 1e-12
        offset = model._outliers
        self.topic_factor_: dict[int, str | None] = {}
        self.topic_similarity_: dict[int, float] = {}
        self.topic_is_zeroshot_: dict[int, bool] = {}
        for topic_id in sorted(model.get_topics()):
            if topic_id == -1:
                continue
            sims = code_vectors @ topic_vectors[topic_id + offset]
            best = int(np.argmax(sims))
            if topic_id in zeroshot_idx:
                best = int(zeroshot_idx[topic_id])
                factor: str | None = codebook.codes[best].id
            else:
                factor = codebook.codes[best].id if sims[best] >= self.map_threshold_ else None
            self.topic_factor_[topic_id] = factor
            self.topic_similarity_[topic_id] = float(sims[best])
            self.topic_is_zeroshot_[topic_id] = topic_id in zeroshot_idx

    # -- transform -----------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ReviewmineError("this ReviewTopicModel is not fitted yet; call fit() first")

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
        model = self.model_
        cleaned = [clean_for_words(t) for t in texts]
        topics = np.full(len(texts), -1, dtype=np.int64)
        informative = np.flatnonzero(self._content_words(cleaned) >= self.min_content_words)
        if len(informative):
            embedder = CentredEmbedder(self._embedder(), self.mean_vector_)
            vectors = embedder.encode([texts[i] for i in informative])
            topic_vectors = np.asarray(model.topic_embeddings_[model._outliers :], dtype=np.float32)
            topic_vectors /= np.linalg.norm(topic_vectors, axis=1, keepdims=True) + 1e-12
            topics[informative] = np.argmax(vectors @ topic_vectors.T, axis=1)
        rest = np.flatnonzero(topics == -1)
        if len(rest):
            topics[rest] = self._reduce_outliers([cleaned[i] for i in rest])
        return topics

    def _reduce_outliers(self, cleaned: list[str]) -> np.ndarray:
        """BERTopic's c-TF-IDF outlier strategy: the topic whose c-TF-IDF vector is most
        similar to the text's, if the similarity reaches ``outlier_threshold``."""
        from sklearn.metrics.pairwise import cosine_similarity

        model = self.model_
        bow = model.vectorizer_model.transform(cleaned)
        doc_ctfidf = model.ctfidf_model.transform(bow)
        similarity = cosine_similarity(doc_ctfidf, model.c_tf_idf_[model._outliers :])
        best = np.asarray(similarity.argmax(axis=1)).ravel()
        score = similarity[np.arange(len(cleaned)), best]
        return np.where(score >= self.outlier_threshold, best, -1)

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        """Fit on a sample of ``texts``, then assign every text (same rule for all)."""
        return self.fit(texts).transform(texts)

    # -- tables --------------------------------------------------------------------
    def topic_words(self, topic_id: int, n: int = 10) -> list[str]:
        self._check_fitted()
        words = self.model_.get_topic(topic_id) or []
        return [w for w, _ in words if w][:n]

    def topic_label(self, topic_id: int) -> str:
        """Readable label: the factor label for zero-shot topics, else the top words."""
        self._check_fitted()
        if topic_id == -1:
            return "(too short to say)"
        words = self.topic_words(topic_id, 4)
        if self.topic_is_zeroshot_.get(topic_id):
            codebook = self._codebook()
            return f"{codebook[self.topic_factor_[topic_id]].label}: {', '.join(words[:3])}"
        return ", ".join(words) or f"topic {topic_id}"

    def topic_table(self, topic_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """One row per topic (outliers -1 first): size, top-10 words, label, factor mapping.

        ``size`` counts ``topic_ids`` (the assignments of the corpus) when given, else the
        fitted sample.
        """
        self._check_fitted()
        if topic_ids is None:
            sizes = pd.Series(self.model_.topic_sizes_)
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
        params = {
            k: getattr(self, k)
            for k in (
                "embeddings", "seed", "min_topic_size", "sample_size", "zeroshot",
                "zeroshot_threshold", "map_threshold", "n_components", "max_topics", "min_df",
                "min_content_words", "outlier_threshold", "mmr_diversity", "bm25", "batch_size",
            )
        }
        codebook = self.codebook if isinstance(self.codebook, str | Path) else None
        params["codebook"] = str(codebook) if codebook else None
        return {
            "model_version": MODEL_VERSION,
            "params": params,
            "fitted": {
                "min_topic_size": self.min_topic_size_,
                "min_df": self.min_df_,
                "zeroshot_threshold": self.zeroshot_threshold_,
                "map_threshold": self.map_threshold_,
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
        backend = self._embedder().backend
        pointer = str(getattr(backend, "model_dir", None) or "sentence-transformers/all-MiniLM-L6-v2")
        self.model_.save(
            str(path / "bertopic"),
            serialization="safetensors",
            save_ctfidf=True,
            save_embedding_model=pointer,
        )
        from safetensors.numpy import save_file

        save_file({"mean_vector": self.mean_vector_.astype(np.float32)}, str(path / "centring.safetensors"))
        tmp = path / ".manifest.json.tmp"
        tmp.write_text(json.dumps(self.manifest(), indent=2), encoding="utf-8")
        tmp.replace(path / "manifest.json")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReviewTopicModel:
        """Reload a model written by ``save`` (for ``transform`` on new reviews)."""
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file() or not (path / "bertopic").is_dir():
            raise InputError(f"{path}: not a saved topic model (manifest.json or bertopic/ missing)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        self = cls(**manifest["params"])
        bertopic, *_ = _import_bertopic()
        from safetensors.numpy import load_file

        self.mean_vector_ = load_file(str(path / "centring.safetensors"))["mean_vector"]
        embedder = CentredEmbedder(self._embedder(), self.mean_vector_)
        self.model_ = bertopic.BERTopic.load(
            str(path / "bertopic"), embedding_model=_bertopic_embedder(embedder)
        )
        fitted = manifest["fitted"]
        self.min_topic_size_ = fitted["min_topic_size"]
        self.min_df_ = fitted["min_df"]
        self.zeroshot_threshold_ = fitted["zeroshot_threshold"]
        self.map_threshold_ = fitted["map_threshold"]
        self.fit_size_ = fitted["fit_size"]
        self.n_texts_ = fitted["n_texts"]
        self.corpus_hash_ = fitted["corpus_sha256"]
        self.codebook_ids_ = fitted["codebook_ids"]
        self.vocabulary_ = list(self.model_.vectorizer_model.get_feature_names_out())
        topics = {int(k): v for k, v in manifest["topics"].items()}
        self.topic_factor_ = {t: v["factor"] for t, v in topics.items()}
        self.topic_similarity_ = {t: v["similarity"] for t, v in topics.items()}
        self.topic_is_zeroshot_ = {t: v["is_zeroshot"] for t, v in topics.items()}
        return self


# -- tables for the report stage ---------------------------------------------------------
def topic_factor_table(model: ReviewTopicModel, topic_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Topic -> factor table: every topic with its factor (or emerging theme) and size."""
    return model.topic_table(topic_ids)


def _shares(frame: pd.DataFrame, by: list[str], labels: pd.DataFrame) -> pd.DataFrame:
    counts = frame.groupby([*by, "topic_id"], dropna=True).size().rename("n").reset_index()
    totals = counts.groupby(by)["n"].transform("sum")
    counts["share"] = (counts["n"] / totals).round(4)
    return counts.merge(labels[["topic_id", "label", "factor"]], on="topic_id", how="left")


def topic_share_by_app(
    topic_ids: Sequence[int], apps: Sequence[str], topic_table: pd.DataFrame
) -> pd.DataFrame:
    """Per app and topic: number of reviews (``n``) and share of the app's reviews."""
    frame = pd.DataFrame({"app": list(apps), "topic_id": list(topic_ids)})
    return _shares(frame, ["app"], topic_table)


def topics_over_time(
    topic_ids: Sequence[int],
    times: Sequence,
    topic_table: pd.DataFrame,
    apps: Sequence[str] | None = None,
    freq: str = "M",
) -> pd.DataFrame:
    """Per month (and app, if given) and topic: ``n`` and share of that month's reviews.

    Unparseable or missing times are left out.
    """
    stamps = pd.to_datetime(pd.Series(list(times)), errors="coerce", utc=True)
    frame = pd.DataFrame({"topic_id": list(topic_ids)})
    frame["month"] = stamps.dt.tz_localize(None).dt.to_period(freq).astype(str)
    frame.loc[stamps.isna(), "month"] = None
    by = ["month"]
    if apps is not None:
        frame["app"] = list(apps)
        by = ["app", "month"]
    return _shares(frame.dropna(subset=["month"]), by, topic_table)


def topics_per_version(
    topic_ids: Sequence[int], apps: Sequence[str], versions: Sequence, topic_table: pd.DataFrame
) -> pd.DataFrame:
    """Per app version and topic: ``n`` and share of that version's reviews."""
    frame = pd.DataFrame(
        {"app": list(apps), "app_version": pd.Series(list(versions), dtype="string"),
         "topic_id": list(topic_ids)}
    )
    return _shares(frame.dropna(subset=["app_version"]), ["app", "app_version"], topic_table)


def representative_quotes(
    model: ReviewTopicModel, texts: Sequence[str], topic_ids: Sequence[int], n: int = 3,
    min_chars: int = 30, max_chars: int = 400,
) -> pd.DataFrame:
    """The ``n`` reviews of each topic closest to its centre (``topic_id, rank, row, quote``).

    Prefers quotes of ``min_chars``..``max_chars`` characters; distinct texts only.
    """
    model._check_fitted()
    texts = [str(t) for t in texts]
    ids = np.asarray(topic_ids)
    embedder = CentredEmbedder(model._embedder(), model.mean_vector_)
    topic_vectors = np.asarray(model.model_.topic_embeddings_, dtype=np.float32)
    offset = model.model_._outliers
    rows = []
    for topic_id in sorted(set(ids.tolist()) - {-1}):
        members = np.flatnonzero(ids == topic_id)
        lengths = np.array([len(texts[i]) for i in members])
        fitting = members[(lengths >= min_chars) & (lengths <= max_chars)]
        members = fitting if len(fitting) >= n else members
        if len(members) > 2000:  # enough candidates; keep it fast on big corpora
            members = np.random.default_rng(model.seed).choice(members, 2000, replace=False)
        vectors = embedder.encode([texts[i] for i in members])
        order = np.argsort(-(vectors @ topic_vectors[topic_id + offset]), kind="stable")
        seen: set[str] = set()
        for j in order:
            row = int(members[j])
            if texts[row] in seen:
                continue
            seen.add(texts[row])
            rows.append({"topic_id": topic_id, "rank": len(seen), "row": row, "quote": texts[row]})
            if len(seen) == n:
                break
    return pd.DataFrame(rows, columns=["topic_id", "rank", "row", "quote"])


# -- the `topics` stage ----------------------------------------------------------------
@dataclass
class TopicsResult:
    """What ``topics()`` produced: the fitted model, its tables and where they were written."""

    model: ReviewTopicModel
    topics: pd.DataFrame
    assignments: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    out_dir: Path


def read_texts_csv(path: str | Path, text_col: str) -> pd.DataFrame:
    """Read a CSV of reviews; a clear ``InputError`` for every way it can be unusable."""
    path = Path(path)
    frame = read_table(path)
    if text_col not in frame.columns:
        raise InputError(
            f"{path}: no column '{text_col}' (columns: {', '.join(frame.columns)}); "
            "pass the text column with --text-col"
        )
    if frame.empty:
        raise InputError(f"{path}: no rows below the header; nothing to model")
    return frame


def _optional_column(frame: pd.DataFrame, path: Path, given: str | None, default: str, option: str):
    if given is not None:
        if given not in frame.columns:
            raise InputError(f"{path}: no column '{given}' for {option}; columns: {', '.join(frame.columns)}")
        return given
    return default if default in frame.columns else None


def topics(
    input: str | Path,
    out: str | Path,
    text_col: str = "text",
    embeddings: str = "static",
    seed: int = 42,
    min_topic_size: int | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    app_col: str | None = None,
    time_col: str | None = None,
    version_col: str | None = None,
    codebook: str | Path | None = None,
) -> TopicsResult:
    """Fit the topic model on a CSV of reviews and write its tables to ``out``.

    Writes ``topics.csv`` (topic_id, size, words, label, factor, is_emerging, ...),
    ``assignments.csv`` (row, topic_id, factor), ``topic_quotes.csv``, the saved model
    (``model/``, safetensors + manifest.json) and, when the columns exist,
    ``topics_by_app.csv``, ``topics_by_month.csv`` and ``topics_by_version.csv``.
    ``app_col``/``time_col``/``version_col`` default to ``app``, ``at`` and
    ``app_version`` when those columns are present.

    >>> result = topics("data/sample/reviews_sample.csv", "out/topics")   # doctest: +SKIP
    >>> result.topics[["topic_id", "size", "words"]].head()               # doctest: +SKIP
    """
    check_options(embeddings, seed, min_topic_size, sample_size)
    path = Path(input)
    refuse_overwrite(out, [path, codebook], stage_dirs(default_data_dir()), directory=True)
    frame = read_texts_csv(path, text_col)
    app_col = _optional_column(frame, path, app_col, "app", "--app-col")
    time_col = _optional_column(frame, path, time_col, "at", "--time-col")
    version_col = _optional_column(frame, path, version_col, "app_version", "--version-col")
    texts = frame[text_col].tolist()
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: is a file; give --out a directory for the topic tables")
    with write_errors(out_dir):  # before the fit, so a path that cannot be written fails fast
        out_dir.mkdir(parents=True, exist_ok=True)
    model = ReviewTopicModel(
        embeddings=embeddings, seed=seed, min_topic_size=min_topic_size,
        sample_size=sample_size, codebook=codebook,
    )
    ids = model.fit_transform(texts)
    table = model.topic_table(ids)
    factor_of = dict(zip(table.topic_id, table.factor, strict=True))
    assignments = pd.DataFrame(
        {"row": np.arange(len(texts)), "topic_id": ids, "factor": [factor_of.get(t, "") for t in ids]}
    )
    tables: dict[str, pd.DataFrame] = {"topic_quotes": representative_quotes(model, texts, ids)}
    if app_col:
        tables["topics_by_app"] = topic_share_by_app(ids, frame[app_col], table)
    if time_col:
        apps = frame[app_col] if app_col else None
        tables["topics_by_month"] = topics_over_time(ids, frame[time_col].replace("", None), table, apps)
    if version_col:
        apps = frame[app_col] if app_col else pd.Series([""] * len(frame))
        tables["topics_by_version"] = topics_per_version(
            ids, apps, frame[version_col].replace("", None), table
        )
    write_frame(table, out_dir / "topics.csv")
    write_frame(assignments, out_dir / "assignments.csv")
    for name, t in tables.items():
        write_frame(t, out_dir / f"{name}.csv")
    with write_errors(out_dir / "model"):
        model.save(out_dir / "model")
    return TopicsResult(model=model, topics=table, assignments=assignments, tables=tables, out_dir=out_dir)


def topic_positions(model: ReviewTopicModel) -> pd.DataFrame:
    """2-D map positions of the topics (``topic_id``, ``x``, ``y``): the first two principal
    components of the normalised topic embeddings, so nearby topics are similar in meaning.
    Deterministic (SVD, signs fixed); the outlier topic -1 is left out."""
    model._check_fitted()
    offset = model.model_._outliers
    vectors = np.asarray(model.model_.topic_embeddings_, dtype=np.float64)[offset:]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    ids = np.arange(len(vectors))
    if len(vectors) < 3:
        return pd.DataFrame({"topic_id": ids, "x": ids.astype(float), "y": 0.0})
    centred = vectors - vectors.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    xy = u[:, :2] * s[:2]
    signs = np.sign(xy[np.abs(xy).argmax(axis=0), [0, 1]])
    xy *= np.where(signs == 0, 1, signs)
    return pd.DataFrame({"topic_id": ids, "x": xy[:, 0], "y": xy[:, 1]})

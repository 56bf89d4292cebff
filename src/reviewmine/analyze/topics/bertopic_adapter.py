"""The one place that touches BERTopic's internals.

``ReviewTopicModel`` and the topic tables read a fitted BERTopic model only through
``BERTopicAdapter``: its private attributes (``_outliers``, c-TF-IDF's ``_idf_diag``) and the
fitted arrays (``topic_embeddings_``, ``c_tf_idf_``, ``topic_sizes_``, ``topic_representations_``)
are read here, so a BERTopic upgrade that renames one is fixed here.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def import_bertopic():
    """``bertopic`` and the three classes we build on, imported lazily (it takes seconds)."""
    if "bertopic" not in sys.modules:
        # bertopic imports torch, transformers and sentence-transformers eagerly for backends
        # and representations we never use, each guarded by `except ModuleNotFoundError`:
        # about half of a 4,000-review run. Hide them while it imports (unless already
        # loaded, e.g. by the minilm backend), then let later imports find them again.
        # scipy.stats first: its import inspects sys.modules["torch"].
        import scipy.stats  # noqa: F401
        import sklearn.base  # noqa: F401

        hidden = [name for name in LAZY_HEAVY_MODULES if name not in sys.modules]
        sys.modules.update(dict.fromkeys(hidden))
        try:
            _import_bertopic_quietly()
        finally:
            for name in hidden:
                if sys.modules.get(name, False) is None:
                    del sys.modules[name]
    return _import_bertopic_quietly()


LAZY_HEAVY_MODULES = ("torch", "transformers", "sentence_transformers")


def _import_bertopic_quietly():
    # Importing bertopic silences FutureWarning/UserWarning process-wide; keep the
    # caller's warning filters as they were.
    with warnings.catch_warnings():
        import bertopic
        from bertopic.backend import BaseEmbedder
        from bertopic.cluster import BaseCluster
        from bertopic.vectorizers import ClassTfidfTransformer
    return bertopic, BaseEmbedder, BaseCluster, ClassTfidfTransformer


def bertopic_embedder(embedder):
    """Adapt one of our embedders to BERTopic's ``BaseEmbedder`` (needed for zero-shot)."""
    _, BaseEmbedder, _, _ = import_bertopic()

    class ReviewmineEmbedder(BaseEmbedder):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def embed(self, documents, verbose=False):
            return self.inner.encode(list(documents))

    return ReviewmineEmbedder(embedder)


class BERTopicAdapter:
    """A fitted ``bertopic.BERTopic`` seen through the few operations reviewmine needs."""

    def __init__(self, model) -> None:
        self.model = model

    @classmethod
    def fit(
        cls,
        docs: list[str],
        vectors: np.ndarray,
        labels: np.ndarray,
        *,
        embedder,
        vectorizer,
        bm25: bool,
    ) -> tuple[BERTopicAdapter, dict[int, int]]:
        """Fit BERTopic on ``docs``, their centred ``vectors`` and the topic ``labels`` we chose
        (BERTopic's manual mode: no reduction or clustering of its own); returns the adapter and
        our label -> BERTopic's topic id (BERTopic renumbers topics by size)."""
        bertopic, _, BaseCluster, ClassTfidfTransformer = import_bertopic()
        from bertopic.dimensionality import BaseDimensionalityReduction

        model = bertopic.BERTopic(
            embedding_model=bertopic_embedder(embedder),
            umap_model=BaseDimensionalityReduction(),
            hdbscan_model=BaseCluster(),
            vectorizer_model=vectorizer,
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True, bm25_weighting=bm25),
            calculate_probabilities=False,
            top_n_words=10,
        )
        # BERTopic may modify the embeddings it is given in place; keep ours intact.
        # A vocabulary term that ends up in no topic document gets idf = log(x / 0) = inf in
        # BERTopic's c-TF-IDF, which turns a new review's vector into NaN; give it no weight.
        with np.errstate(divide="ignore"):
            model.fit(docs, vectors.copy(), y=np.asarray(labels))
        idf = model.ctfidf_model._idf_diag
        idf.data[~np.isfinite(idf.data)] = 0.0
        # Assign by similarity to topic embeddings from now on, exactly as a model
        # reloaded from safetensors does, so saved and in-memory models agree.
        model.umap_model = None
        topic_of = dict(zip(np.asarray(labels).tolist(), np.asarray(model.topics_).tolist(), strict=True))
        return cls(model), {int(k): int(v) for k, v in topic_of.items()}

    def set_topic_words(self, words: dict[int, list[tuple[str, float]]]) -> None:
        """Replace BERTopic's topic representations (saved with the model) by ours."""
        for topic_id, pairs in words.items():
            self.model.topic_representations_[topic_id] = list(pairs) or [("", 0.0)]

    # -- reading the fitted model ----------------------------------------------------------
    @property
    def outlier_offset(self) -> int:
        """Row of topic 0 in BERTopic's per-topic arrays (1 when topic -1 exists, else 0)."""
        return self.model._outliers

    def topic_embeddings(self, dtype=np.float32) -> np.ndarray:
        """BERTopic's topic embeddings, outlier row included (the array itself where the dtype
        matches, so in-place changes reach the model, as they always have)."""
        return np.asarray(self.model.topic_embeddings_, dtype=dtype)

    def topic_ids(self) -> list[int]:
        """Every topic id, -1 included when there are outliers, in order."""
        return sorted(self.model.get_topics())

    def topic_words(self, topic_id: int) -> list[tuple[str, float]]:
        """``(word, c-TF-IDF score)`` pairs of one topic, best first."""
        return self.model.get_topic(topic_id) or []

    def topic_sizes(self) -> dict[int, int]:
        """Documents per topic in the fitted sample."""
        return self.model.topic_sizes_

    def vocabulary(self) -> list[str]:
        """The fitted word-counter's vocabulary."""
        return list(self.model.vectorizer_model.get_feature_names_out())

    def ctfidf_similarity(self, cleaned: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each text's c-TF-IDF vector to every topic's (no outlier column):
        BERTopic's ``c-tf-idf`` outlier-reduction strategy, without refitting anything."""
        from sklearn.metrics.pairwise import cosine_similarity

        model = self.model
        bow = model.vectorizer_model.transform(cleaned)
        doc_ctfidf = model.ctfidf_model.transform(bow)
        return cosine_similarity(doc_ctfidf, model.c_tf_idf_[model._outliers :])

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path, embedding_pointer: str | bool) -> None:
        """Safetensors (no pickle), with the c-TF-IDF model and a pointer to the embedder
        (``False``: none; ``load`` is then given the embedder)."""
        self.model.save(
            str(path),
            serialization="safetensors",
            save_ctfidf=True,
            save_embedding_model=embedding_pointer,
        )

    @classmethod
    def load(cls, path: Path, embedder) -> BERTopicAdapter:
        """Reload a model written by ``save``, embedding new texts with ``embedder``."""
        bertopic, *_ = import_bertopic()
        return cls(bertopic.BERTopic.load(str(path), embedding_model=bertopic_embedder(embedder)))

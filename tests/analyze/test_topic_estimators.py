"""Estimator conventions of the topic model: parameters, clone, fitted checks, components
passed as objects, and BERTopic's internals read in one adapter only."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import reviewmine
from reviewmine.analyze.topics import ReviewTopicModel, SizedKMeans
from reviewmine.errors import InputError, ReviewmineError

WORDS = {
    "sleep": "sleep night bedtime insomnia rest dream",
    "price": "price subscription money refund charge expensive",
    "crash": "crash bug freeze error update loading",
}


def corpus(n_per_theme: int = 20) -> list[str]:
    rng = np.random.default_rng(0)
    texts = []
    for words in WORDS.values():
        vocabulary = words.split()
        for _ in range(n_per_theme):
            texts.append(" ".join(rng.choice(vocabulary, 5)) + " again")
    return texts


class ThemeEmbedder:
    """A tiny embedding object with only ``encode``: one axis per theme, counted words."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        vectors = np.array(
            [[sum(w in text.lower().split() for w in words.split()) + 0.1 * (i + 1) for i, words in enumerate(WORDS.values())]
             for text in texts],
            dtype=np.float32,
        )
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class ThreeGroups:
    """A clusterer with only ``fit_predict``: the largest coordinate is the cluster."""

    def fit_predict(self, X, y=None):
        return np.argmax(np.asarray(X), axis=1)


def test_parameters_clone_and_set_params():
    model = ReviewTopicModel(embeddings="minilm", seed=7, sample_size=500, clusterer=SizedKMeans(15))
    params = model.get_params(deep=False)
    assert params["embeddings"] == "minilm" and params["seed"] == 7 and params["sample_size"] == 500
    assert model.get_params()["clusterer__min_topic_size"] == 15  # nested component parameters
    copy = clone(model)
    assert copy is not model and copy.get_params(deep=False)["seed"] == 7
    assert copy.clusterer is not model.clusterer and copy.clusterer.min_topic_size == 15
    assert model.set_params(seed=11, clusterer__max_topics=5) is model
    assert model.seed == 11 and model.clusterer.max_topics == 5
    kmeans = SizedKMeans(10, random_state=3)
    assert clone(kmeans).get_params() == {"min_topic_size": 10, "max_topics": 40, "topic_size_factor": 8.0, "random_state": 3}


def test_unfitted_model_is_refused_in_one_line():
    model = ReviewTopicModel()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    for call in (lambda: model.transform(["the app crashes"]), model.topic_table, lambda: model.save("x")):
        with pytest.raises(ReviewmineError, match=r"^this ReviewTopicModel is not fitted yet; call fit\(\) first$"):
            call()
    with pytest.raises(NotFittedError):
        SizedKMeans(5).predict(np.zeros((3, 2)))


def test_sized_kmeans_fit_predict_merges_small_clusters():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 0.01, (30, 2)), rng.normal(5, 0.01, (30, 2)), rng.normal(-5, 0.01, (2, 2))])
    kmeans = SizedKMeans(min_topic_size=10, topic_size_factor=1.0, max_topics=3, random_state=0)
    labels = kmeans.fit_predict(X)
    check_is_fitted(kmeans)
    assert (labels == kmeans.labels_).all() and len(kmeans.cluster_centers_) == 2
    assert np.bincount(labels).min() >= 10  # the 2-point cluster went to its nearest neighbour


def test_components_given_as_objects(tmp_path):
    embedder, reducer = ThemeEmbedder(), TruncatedSVD(n_components=2, random_state=0)
    model = ReviewTopicModel(
        embeddings=embedder, reducer=reducer, clusterer=ThreeGroups(), zeroshot=False,
        zeroshot_threshold=0.5, min_df=1,
    )
    ids = model.fit_transform(corpus())
    check_is_fitted(model)
    assert embedder.calls > 0 and hasattr(reducer, "components_")  # the objects themselves were used
    assert len(set(ids.tolist()) - {-1}) >= 2
    sleep_topic = model.transform(["sleep bedtime insomnia at night"])[0]
    assert "sleep" in " ".join(model.topic_words(int(sleep_topic)))
    model.save(tmp_path / "model")
    assert model.manifest()["params"]["embeddings"] == "ThemeEmbedder"
    reloaded = ReviewTopicModel.load(tmp_path / "model", embeddings=ThemeEmbedder())
    assert (reloaded.transform(corpus()) == ids).all()


def test_embedding_object_needs_a_zeroshot_threshold():
    with pytest.raises(InputError, match=r"^embeddings 'ThemeEmbedder': no calibrated zero-shot threshold; pass zeroshot_threshold=$"):
        ReviewTopicModel(embeddings=ThemeEmbedder(), min_df=1).fit(corpus())


BERTOPIC_INTERNALS = re.compile(
    r"\b_outliers\b|topic_embeddings_|topic_representations_|_update_topic_size|_idf_diag|"
    r"c_tf_idf_|_topic_id_to_zeroshot_topic_idx|topic_sizes_|ctfidf_model\.|vectorizer_model\."
)


def test_bertopic_internals_are_read_in_the_adapter_only():
    src = Path(reviewmine.__file__).parent
    offenders = [
        f"{path.relative_to(src)}:{number}"
        for path in src.rglob("*.py")
        if path.name != "bertopic_adapter.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BERTOPIC_INTERNALS.search(line)
    ]
    assert offenders == []

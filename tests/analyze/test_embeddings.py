"""Embedding backends and the text-hash cache (static model distilled once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from reviewmine.analyze.embeddings import (
    STATIC_MODEL_NAME,
    CachedEmbedder,
    EmbeddingCache,
    StaticEmbedder,
    distill_static_model,
    text_hash,
)
from reviewmine.config import cache_dir


def distilled_model_dir(tmp_path_factory) -> Path:
    """The static model in a private test cache: copied from the user's cache when it was
    already built there (it is a pure function of the shipped weights), else distilled from
    the shipped MiniLM weights once per session (~15-20 s on an idle machine)."""
    target = tmp_path_factory.getbasetemp() / "reviewmine-cache" / "models" / STATIC_MODEL_NAME
    if not (target / "model.safetensors").is_file():
        built = cache_dir() / "models" / STATIC_MODEL_NAME
        if (built / "model.safetensors").is_file():
            shutil.copytree(built, target)
        else:
            distill_static_model(target)
    return target


@pytest.fixture(scope="session")
def static_backend(tmp_path_factory):
    return StaticEmbedder(model_dir=distilled_model_dir(tmp_path_factory))


def test_static_embeddings_are_normalised_and_meaningful(static_backend):
    vectors = static_backend.encode(
        ["the app keeps crashing", "it crashes every time", "the subscription is too expensive"]
    )
    assert vectors.dtype == np.float32 and vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert (static_backend.model_dir / "model.safetensors").is_file()


def test_cache_embeds_only_new_texts_and_survives_restart(static_backend, tmp_path):
    cache_root = tmp_path / "emb"
    first = CachedEmbedder(static_backend, EmbeddingCache("static", cache_root))
    a = first.encode(["calming music", "calming music", "bad login"])
    assert first.last_new == 2  # duplicates are embedded once
    assert list(cache_root.glob("part-*.parquet"))

    again = CachedEmbedder(static_backend, EmbeddingCache("static", cache_root))
    b = again.encode(["bad login", "calming music", "new review text"])
    assert again.last_new == 1
    assert np.allclose(b[0], a[2]) and np.allclose(b[1], a[0])
    assert np.allclose(b[2], static_backend.encode(["new review text"])[0], atol=1e-6)


def test_text_hash_is_stable():
    assert text_hash("héllo") == text_hash("héllo") != text_hash("hello")

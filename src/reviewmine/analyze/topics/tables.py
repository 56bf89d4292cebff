"""Tables of a fitted topic model for reports: shares by app, month and version, the
representative quotes of each topic, the topic -> factor table and 2-D topic positions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reviewmine.analyze.topics.model import ReviewTopicModel


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
    topic_vectors = model.topic_vectors(np.float32)
    rows = []
    for topic_id in sorted(set(ids.tolist()) - {-1}):
        members = np.flatnonzero(ids == topic_id)
        lengths = np.array([len(texts[i]) for i in members])
        fitting = members[(lengths >= min_chars) & (lengths <= max_chars)]
        members = fitting if len(fitting) >= n else members
        if len(members) > 2000:  # enough candidates; keep it fast on big corpora
            members = np.random.default_rng(model.seed).choice(members, 2000, replace=False)
        vectors = model.embed([texts[i] for i in members])
        order = np.argsort(-(vectors @ topic_vectors[topic_id]), kind="stable")
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


def topic_positions(model: ReviewTopicModel) -> pd.DataFrame:
    """2-D map positions of the topics (``topic_id``, ``x``, ``y``): the first two principal
    components of the normalised topic embeddings, so nearby topics are similar in meaning.
    Deterministic (SVD, signs fixed); the outlier topic -1 is left out."""
    vectors = model.topic_vectors(np.float64)
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

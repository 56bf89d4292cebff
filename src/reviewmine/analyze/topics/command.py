"""The ``topics`` command as a library function: fit the topic model on a CSV of reviews
and write its tables and the saved model to a directory."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.topics.model import DEFAULT_SAMPLE_SIZE, ReviewTopicModel, check_options
from reviewmine.analyze.topics.tables import (
    representative_quotes,
    topic_share_by_app,
    topics_over_time,
    topics_per_version,
)
from reviewmine.config import default_data_dir
from reviewmine.errors import InputError
from reviewmine.io import (
    read_table,
    refuse_overwrite,
    stage_dirs,
    write_atomic,
    write_errors,
    write_frame,
)


@dataclass
class TopicsResult:
    """What ``topics()`` produced: the fitted model, its tables and where they were written."""

    model: ReviewTopicModel
    topics: pd.DataFrame
    assignments: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    out_dir: Path
    metrics: dict | None = None
    """With ``metrics=True``: NPMI, diversity, outlier share of this corpus, seconds."""


def _measure(table: pd.DataFrame, texts: list[str], ids, started: float, out_dir: Path) -> dict:
    """``topic_quality`` of the fitted topics on their own corpus and the agreement of their
    mapped factors with the factor coder's codes of their reviews, with the run's seconds
    (before measuring), written to ``out_dir/metrics.json``."""
    from reviewmine.analyze.coding import text_batches
    from reviewmine.analyze.factors import FactorCoder, code_batches
    from reviewmine.analyze.topic_metrics import factor_agreement, topic_quality

    seconds = round(time.perf_counter() - started, 1)
    found = table[table["topic_id"] != -1]
    quality = topic_quality(found["words"].tolist(), texts, outliers=int((np.asarray(ids) == -1).sum()))
    codes = [{h.code for h in r.codes} for batch in code_batches(FactorCoder(), text_batches(texts)) for r in batch]
    mapped = {int(t): f for t, f in zip(found["topic_id"], found["factor"], strict=True) if f}
    quality.update(factor_agreement(mapped, ids, codes))
    quality["seconds"] = seconds
    with write_atomic(out_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(quality, indent=2) + "\n")
    return quality


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
    metrics: bool = False,
) -> TopicsResult:
    """Fit the topic model on a CSV of reviews and write its tables to ``out``.

    With ``metrics`` the quality of the topics on this corpus is measured the way a
    topic-model paper would (``topic_metrics.topic_quality``: NPMI of the top-10 unigrams by
    document co-occurrence, diversity, outlier share) with the whole run's seconds, written to
    ``metrics.json`` and returned in ``result.metrics``.

    Writes ``topics.csv`` (topic_id, size, words, label, factor, is_emerging, ...),
    ``assignments.csv`` (row, topic_id, factor), ``topic_quotes.csv``, the saved model
    (``model/``, safetensors + manifest.json) and, when the columns exist,
    ``topics_by_app.csv``, ``topics_by_month.csv`` and ``topics_by_version.csv``.
    ``app_col``/``time_col``/``version_col`` default to ``app``, ``at`` and
    ``app_version`` when those columns are present.

    >>> result = topics("data/sample/reviews_sample.csv", "out/topics")   # doctest: +SKIP
    >>> result.topics[["topic_id", "size", "words"]].head()               # doctest: +SKIP
    """
    started = time.perf_counter()
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
    ids = model.fit(texts, names=frame[app_col].unique() if app_col else ()).transform(texts)
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
    quality = _measure(table, texts, ids, started, out_dir) if metrics else None
    return TopicsResult(model=model, topics=table, assignments=assignments, tables=tables, out_dir=out_dir,
                        metrics=quality)

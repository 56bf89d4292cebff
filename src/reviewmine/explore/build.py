"""Build the explorer's SQLite database from the processed and analysed Parquet files.

``DATA_DIR/explore/reviews.db`` holds three tables (``reviews``, ``codes``, ``topics``)
with indexes on the facet columns and full-text indexes on title and text, plus
``build_info``: the SHA-256 of every input file, so the database is rebuilt only when the
analysis changed. It is built into a temporary file and renamed into place, so a failed
build leaves the previous database as it was. ``metadata.json`` beside it lets Datasette
(or anyone) open the database with facets, column descriptions and canned queries.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reviewmine.errors import InputError
from reviewmine.explore.metadata import (
    CODES_TABLE,
    FACETS,
    FTS_COLUMNS,
    REVIEW_FIELDS,
    REVIEWS_TABLE,
    TOPICS_TABLE,
    datasette_metadata,
)
from reviewmine.io import write_atomic

SCHEMA_VERSION = "1"  # bump when the tables change, so old databases are rebuilt
ANALYSIS_FILES = ("review_scores.parquet", "codes.parquet")
TOPIC_FILES = ("topics.parquet", "topic_info.parquet")


@dataclass
class BuildResult:
    """Where the database is, whether this call rebuilt it, how long that took, row counts."""

    path: Path
    metadata: Path
    rebuilt: bool
    seconds: float
    rows: dict[str, int]


def database_path(data_dir: str | Path) -> Path:
    """Where ``reviewmine explore`` keeps the database of ``data_dir``."""
    return Path(data_dir) / "explore" / "reviews.db"


def _inputs(data_dir: Path) -> list[Path]:
    """The files the database is built from; one error line naming the stage to run if any is missing."""
    from reviewmine.process.reader import reviews_path

    processed = data_dir / "processed"
    reviews = reviews_path(data_dir)
    if not reviews.exists():
        raise InputError(
            f"{reviews}: not found; run 'reviewmine process --data-dir {data_dir}' and then "
            f"'reviewmine analyze --data-dir {data_dir}' first"
        )
    for name in ANALYSIS_FILES:
        if not (processed / name).exists():
            raise InputError(f"{processed / name}: not found; run 'reviewmine analyze --data-dir {data_dir}' first")
    files = [reviews, *(processed / n for n in ANALYSIS_FILES)]
    if all((processed / n).exists() for n in TOPIC_FILES):
        files += [processed / n for n in TOPIC_FILES]
    summary = processed / "analyze_summary.json"
    return files + ([summary] if summary.exists() else [])


def fingerprint(files: list[Path]) -> str:
    """SHA-256 over the schema version and the names and bytes of the input files (a
    partitioned reviews directory counts with every file in it)."""
    digest = hashlib.sha256(SCHEMA_VERSION.encode())
    for path in files:
        parts = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for part in parts:
            digest.update(str(part.relative_to(path.parent)).encode())
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def stored_fingerprint(db: Path) -> str | None:
    """The fingerprint a database was built from; None for a missing or unreadable one."""
    import sqlite3

    if not db.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("select value from build_info where name = 'fingerprint'").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def build_database(data_dir: str | Path, force: bool = False) -> BuildResult:
    """Build (or refresh, when an input changed) ``DATA_DIR/explore/reviews.db``.

    >>> result = build_database("data")  # doctest: +SKIP
    >>> result.rows["codes"]  # doctest: +SKIP
    """
    data_dir = Path(data_dir)
    db = database_path(data_dir)
    files = _inputs(data_dir)
    started = time.perf_counter()
    current = fingerprint(files)
    metadata = _write_metadata(db.parent)
    if not force and stored_fingerprint(db) == current:
        return BuildResult(db, metadata, False, time.perf_counter() - started, _row_counts(db))
    tables = _tables(data_dir)
    with write_atomic(db) as tmp:
        _write_sqlite(tmp, tables, {
            "fingerprint": current,
            "schema_version": SCHEMA_VERSION,
            "inputs": json.dumps([str(f) for f in files]),
            "built_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        })
    return BuildResult(db, metadata, True, time.perf_counter() - started, {n: len(t) for n, t in tables.items()})


def _write_metadata(directory: Path) -> Path:
    path = directory / "metadata.json"
    with write_atomic(path) as tmp:
        tmp.write_text(json.dumps(datasette_metadata(), indent=2) + "\n", encoding="utf-8")
    return path


def _row_counts(db: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"select count(*) from [{t}]").fetchone()[0] for t in ("reviews", "codes", "topics")}


def _tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The three tables as DataFrames: reviews (every current review, analysed or not),
    codes (one row per review x code, with the review beside it) and topics."""
    from reviewmine.process import read_reviews

    processed = data_dir / "processed"
    reviews = read_reviews(data_dir, columns=REVIEW_FIELDS)
    scores = pd.read_parquet(processed / "review_scores.parquet", columns=["review_key", "sentiment", "codes", "n_codes"])
    codes = pd.read_parquet(
        processed / "codes.parquet",
        columns=["review_key", "code", "category", "polarity", "probability", "evidence", "cues", "sentence_sentiment"],
    )
    if all((processed / n).exists() for n in TOPIC_FILES):
        review_topics = pd.read_parquet(processed / "topics.parquet", columns=["review_key", "topic_id"])
        info = pd.read_parquet(processed / "topic_info.parquet")
        topics = info[[c for c in TOPICS_TABLE if c in info.columns]]
        review_topics = review_topics.merge(info[["topic_id", "label"]].rename(columns={"label": "topic"}),
                                            on="topic_id", how="left")
    else:
        review_topics = pd.DataFrame({"review_key": pd.Series(dtype=str), "topic_id": pd.Series(dtype="Int64"),
                                      "topic": pd.Series(dtype=str)})
        topics = pd.DataFrame(columns=TOPICS_TABLE)
    reviews = (
        reviews.merge(scores.assign(analysed=1), on="review_key", how="left")
        .merge(review_topics, on="review_key", how="left")
    )
    reviews["analysed"] = reviews["analysed"].fillna(0).astype(int)
    for column in ("rating", "version_major", "thumbs_up", "n_codes", "topic_id"):
        reviews[column] = reviews[column].astype("Int64")  # integers with nulls, not floats
    reviews["at"] = pd.to_datetime(reviews["at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    codes = codes.merge(reviews.drop(columns=["codes", "n_codes"]), on="review_key", how="inner")
    return {
        "reviews": reviews[REVIEWS_TABLE],
        "codes": codes[CODES_TABLE],
        "topics": topics.reindex(columns=TOPICS_TABLE),
    }


def require_extra(module: str) -> None:
    """One error line when a package of the ``explore`` extra is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise InputError(
            f"{module} is not installed; install reviewmine's explore extra (pip install datasette sqlite-utils)"
        )


def _write_sqlite(path: Path, tables: dict[str, pd.DataFrame], info: dict[str, str]) -> None:
    require_extra("sqlite_utils")
    import sqlite_utils

    db = sqlite_utils.Database(path)
    db.conn.execute("pragma journal_mode = off")  # a fresh temporary file: nothing to roll back to
    db.conn.execute("pragma synchronous = off")
    pks = {"reviews": "review_key", "codes": ("review_key", "code"), "topics": "topic_id"}
    for name, frame in tables.items():
        frame = frame.astype(object).where(frame.notna(), None)
        columns = {c: _sqlite_type(tables[name][c]) for c in frame.columns}
        db[name].create(columns, pk=pks[name])
        db[name].insert_all(frame.to_dict("records"), batch_size=5_000)
        for column in FACETS[name]:
            db[name].create_index([column], if_not_exists=True)
    for name in ("reviews", "codes"):
        db[name].enable_fts(FTS_COLUMNS, create_triggers=False, tokenize="porter")
    db["codes"].create_index(["version_major"], if_not_exists=True)
    db["reviews"].create_index(["topic_id"], if_not_exists=True)
    db["build_info"].insert_all([{"name": k, "value": v} for k, v in info.items()], pk="name")
    db.conn.commit()
    db.vacuum()
    db.close()


def _sqlite_type(series: pd.Series) -> type:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
        return int
    if pd.api.types.is_float_dtype(series):
        return float
    return str

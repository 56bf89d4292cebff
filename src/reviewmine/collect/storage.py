"""The normalised raw layer: reviews per run as Parquet, written atomically.

Contract read by the processing stage::

    DATA_DIR/raw/reviews/<run_id>/<store>__<app_slug>__<country>.parquet   (REVIEW_SCHEMA)

During a run each page goes to its own part file under ``DATA_DIR/state/pending/<run_id>/``
(temp file, fsync, rename) before the page is committed in the state database. At the end of
the run (or, after a crash, at the start of the next one) the parts of each file are merged
into the contract path, again through a temp file and a rename.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from reviewmine.schema import REVIEW_SCHEMA, Review, reviews_to_table


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` so that readers see either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def reviews_path(data_dir: Path, run_id: str, store: str, app: str, country: str) -> Path:
    return data_dir / "raw" / "reviews" / run_id / f"{store}__{app}__{country}.parquet"


class ReviewWriter:
    """Writes the reviews of one run: a part file per page, merged at the end."""

    def __init__(self, data_dir: Path, run_id: str) -> None:
        self.data_dir = data_dir
        self.run_id = run_id
        self.pending = data_dir / "state" / "pending" / run_id
        self._seq = 0

    def write_page(self, store: str, app: str, country: str, reviews: list[Review]) -> None:
        if not reviews:
            return
        self._seq += 1
        part = self.pending / f"{store}__{app}__{country}" / f"{self._seq:07d}.parquet"
        write_table_atomic(reviews_to_table(reviews), part)

    def finalize(self) -> list[Path]:
        return finalize_run(self.data_dir, self.run_id)


def finalize_run(data_dir: Path, run_id: str) -> list[Path]:
    """Merge the pending part files of ``run_id`` into its contract files; idempotent."""
    pending = data_dir / "state" / "pending" / run_id
    written = []
    if not pending.is_dir():
        return written
    for key_dir in sorted(p for p in pending.iterdir() if p.is_dir()):
        store, app, country = key_dir.name.split("__")
        final = reviews_path(data_dir, run_id, store, app, country)
        parts = sorted(key_dir.glob("*.parquet"))
        if parts and not final.exists():
            table = pa.concat_tables([pq.read_table(p, schema=REVIEW_SCHEMA) for p in parts])
            write_table_atomic(table, final)
        # A final file that already exists was merged from these very parts before a crash.
        written.append(final)
        shutil.rmtree(key_dir)
    shutil.rmtree(pending, ignore_errors=True)
    return written


def read_run_reviews(data_dir: Path, run_id: str) -> list[Review]:
    """Every review a run put on disk so far (contract files and pending parts)."""
    files = list((data_dir / "raw" / "reviews" / run_id).glob("*.parquet"))
    files += list((data_dir / "state" / "pending" / run_id).glob("*/*.parquet"))
    rows: list[Review] = []
    for f in sorted(files):
        rows.extend(Review(**r) for r in pq.read_table(f, schema=REVIEW_SCHEMA).to_pylist())
    return rows

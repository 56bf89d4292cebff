"""Fixtures for the processing stage: a private key file and raw-layer writers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewmine.schema import REVIEW_COLUMNS, REVIEW_SCHEMA


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own pseudonymisation key, outside its data directory."""
    path = tmp_path / "secrets" / "pseudonym.key"
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(path))
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def review(**values) -> dict:
    """A raw-layer row with sensible defaults."""
    row = dict.fromkeys(REVIEW_COLUMNS)
    row.update(
        store="google_play",
        app="calm",
        review_id="gp-1",
        rating=5,
        text="This app really helps me sleep better every night.",
        at=datetime(2024, 3, 5, 10, 0, tzinfo=UTC),
        source="google_play",
        run_id="run-1",
        fetched_at=datetime(2024, 3, 6, tzinfo=UTC),
    )
    row.update(values)
    return row


def write_raw(data_dir: Path, name: str, rows: list[dict]) -> Path:
    """Write rows as a collector would: DATA_DIR/raw/reviews/<name>.parquet."""
    path = data_dir / "raw" / "reviews" / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=REVIEW_SCHEMA), path)
    return path


@pytest.fixture
def make_review():
    return review


@pytest.fixture
def raw_writer(data_dir: Path):
    """``raw_writer(name, rows)`` writes one collector file into the test's data dir."""
    return lambda name, rows: write_raw(data_dir, name, rows)

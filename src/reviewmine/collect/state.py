"""Collection state in SQLite (WAL, one transaction per page).

Tables: ``runs`` (one row per ``collect`` run), ``cursors`` (per store/app/partition: the
watermark of the last completed walk and the walk in progress with its continuation token),
``reviews`` (every review id seen, with the hash of its current content), ``review_versions``
(every distinct content of a review, i.e. edits), ``observations`` (which partition served which
review) and ``partition_runs`` (the per-run summary: new, updated, pages, retries, stop reason).

A page is committed here only after its reviews are durably on disk; ``adopt`` lets a rerun
register rows that reached disk just before a crash, so nothing is written twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reviewmine.schema import Review

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
  status TEXT NOT NULL, tool_version TEXT, args TEXT
);
CREATE TABLE IF NOT EXISTS cursors (
  store TEXT NOT NULL, app TEXT NOT NULL, partition TEXT NOT NULL,
  watermark_at TEXT, walk_active INTEGER NOT NULL DEFAULT 0, walk_floor_at TEXT,
  walk_top_at TEXT, walk_token TEXT, walk_cookies TEXT, walk_pages INTEGER NOT NULL DEFAULT 0,
  last_run_id TEXT, last_stop_reason TEXT, updated_at TEXT,
  PRIMARY KEY (store, app, partition)
);
CREATE TABLE IF NOT EXISTS reviews (
  store TEXT NOT NULL, app TEXT NOT NULL, review_id TEXT NOT NULL,
  content_hash TEXT NOT NULL, at TEXT, first_run_id TEXT, last_run_id TEXT,
  versions INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (store, app, review_id)
);
CREATE TABLE IF NOT EXISTS review_versions (
  store TEXT NOT NULL, app TEXT NOT NULL, review_id TEXT NOT NULL, content_hash TEXT NOT NULL,
  run_id TEXT NOT NULL, country TEXT,
  PRIMARY KEY (store, app, review_id, content_hash)
);
CREATE TABLE IF NOT EXISTS observations (
  store TEXT NOT NULL, app TEXT NOT NULL, partition TEXT NOT NULL, review_id TEXT NOT NULL,
  PRIMARY KEY (store, app, partition, review_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partition_runs (
  run_id TEXT NOT NULL, store TEXT NOT NULL, app TEXT NOT NULL, partition TEXT NOT NULL,
  new INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
  pages INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,
  stop_reason TEXT, error TEXT,
  PRIMARY KEY (run_id, store, app, partition)
);
"""


def content_hash(r: Review) -> str:
    """Hash of what a reader sees of a review; a change means the review was edited."""
    payload = json.dumps([r.rating, r.title, r.text, r.developer_reply], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


@dataclass
class Cursor:
    """Where a partition stands. ``watermark_at``: newest review time of the last completed walk.
    A walk in progress has a floor (stop below it), a top (newest time seen) and maybe a token."""

    watermark_at: datetime | None = None
    walk_active: bool = False
    walk_floor_at: datetime | None = None
    walk_top_at: datetime | None = None
    walk_token: str | None = None
    walk_cookies: list | None = None  # session cookies that go with the token
    walk_pages: int = 0
    last_stop_reason: str | None = None


class CollectState:
    """The state database of one data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        with self.conn:
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # runs -----------------------------------------------------------------------------------
    def start_run(self, run_id: str, started_at: datetime, tool_version: str, args: dict) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO runs(run_id, started_at, status, tool_version, args) VALUES (?,?,?,?,?)",
                (run_id, _iso(started_at), "running", tool_version, json.dumps(args, default=str)),
            )

    def finish_run(self, run_id: str, finished_at: datetime, status: str) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET finished_at=?, status=? WHERE run_id=?",
                (_iso(finished_at), status, run_id),
            )

    def unfinished_runs(self) -> list[str]:
        rows = self.conn.execute("SELECT run_id FROM runs WHERE status='running' ORDER BY run_id")
        return [r[0] for r in rows]

    # cursors --------------------------------------------------------------------------------
    def cursor(self, store: str, app: str, partition: str) -> Cursor:
        row = self.conn.execute(
            "SELECT watermark_at, walk_active, walk_floor_at, walk_top_at, walk_token, walk_pages,"
            " last_stop_reason, walk_cookies FROM cursors WHERE store=? AND app=? AND partition=?",
            (store, app, partition),
        ).fetchone()
        if row is None:
            return Cursor()
        return Cursor(
            watermark_at=_dt(row[0]), walk_active=bool(row[1]), walk_floor_at=_dt(row[2]),
            walk_top_at=_dt(row[3]), walk_token=row[4], walk_pages=row[5], last_stop_reason=row[6],
            walk_cookies=json.loads(row[7]) if row[7] else None,
        )

    def save_cursor(
        self, store: str, app: str, partition: str, c: Cursor, run_id: str, now: datetime
    ) -> None:
        with self.conn:
            self._save_cursor(store, app, partition, c, run_id, now)

    def _save_cursor(self, store, app, partition, c: Cursor, run_id, now) -> None:
        self.conn.execute(
            "INSERT INTO cursors(store, app, partition, watermark_at, walk_active, walk_floor_at,"
            " walk_top_at, walk_token, walk_cookies, walk_pages, last_run_id, last_stop_reason,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(store, app, partition) DO UPDATE SET"
            " watermark_at=excluded.watermark_at, walk_active=excluded.walk_active,"
            " walk_floor_at=excluded.walk_floor_at, walk_top_at=excluded.walk_top_at,"
            " walk_token=excluded.walk_token, walk_cookies=excluded.walk_cookies,"
            " walk_pages=excluded.walk_pages,"
            " last_run_id=excluded.last_run_id, last_stop_reason=excluded.last_stop_reason,"
            " updated_at=excluded.updated_at",
            (
                store, app, partition, _iso(c.watermark_at), int(c.walk_active),
                _iso(c.walk_floor_at), _iso(c.walk_top_at), c.walk_token,
                json.dumps(c.walk_cookies) if c.walk_cookies else None, c.walk_pages,
                run_id, c.last_stop_reason, _iso(now),
            ),
        )

    # reviews --------------------------------------------------------------------------------
    def classify(self, store: str, app: str, reviews: list[Review]) -> list[str]:
        """For each review: ``new``, ``updated`` (same id, changed content) or ``known``."""
        kinds = []
        for r in reviews:
            row = self.conn.execute(
                "SELECT content_hash FROM reviews WHERE store=? AND app=? AND review_id=?",
                (store, app, r.review_id),
            ).fetchone()
            if row is None:
                kinds.append("new")
            elif row[0] != content_hash(r):
                kinds.append("updated")
            else:
                kinds.append("known")
        return kinds

    def observed(self, store: str, app: str, partition: str, review_ids: list[str]) -> set[str]:
        """The ids among ``review_ids`` this partition served in an earlier page or run."""
        found = set()
        for rid in review_ids:
            if self.conn.execute(
                "SELECT 1 FROM observations WHERE store=? AND app=? AND partition=? AND review_id=?",
                (store, app, partition, rid),
            ).fetchone():
                found.add(rid)
        return found

    def commit_page(
        self,
        *,
        run_id: str,
        store: str,
        app: str,
        partition: str,
        written: list[Review],
        seen_ids: list[str],
        cursor: Cursor,
        now: datetime,
    ) -> None:
        """One transaction: register the written reviews, the observations and the new cursor."""
        with self.conn:
            self._register(run_id, written)
            self.conn.executemany(
                "INSERT OR IGNORE INTO observations VALUES (?,?,?,?)",
                [(store, app, partition, rid) for rid in seen_ids],
            )
            self._save_cursor(store, app, partition, cursor, run_id, now)

    def _register(self, run_id: str, written: list[Review]) -> None:
        for r in written:
            h = content_hash(r)
            self.conn.execute(
                "INSERT INTO reviews(store, app, review_id, content_hash, at, first_run_id,"
                " last_run_id) VALUES (?,?,?,?,?,?,?) ON CONFLICT(store, app, review_id) DO UPDATE"
                " SET content_hash=excluded.content_hash, at=excluded.at,"
                " last_run_id=excluded.last_run_id, versions=versions+1",
                (r.store, r.app, r.review_id, h, _iso(r.at), run_id, run_id),
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO review_versions VALUES (?,?,?,?,?,?)",
                (r.store, r.app, r.review_id, h, run_id, r.country),
            )

    def adopt(self, run_id: str, rows: list[Review]) -> int:
        """Register reviews found on disk whose page commit was cut off; returns how many."""
        missing, keys = [], set()
        for r in rows:
            key = (r.store, r.app, r.review_id, content_hash(r))
            if key in keys:
                continue
            keys.add(key)
            if not self.conn.execute(
                "SELECT 1 FROM review_versions WHERE store=? AND app=? AND review_id=?"
                " AND content_hash=?",
                key,
            ).fetchone():
                missing.append(r)
        with self.conn:
            self._register(run_id, missing)
        return len(missing)

    def record_partition_run(
        self, run_id: str, store: str, app: str, partition: str, *, new: int, updated: int,
        pages: int, retries: int, stop_reason: str, error: str | None,
    ) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO partition_runs VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run_id, store, app, partition, new, updated, pages, retries, stop_reason, error),
            )

    def counts(self) -> dict[str, int]:
        """Rows per table (for checks and the docs)."""
        return {
            t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("runs", "cursors", "reviews", "review_versions", "observations")
        }

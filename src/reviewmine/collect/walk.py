"""The walk: paging newest-first through one app/store/partition.

A walk stops at the end of the data, when a page is entirely older than the partition's
watermark minus an overlap, or entirely made of reviews the partition already served that are
not newer than the watermark, or older than ``since``. Each page is written to disk, then
committed with the walk's position in the state database, so a killed walk resumes from its
last committed page (Google Play) or walks again from the top (App Store).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reviewmine.collect.errors import (
    AppNotInStorefrontError,
    PlayDataError,
    StoreError,
    TokenCycleError,
)
from reviewmine.collect.http import StoreClient
from reviewmine.collect.state import CollectState, Cursor
from reviewmine.collect.storage import ReviewWriter
from reviewmine.schema import Review

COMPLETE_STOPS = ("exhausted", "caught_up", "since")

ProgressHook = Callable[[str, str, bool], None]
"""Called with (partition label, status, done) as a walk starts, after each page and at its end."""


@dataclass
class PartitionResult:
    """What one app/store/partition gave in this run (a row of the summary table)."""

    app: str
    store: str
    partition: str
    new: int = 0
    updated: int = 0
    pages: int = 0
    retries: int = 0
    stop_reason: str = ""
    error: str | None = None
    failed: bool = False


class PartitionWalker:
    """Walks partitions newest-first for one run, committing every page to the state."""

    def __init__(
        self,
        *,
        state: CollectState,
        writer: ReviewWriter,
        run_id: str,
        max_pages: int | None,
        since: datetime | None,
        overlap: timedelta,
        progress: ProgressHook | None,
        emit: Callable[[str], None],
    ) -> None:
        self.state = state
        self.writer = writer
        self.run_id = run_id
        self.max_pages = max_pages
        self.since = since
        self.overlap = overlap
        self.progress = progress
        self.emit = emit

    def walk(
        self,
        *,
        store: str,
        app: str,
        partition: str,
        country: str,
        fetch: Callable[[object], tuple[list[Review], object]],
        client: StoreClient,
        keeps_token: bool,
    ) -> PartitionResult:
        """Page through one partition until a stop; the result is recorded in the state."""
        res = PartitionResult(app=app, store=store, partition=partition)
        retries0 = client.retries
        label = f"{app} {store} {partition}"
        self._show(label, "", done=False)
        try:
            for _ in range(2):
                resumed = self._walk_once(res, store, app, partition, country, fetch, client, keeps_token, label)
                # A walk resumed from an old token covered older reviews; a fresh walk from the
                # top then picks up what arrived since.
                if not (resumed and res.stop_reason in COMPLETE_STOPS):
                    break
        finally:
            res.retries = client.retries - retries0
            self._show(label, res.stop_reason, done=True)
        self.state.record_partition_run(
            self.run_id, store, app, partition, new=res.new, updated=res.updated, pages=res.pages,
            retries=res.retries, stop_reason=res.stop_reason, error=res.error,
        )
        return res

    def _show(self, label: str, status: str, *, done: bool) -> None:
        if self.progress is not None:
            self.progress(label, status, done)

    def _walk_once(self, res, store, app, partition, country, fetch, client, keeps_token, label) -> bool:
        cur = self.state.cursor(store, app, partition)
        if not cur.walk_active:
            cur.walk_active, cur.walk_floor_at = True, cur.watermark_at
            cur.walk_top_at, cur.walk_token, cur.walk_pages = None, None, 0
        position = cur.walk_token if keeps_token else None
        resumed = position is not None
        if resumed:
            # Play routes page N+1 by the session cookie that came with the token.
            for name, value, domain, path in cur.walk_cookies or []:
                client.client.cookies.set(name, value, domain=domain, path=path)
        floor = cur.walk_floor_at
        used_tokens: set[str] = set()
        first = True
        while True:
            if self.max_pages is not None and res.pages >= self.max_pages:
                res.stop_reason = "max_pages"
                return resumed
            try:
                reviews, nxt = fetch(position)
            except StoreError as exc:
                if first and resumed and (not exc.retryable or isinstance(exc, PlayDataError)):
                    # A saved token the store no longer accepts: walk again from the top, down
                    # to the same floor; known reviews are skipped, so nothing is duplicated.
                    self.emit(f"{app} {store} {partition}: saved token rejected, restarting walk")
                    position, resumed, first = None, False, False
                    continue
                res.failed, res.error = True, str(exc)
                res.stop_reason = "not_in_storefront" if isinstance(exc, AppNotInStorefrontError) else "error"
                return resumed
            first = False
            res.pages += 1
            if keeps_token and isinstance(nxt, str):
                if nxt in used_tokens or nxt == position:
                    res.failed, res.stop_reason = True, "error"
                    res.error = str(TokenCycleError(f"{store}: continuation token repeated"))
                    return resumed
                used_tokens.add(nxt)
            self._take_page(res, store, app, partition, country, reviews, nxt, cur, floor, keeps_token, client)
            self._show(label, f"{res.pages} pages, {res.new} new, {res.updated} updated", done=False)
            if res.stop_reason:
                return resumed
            position = nxt

    def _take_page(self, res, store, app, partition, country, reviews, nxt, cur: Cursor, floor, keeps_token, client):
        unique: dict[str, Review] = {}
        for r in reviews:
            unique.setdefault(r.review_id, r)
        reviews = list(unique.values())
        kinds = self.state.classify(store, app, reviews)
        observed = self.state.observed(store, app, partition, [r.review_id for r in reviews])
        since = self.since
        written = [
            r for r, k in zip(reviews, kinds, strict=True)
            if k != "known" and not (since and r.at is not None and r.at < since)
        ]
        self.writer.write_page(store, app, country, written)
        times = [r.at for r in reviews if r.at is not None]
        if times:
            cur.walk_top_at = max([t for t in (cur.walk_top_at, *times) if t is not None])
        stop = ""
        if not reviews and nxt is None:
            stop = "exhausted"
        elif floor is not None and reviews and all(
            r.at is not None and r.at < floor - self.overlap for r in reviews
        ):
            stop = "caught_up"
        elif floor is not None and reviews and all(
            r.review_id in observed and r.at is not None and r.at <= floor for r in reviews
        ):
            stop = "caught_up"
        elif since and reviews and all(r.at is not None and r.at < since for r in reviews):
            stop = "since"
        elif nxt is None:
            stop = "exhausted"
        if stop:
            top = [t for t in (cur.watermark_at, cur.walk_top_at) if t is not None]
            cur.watermark_at = max(top) if top else None
            cur.walk_active, cur.walk_floor_at, cur.walk_top_at = False, None, None
            cur.walk_token, cur.walk_cookies, cur.walk_pages = None, None, 0
            cur.last_stop_reason = stop
        else:
            cur.walk_token = nxt if keeps_token else None
            if keeps_token:
                cur.walk_cookies = [[c.name, c.value, c.domain, c.path] for c in client.client.cookies.jar]
            cur.walk_pages += 1
        now = datetime.now(UTC)
        self.state.commit_page(
            run_id=self.run_id, store=store, app=app, partition=partition, written=written,
            seen_ids=[r.review_id for r in reviews], cursor=cur, now=now,
        )
        res.new += sum(1 for r, k in zip(reviews, kinds, strict=True) if k == "new" and r in written)
        res.updated += sum(
            1 for r, k in zip(reviews, kinds, strict=True) if k == "updated" and r in written
        )
        res.stop_reason = stop

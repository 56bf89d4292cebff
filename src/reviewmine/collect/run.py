"""``collect``: fetch what is new for every app/store/partition of a catalog.

A *partition* is what one newest-first walk covers: ``<language>-<country>`` on Google Play,
``<country>`` (storefront) on the App Store. Per partition the state database keeps the
watermark of the last completed walk; a walk stops at the end of the data, when a page is
entirely older than the watermark minus an overlap, or entirely made of reviews the partition
already served that are not newer than the watermark. Each page is written to disk and then
committed, so ``kill -9`` at any moment and a rerun yields every review (version) exactly once.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from reviewmine import __version__, config
from reviewmine.catalog import CatalogApp, load_catalog
from reviewmine.collect import app_store, google_play
from reviewmine.collect.errors import (
    AppNotInStorefrontError,
    NotFoundError,
    PlayDataError,
    StoreError,
    TokenCycleError,
)
from reviewmine.collect.http import HttpSettings, RateLimiter, RawHttpLog, StoreClient
from reviewmine.collect.state import CollectState, Cursor
from reviewmine.collect.storage import (
    ReviewWriter,
    finalize_run,
    read_run_reviews,
    write_table_atomic,
)
from reviewmine.errors import InputError
from reviewmine.schema import STORES, UTC_TS, Review

DEFAULT_OVERLAP = timedelta(days=3)
STATE_FILE = Path("state") / "collect.sqlite"
COMPLETE_STOPS = ("exhausted", "caught_up", "since")

METADATA_SCHEMA = pa.schema(
    [
        ("store", pa.string()), ("app", pa.string()), ("app_id", pa.string()),
        ("country", pa.string()), ("language", pa.string()), ("title", pa.string()),
        ("developer", pa.string()), ("rating", pa.float64()), ("ratings_count", pa.int64()),
        ("reviews_count", pa.int64()), ("installs", pa.string()), ("min_installs", pa.int64()),
        ("genre", pa.string()), ("genre_id", pa.string()), ("version", pa.string()),
        ("updated", UTC_TS), ("run_id", pa.string()), ("fetched_at", UTC_TS),
    ]
)


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


@dataclass
class CollectResult:
    """The outcome of a ``collect`` run."""

    run_id: str
    data_dir: Path
    partitions: list[PartitionResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    review_files: list[Path] = field(default_factory=list)
    metadata_file: Path | None = None

    @property
    def failed(self) -> bool:
        return any(p.failed for p in self.partitions)

    @property
    def new(self) -> int:
        return sum(p.new for p in self.partitions)

    @property
    def updated(self) -> int:
        return sum(p.updated for p in self.partitions)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _check_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"data dir {data_dir} is not writable ({exc.strerror or exc}); "
            "pass --data-dir with a directory you can write to"
        ) from None


def _parse_list(values: list[str] | None, allowed: tuple[str, ...] | None, what: str) -> list[str] | None:
    if not values:
        return None
    items = [v.strip() for v in values if v.strip()]
    if allowed is not None:
        bad = [v for v in items if v not in allowed]
        if bad:
            raise InputError(f"unknown {what} {bad[0]!r}; use one of {', '.join(allowed)}")
    return items


def reconcile(state: CollectState, data_dir: Path) -> list[str]:
    """Finish runs that were killed: register their on-disk reviews, merge their part files."""
    notes = []
    for run_id in state.unfinished_runs():
        adopted = state.adopt(run_id, read_run_reviews(data_dir, run_id))
        finalize_run(data_dir, run_id)
        state.finish_run(run_id, datetime.now(UTC), "interrupted")
        notes.append(
            f"run {run_id} was interrupted; its files were completed"
            + (f" ({adopted} reviews written just before the crash were registered)" if adopted else "")
        )
    return notes


class _Collector:
    def __init__(self, *, state, writer, run_id, max_pages, since, overlap, progress, emit):
        self.state: CollectState = state
        self.writer: ReviewWriter = writer
        self.run_id = run_id
        self.max_pages = max_pages
        self.since = since
        self.overlap = overlap
        self.progress: Progress | None = progress
        self.emit: Callable[[str], None] = emit

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
        res = PartitionResult(app=app, store=store, partition=partition)
        retries0 = client.retries
        task = None
        if self.progress is not None:
            task = self.progress.add_task(escape(f"{app} {store} {partition}"), total=None, status="")
        try:
            for _ in range(2):
                resumed = self._walk_once(res, store, app, partition, country, fetch, client, keeps_token, task)
                # A walk resumed from an old token covered older reviews; a fresh walk from the
                # top then picks up what arrived since.
                if not (resumed and res.stop_reason in COMPLETE_STOPS):
                    break
        finally:
            res.retries = client.retries - retries0
            if self.progress is not None and task is not None:
                self.progress.update(task, status=res.stop_reason, total=1, completed=1)
        self.state.record_partition_run(
            self.run_id, store, app, partition, new=res.new, updated=res.updated, pages=res.pages,
            retries=res.retries, stop_reason=res.stop_reason, error=res.error,
        )
        return res

    def _walk_once(self, res, store, app, partition, country, fetch, client, keeps_token, task) -> bool:
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
            if self.progress is not None and task is not None:
                self.progress.update(
                    task, status=f"{res.pages} pages, {res.new} new, {res.updated} updated"
                )
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


def collect(
    catalog: Path | None = None,
    data_dir: Path | None = None,
    apps: list[str] | None = None,
    stores: list[str] | None = None,
    countries: list[str] | None = None,
    max_pages: int | None = None,
    since: date | datetime | None = None,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    settings: HttpSettings | None = None,
    transport: httpx.BaseTransport | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> CollectResult:
    """Collect new reviews and app metadata for the apps of a catalog.

    Writes ``DATA_DIR/raw/reviews/<run_id>/<store>__<app>__<country>.parquet``, the raw HTTP
    log under ``DATA_DIR/raw/http/<run_id>/``, metadata under ``DATA_DIR/raw/metadata/<run_id>/``
    and state in ``DATA_DIR/state/collect.sqlite``. Failures of one app/store are reported in
    the result (``result.failed``) and the others go on.

    Example::

        result = collect(data_dir=Path("data"), apps=["calm"], stores=["app_store"])
        print(result.new, "new reviews in run", result.run_id)
    """
    cat = load_catalog(catalog)
    data_dir = Path(data_dir) if data_dir is not None else config.default_data_dir()
    store_list = _parse_list(stores, STORES, "store") or list(STORES)
    country_filter = _parse_list([c.lower() for c in countries] if countries else None, None, "country")
    selected: list[CatalogApp] = [cat.get(s) for s in apps] if apps else list(cat)
    if max_pages is not None and max_pages < 1:
        raise InputError("--max-pages must be at least 1")
    since_dt = None
    if since is not None:
        since_dt = since if isinstance(since, datetime) else datetime(since.year, since.month, since.day)
        since_dt = since_dt if since_dt.tzinfo else since_dt.replace(tzinfo=UTC)
    _check_writable(data_dir)
    settings = settings or HttpSettings.from_env()
    console = console or Console(stderr=True)

    state = CollectState(data_dir / STATE_FILE)
    now = datetime.now(UTC)
    run_id = new_run_id(now)
    result = CollectResult(run_id=run_id, data_dir=data_dir)

    def emit(msg: str) -> None:
        result.messages.append(msg)
        console.print(msg, highlight=False, soft_wrap=True, markup=False)

    try:
        for note in reconcile(state, data_dir):
            emit(note)
        state.start_run(run_id, now, __version__, {
            "catalog": str(catalog) if catalog else "shipped", "apps": apps, "stores": store_list,
            "countries": country_filter, "max_pages": max_pages, "since": since_dt,
        })
        raw = RawHttpLog(data_dir / "raw" / "http" / run_id, run_id)
        writer = ReviewWriter(data_dir, run_id)
        play = StoreClient(
            "google_play", config.google_play_url(), settings=settings, raw=raw,
            rate=settings.rate_google_play, throttle_statuses=(429,), transport=transport,
        )
        apple = StoreClient(
            "app_store", config.itunes_url(), settings=settings, raw=raw,
            rate=settings.rate_app_store, throttle_statuses=(429, 403), transport=transport,
        )
        lookup_limiter = RateLimiter(settings.rate_lookup)
        metadata: list[dict] = []
        prog = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[status]}"),
            TimeElapsedColumn(), console=console, disable=not progress, transient=False,
        )
        with prog:
            collector = _Collector(
                state=state, writer=writer, run_id=run_id, max_pages=max_pages, since=since_dt,
                overlap=overlap, progress=prog, emit=emit,
            )
            for app in selected:
                app_countries = [c for c in app.countries if not country_filter or c in country_filter]
                if not app_countries:
                    app_countries = list(country_filter or [])
                for store in store_list:
                    store_id = app.store_id(store)
                    if store_id is None:
                        emit(f"{app.slug}: skipped on {store}: no {store} id in the catalog")
                        continue
                    if store == "google_play":
                        _collect_play(collector, play, app, store_id, app_countries, run_id, metadata, result, emit)
                    else:
                        _collect_apple(
                            collector, apple, lookup_limiter, app, store_id, app_countries, run_id,
                            metadata, result, emit,
                        )
        play.close()
        apple.close()
        result.review_files = [p for p in writer.finalize() if p.exists()]
        if metadata:
            path = data_dir / "raw" / "metadata" / run_id / "app_metadata.parquet"
            write_table_atomic(pa.Table.from_pylist(metadata, schema=METADATA_SCHEMA), path)
            result.metadata_file = path
        state.finish_run(run_id, datetime.now(UTC), "failed" if result.failed else "finished")
    finally:
        state.close()
    return result


def _meta_row(store, app: CatalogApp, app_id, country, language, fields: dict, run_id) -> dict:
    return {"store": store, "app": app.slug, "app_id": app_id, "country": country,
            "language": language, **fields, "run_id": run_id, "fetched_at": datetime.now(UTC)}


def _collect_play(collector, client, app: CatalogApp, app_id, countries, run_id, metadata, result, emit):
    lang0, country0 = app.languages[0], countries[0]
    try:
        details = google_play.fetch_details(client, app=app.slug, app_id=app_id, language=lang0, country=country0)
        metadata.append(_meta_row("google_play", app, app_id, country0, lang0, details, run_id))
    except NotFoundError:
        msg = f"{app.slug}: Google Play app id {app_id!r} not found (details page 404); check the catalog"
        emit(f"[red]{msg}[/]")
        result.partitions.append(PartitionResult(app.slug, "google_play", "*", stop_reason="unknown_app", error=msg, failed=True))
        return
    except StoreError as exc:
        emit(f"{app.slug}: Google Play metadata not collected ({exc}); reviews go on")
    for lang in app.languages:
        for country in countries:
            def fetch(token, lang=lang, country=country):
                page = google_play.fetch_reviews_page(
                    client, app=app.slug, app_id=app_id, language=lang, country=country,
                    token=token, run_id=run_id,
                )
                return page.reviews, page.next_token

            res = collector.walk(
                store="google_play", app=app.slug, partition=f"{lang}-{country}", country=country,
                fetch=fetch, client=client, keeps_token=True,
            )
            if res.failed:
                emit(f"[red]{app.slug} google_play {lang}-{country}: {res.error}[/]")
            result.partitions.append(res)


def _collect_apple(collector, client, limiter, app: CatalogApp, app_id, countries, run_id, metadata, result, emit):
    try:
        info = app_store.fetch_lookup(client, app=app.slug, app_id=app_id, country=countries[0], limiter=limiter)
        if info is not None:
            metadata.append(_meta_row("app_store", app, app_id, countries[0], None, info, run_id))
        else:
            emit(f"{app.slug}: App Store Lookup has no app {app_id} in storefront {countries[0]!r}")
    except StoreError as exc:
        emit(f"{app.slug}: App Store metadata not collected ({exc}); reviews go on")
    results = []
    for country in countries:
        def fetch(page, country=country):
            number = page or 1
            rss = app_store.fetch_feed_page(
                client, app=app.slug, app_id=app_id, country=country, page=number, run_id=run_id
            )
            return rss.reviews, (None if rss.is_last else number + 1)

        res = collector.walk(
            store="app_store", app=app.slug, partition=country, country=country,
            fetch=fetch, client=client, keeps_token=False,
        )
        results.append(res)
    missing = [r for r in results if r.stop_reason == "not_in_storefront"]
    if missing and len(missing) < len(results):
        for r in missing:
            r.failed = False
            emit(f"{app.slug}: App Store app {app_id} is not in storefront {r.partition!r}; skipped")
    elif missing:
        emit(f"[red]{app.slug}: App Store id {app_id} is unknown in every storefront tried "
             f"({', '.join(countries)}); check the catalog[/]")
        for r in missing:
            r.stop_reason = "unknown_app"
    for r in results:
        if r.failed and r.stop_reason == "error":
            emit(f"[red]{app.slug} app_store {r.partition}: {r.error}[/]")
    result.partitions.extend(results)


def summary_table(result: CollectResult) -> Table:
    """The end-of-run table: new, updated, pages, retries and stop reason per app/store/partition."""
    t = Table(title=f"collect run {result.run_id}")
    for col in ("app", "store", "partition", "new", "updated", "pages", "retries", "stop"):
        t.add_column(col, justify="right" if col in ("new", "updated", "pages", "retries") else "left")
    for p in result.partitions:
        stop = f"[red]{p.stop_reason}[/]" if p.failed else p.stop_reason
        t.add_row(escape(p.app), p.store, escape(p.partition), str(p.new), str(p.updated), str(p.pages), str(p.retries), stop)
    t.add_section()
    t.add_row("total", "", "", str(result.new), str(result.updated),
              str(sum(p.pages for p in result.partitions)),
              str(sum(p.retries for p in result.partitions)),
              "[red]some failed[/]" if result.failed else "ok")
    return t

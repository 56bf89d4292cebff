"""``collect``: fetch what is new for every app/store/partition of a catalog.

A *partition* is what one newest-first walk covers: ``<language>-<country>`` on Google Play,
``<country>`` (storefront) on the App Store. Per partition the state database keeps the
watermark of the last completed walk (the walk itself: :mod:`reviewmine.collect.walk`). Each
page is written to disk and then committed, so ``kill -9`` at any moment and a rerun yields
every review (version) exactly once. This module runs the walks of a catalog, app metadata
included; printing is the caller's (``on_message``, ``progress``).
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

from reviewmine import __version__, config
from reviewmine.catalog import CatalogApp, load_catalog
from reviewmine.collect import app_store, google_play
from reviewmine.collect.capture import RawHttpLog
from reviewmine.collect.errors import NotFoundError, StoreError
from reviewmine.collect.http import HttpSettings, RateLimiter, StoreClient
from reviewmine.collect.state import CollectState
from reviewmine.collect.storage import (
    ReviewWriter,
    finalize_run,
    read_run_reviews,
    write_table_atomic,
)
from reviewmine.collect.walk import PartitionResult, PartitionWalker, ProgressHook
from reviewmine.errors import InputError
from reviewmine.schema import STORES, UTC_TS

DEFAULT_OVERLAP = timedelta(days=3)
STATE_FILE = Path("state") / "collect.sqlite"

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
    on_message: Callable[[str], None] | None = None,
    progress: ProgressHook | None = None,
) -> CollectResult:
    """Collect new reviews and app metadata for the apps of a catalog.

    Writes ``DATA_DIR/raw/reviews/<run_id>/<store>__<app>__<country>.parquet``, the raw HTTP
    log under ``DATA_DIR/raw/http/<run_id>/``, metadata under ``DATA_DIR/raw/metadata/<run_id>/``
    and state in ``DATA_DIR/state/collect.sqlite``. Failures of one app/store are reported in
    the result (``result.failed``) and the others go on. ``on_message`` gets each note as it
    happens (all are also in ``result.messages``); ``progress`` gets (partition, status, done)
    as walks start, page and stop.

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
    since_dt = _since_time(since)
    _check_writable(data_dir)
    settings = settings or HttpSettings.from_env()

    state = CollectState(data_dir / STATE_FILE)
    now = datetime.now(UTC)
    run_id = new_run_id(now)
    result = CollectResult(run_id=run_id, data_dir=data_dir)

    def emit(msg: str) -> None:
        result.messages.append(msg)
        if on_message is not None:
            on_message(msg)

    try:
        for note in reconcile(state, data_dir):
            emit(note)
        state.start_run(run_id, now, __version__, {
            "catalog": str(catalog) if catalog else "shipped", "apps": apps, "stores": store_list,
            "countries": country_filter, "max_pages": max_pages, "since": since_dt,
        })
        walker = PartitionWalker(
            state=state, writer=ReviewWriter(data_dir, run_id), run_id=run_id, max_pages=max_pages,
            since=since_dt, overlap=overlap, progress=progress or None, emit=emit,  # False: none
        )
        metadata = _walk_apps(walker, selected, store_list, country_filter, settings, transport, result)
        result.review_files = [p for p in walker.writer.finalize() if p.exists()]
        if metadata:
            path = data_dir / "raw" / "metadata" / run_id / "app_metadata.parquet"
            write_table_atomic(pa.Table.from_pylist(metadata, schema=METADATA_SCHEMA), path)
            result.metadata_file = path
        state.finish_run(run_id, datetime.now(UTC), "failed" if result.failed else "finished")
    finally:
        state.close()
    return result


def _since_time(since: date | datetime | None) -> datetime | None:
    """``since`` as an aware time (a date is its midnight, naive times are UTC)."""
    if since is None:
        return None
    since_dt = since if isinstance(since, datetime) else datetime(since.year, since.month, since.day)
    return since_dt if since_dt.tzinfo else since_dt.replace(tzinfo=UTC)


def _walk_apps(
    walker: PartitionWalker,
    selected: list[CatalogApp],
    store_list: list[str],
    country_filter: list[str] | None,
    settings: HttpSettings,
    transport: httpx.BaseTransport | None,
    result: CollectResult,
) -> list[dict]:
    """Walk every partition of every selected app and store; return the app metadata rows."""
    run_id, emit = walker.run_id, walker.emit
    raw = RawHttpLog(walker.writer.data_dir / "raw" / "http" / run_id, run_id)
    lookup_limiter = RateLimiter(settings.rate_lookup)
    metadata: list[dict] = []
    with StoreClient(
        "google_play", config.google_play_url(), settings=settings, raw=raw,
        rate=settings.rate_google_play, throttle_statuses=(429,), transport=transport,
    ) as play, StoreClient(
        "app_store", config.itunes_url(), settings=settings, raw=raw,
        rate=settings.rate_app_store, throttle_statuses=(429, 403), transport=transport,
    ) as apple:
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
                    _collect_play(walker, play, app, store_id, app_countries, run_id, metadata, result, emit)
                else:
                    _collect_apple(
                        walker, apple, lookup_limiter, app, store_id, app_countries, run_id,
                        metadata, result, emit,
                    )
    return metadata


def _meta_row(store, app: CatalogApp, app_id, country, language, fields: dict, run_id) -> dict:
    return {"store": store, "app": app.slug, "app_id": app_id, "country": country,
            "language": language, **fields, "run_id": run_id, "fetched_at": datetime.now(UTC)}


def _collect_play(walker: PartitionWalker, client: StoreClient, app: CatalogApp, app_id, countries, run_id, metadata, result, emit):
    lang0, country0 = app.languages[0], countries[0]
    try:
        details = google_play.fetch_details(client, app=app.slug, app_id=app_id, language=lang0, country=country0)
        metadata.append(_meta_row("google_play", app, app_id, country0, lang0, details, run_id))
    except NotFoundError:
        msg = f"{app.slug}: Google Play app id {app_id!r} not found (details page 404); check the catalog"
        emit(msg)
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

            res = walker.walk(
                store="google_play", app=app.slug, partition=f"{lang}-{country}", country=country,
                fetch=fetch, client=client, keeps_token=True,
            )
            if res.failed:
                emit(f"{app.slug} google_play {lang}-{country}: {res.error}")
            result.partitions.append(res)


def _collect_apple(walker: PartitionWalker, client: StoreClient, limiter: RateLimiter, app: CatalogApp, app_id, countries, run_id, metadata, result, emit):
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

        res = walker.walk(
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
        emit(f"{app.slug}: App Store id {app_id} is unknown in every storefront tried "
             f"({', '.join(countries)}); check the catalog")
        for r in missing:
            r.stop_reason = "unknown_app"
    for r in results:
        if r.failed and r.stop_reason == "error":
            emit(f"{app.slug} app_store {r.partition}: {r.error}")
    result.partitions.extend(results)


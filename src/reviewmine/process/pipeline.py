"""``process``: raw and imported reviews -> ``DATA_DIR/processed/reviews.parquet``.

Two streaming passes with bounded memory:

1. every input batch is checked row by row (rejects go to ``rejects.parquet`` with a
   reason), normalised, redacted, language-tagged and written to a staging file; a
   compact key index (:class:`~reviewmine.process.dedupe.KeyIndex`) records hashes;
2. the index is resolved (versions, repeated sightings, copy-paste groups) and the
   staging file is streamed again into ``reviews.parquet`` (current versions) and
   ``review_versions.parquet`` (earlier versions of edited reviews).

All outputs are written under a temporary name and renamed into place at the end, so a
failed run leaves the previous outputs untouched. Imported files are recorded and kept
(:mod:`reviewmine.process.imports`), so every run rebuilds from the raw layer and all
recorded imports. Each run gets a generation id, written into the key-value metadata of
its Parquet files and into the summary; later stages record which generation they read.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reviewmine.errors import InputError
from reviewmine.io import refuse_overwrite, require_data_dir, write_error, write_errors
from reviewmine.process import clean, dedupe
from reviewmine.process.imports import ImportRegistry
from reviewmine.process.ingest import (
    BATCH_ROWS,
    Batch,
    ColumnMap,
    check_input,
    iter_raw_batches,
    raw_review_files,
)
from reviewmine.process.language import LanguageDetector, distinct_per_row
from reviewmine.process.privacy import (
    Pseudonymiser,
    load_or_create_key,
    redact,
    remove_names,
)
from reviewmine.process.schema import (
    GENERATION_KEY,
    PROCESSED_SCHEMA,
    REJECTS_SCHEMA,
    AtomicParquetWriter,
)
from reviewmine.schema import UTC_TS

log = logging.getLogger(__name__)

REVIEWS_FILE = "reviews.parquet"
VERSIONS_FILE = "review_versions.parquet"
REJECTS_FILE = "rejects.parquet"
SUMMARY_FILE = "process_summary.json"

STORE_ALIASES = {
    **dict.fromkeys(
        ["google_play", "googleplay", "google play", "play", "play store", "android", "gp"],
        "google_play",
    ),
    **dict.fromkeys(
        ["app_store", "appstore", "app store", "apple", "apple app store", "ios", "itunes"],
        "app_store",
    ),
}
DEDUPE_COLUMNS = (
    "review_key", "version", "is_current", "n_versions", "n_sightings", "is_copy_paste",
    "copy_group_size", "copy_n_apps", "is_spam", "spam_reason", "first_fetched_at",
)
STAGING_SCHEMA = pa.schema(
    [f for f in PROCESSED_SCHEMA if f.name not in DEDUPE_COLUMNS]
    + [pa.field("_row", pa.int64()), pa.field("_repetitive", pa.bool_()),
       pa.field("_has_contact", pa.bool_())]
)
STORES_OPENED = pd.Timestamp("2008-07-01", tz="UTC")  # no store review is older
_PLACEHOLDER = r"\[(?:EMAIL|URL|PHONE|HANDLE|NAME)\]"
_JUNK = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{FFFD}]"


@dataclass
class ProcessSummary:
    """What a ``process`` run did, in counts (also ``processed/process_summary.json``)."""

    data_dir: str
    generation: str = ""
    inputs: list[dict] = field(default_factory=list)
    import_notes: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    kept_with_issues: dict[str, int] = field(default_factory=dict)
    duplicates_collapsed: int = 0
    merged_across_sources: int = 0
    reviews: int = 0
    previous_versions: int = 0
    edited_reviews: int = 0
    content_keyed: int = 0
    copy_paste: int = 0
    cross_app_copy_paste: int = 0
    spam: int = 0
    spam_by_reason: dict[str, int] = field(default_factory=dict)
    english: int = 0
    non_english: int = 0
    no_language: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)
    pseudonymised: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a printed table."""

        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{k}: {v:,}" for k, v in counts.items()) or "-"

        return [
            ("input files", f"{len(self.inputs):,}"),
            ("rows read", f"{self.rows_read:,}"),
            ("rows rejected", f"{self.rows_rejected:,}  ({fmt(self.rejected_by_reason)})"),
            ("rows kept with a value fixed", fmt(self.kept_with_issues)),
            ("repeated sightings collapsed", f"{self.duplicates_collapsed:,}"),
            ("  of which id-less rows matched to a store id", f"{self.merged_across_sources:,}"),
            ("reviews (current versions)", f"{self.reviews:,}"),
            ("  keyed by content (no store id)", f"{self.content_keyed:,}"),
            ("edited reviews", f"{self.edited_reviews:,}"),
            ("earlier versions kept", f"{self.previous_versions:,}"),
            ("copy-paste reviews", f"{self.copy_paste:,}"),
            ("  shared across apps", f"{self.cross_app_copy_paste:,}"),
            ("spam (flagged, kept)", f"{self.spam:,}  ({fmt(self.spam_by_reason)})"),
            ("English / other / no language",
             f"{self.english:,} / {self.non_english:,} / {self.no_language:,}"),
            ("languages", fmt(self.languages)),
            ("redactions", fmt(self.redactions)),
            ("reviewer names pseudonymised", f"{self.pseudonymised:,}"),
            ("time", f"{self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s)"),
        ]


def process(
    data_dir: Path | str,
    inputs: Sequence[Path | str] = (),
    column_map: str | dict | ColumnMap | None = None,
    mapping: Path | str | None = None,
    *,
    include_raw: bool = True,
    assume_tz: str = "UTC",
    drop_imports: Sequence[str] = (),
    key_file: Path | str | None = None,
    batch_rows: int = BATCH_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> ProcessSummary:
    """Build the processed layer from ``DATA_DIR/raw/reviews`` and every recorded import.

    Parameters
    ----------
    data_dir : the project data directory; outputs go to ``DATA_DIR/processed/``.
    inputs : CSV/Parquet review files to import; they are recorded in
        ``DATA_DIR/state/imports.json`` and kept in ``DATA_DIR/raw/imports/``, and stay in
        the processed layer on later runs until dropped.
    column_map : ``"text=content,at=date"`` or a dict, canonical column -> file column.
    mapping : a YAML mapping file (``columns:`` and ``defaults:``); ``column_map`` wins.
    include_raw : read the collectors' raw layer too.
    assume_tz : time zone of times without an offset in ``inputs`` (default UTC); recorded
        with each import.
    drop_imports : recorded imports to remove (file name, path or SHA-256 prefix).
    key_file : pseudonymisation key (default ``reviewmine.config.secret_key_path()``).
    on_progress : called with the number of rows of each batch read.

    Example
    -------
    >>> summary = process("data", inputs=["reviews.csv"], column_map="app=app_name,at=date")
    ... # doctest: +SKIP
    >>> summary.reviews  # doctest: +SKIP
    41805
    """
    started = time.perf_counter()
    data_dir = require_data_dir(data_dir)
    clean.check_time_zone(assume_tz)
    column_map_obj = ColumnMap.from_yaml(Path(mapping)) if mapping else ColumnMap()
    if column_map:
        extra = column_map if isinstance(column_map, ColumnMap) else ColumnMap.parse(column_map)
        column_map_obj = column_map_obj.merged(extra)
    inputs = [Path(p) for p in inputs]
    refuse_overwrite(data_dir / "processed", [*inputs, mapping], option="--data-dir", directory=True)
    for path in inputs:
        check_input(path, column_map_obj)
    registry = ImportRegistry(data_dir)
    notes = [f"dropped import {registry.drop(selector).describe()}" for selector in drop_imports]
    raw_files = raw_review_files(data_dir) if include_raw else []
    if not raw_files and not inputs and not registry.active:
        raise InputError(
            f"{data_dir}: no reviews to process: {data_dir / 'raw' / 'reviews'} has no Parquet "
            "files and no import is recorded; run `reviewmine collect` or pass --input FILE"
        )
    pseudonymise = Pseudonymiser(load_or_create_key(key_file, data_dir))
    for path in inputs:
        notes.append(registry.add(path, column_map_obj, mapping, assume_tz, batch_rows))
    for note in notes:
        log.info("%s", note)
    generation = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    stamp = {GENERATION_KEY: generation}

    processed = data_dir / "processed"
    with write_errors(processed):
        processed.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-process-", dir=processed))
    summary = ProcessSummary(data_dir=str(data_dir), generation=generation, import_notes=notes)
    try:
        staging_path = tmp / "staging.parquet"
        staging = pq.ParquetWriter(staging_path, STAGING_SCHEMA, compression="lz4")
        rejects = AtomicParquetWriter(processed / REJECTS_FILE, REJECTS_SCHEMA, tmp, stamp)
        index = dedupe.KeyIndex()
        step = _BatchStep(pseudonymise, LanguageDetector(), summary)

        def batches() -> Iterable[tuple[Batch, str, str]]:
            for path in raw_files:
                yield from ((b, "raw", assume_tz) for b in iter_raw_batches(path, batch_rows))
            for record in registry.active:
                yield from ((b, "import", record.assume_tz) for b in registry.batches(record, batch_rows))

        per_file: dict[str, dict] = {}
        for batch, kind, tz in batches():
            entry = per_file.setdefault(
                batch.source_file, {"file": batch.source_file, "kind": kind, "rows": 0}
            )
            entry["rows"] += batch.table.num_rows + len(batch.malformed)
            staged, rejected, keys = step(batch, kind, tz)
            rejects.write(rejected)
            if staged.num_rows:
                staged = staged.append_column("_row", pa.array(index.add(**keys)))
                staging.write_table(staged.select(STAGING_SCHEMA.names).cast(STAGING_SCHEMA))
            if on_progress:
                on_progress(batch.table.num_rows + len(batch.malformed))
        staging.close()
        rejects.close()
        summary.inputs = list(per_file.values())
        summary.rows_read = sum(e["rows"] for e in summary.inputs)
        log.info("pass 1 done: %d rows read", summary.rows_read)

        _release_memory()
        decisions = index.resolve()
        del index
        _release_memory()
        log.info("resolved %d rows", summary.rows_read)
        summary.merged_across_sources = decisions.merged_across_sources
        summary.edited_reviews = decisions.edited_reviews
        reviews = AtomicParquetWriter(processed / REVIEWS_FILE, PROCESSED_SCHEMA, tmp, stamp)
        versions = AtomicParquetWriter(processed / VERSIONS_FILE, PROCESSED_SCHEMA, tmp, stamp)
        tally = Counter()
        for record_batch in pq.ParquetFile(staging_path).iter_batches(batch_size=batch_rows):
            current, previous, dropped = _apply_decisions(record_batch, decisions, tally)
            reviews.write(current)
            versions.write(previous)
            summary.duplicates_collapsed += dropped
        for writer in (reviews, versions):
            writer.close()
        if reviews.rows == 0:
            log.warning("no review survived processing; see %s", processed / REJECTS_FILE)
        if inputs or drop_imports:
            registry.save()  # before the outputs: a rerun after a crash rebuilds from the record
        for writer in (reviews, versions, rejects):
            writer.commit()
        _fill_counts(summary, reviews.rows, versions.rows, tally)
        summary.seconds = round(time.perf_counter() - started, 2)
        summary.rows_per_second = round(summary.rows_read / max(summary.seconds, 1e-9), 1)
        summary.outputs = {
            "reviews": str(processed / REVIEWS_FILE),
            "review_versions": str(processed / VERSIONS_FILE),
            "rejects": str(processed / REJECTS_FILE),
            "summary": str(processed / SUMMARY_FILE),
        }
        summary_tmp = tmp / SUMMARY_FILE
        summary_tmp.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(summary_tmp, processed / SUMMARY_FILE)
        log.info(
            "processed %d rows into %d reviews in %.1f s",
            summary.rows_read, summary.reviews, summary.seconds,
        )
        return summary
    except OSError as exc:
        error = write_error(processed, exc)
        if error is None:
            raise
        raise error from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _release_memory() -> None:
    """Hand freed memory back to the OS between the passes.

    The sort temporaries of ``resolve`` (~150 bytes per input row) are freed but glibc
    keeps them in its heap; without a trim, pass 2 (which allocates from Arrow's own
    pool) would carry them and peak memory would grow with the input.
    """
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


def _fill_counts(summary: ProcessSummary, n_current: int, n_previous: int, tally: Counter) -> None:
    summary.reviews = n_current
    summary.previous_versions = n_previous
    summary.content_keyed = tally.pop("content_keyed", 0)
    summary.copy_paste = tally.pop("copy_paste", 0)
    summary.cross_app_copy_paste = tally.pop("cross_app_copy_paste", 0)
    summary.english = tally.pop("english", 0)
    summary.no_language = tally.pop("no_language", 0)
    summary.non_english = n_current - summary.english - summary.no_language
    summary.spam_by_reason = {k[5:]: v for k, v in sorted(tally.items()) if k.startswith("spam:")}
    summary.spam = sum(summary.spam_by_reason.values())
    languages = Counter({k[5:]: v for k, v in tally.items() if k.startswith("lang:")})
    summary.languages = dict(languages.most_common(10))


def _apply_decisions(
    batch: pa.RecordBatch, decisions: dedupe.Decisions, tally: Counter
) -> tuple[pa.Table, pa.Table, int]:
    """Attach the dedupe columns; split into current rows, earlier versions, dropped count."""
    rows = batch.column("_row").to_numpy()
    role = decisions.role[rows]
    keep = role != dedupe.ROLE_DUPLICATE
    table = pa.Table.from_batches([batch]).filter(pa.array(keep))
    rows, role = rows[keep], role[keep]
    group = decisions.copy_group_size[rows]
    n_apps = decisions.copy_n_apps[rows]
    is_copy = group >= 2
    repetitive = table.column("_repetitive").to_numpy(zero_copy_only=False)
    contact = table.column("_has_contact").to_numpy(zero_copy_only=False)
    cross_app_spam = n_apps >= dedupe.CROSS_APP_SPAM_APPS
    copied_link = is_copy & contact
    reason = np.where(
        repetitive, "repetitive",
        np.where(cross_app_spam, "cross_app_copy", np.where(copied_link, "copied_link", "")),
    )
    is_spam = reason != ""
    first_fetched = decisions.first_fetched_at[rows]
    columns = {
        "review_key": pa.array(dedupe.key_hex(decisions.key[rows]), pa.string()),
        "version": pa.array(decisions.version[rows]),
        "is_current": pa.array(role == dedupe.ROLE_CURRENT),
        "n_versions": pa.array(decisions.n_versions[rows]),
        "n_sightings": pa.array(decisions.n_sightings[rows]),
        "is_copy_paste": pa.array(is_copy),
        "copy_group_size": pa.array(group),
        "copy_n_apps": pa.array(n_apps),
        "is_spam": pa.array(is_spam),
        "spam_reason": pa.array(np.where(is_spam, reason, None).tolist(), pa.string()),
        "first_fetched_at": pa.array(
            first_fetched, pa.int64(), mask=first_fetched == dedupe.NULL_TIME
        ).cast(UTC_TS),
    }
    for name, values in columns.items():
        table = table.append_column(name, values)
    table = table.drop_columns(["_row", "_repetitive", "_has_contact"])
    current_mask = role == dedupe.ROLE_CURRENT
    current = table.filter(pa.array(current_mask))

    tally["content_keyed"] += pc.sum(pc.equal(current.column("review_id_kind"), "content")).as_py() or 0
    tally["copy_paste"] += int(is_copy[current_mask].sum())
    tally["cross_app_copy_paste"] += int((is_copy & (n_apps >= 2))[current_mask].sum())
    for value, count in Counter(reason[current_mask & is_spam].tolist()).items():
        tally[f"spam:{value}"] += count
    languages = current.column("language").value_counts()
    for item in languages.to_pylist():
        if item["values"] is None:
            tally["no_language"] += item["counts"]
        else:
            tally[f"lang:{item['values']}"] += item["counts"]
            if item["values"] == "en":
                tally["english"] += item["counts"]
    return current, table.filter(pa.array(~current_mask)), int((~keep).sum())


class _BatchStep:
    """Pass 1 for one batch: check, normalise, redact, detect language, hash."""

    def __init__(self, pseudonymise: Pseudonymiser, detector: LanguageDetector,
                 summary: ProcessSummary) -> None:
        self.pseudonymise = pseudonymise
        self.detector = detector
        self.summary = summary

    def __call__(self, batch: Batch, kind: str, assume_tz: str) -> tuple[pa.Table, pa.Table, dict]:
        table = batch.table
        n = table.num_rows
        issues = _Issues(batch.source_file, batch.first_row, n)
        for line in batch.malformed:
            issues.add_line("malformed_row", "malformed CSV row (wrong number of fields)", line)

        def col(name: str) -> pa.Array:
            if name in table.column_names:
                return table.column(name).combine_chunks()
            return pa.nulls(n, pa.string())

        review_id = clean.empty_to_null(clean.to_string_array(col("review_id")))
        issues.review_id = review_id
        issues.names = clean.to_string_array(col("reviewer_name"))
        # a malformed line of a file with reviewer names may hold a name: no preview then
        issues.line_previews = "reviewer_name" not in table.column_names
        raw_text = clean.to_string_array(col("text"))
        issues.preview_source = raw_text

        store_raw = pc.utf8_lower(pc.utf8_trim_whitespace(clean.to_string_array(col("store"))))
        inferred = pc.fill_null(pc.match_substring(store_raw, "infer"), False)
        store_base = pc.utf8_trim_whitespace(
            pc.replace_substring_regex(store_raw, r"\(.*\)|[-_\s]+", " ")
        )
        store_values = [STORE_ALIASES.get(s) if s else None for s in store_base.to_pylist()]
        store = pa.array(store_values, pa.string())
        bad_store = np.array([s is None for s in store_values], dtype=bool)
        issues.reject_values("unknown_store", "unknown store {!r} (use google_play or app_store)",
                             bad_store, store_raw)

        app = clean.slugify(pc.fill_null(clean.to_string_array(col("app")), ""))
        issues.reject("missing_app", "no app name", _np(pc.equal(app, "")))

        junk_chars = pc.count_substring_regex(pc.fill_null(raw_text, ""), _JUNK).to_numpy()
        lengths = pc.utf8_length(pc.fill_null(raw_text, "")).to_numpy()
        issues.reject("binary_text", "binary data in text (control characters)",
                      (junk_chars >= 3) & (junk_chars * 10 >= lengths))

        rating, bad_rating = _parse_int(col("rating"), low=1, high=5)
        issues.keep_values("invalid_rating", "invalid rating {!r} set to null", bad_rating,
                           col("rating"))
        at, bad_at = clean.parse_times(col("at"), assume_tz)
        issues.keep_values("unparseable_date", "unparseable date {!r} set to null", bad_at, col("at"))
        # a time before the stores opened or in the future is a broken value, not a review
        # date: kept, it would add empty months to every trend
        at_us = _times(at)
        known = at_us != dedupe.NULL_TIME
        latest = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
        issues.reject_values(
            "date_out_of_range",
            f"review time {{!r}} is before the stores opened ({STORES_OPENED:%Y-%m-%d})",
            known & (at_us < _us(STORES_OPENED)), col("at"),
        )
        issues.reject_values(
            "date_out_of_range", "review time {!r} is in the future",
            known & (at_us > _us(latest)), col("at"),
        )
        thumbs, bad_thumbs = _parse_int(col("thumbs_up"), low=0, high=None)
        issues.keep_values("invalid_thumbs_up", "invalid thumbs_up {!r} set to null", bad_thumbs,
                           col("thumbs_up"))
        reply_at, bad_reply_at = clean.parse_times(col("developer_reply_at"), assume_tz)
        issues.keep_values("unparseable_date", "unparseable reply date {!r} set to null",
                           bad_reply_at, col("developer_reply_at"))
        fetched, _ = clean.parse_times(col("fetched_at"), "UTC")

        title_raw = clean.to_string_array(col("title"))
        empty = (
            _np(pc.equal(pc.fill_null(pc.utf8_trim_whitespace(raw_text), ""), ""))
            & _np(pc.equal(pc.fill_null(pc.utf8_trim_whitespace(title_raw), ""), ""))
            & _np(pc.is_null(rating))
        )
        issues.reject("empty_review", "empty review (no text, title or rating)", empty)

        too_long = lengths > clean.MAX_TEXT_CHARS
        issues.keep_values("text_truncated", "text of {} characters cut to 20,000", too_long,
                           pa.array(lengths))

        keep = ~issues.rejected
        self.summary.rows_rejected += int(issues.rejected.sum()) + len(batch.malformed)
        for code, count in issues.reject_counts.items():
            self.summary.rejected_by_reason[code] = self.summary.rejected_by_reason.get(code, 0) + count
        for code, count in issues.keep_counts.items():
            self.summary.kept_with_issues[code] = self.summary.kept_with_issues.get(code, 0) + count
        rejected_table = issues.table(self._preview)

        mask = pa.array(keep)
        k = int(keep.sum())
        if k == 0:
            return pa.table({}), rejected_table, {}

        def take(values: pa.Array) -> pa.Array:
            return values.filter(mask) if k != n else values

        text = pc.utf8_slice_codeunits(pc.fill_null(take(raw_text), ""), 0, clean.MAX_TEXT_CHARS)
        text = clean.normalise_text(text)
        title = clean.empty_to_null(clean.normalise_text(take(title_raw)))
        title = pc.if_else(pc.is_null(take(title_raw)), pa.scalar(None, pa.string()), title)
        reply_raw = take(clean.to_string_array(col("developer_reply")))
        reply = pc.if_else(pc.is_null(reply_raw), pa.scalar(None, pa.string()),
                           clean.empty_to_null(clean.normalise_text(reply_raw)))

        totals = self.summary.redactions
        redacted = []
        for values in (text, title, reply):
            values, counts = redact(values)
            redacted.append(values)
            for kind_name, count in counts.items():
                totals[kind_name] = totals.get(kind_name, 0) + count
        text, title, reply = redacted

        names = take(clean.to_string_array(col("reviewer_name")))
        store_k = take(store)
        if names.null_count < len(names):
            name_list = names.to_pylist()
            text, title, reply, removed = _remove_names([text, title, reply], name_list)
            totals["name"] = totals.get("name", 0) + removed
            pseudonyms = self.pseudonymise.many(store_k.to_pylist(), name_list)
            self.summary.pseudonymised += sum(p is not None for p in pseudonyms)
        else:
            pseudonyms = [None] * k
        n_redactions = pc.add(
            pc.add(pc.count_substring_regex(text, _PLACEHOLDER),
                   pc.fill_null(pc.count_substring_regex(title, _PLACEHOLDER), 0)),
            pc.fill_null(pc.count_substring_regex(reply, _PLACEHOLDER), 0),
        )
        has_contact = pc.match_substring_regex(text, r"\[(?:EMAIL|URL|PHONE|HANDLE)\]")

        text_noemoji = clean.strip_emoji(text)
        title_noemoji = clean.strip_emoji(pc.fill_null(title, ""))
        detect_on = pc.if_else(pc.match_substring_regex(text_noemoji, r"\p{L}"),
                               text_noemoji, title_noemoji)
        languages, confidences, methods = self.detector.detect(detect_on)

        app_k = take(app)
        at_k = take(at)
        versions = clean.normalise_version(take(col("app_version")))
        review_id_k = take(review_id)
        has_id = _np(pc.is_valid(review_id_k))

        fingerprint = clean.fingerprint_text(text)
        day = pc.fill_null(pc.strftime(at_k, format="%Y-%m-%d"), "")
        content_key_text = pc.binary_join_element_wise(store_k, app_k, fingerprint, day, "\x1f")
        content_key = dedupe.fast_hash64(content_key_text)
        if not has_id.all():
            no_id = np.flatnonzero(~has_id)
            visible = dedupe.hash64(content_key_text.take(pa.array(no_id)).to_pylist())
            content_ids = pa.array([f"ck_{c:016x}" for c in visible.tolist()], pa.string())
            review_id_k = clean._scatter(review_id_k, no_id, content_ids)
        key = dedupe.hash64(
            pc.binary_join_element_wise(store_k, app_k, review_id_k, "\x1f").to_pylist()
        )
        title_fp = pc.fill_null(clean.fingerprint_text(pc.fill_null(title, "")), "")
        rating_k = take(rating)
        content = dedupe.fast_hash64(
            pc.binary_join_element_wise(
                pc.fill_null(pc.cast(rating_k, pa.string()), ""), title_fp, fingerprint, "\x1f"
            )
        )
        n_words = pc.add(pc.count_substring(fingerprint, " "), 1).to_numpy()
        long_enough = (n_words >= dedupe.COPY_MIN_WORDS) & (pc.utf8_length(fingerprint).to_numpy() > 0)
        copy_fp = np.where(long_enough, dedupe.fast_hash64(fingerprint), np.uint64(0))
        repetitive = _repetitive(fingerprint)

        source_default = "collect" if kind == "raw" else f"import:{Path(batch.source_file).name}"
        staged = pa.table({
            "store": store_k,
            "store_inferred": take(inferred),
            "app": app_k,
            "review_id": review_id_k,
            "review_id_kind": pa.array(np.where(has_id, "store", "content"), pa.string()),
            "rating": rating_k,
            "title": title,
            "text": text,
            "text_noemoji": text_noemoji,
            "n_emoji": clean.count_emoji(text),
            "text_chars": pc.cast(pc.utf8_length(text), pa.int32()),
            "text_truncated": pa.array(too_long[keep]),
            "n_redactions": pc.cast(n_redactions, pa.int32()),
            "at": at_k,
            "month": pc.strftime(at_k, format="%Y-%m"),
            **versions,
            "language": pa.array(languages, pa.string()),
            "language_confidence": pa.array(confidences, pa.float32()),
            "language_method": pa.array(methods, pa.string()),
            "is_english": pa.array([c == "en" for c in languages], pa.bool_()),
            "store_language": clean.empty_to_null(pc.utf8_lower(take(clean.to_string_array(col("language"))))),
            "country": clean.empty_to_null(pc.utf8_lower(take(clean.to_string_array(col("country"))))),
            "thumbs_up": pc.cast(take(thumbs), pa.int64()),
            "developer_reply": reply,
            "developer_reply_at": take(reply_at),
            "reviewer_pseudonym": pa.array(pseudonyms, pa.string()),
            "source": pc.fill_null(clean.empty_to_null(take(clean.to_string_array(col("source")))),
                                   source_default),
            "run_id": clean.empty_to_null(take(clean.to_string_array(col("run_id")))),
            "fetched_at": take(fetched),
            "_repetitive": pa.array(repetitive),
            "_has_contact": pc.fill_null(has_contact, False),
        })
        keys = {
            "key": key,
            "has_id": has_id,
            "content_key": content_key,
            "content": content,
            "fingerprint": copy_fp,
            "apps": app_k.to_pylist(),
            "at": _times(at_k),
            "fetched_at": _times(take(fetched)),
        }
        return staged, rejected_table, keys

    def _preview(self, values: pa.Array) -> pa.Array:
        """Short, cleaned and redacted text for the rejects file (never a reviewer name)."""
        short = pc.utf8_slice_codeunits(pc.fill_null(clean.to_string_array(values), ""), 0, 200)
        short = pc.replace_substring_regex(short, _JUNK, "")
        redacted, _ = redact(short)
        return redacted


def _remove_names(columns: list[pa.Array], names: list[str | None]) -> list:
    """Each row's reviewer name out of its own text, title and reply.

    A cheap test first (does any word of the name occur in the lower-cased text?); the
    exact replacement runs only on the few rows where one does.
    """
    out, total = [], 0
    name_words = [
        [" ".join(n.casefold().split()), *(w for w in n.casefold().split() if len(w) >= 3)]
        if n and n.strip() else []
        for n in names
    ]
    for values in columns:
        lowered = pc.utf8_lower(pc.fill_null(values, "")).to_pylist()
        rows = []
        for i, text in enumerate(lowered):
            if text:
                for word in name_words[i]:
                    if word in text:
                        rows.append(i)
                        break
        if rows:
            texts = values.to_pylist()
            fixed, changed = remove_names([texts[i] for i in rows], [names[i] for i in rows])
            for i, new in zip(rows, fixed, strict=True):
                texts[i] = new
            values = pa.array(texts, pa.string())
            total += changed
        out.append(values)
    return [*out, total]


def _repetitive(fingerprints: pa.Array) -> np.ndarray:
    """Degenerate texts: 8+ words of which at most a quarter are distinct ("good good good
    ..."), or a 20+ letter run made of at most 3 letters ("hahahahahahahahahahaha").

    Judged on the first 150 characters (a degenerate text is degenerate from its start);
    word counts are vectorised, only texts with a 20+ letter word are checked in Python.
    """
    n = len(fingerprints)
    head = pc.utf8_slice_codeunits(fingerprints, 0, 150)
    words = pc.split_pattern(head, " ")
    n_words = pc.list_value_length(words).to_numpy(zero_copy_only=False)
    rows = pc.list_parent_indices(words).to_numpy()
    distinct = distinct_per_row(rows, pc.list_flatten(words), n)
    repetitive = (n_words >= 8) & (distinct * 4 <= n_words)
    long_word = np.flatnonzero(_np(pc.match_substring_regex(head, r"\S{20,}")))
    for i, text in zip(long_word.tolist(), head.take(pa.array(long_word)).to_pylist(), strict=True):
        if any(len(w) >= 20 and len(set(w)) <= 3 for w in text.split()):
            repetitive[i] = True
    return repetitive


def _np(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _times(values: pa.Array) -> np.ndarray:
    return pc.fill_null(values.cast(pa.int64()), dedupe.NULL_TIME).to_numpy()


def _us(stamp: pd.Timestamp) -> int:
    """A UTC time in the microseconds of ``_times``."""
    return stamp.value // 1000


def _parse_int(values: pa.Array, low: int | None, high: int | None) -> tuple[pa.Array, np.ndarray]:
    """Whole numbers in [low, high]; anything else present becomes null and is reported."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numbers = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        present = _np(pc.is_valid(values))
    else:
        text = clean.empty_to_null(clean.to_string_array(values))
        present = _np(pc.is_valid(text))
        numbers = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
        numbers = numbers.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(numbers) & (np.floor(numbers) == numbers)
        if low is not None:
            ok &= numbers >= low
        if high is not None:
            ok &= numbers <= high
    ok &= present
    safe = np.where(ok, numbers, 0).astype(np.int64)
    return pa.array(safe, pa.int64(), mask=~ok), present & ~ok


class _Issues:
    """Row-level problems of one batch, for rejects.parquet and the summary."""

    def __init__(self, source_file: str, first_row: int, n: int) -> None:
        self.source_file = source_file
        self.first_row = first_row
        self.rejected = np.zeros(n, dtype=bool)
        self.review_id: pa.Array | None = None
        self.names: pa.Array | None = None
        self.line_previews = True
        self.preview_source: pa.Array | None = None
        self.reject_counts: Counter = Counter()
        self.keep_counts: Counter = Counter()
        self._parts: list[tuple[np.ndarray, str, list[str]]] = []
        self._lines: list[tuple[str, str]] = []

    def add_line(self, code: str, reason: str, line: str) -> None:
        self._lines.append((reason, line))
        self.reject_counts[code] += 1

    def reject(self, code: str, reason: str, mask: np.ndarray) -> None:
        mask = mask & ~self.rejected
        if mask.any():
            self.rejected |= mask
            self.reject_counts[code] += int(mask.sum())
            self._parts.append((np.flatnonzero(mask), "rejected", [reason] * int(mask.sum())))

    def reject_values(self, code: str, template: str, mask: np.ndarray, values: pa.Array) -> None:
        mask = mask & ~self.rejected
        if mask.any():
            positions = np.flatnonzero(mask)
            shown = _shown(values, positions)
            self.rejected |= mask
            self.reject_counts[code] += len(positions)
            self._parts.append((positions, "rejected", [template.format(v) for v in shown]))

    def keep_values(self, code: str, template: str, mask: np.ndarray, values: pa.Array) -> None:
        mask = mask & ~self.rejected
        if mask.any():
            positions = np.flatnonzero(mask)
            shown = _shown(values, positions)
            self.keep_counts[code] += len(positions)
            self._parts.append((positions, "kept", [template.format(v) for v in shown]))

    def table(self, preview: Callable[[pa.Array], pa.Array]) -> pa.Table:
        # a later rejection overrides an earlier "kept" note for the same row
        parts = [
            (pos[~self.rejected[pos]], action, [r for p, r in zip(pos, reasons, strict=True)
                                                if not self.rejected[p]])
            if action == "kept" else (pos, action, reasons)
            for pos, action, reasons in self._parts
        ]
        positions = np.concatenate([p for p, _, _ in parts]) if parts else np.zeros(0, np.int64)
        n_lines = len(self._lines)
        if len(positions) == 0 and n_lines == 0:
            return REJECTS_SCHEMA.empty_table()
        take = pa.array(positions.astype(np.int64))
        rows = pa.array((positions + self.first_row).astype(np.int64))
        return pa.table({
            "source_file": [self.source_file] * (len(positions) + n_lines),
            "row": pa.concat_arrays([rows, pa.nulls(n_lines, pa.int64())]),
            "review_id": pa.concat_arrays([self.review_id.take(take), pa.nulls(n_lines, pa.string())]),
            "action": [a for _, a, r in parts for _ in r] + ["rejected"] * n_lines,
            "reason": [x for _, _, r in parts for x in r] + [r for r, _ in self._lines],
            "preview": pa.concat_arrays([
                self._without_names(preview(self.preview_source.take(take)), take),
                preview(pa.array([line if self.line_previews else None for _, line in self._lines],
                                 pa.string())),
            ]),
        }, schema=REJECTS_SCHEMA)


    def _without_names(self, previews: pa.Array, take: pa.Array) -> pa.Array:
        if self.names is None or self.names.null_count == len(self.names):
            return previews
        names = self.names.take(take).to_pylist()
        fixed, _ = remove_names(previews.to_pylist(), names)
        return pa.array(fixed, pa.string())


def _shown(values: pa.Array, positions: np.ndarray) -> list:
    """Offending values as a user would recognise them (cut to 40 characters)."""
    shown = clean.to_string_array(values.take(pa.array(positions))).to_pylist()
    return [v if v is None or len(v) <= 40 else v[:40] + "..." for v in shown]


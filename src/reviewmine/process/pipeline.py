"""``process``: raw and imported reviews -> ``DATA_DIR/processed/reviews.parquet``.

Two streaming passes with bounded memory:

1. every input batch is checked row by row (rejects go to ``rejects.parquet`` with a
   reason, :mod:`reviewmine.process.rejects`), normalised, redacted, language-tagged
   (the steps of :mod:`reviewmine.process.steps`) and written to a staging file; a
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
import functools
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from reviewmine.engine import check_engine
from reviewmine.errors import InputError
from reviewmine.io import (
    refuse_overwrite,
    require_data_dir,
    write_atomic,
    write_error,
    write_errors,
)
from reviewmine.process import clean, dedupe
from reviewmine.process.decisions import (
    REJECTS_FILE,
    REVIEWS_FILE,
    STAGING_SCHEMA,
    SUMMARY_FILE,
    VERSIONS_FILE,
    apply_decisions,
)
from reviewmine.process.imports import ImportRegistry
from reviewmine.process.ingest import (
    BATCH_ROWS,
    Batch,
    ColumnMap,
    check_input,
    iter_raw_batches,
    raw_review_files,
)
from reviewmine.process.language import LanguageDetector
from reviewmine.process.privacy import Pseudonymiser, load_or_create_key
from reviewmine.process.schema import (
    GENERATION_KEY,
    PROCESSED_SCHEMA,
    REJECTS_SCHEMA,
    AtomicParquetWriter,
)
from reviewmine.process.steps import BatchStep
from reviewmine.process.summary import ProcessSummary

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

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
    engine: str = "local",
    scheduler: str | None = None,
    on_message: Callable[[str], None] | None = None,
    on_partition: Callable[[int, int], None] | None = None,
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
    on_progress : called with the number of rows of each batch read (local engine).
    engine : ``local`` (this machine) or ``dask`` (a Dask cluster, :mod:`reviewmine.engine`):
        same reviews; with ``dask`` the outputs are Parquet datasets (folders partitioned by
        store and app) under the same names, see :mod:`reviewmine.process.on_dask`.
    scheduler : Dask scheduler address (default ``$REVIEWMINE_DASK_SCHEDULER``, else a local
        cluster sized to this machine); ``engine="dask"`` only.
    on_message : receives the Dask dashboard link.
    on_partition : called with (tasks done, tasks in all) as Dask tasks finish.

    Example
    -------
    >>> summary = process("data", inputs=["reviews.csv"], column_map="app=app_name,at=date")
    ... # doctest: +SKIP
    >>> summary.reviews  # doctest: +SKIP
    41805
    """
    started = time.perf_counter()
    check_engine(engine, scheduler)
    data_dir = require_data_dir(data_dir)
    options = dict(inputs=inputs, column_map=column_map, mapping=mapping, include_raw=include_raw,
                   assume_tz=assume_tz, drop_imports=drop_imports, key_file=key_file,
                   batch_rows=batch_rows)
    if engine == "local":
        return _process(data_dir, options, started, on_progress)
    from reviewmine.engine import dask_client

    # connected before anything is written: an unreachable scheduler leaves no trace
    with dask_client(scheduler, on_message) as client:
        return _process(data_dir, options, started, on_progress, client, on_partition)


def _process(
    data_dir: Path, options: dict, started: float, on_progress: Callable[[int], None] | None,
    client: Client | None = None, on_partition: Callable[[int, int], None] | None = None,
) -> ProcessSummary:
    """:func:`process` on this machine, or on the cluster of ``client``."""
    plan = _plan(data_dir, **options)
    processed = data_dir / "processed"
    with write_errors(processed):
        processed.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-process-", dir=processed))
    summary = ProcessSummary(data_dir=str(data_dir), generation=plan.generation,
                             import_notes=plan.notes)
    try:
        if client is None:
            rejects, staging_path, decisions = _pass_one(plan, summary, tmp, on_progress)
            reviews, versions, tally = _pass_two(plan, summary, tmp, staging_path, decisions)
            rows = reviews.rows, versions.rows
            outputs = [writer.commit for writer in (reviews, versions, rejects)]
        else:
            from reviewmine.process.on_dask import process_on_dask

            rows, tally = process_on_dask(client, plan, summary, tmp, on_partition)
            outputs = [functools.partial(_replace_output, tmp / "out" / name, processed / name)
                       for name in (REVIEWS_FILE, VERSIONS_FILE, REJECTS_FILE)]
        if plan.imports_changed:
            plan.registry.save()  # before the outputs: a rerun after a crash rebuilds from the record
        for commit in outputs:
            commit()
        _fill_counts(summary, *rows, tally)
        _write_summary(summary, processed, started)
        return summary
    except OSError as exc:
        error = write_error(processed, exc)
        if error is None:
            raise
        raise error from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_output(new: Path, target: Path) -> None:
    """Move an output of the Dask engine (a dataset folder) over the previous one, a file
    of the local engine or a folder (a folder cannot replace a file in one rename)."""
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    os.replace(new, target)


@dataclass
class _Plan:
    """What a run reads and how: the checked options of :func:`process`."""

    processed: Path
    raw_files: list[Path]
    registry: ImportRegistry
    pseudonymise: Pseudonymiser
    assume_tz: str
    batch_rows: int
    notes: list[str]
    imports_changed: bool
    generation: str

    @property
    def stamp(self) -> dict[str, str]:
        """Key-value metadata of every output file."""
        return {GENERATION_KEY: self.generation}

    def batches(self) -> Iterable[tuple[Batch, str, str]]:
        """(batch, "raw" or "import", time zone of its naive times) over every input."""
        for path in self.raw_files:
            yield from ((b, "raw", self.assume_tz) for b in iter_raw_batches(path, self.batch_rows))
        for record in self.registry.active:
            yield from ((b, "import", record.assume_tz)
                        for b in self.registry.batches(record, self.batch_rows))


def _plan(
    data_dir: Path,
    inputs: Sequence[Path | str],
    column_map: str | dict | ColumnMap | None,
    mapping: Path | str | None,
    *,
    include_raw: bool,
    assume_tz: str,
    drop_imports: Sequence[str],
    key_file: Path | str | None,
    batch_rows: int,
) -> _Plan:
    """Check the options and the inputs, record new imports and drop the dropped ones."""
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
    return _Plan(
        processed=data_dir / "processed", raw_files=raw_files, registry=registry,
        pseudonymise=pseudonymise, assume_tz=assume_tz, batch_rows=batch_rows, notes=notes,
        imports_changed=bool(inputs or drop_imports),
        generation=f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
    )


def _pass_one(
    plan: _Plan, summary: ProcessSummary, tmp: Path, on_progress: Callable[[int], None] | None
) -> tuple[AtomicParquetWriter, Path, dedupe.Decisions]:
    """Check and normalise every batch into a staging file; resolve the key index.

    Returns the closed, uncommitted rejects writer, the staging file and the dedupe
    decisions. The index is resolved here so that it is freed before pass 2.
    """
    staging_path = tmp / "staging.parquet"
    staging = pq.ParquetWriter(staging_path, STAGING_SCHEMA, compression="lz4")
    rejects = AtomicParquetWriter(plan.processed / REJECTS_FILE, REJECTS_SCHEMA, tmp, plan.stamp)
    index = dedupe.KeyIndex()
    step = BatchStep(plan.pseudonymise, LanguageDetector(), summary)
    per_file: dict[str, dict] = {}
    for batch, kind, tz in plan.batches():
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
    return rejects, staging_path, decisions


def _pass_two(
    plan: _Plan, summary: ProcessSummary, tmp: Path, staging_path: Path,
    decisions: dedupe.Decisions,
) -> tuple[AtomicParquetWriter, AtomicParquetWriter, Counter]:
    """Stream the staging file into current reviews and earlier versions (closed, uncommitted)."""
    summary.merged_across_sources = decisions.merged_across_sources
    summary.edited_reviews = decisions.edited_reviews
    reviews = AtomicParquetWriter(plan.processed / REVIEWS_FILE, PROCESSED_SCHEMA, tmp, plan.stamp)
    versions = AtomicParquetWriter(plan.processed / VERSIONS_FILE, PROCESSED_SCHEMA, tmp, plan.stamp)
    tally = Counter()
    for record_batch in pq.ParquetFile(staging_path).iter_batches(batch_size=plan.batch_rows):
        current, previous, dropped = apply_decisions(record_batch, decisions, tally)
        reviews.write(current)
        versions.write(previous)
        summary.duplicates_collapsed += dropped
    for writer in (reviews, versions):
        writer.close()
    if reviews.rows == 0:
        log.warning("no review survived processing; see %s", plan.processed / REJECTS_FILE)
    return reviews, versions, tally


def _write_summary(summary: ProcessSummary, processed: Path, started: float) -> None:
    """Time the run and write ``process_summary.json``."""
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.rows_per_second = round(summary.rows_read / max(summary.seconds, 1e-9), 1)
    summary.outputs = {
        "reviews": str(processed / REVIEWS_FILE),
        "review_versions": str(processed / VERSIONS_FILE),
        "rejects": str(processed / REJECTS_FILE),
        "summary": str(processed / SUMMARY_FILE),
    }
    with write_atomic(processed / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    log.info(
        "processed %d rows into %d reviews in %.1f s",
        summary.rows_read, summary.reviews, summary.seconds,
    )
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

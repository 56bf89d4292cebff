"""``process`` on a Dask cluster: the same steps as the local engine, one partition per input
file, with the outputs as Parquet datasets partitioned by store and app.

1. **stage** (a task per input file): check, clean, redact, pseudonymise and key its rows
   (:class:`~reviewmine.process.steps.BatchStep`, as locally) into a staging file, its
   rejects into ``rejects.parquet/part-N.parquet``, and its key hashes into one bucket per
   store/app hash;
2. **resolve** (a task per bucket): the key index of each bucket resolved with
   :func:`~reviewmine.process.dedupe.resolve_keys` (versions and sightings never cross a
   store/app, and a bucket holds whole store/apps); copy-paste groups span apps, so their
   sizes are counted over every bucket with a Dask DataFrame group-by;
3. **write** (a task per input file): the decisions applied to its staged rows as the local
   engine's pass 2 does, current reviews into ``reviews.parquet/store=S/app=A/part-N.parquet``
   and earlier versions into ``review_versions.parquet/...``.

Rows keep their input order (input file, then row) inside every step, so ties resolve as
they do locally and both engines give the same table. Every task writes only files named
after its own partition or bucket, by rename: a task rerun after a worker died replaces its
files, so every review ends up exactly once. The workers must see ``DATA_DIR`` (a shared
filesystem); the outputs are staged in ``processed/.tmp-process-*`` and moved into place at
the end as the local engine does.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from reviewmine.process import dedupe
from reviewmine.process.decisions import (
    REJECTS_FILE,
    REVIEWS_FILE,
    STAGING_SCHEMA,
    VERSIONS_FILE,
    apply_decisions,
)
from reviewmine.process.imports import ImportRecord, ImportRegistry
from reviewmine.process.ingest import Batch, iter_raw_batches
from reviewmine.process.language import LanguageDetector
from reviewmine.process.privacy import Pseudonymiser
from reviewmine.process.schema import PROCESSED_SCHEMA, REJECTS_SCHEMA, validate
from reviewmine.process.steps import BatchStep
from reviewmine.process.summary import ProcessSummary

if TYPE_CHECKING:
    from distributed import Client

PARTITION_COLUMNS = ("store", "app")
_DECISION_COLUMNS = ("role", "version", "n_versions", "n_sightings", "first_fetched_at")
_SUMMARY_COUNTS = ("rows_rejected", "pseudonymised")
_SUMMARY_DICTS = ("rejected_by_reason", "kept_with_issues", "redactions")


@dataclass(frozen=True)
class Partition:
    """One input file: a collector file of ``raw/reviews`` or a recorded import."""

    index: int
    kind: str
    assume_tz: str
    batch_rows: int
    raw_file: Path | None = None
    registry: ImportRegistry | None = None
    record: ImportRecord | None = None

    def batches(self) -> Iterator[Batch]:
        if self.raw_file is not None:
            return iter_raw_batches(self.raw_file, self.batch_rows)
        return self.registry.batches(self.record, self.batch_rows)


def partitions(plan: Any) -> list[Partition]:
    """The partitions of a run (``plan``: the pipeline's checked options), in the order the
    local engine reads its inputs."""
    parts = [Partition(i, "raw", plan.assume_tz, plan.batch_rows, raw_file=path)
             for i, path in enumerate(plan.raw_files)]
    for record in plan.registry.active:
        parts.append(Partition(len(parts), "import", record.assume_tz, plan.batch_rows,
                               registry=plan.registry, record=record))
    return parts


def process_on_dask(
    client: Client, plan: Any, summary: ProcessSummary, tmp: Path,
    on_partition: Callable[[int, int], None] | None = None,
) -> tuple[tuple[int, int], Counter]:
    """Run the three steps into ``tmp`` (outputs in ``tmp/out``); fill ``summary``'s counts.

    Returns the rows of the current reviews and of the earlier versions, and the tally of
    the local engine's pass 2 (languages, spam, copy-paste counts).
    """
    from reviewmine.engine import run_partitions

    parts = partitions(plan)
    n_buckets = max(1, min(len(parts), 256))
    out = tmp / "out"
    for name in ("staging", "keys", "decisions", "out"):
        (tmp / name).mkdir()
    for name in (REVIEWS_FILE, VERSIONS_FILE):  # a dataset without rows is an empty folder
        (out / name).mkdir()
    stamp = plan.stamp
    total = 2 * len(parts) + n_buckets
    progress = _Progress(on_partition, total)
    staged = run_partitions(client, _stage, parts, plan.pseudonymise, str(tmp), n_buckets, stamp,
                            on_partition=progress)
    _gather_stage(summary, staged)
    buckets = sorted(int(p.name.removeprefix("bucket-")) for p in (tmp / "keys").iterdir())
    progress.skip(n_buckets - len(buckets))
    resolved = run_partitions(client, _resolve, buckets, str(tmp), on_partition=progress)
    summary.merged_across_sources = sum(r["merged_across_sources"] for r in resolved)
    summary.edited_reviews = sum(r["edited_reviews"] for r in resolved)
    _copy_groups(client, tmp)
    written = run_partitions(client, _write, [p.index for p in parts], str(tmp), stamp,
                             on_partition=progress)
    tally = Counter()
    for counts in written:
        tally.update(counts)
    summary.duplicates_collapsed = tally.pop("dropped", 0)
    remove_partials(out)
    return (tally.pop("reviews", 0), tally.pop("previous", 0)), tally


def remove_partials(folder: Path) -> None:
    """Delete the half-written files of tasks whose worker was killed (their reruns wrote
    the whole files); readers skip dot-files, but they should not ship with the outputs."""
    for partial in folder.rglob(".*.partial"):
        partial.unlink(missing_ok=True)


class _Progress:
    """``on_partition(done, total)`` over the tasks of all three steps."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, _done: int, _of: int) -> None:
        self.done += 1
        if self.callback:
            self.callback(self.done, self.total)

    def skip(self, n: int) -> None:
        for _ in range(n):
            self(0, 0)


def _gather_stage(summary: ProcessSummary, staged: list[dict]) -> None:
    """Add the partitions' counts of the stage step to ``summary``, in partition order."""
    for part in staged:
        summary.inputs.append(part["input"])
        for name in _SUMMARY_COUNTS:
            setattr(summary, name, getattr(summary, name) + part[name])
        for name in _SUMMARY_DICTS:
            into = getattr(summary, name)
            for key, value in part[name].items():
                into[key] = into.get(key, 0) + value
    summary.rows_read = sum(e["rows"] for e in summary.inputs)


@functools.lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    """One language detector per worker process (its model loads once, its cache is shared)."""
    return LanguageDetector()


def _replace_write(path: Path, table: pa.Table, **options) -> None:
    """Write ``table`` to ``path`` by rename, so a rerun of the task replaces it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    pq.write_table(table, partial, **options)
    os.replace(partial, path)


def _stage(part: Partition, pseudonymise: Pseudonymiser, tmp: str, n_buckets: int,
           stamp: dict[str, str]) -> dict:
    """Step 1 for one input file (runs on a worker)."""
    tmp_path = Path(tmp)
    counts = ProcessSummary(data_dir="")
    step = BatchStep(pseudonymise, _detector(), counts)
    staged_tables, rejected_tables, keys = [], [], []
    entry = {"file": None, "kind": part.kind, "rows": 0}
    row = 0
    for batch in part.batches():
        entry["file"] = batch.source_file
        entry["rows"] += batch.table.num_rows + len(batch.malformed)
        staged, rejected, batch_keys = step(batch, part.kind, part.assume_tz)
        rejected_tables.append(rejected)
        if staged.num_rows:
            rows = np.arange(row, row + staged.num_rows, dtype=np.int64)
            row += staged.num_rows
            staged_tables.append(staged.append_column("_row", pa.array(rows))
                                 .select(STAGING_SCHEMA.names).cast(STAGING_SCHEMA))
            keys.append(_key_table(part.index, rows, staged, batch_keys))
    name = f"part-{part.index:05d}.parquet"
    rejects = [t for t in rejected_tables if t.num_rows]
    rejects_table = pa.concat_tables(rejects) if rejects else REJECTS_SCHEMA.empty_table()
    _replace_write(tmp_path / "out" / REJECTS_FILE / name,
                   validate(rejects_table, REJECTS_SCHEMA).replace_schema_metadata(stamp))
    if staged_tables:
        _replace_write(tmp_path / "staging" / name, pa.concat_tables(staged_tables), compression="lz4")
        key_table = pa.concat_tables(keys)
        bucket = key_table.column("_bucket").to_numpy() % n_buckets
        for b in np.unique(bucket).tolist():
            _replace_write(tmp_path / "keys" / f"bucket-{b:04d}" / name,
                           key_table.filter(pa.array(bucket == b)).drop_columns(["_bucket"]))
    if entry["file"] is None:
        entry["file"] = str(part.raw_file or part.record.path)
    return {"input": entry, **{n: getattr(counts, n) for n in _SUMMARY_COUNTS + _SUMMARY_DICTS}}


def _key_table(part: int, rows: np.ndarray, staged: pa.Table, keys: dict) -> pa.Table:
    """The key hashes of one batch, with where each row is (partition, row) and its bucket."""
    store = staged.column("store").combine_chunks()
    app = staged.column("app").combine_chunks()
    group = pc.binary_join_element_wise(store, app, "\x1f")
    return pa.table({
        "part": pa.array(np.full(len(rows), part, dtype=np.int32)),
        "row": pa.array(rows),
        "key": pa.array(keys["key"], pa.uint64()),
        "has_id": pa.array(keys["has_id"], pa.bool_()),
        "content_key": pa.array(keys["content_key"], pa.uint64()),
        "content": pa.array(keys["content"], pa.uint64()),
        "fingerprint": pa.array(keys["fingerprint"], pa.uint64()),
        "app": app,
        "at": pa.array(keys["at"], pa.int64()),
        "fetched_at": pa.array(keys["fetched_at"], pa.int64()),
        # pandas' hash has a fixed key: the same bucket in every worker process
        "_bucket": pa.array(dedupe.fast_hash64(group), pa.uint64()),
    })


def _resolve(bucket: int, tmp: str) -> dict[str, int]:
    """Step 2 for one bucket (runs on a worker): its decisions, for the rows that are kept."""
    tmp_path = Path(tmp)
    table = ds.dataset(tmp_path / "keys" / f"bucket-{bucket:04d}", format="parquet").to_table()
    table = table.sort_by([("part", "ascending"), ("row", "ascending")])  # input order
    app_codes = pd.factorize(table.column("app").to_numpy(zero_copy_only=False))[0].astype(np.int32)

    def col(name: str) -> np.ndarray:
        return table.column(name).to_numpy()

    decisions = dedupe.resolve_keys(
        key=col("key").copy(), has_id=col("has_id"), content_key=col("content_key"),
        content=col("content"), fingerprint=col("fingerprint"), app=app_codes, at=col("at").copy(),
        fetched=col("fetched_at").copy(), copy_paste=False,
    )
    kept = np.flatnonzero(decisions.role != dedupe.ROLE_DUPLICATE)
    out = pa.table({
        "part": table.column("part").take(pa.array(kept)),
        "row": table.column("row").take(pa.array(kept)),
        "key": pa.array(decisions.key[kept], pa.uint64()),
        **{name: pa.array(getattr(decisions, name)[kept]) for name in _DECISION_COLUMNS},
        "fingerprint": table.column("fingerprint").take(pa.array(kept)),
        "app": table.column("app").take(pa.array(kept)),
    })
    # sorted by partition with small row groups, so each write task reads only its own rows
    _replace_write(tmp_path / "decisions" / f"bucket-{bucket:04d}.parquet", out,
                   row_group_size=65_536)
    return {"merged_across_sources": decisions.merged_across_sources,
            "edited_reviews": decisions.edited_reviews}


def _copy_groups(client: Client, tmp: Path) -> None:
    """Copy-paste groups across every app: per fingerprint of current reviews, the number of
    reviews and of distinct apps (a Dask DataFrame group-by over all buckets); groups of two
    or more go to ``tmp/copies.parquet``."""
    import dask.dataframe as dd

    path = tmp / "copies.parquet"
    files = sorted((tmp / "decisions").glob("bucket-*.parquet"))
    if not files:
        pq.write_table(pa.table({"fingerprint": pa.array([], pa.uint64()),
                                 "size": pa.array([], pa.int32()),
                                 "n_apps": pa.array([], pa.int32())}), path)
        return
    frame = dd.read_parquet([str(f) for f in files], columns=["fingerprint", "app", "role"])
    current = frame[(frame["role"] == dedupe.ROLE_CURRENT) & (frame["fingerprint"] != 0)]
    sizes = current.groupby("fingerprint").size()
    n_apps = current[["fingerprint", "app"]].drop_duplicates().groupby("fingerprint").size()
    sizes, n_apps = client.compute([sizes[sizes >= 2], n_apps], sync=True)
    copies = pd.DataFrame({"size": sizes}).join(n_apps.rename("n_apps"), how="left")
    copies = copies.rename_axis("fingerprint").reset_index()
    table = pa.table({
        "fingerprint": pa.array(copies["fingerprint"].to_numpy(np.uint64), pa.uint64()),
        "size": pa.array(copies["size"].to_numpy(np.int32), pa.int32()),
        "n_apps": pa.array(copies["n_apps"].to_numpy(np.int32), pa.int32()),
    })
    pq.write_table(table, path)


def _write(index: int, tmp: str, stamp: dict[str, str]) -> dict[str, int]:
    """Step 3 for one input file (runs on a worker): decisions applied, outputs written."""
    tmp_path = Path(tmp)
    name = f"part-{index:05d}.parquet"
    staging = tmp_path / "staging" / name
    if not staging.is_file():
        return {}
    staged = pq.ParquetFile(staging)
    decisions = _partition_decisions(tmp_path, index, staged.metadata.num_rows)
    tally: Counter = Counter()
    current, previous = [], []
    for batch in staged.iter_batches(batch_size=65_536):
        now, before, dropped = apply_decisions(batch, decisions, tally)
        current.append(now)
        previous.append(before)
        tally["dropped"] += dropped
    for file_name, tables, count in ((REVIEWS_FILE, current, "reviews"),
                                     (VERSIONS_FILE, previous, "previous")):
        table = validate(pa.concat_tables(tables), PROCESSED_SCHEMA)
        tally[count] += table.num_rows
        write_partitioned(table, tmp_path / "out" / file_name, name, stamp)
    return dict(tally)


def _partition_decisions(tmp: Path, index: int, n: int) -> dedupe.Decisions:
    """The decisions of one partition's ``n`` staged rows (rows not listed are duplicates)."""
    table = ds.dataset(tmp / "decisions", format="parquet").to_table(filter=ds.field("part") == index)
    rows = table.column("row").to_numpy()
    decisions = dedupe.Decisions.empty(n)
    decisions.key[rows] = table.column("key").to_numpy()
    for name in _DECISION_COLUMNS:
        getattr(decisions, name)[rows] = table.column(name).to_numpy()
    copies = pq.read_table(tmp / "copies.parquet").to_pandas().set_index("fingerprint")
    if len(copies):
        is_current = table.column("role").to_numpy() == dedupe.ROLE_CURRENT
        fingerprint = table.column("fingerprint").to_numpy()
        at = copies.index.get_indexer(fingerprint)
        hit = is_current & (at >= 0) & (fingerprint != 0)
        decisions.copy_group_size[rows[hit]] = copies["size"].to_numpy()[at[hit]]
        decisions.copy_n_apps[rows[hit]] = copies["n_apps"].to_numpy()[at[hit]]
    return decisions


def write_partitioned(table: pa.Table, dataset: Path, name: str, stamp: dict[str, str]) -> None:
    """Rows into ``dataset/store=S/app=A/name`` (Hive-style folders, by the partition columns
    the table has; they are left out of the files)."""
    if not table.num_rows:
        return
    columns = [c for c in PARTITION_COLUMNS if c in table.column_names]
    for group in table.group_by(columns).aggregate([]).to_pylist():
        mask = pc.equal(table.column(columns[0]), group[columns[0]])
        for column in columns[1:]:
            mask = pc.and_(mask, pc.equal(table.column(column), group[column]))
        rows = table.filter(mask).drop_columns(columns)
        folder = dataset.joinpath(*(f"{c}={group[c]}" for c in columns))
        _replace_write(folder / name, rows.replace_schema_metadata(stamp), compression="zstd",
                       row_group_size=128_000)

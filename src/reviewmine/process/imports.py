"""Imported review files, recorded so that ``process`` adds to what came before.

Each file passed to ``process --input`` is recorded in ``DATA_DIR/state/imports.json``
(path, SHA-256, size, rows, column mapping, ``--assume-tz``, time of import), and its rows,
already mapped onto the canonical review columns, are kept in
``DATA_DIR/raw/imports/<id>.parquet``: written once, never changed, like the collectors'
raw layer. ``process`` rebuilds the processed layer from the collected raw layer and every
recorded import, so a later import never drops an earlier one and a moved or deleted
original does not break a rebuild.

Re-importing the same content with the same settings changes nothing; a new version of an
already imported path (or the same content with another mapping or time zone) replaces the
older import. ``process --drop-import`` removes an import; its copy stays in
``raw/imports/`` (append-only) and the record moves to the ``dropped`` list.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reviewmine.errors import InputError
from reviewmine.io import file_sha256, write_atomic
from reviewmine.process.ingest import BATCH_ROWS, Batch, ColumnMap, iter_import_batches

STATE_FILE = "imports.json"
STATE_FORMAT = 1
MALFORMED = "_malformed"
"""Column of an import copy holding a malformed CSV line (other columns null on that row)."""


@dataclass
class ImportRecord:
    """One imported file, as recorded in ``state/imports.json``."""

    id: str
    path: str
    sha256: str
    bytes: int
    rows: int
    columns: dict[str, str]
    defaults: dict[str, str]
    mapping_file: str | None
    assume_tz: str
    imported_at: str
    copy: str
    dropped_at: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name

    def describe(self) -> str:
        """``reviews.csv (/abs/reviews.csv, sha256 1a2b3c4d5e6f, 1,234 rows, imported ...)``."""
        return (
            f"{self.name} ({self.path}, sha256 {self.sha256[:12]}, {self.rows:,} rows, "
            f"imported {self.imported_at})"
        )


def import_id(sha256: str, column_map: ColumnMap) -> str:
    """Id of an import: its content and the mapping that made its canonical rows."""
    key = json.dumps([sha256, column_map.columns, column_map.defaults], sort_keys=True)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class ImportRegistry:
    """The recorded imports of one data directory (``DATA_DIR/state/imports.json``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "state" / STATE_FILE
        self.active: list[ImportRecord] = []
        self.dropped: list[ImportRecord] = []
        if self.path.exists():
            try:
                state = json.loads(self.path.read_text(encoding="utf-8"))
                self.active = [ImportRecord(**r) for r in state["imports"]]
                self.dropped = [ImportRecord(**r) for r in state.get("dropped", [])]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{self.path}: not a readable import record ({exc.__class__.__name__}); "
                    "restore it from a backup, or delete it and re-import your files with --input"
                ) from None

    def save(self) -> None:
        state = {
            "format": STATE_FORMAT,
            "imports": [asdict(r) for r in self.active],
            "dropped": [asdict(r) for r in self.dropped],
        }
        with write_atomic(self.path) as tmp:
            tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    def drop(self, selector: str) -> ImportRecord:
        """Remove the import whose file name, path, SHA-256 prefix or id is ``selector``."""
        resolved = str(Path(selector).expanduser().resolve())
        matches = [
            r for r in self.active
            if selector in (r.name, r.path, r.id) or resolved == r.path
            or (len(selector) >= 6 and r.sha256.startswith(selector.lower()))
        ]
        if not matches:
            known = "; ".join(f"{r.name} (sha256 {r.sha256[:12]})" for r in self.active) or "none"
            raise InputError(
                f"--drop-import {selector}: no recorded import matches; recorded imports: {known}"
            )
        if len(matches) > 1:
            which = "; ".join(f"{r.path} (sha256 {r.sha256[:12]})" for r in matches)
            raise InputError(
                f"--drop-import {selector}: matches {len(matches)} imports ({which}); "
                "pass the full path or a SHA-256 prefix"
            )
        record = matches[0]
        self.active.remove(record)
        record.dropped_at = _now()
        self.dropped.append(record)
        return record

    def add(
        self, path: Path, column_map: ColumnMap, mapping_file: Path | None, assume_tz: str,
        batch_rows: int = BATCH_ROWS,
    ) -> str:
        """Record ``path`` (copying its canonical rows) and return what happened, in words."""
        path = Path(path)
        resolved = str(path.resolve())
        sha256 = file_sha256(path)
        new_id = import_id(sha256, column_map)
        for record in self.active:
            if record.id == new_id and record.assume_tz == assume_tz:
                return (
                    f"{path}: already imported (same content as {record.describe()}); "
                    "nothing new to import"
                )
        copy = Path("raw") / "imports" / f"{new_id}.parquet"
        rows = _write_copy(path, column_map, self.data_dir / copy, batch_rows)
        record = ImportRecord(
            id=new_id, path=resolved, sha256=sha256, bytes=path.stat().st_size, rows=rows,
            columns=dict(column_map.columns), defaults=dict(column_map.defaults),
            mapping_file=str(Path(mapping_file).resolve()) if mapping_file else None,
            assume_tz=assume_tz, imported_at=_now(), copy=str(copy),
        )
        replaced = [r for r in self.active if r.path == resolved or r.sha256 == sha256]
        for old in replaced:
            self.active.remove(old)
            old.dropped_at = record.imported_at
            self.dropped.append(old)
        self.active.append(record)
        message = f"{path}: imported {rows:,} rows (sha256 {sha256[:12]})"
        if replaced:
            message += "; replaces the earlier import of " + "; ".join(r.describe() for r in replaced)
        return message

    def batches(self, record: ImportRecord, batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
        """The recorded rows of an import as batches named after the original file."""
        copy = self.data_dir / record.copy
        if not copy.is_file():
            raise InputError(
                f"{copy}: the kept copy of import {record.path} is missing; re-import the file "
                f"with --input, or drop it with --drop-import {record.sha256[:12]}"
            )
        row = 1
        for record_batch in pq.ParquetFile(copy).iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([record_batch])
            bad = pc.is_valid(table.column(MALFORMED))
            malformed = table.column(MALFORMED).filter(bad).to_pylist()
            good = table.filter(pc.invert(bad)).drop_columns([MALFORMED])
            yield Batch(good, record.path, row, malformed)
            row += good.num_rows


def _write_copy(path: Path, column_map: ColumnMap, copy: Path, batch_rows: int) -> int:
    """Write the canonical rows of ``path`` (malformed lines as ``_malformed`` rows) to
    ``copy`` once; an existing copy is the same rows (its name is content + mapping)."""
    if copy.is_file():
        return pq.ParquetFile(copy).metadata.num_rows
    copy.parent.mkdir(parents=True, exist_ok=True)
    tmp = copy.with_name(f".{copy.name}.partial")
    writer = None
    rows = 0
    try:
        for batch in iter_import_batches(path, column_map, batch_rows):
            table = batch.table.append_column(MALFORMED, pa.nulls(batch.table.num_rows, pa.string()))
            if batch.malformed:
                lines = pa.table({MALFORMED: pa.array(batch.malformed, pa.string())})
                table = pa.concat_tables([table, lines], promote_options="default")
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table.select(writer.schema.names).cast(writer.schema))
            rows += table.num_rows
        if writer is None:
            raise InputError(f"{path}: no rows")
        writer.close()
        os.replace(tmp, copy)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return rows


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

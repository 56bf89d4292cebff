"""Arrow schemas of the processed layer, validation and atomic writes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from reviewmine.schema import UTC_TS

PROCESSED_FIELDS: list[tuple[pa.Field, str]] = [
    (pa.field("review_key", pa.string(), nullable=False),
     "Unique id of the review (16 hex chars): stable hash of store, app and review_id."),
    (pa.field("store", pa.string(), nullable=False), "`google_play` or `app_store`."),
    (pa.field("store_inferred", pa.bool_(), nullable=False),
     "True when the source only guessed the store (e.g. `app_store (inferred)`)."),
    (pa.field("app", pa.string(), nullable=False), "App slug (catalog slug, or the slugified app name of an import)."),
    (pa.field("review_id", pa.string(), nullable=False),
     "The store's review id; for reviews without one, `ck_` + a content key (store, app, text, day)."),
    (pa.field("review_id_kind", pa.string(), nullable=False), "`store` (id from the store) or `content` (content key)."),
    (pa.field("rating", pa.int8()), "Stars 1-5; null when missing or invalid in the source."),
    (pa.field("title", pa.string()), "Review title (App Store), normalised and redacted."),
    (pa.field("text", pa.string(), nullable=False),
     "Review text: Unicode repaired, HTML entities decoded, control characters removed, whitespace tidied, emoji kept, contact details and the reviewer's name redacted."),
    (pa.field("text_noemoji", pa.string(), nullable=False), "`text` without emoji."),
    (pa.field("n_emoji", pa.int32(), nullable=False), "Number of emoji in `text`."),
    (pa.field("text_chars", pa.int32(), nullable=False), "Length of `text` in characters."),
    (pa.field("text_truncated", pa.bool_(), nullable=False), "True when the source text was longer than 20,000 characters and was cut."),
    (pa.field("n_redactions", pa.int32(), nullable=False),
     "Number of placeholders ([EMAIL] [URL] [PHONE] [HANDLE] [NAME]) put into title, text and reply."),
    (pa.field("at", UTC_TS), "Review time in UTC (source offsets respected; times without an offset read as UTC)."),
    (pa.field("month", pa.string()), "Review month `YYYY-MM` (UTC)."),
    (pa.field("app_version", pa.string()), "App version at review time as dotted numbers (`11.46.2`)."),
    (pa.field("version_major_minor", pa.string()), "`major.minor` of the app version (`11.46`), for trends by version."),
    (pa.field("version_major", pa.int32()), "Major version number (for numeric sorting)."),
    (pa.field("version_minor", pa.int32()), "Minor version number (for numeric sorting)."),
    (pa.field("language", pa.string()), "Detected language, ISO 639-1; null for texts without letters."),
    (pa.field("language_confidence", pa.float32(), nullable=False), "Confidence of the detected language (0-1)."),
    (pa.field("language_method", pa.string(), nullable=False),
     "`rule` (English stop-word rule), `langid` (py3langid) or `none` (no letters)."),
    (pa.field("is_english", pa.bool_(), nullable=False), "`language == 'en'`."),
    (pa.field("store_language", pa.string()), "Language the collector asked the store for (not the review's language)."),
    (pa.field("country", pa.string()), "Storefront country (lower-case ISO 3166 alpha-2) where known."),
    (pa.field("thumbs_up", pa.int64()), "Helpful votes (Google Play)."),
    (pa.field("developer_reply", pa.string()), "Developer's reply, normalised and redacted (the reviewer's name too)."),
    (pa.field("developer_reply_at", UTC_TS), "Time of the developer's reply, UTC."),
    (pa.field("reviewer_pseudonym", pa.string()),
     "`rv_` + keyed hash (HMAC-SHA256) of store and reviewer name; null when the source had no name."),
    (pa.field("version", pa.int16(), nullable=False), "Edit history number of this row: 1 = first text seen."),
    (pa.field("is_current", pa.bool_(), nullable=False), "True for the latest version of the review."),
    (pa.field("n_versions", pa.int16(), nullable=False), "Number of distinct versions (edits) seen."),
    (pa.field("n_sightings", pa.int32(), nullable=False),
     "How many input rows (runs, storefronts, sources) showed this version."),
    (pa.field("is_copy_paste", pa.bool_(), nullable=False),
     "Same text (ignoring case, punctuation, emoji) as another current review of 6+ words."),
    (pa.field("copy_group_size", pa.int32(), nullable=False), "Number of current reviews sharing this text (1 = unique)."),
    (pa.field("copy_n_apps", pa.int32(), nullable=False), "Number of apps whose reviews share this text."),
    (pa.field("is_spam", pa.bool_(), nullable=False), "Flagged as spam; see `spam_reason`. Kept, never dropped."),
    (pa.field("spam_reason", pa.string()),
     "`repetitive` (degenerate text), `cross_app_copy` (same text in 3+ apps), `copied_link` (copy-paste with a link or contact)."),
    (pa.field("source", pa.string()), "Where the row came from (collector name, or `import:<file>` / the mapped source column)."),
    (pa.field("run_id", pa.string()), "Collection run id of the latest sighting."),
    (pa.field("fetched_at", UTC_TS), "When the latest sighting was fetched, UTC."),
    (pa.field("first_fetched_at", UTC_TS), "When this version was first fetched, UTC."),
]
PROCESSED_SCHEMA = pa.schema([f for f, _ in PROCESSED_FIELDS])
"""Schema of ``reviews.parquet`` and ``review_versions.parquet``."""

GENERATION_KEY = "reviewmine.generation"
"""Parquet key-value metadata: the id of the ``process`` run that wrote a file (and, in the
analyze outputs, of the processed reviews they were made from)."""

REJECTS_FIELDS: list[tuple[pa.Field, str]] = [
    (pa.field("source_file", pa.string(), nullable=False), "Input file."),
    (pa.field("row", pa.int64()), "Row number in the file (1 = first data row; null for malformed CSV lines)."),
    (pa.field("review_id", pa.string()), "The row's review id, if any."),
    (pa.field("action", pa.string(), nullable=False), "`rejected` (row not in the output) or `kept` (row kept, a value set to null or cut)."),
    (pa.field("reason", pa.string(), nullable=False), "What was wrong."),
    (pa.field("preview", pa.string()), "First 200 characters of the row's text (redacted) or of the malformed line."),
]
REJECTS_SCHEMA = pa.schema([f for f, _ in REJECTS_FIELDS])


class SchemaError(ValueError):
    """A table does not match the processed schema (a bug, not a user error)."""


def validate(table: pa.Table, schema: pa.Schema = PROCESSED_SCHEMA) -> pa.Table:
    """Cast ``table`` to ``schema`` (columns in order) and check non-null columns."""
    missing = [n for n in schema.names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in schema.names]
    if missing or extra:
        raise SchemaError(f"columns missing {missing}, unexpected {extra}")
    table = table.select(schema.names)
    try:
        table = table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(str(exc)) from exc
    for schema_field in schema:
        if not schema_field.nullable and table.column(schema_field.name).null_count:
            raise SchemaError(f"column {schema_field.name} has nulls")
    return table


class AtomicParquetWriter:
    """Write a Parquet file in batches to ``PATH.tmp-*`` and rename it into place on ``commit``;
    ``metadata`` goes into the file's key-value metadata."""

    def __init__(
        self, path: Path, schema: pa.Schema, tmp_dir: Path, metadata: dict[str, str] | None = None
    ) -> None:
        self.path = Path(path)
        self.schema = schema.with_metadata(metadata) if metadata else schema
        self.tmp_path = Path(tmp_dir) / (self.path.name + ".partial")
        self._writer = pq.ParquetWriter(self.tmp_path, self.schema, compression="zstd")
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(validate(table, self.schema), row_group_size=128_000)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()

    def commit(self) -> None:
        if self.path.is_dir():  # the dataset folder a ``--engine dask`` run wrote
            shutil.rmtree(self.path)
        os.replace(self.tmp_path, self.path)


def _field_table(fields) -> list[str]:
    """Markdown table rows for ``(pyarrow field, meaning)`` pairs."""
    rows = ["| column | type | nullable | meaning |", "|---|---|---|---|"]
    return rows + [f"| `{f.name}` | {f.type} | {'yes' if f.nullable else 'no'} | {meaning} |" for f, meaning in fields]


def data_dictionary_markdown() -> str:
    """The data dictionary of the processed layer (``docs/data-dictionary-processed.md``)."""
    lines = [
        "# Data dictionary: processed layer",
        "",
        "Written by `reviewmine process` (Python: `reviewmine.process.process`). Generated from",
        "`reviewmine.process.schema`; regenerate with",
        "`python -c 'from reviewmine.process.schema import data_dictionary_markdown as d; print(d())'`.",
        "",
        "## `processed/reviews.parquet` and `processed/review_versions.parquet`",
        "",
        "`reviews.parquet` holds one row per review: its current (latest) version, `is_current` = true.",
        "`review_versions.parquet` holds the earlier versions of edited reviews (`is_current` = false),",
        "same columns. Read both with `reviewmine.process.read_reviews(data_dir, versions=True)`.",
        "",
        *_field_table(PROCESSED_FIELDS),
        "",
        "## `processed/rejects.parquet`",
        "",
        "One row per input row that was rejected, or kept with a value set to null or cut.",
        "",
        *_field_table(REJECTS_FIELDS),
    ]
    lines += [
        "",
        "## Files or Parquet datasets: `--engine local` and `--engine dask`",
        "",
        "The local engine (the default) writes each output above as one Parquet file. The Dask",
        "engine (`reviewmine process --engine dask`, see `docs/scale.md`) writes the same rows",
        "under the same names as Parquet *datasets*: folders partitioned Hive-style by store and",
        "app, one file per input partition (`part-NNNNN.parquet`), e.g.",
        "`processed/reviews.parquet/store=google_play/app=calm/part-00003.parquet`. `store` and",
        "`app` are then in the folder names, not in the files; every file carries the run's",
        "`reviewmine.generation`. `rejects.parquet` is a folder of `part-NNNNN.parquet` files, not",
        "partitioned. Whichever engine ran last owns the name: a run of the other engine replaces",
        "the file by the folder or the folder by the file. Read either form the same way:",
        "`reviewmine.process.read_reviews(data_dir)`, `pandas.read_parquet(path)`,",
        "`pyarrow.dataset.dataset(path, partitioning=\"hive\")`, DuckDB",
        "`read_parquet('PATH/**/*.parquet', hive_partitioning = true)`, Polars",
        "`pl.scan_parquet('PATH/**/*.parquet', hive_partitioning=True)` (pandas and pyarrow read",
        "`store`/`app` of a folder as categorical/dictionary columns; cast them to text if needed).",
    ]
    lines += [
        "",
        "## `processed/process_summary.json`",
        "",
        "Counts of the last run: rows read per input, rejected and kept-with-issues rows by",
        "reason, duplicates collapsed, edited reviews, copy-paste and spam flags, languages,",
        "redactions by kind, throughput; the run's `generation` id (also in the key-value",
        "metadata of the Parquet files, key `reviewmine.generation`) and `import_notes` (what",
        "happened to each `--input` file). See `ProcessSummary` in `reviewmine.process.pipeline`.",
        "",
    ]
    return "\n".join(lines)

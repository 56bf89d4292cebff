"""Reading reviews into batches with the canonical column names of ``REVIEW_SCHEMA``.

Two kinds of input: the collectors' raw layer (``DATA_DIR/raw/reviews/**.parquet``,
already in ``REVIEW_SCHEMA``) and imported CSV/Parquet files whose columns are mapped
onto the canonical names (``--map text=content,at=date`` or a YAML mapping file).
File-level problems raise :class:`~reviewmine.errors.InputError` before anything is
written; row-level problems are left to the caller, which keeps or rejects each row.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reviewmine.errors import InputError
from reviewmine.io import require_file
from reviewmine.schema import REVIEW_COLUMNS

BATCH_ROWS = 100_000

# Column names used by common scrapers (google-play-scraper, app-store-scraper, Kaggle
# dumps) and by reviews_dev.csv; used only when neither the file nor the mapping has the
# canonical name.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "review_id": ("reviewId", "id"),
    "text": ("content", "review", "body"),
    "rating": ("score", "stars"),
    "at": ("date", "time", "timestamp", "updated"),
    "app": ("app_name", "appName", "app_slug"),
    "app_version": ("reviewCreatedVersion", "appVersion", "version"),
    "thumbs_up": ("thumbsUpCount", "helpful"),
    "reviewer_name": ("userName", "user_name", "author"),
    "developer_reply": ("replyContent", "reply"),
    "developer_reply_at": ("repliedAt",),
}
REQUIRED = ("store", "app")
TEXT_COLUMNS = ("text", "title")


@dataclass(frozen=True)
class ColumnMap:
    """Which source column feeds each canonical column, and constants for absent ones.

    >>> ColumnMap.parse("text=content, at=date").columns
    {'text': 'content', 'at': 'date'}
    """

    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | Mapping[str, str] | None) -> ColumnMap:
        """From ``"k=v,k2=v2"`` (the ``--map`` option) or a dict."""
        if not spec:
            return cls()
        if isinstance(spec, Mapping):
            pairs = list(spec.items())
        else:
            pairs = []
            for item in spec.split(","):
                if not item.strip():
                    continue
                if "=" not in item:
                    raise InputError(
                        f"--map: '{item.strip()}' is not COLUMN=SOURCE_COLUMN (e.g. text=content)"
                    )
                key, value = item.split("=", 1)
                pairs.append((key.strip(), value.strip()))
        columns = {}
        for key, value in pairs:
            if key not in REVIEW_COLUMNS:
                raise InputError(
                    f"--map: '{key}' is not a review column; use one of {', '.join(REVIEW_COLUMNS)}"
                )
            columns[key] = str(value)
        return cls(columns=columns)

    @classmethod
    def from_yaml(cls, path: Path) -> ColumnMap:
        """A YAML file: ``columns: {text: content, ...}`` and ``defaults: {store: google_play}``
        (a flat ``{text: content}`` mapping is read as ``columns``)."""
        import yaml

        path = Path(path)
        if path.is_dir():
            raise InputError(f"{path}: is a directory; pass a YAML mapping file")
        if not path.is_file():
            raise InputError(f"{path}: mapping file not found; check the --mapping path")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a readable YAML mapping ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: a mapping file is a YAML mapping of column names")
        if "columns" in data or "defaults" in data:
            columns, defaults = data.get("columns") or {}, data.get("defaults") or {}
        else:
            columns, defaults = data, {}
        for key, value in (("columns", columns), ("defaults", defaults)):
            if not isinstance(value, dict):
                raise InputError(
                    f"{path}: '{key}' is a {type(value).__name__}, not a mapping; write it as "
                    f"'{key}:' followed by indented lines such as 'text: content'"
                )
        parsed = cls.parse({str(k): str(v) for k, v in columns.items()})
        for key in defaults:
            if key not in REVIEW_COLUMNS:
                raise InputError(f"{path}: default for unknown column '{key}'")
        return cls(parsed.columns, {str(k): str(v) for k, v in defaults.items()})

    def merged(self, other: ColumnMap) -> ColumnMap:
        """This mapping with ``other``'s entries taking precedence."""
        return ColumnMap({**self.columns, **other.columns}, {**self.defaults, **other.defaults})

    def resolve(self, path: Path, available: list[str]) -> dict[str, str]:
        """Canonical column -> source column for one file; raises InputError on gaps."""
        resolved: dict[str, str] = {}
        for canonical, source in self.columns.items():
            if source not in available:
                raise InputError(
                    f"{path}: column '{source}' (mapped to {canonical}) not found; "
                    f"columns are: {', '.join(available)}"
                )
            resolved[canonical] = source
        taken = set(resolved.values())
        for canonical in REVIEW_COLUMNS:
            if canonical in resolved:
                continue
            if canonical in available and canonical not in taken:
                resolved[canonical] = canonical
                continue
            for alias in COLUMN_ALIASES.get(canonical, ()):
                if alias in available and alias not in taken:
                    resolved[canonical] = alias
                    break
        for canonical in REQUIRED:
            if canonical not in resolved and canonical not in self.defaults:
                raise InputError(
                    f"{path}: no column for '{canonical}'; map one with --map {canonical}=COLUMN "
                    f"(columns are: {', '.join(available)})"
                )
        if not any(c in resolved for c in TEXT_COLUMNS):
            raise InputError(
                f"{path}: no review text column; map one with --map text=COLUMN "
                f"(columns are: {', '.join(available)})"
            )
        return resolved


@dataclass
class Batch:
    """Rows from one input file with canonical column names (types as found)."""

    table: pa.Table
    source_file: str
    first_row: int
    malformed: list[str] = field(default_factory=list)
    """Raw text of malformed CSV lines met while reading this batch (already skipped)."""


def raw_review_files(data_dir: Path) -> list[Path]:
    """The collectors' Parquet files, in a stable order."""
    return sorted((Path(data_dir) / "raw" / "reviews").rglob("*.parquet"))


def check_input(path: Path, column_map: ColumnMap) -> dict[str, str]:
    """Open an import file far enough to fail early with a one-line InputError."""
    path = require_file(path, "review files with --input FILE")
    if _is_parquet(path):
        schema = _parquet_file(path).schema_arrow
        if _parquet_file(path).metadata.num_rows == 0:
            raise InputError(f"{path}: no rows")
        return column_map.resolve(path, schema.names)
    header = _csv_header(path)
    return column_map.resolve(path, header)


def iter_import_batches(
    path: Path, column_map: ColumnMap, batch_rows: int = BATCH_ROWS
) -> Iterator[Batch]:
    """Batches of an imported CSV or Parquet file, columns renamed to canonical names."""
    path = Path(path)
    resolved = check_input(path, column_map)
    if _is_parquet(path):
        yield from _parquet_batches(path, resolved, column_map.defaults, batch_rows)
    else:
        yield from _csv_batches(path, resolved, column_map.defaults, batch_rows)


def iter_raw_batches(path: Path, batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
    """Batches of one collector file (``REVIEW_SCHEMA``; unknown columns are dropped)."""
    pf = _parquet_file(path)
    resolved = {c: c for c in REVIEW_COLUMNS if c in pf.schema_arrow.names}
    missing = [c for c in (*REQUIRED, "review_id") if c not in resolved]
    if missing:
        raise InputError(f"{path}: raw review file without column(s) {', '.join(missing)}")
    yield from _parquet_batches(path, resolved, {}, batch_rows)


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


def _parquet_batches(
    path: Path, resolved: dict[str, str], defaults: dict[str, str], batch_rows: int
) -> Iterator[Batch]:
    pf = _parquet_file(path)
    sources = sorted(set(resolved.values()))
    row = 1
    try:
        for record_batch in pf.iter_batches(batch_size=batch_rows, columns=sources):
            table = pa.Table.from_batches([record_batch])
            yield Batch(_canonical(table, resolved, defaults), str(path), row)
            row += table.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: damaged Parquet file ({_first_line(exc)})") from None


def _csv_header(path: Path) -> list[str]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), None)
            if header is not None and next(fh, None) is None:
                raise InputError(f"{path}: no data rows below the header")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; re-save it as UTF-8 (CSV UTF-8 in Excel)") from None
    except csv.Error as exc:
        raise InputError(f"{path}: unreadable CSV header ({exc})") from None
    if not header or not any(h.strip() for h in header):
        raise InputError(f"{path}: empty file (no CSV header)")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"{path}: repeated column name(s) {', '.join(dupes)}")
    return header


def _csv_batches(
    path: Path, resolved: dict[str, str], defaults: dict[str, str], batch_rows: int
) -> Iterator[Batch]:
    header = _csv_header(path)
    sources = sorted(set(resolved.values()))
    malformed: list[str] = []

    def on_invalid(row) -> str:
        malformed.append(row.text)
        return "skip"

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    read_options = pacsv.ReadOptions(block_size=max(1 << 20, batch_rows * 200), use_threads=True)
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        include_columns=sources,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    row = 1
    try:
        reader = pacsv.open_csv(
            path, read_options=read_options, parse_options=parse_options,
            convert_options=convert_options,
        )
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch])
            yield Batch(_canonical(table, resolved, defaults), str(path), row, malformed[:])
            malformed.clear()
            row += table.num_rows
    except pa.ArrowInvalid as exc:
        message = _first_line(exc)
        if "UTF8" in message or "UTF-8" in message:
            raise InputError(
                f"{path}: not UTF-8 text; re-save it as UTF-8 (CSV UTF-8 in Excel)"
            ) from None
        raise InputError(f"{path}: unreadable CSV ({message})") from None
    if malformed:
        yield Batch(_canonical(_empty(sources), resolved, defaults), str(path), row, malformed[:])


def _empty(columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})


def _canonical(table: pa.Table, resolved: dict[str, str], defaults: dict[str, str]) -> pa.Table:
    """Rename/copy source columns to canonical names; constants fill unmapped columns."""
    columns, names = [], []
    for canonical in REVIEW_COLUMNS:
        if canonical in resolved:
            columns.append(table.column(resolved[canonical]))
        elif canonical in defaults:
            columns.append(pa.array([defaults[canonical]] * table.num_rows, pa.string()))
        else:
            continue
        names.append(canonical)
    return pa.Table.from_arrays(columns, names=names)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__

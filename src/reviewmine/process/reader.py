"""Reading and exporting the processed layer."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from reviewmine.errors import InputError
from reviewmine.io import (
    file_sha256,
    refuse_overwrite,
    require_data_dir,
    stage_dirs,
    write_atomic,
    write_frame,
)
from reviewmine.process.language import LANGUAGES
from reviewmine.process.schema import GENERATION_KEY
from reviewmine.schema import STORES

EXPORT_FORMATS = ("csv", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575


def reviews_dataset(path: Path) -> ds.Dataset:
    """A file or a directory partitioned by store/app (``store=google_play/app=calm``)."""
    with damaged_parquet(path):
        return ds.dataset(path, format="parquet", partitioning=partitioning(path))


def partitioning(path: Path) -> ds.Partitioning | None:
    """How to read the folders of a dataset ``path`` (``None`` for a file): Hive-style
    ``store=``/``app=`` folders, read as text (an app slug of digits stays a string)."""
    if not path.is_dir():
        return None
    first = next(path.rglob("*.parquet"), None)
    keys = [p.split("=", 1)[0] for p in first.relative_to(path).parts[:-1]] if first else []
    return ds.partitioning(pa.schema([(key, pa.string()) for key in keys]), flavor="hive")


@contextmanager
def damaged_parquet(path: Path):
    """Turn Arrow's errors on reading a damaged Parquet file into one ``InputError`` line."""
    try:
        yield
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a system error (permissions, I/O), not a damaged file
        raise InputError(
            f"{path}: damaged or not a Parquet file; rebuild it with 'reviewmine process'"
        ) from exc


def reviews_path(data_dir: Path | str, versions: bool = False) -> Path:
    """Where ``process`` writes the current reviews (or the earlier versions)."""
    name = "review_versions.parquet" if versions else "reviews.parquet"
    return Path(data_dir) / "processed" / name


def reviews_generation(data_dir: Path | str) -> str:
    """The generation of the processed reviews: the id ``process`` wrote into
    ``reviews.parquet``, or ``sha256:...`` of the file(s) for one written another way.

    Reads only the Parquet footer when the id is there, so it is cheap at any size.
    """
    path = reviews_path(data_dir)
    if path.is_file():
        with damaged_parquet(path):
            metadata = pq.read_schema(path).metadata or {}
        found = metadata.get(GENERATION_KEY.encode())
        return found.decode() if found else "sha256:" + file_sha256(path)
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if files:  # every file of a ``--engine dask`` run carries its generation
            with damaged_parquet(files[0]):
                found = (pq.read_schema(files[0]).metadata or {}).get(GENERATION_KEY.encode())
            if found:
                return found.decode()
        return "sha256:" + file_sha256(path)
    raise InputError(f"{path}: not found; run `reviewmine process --data-dir {data_dir}` first")


def review_filter(
    app: str | list[str] | None = None,
    store: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    min_rating: int | None = None,
    max_rating: int | None = None,
    language: str | None = None,
    english_only: bool = False,
    exclude_spam: bool = False,
) -> ds.Expression | None:
    """A pyarrow filter expression for :func:`read_reviews`.

    ``since``/``until`` are inclusive dates (``until="2024-03-31"`` includes that whole day).
    """
    if min_rating is not None and max_rating is not None and min_rating > max_rating:
        raise InputError(f"--min-rating {min_rating} is above --max-rating {max_rating}")
    if store and store not in STORES:
        raise InputError(f"--store {store!r}: unknown store; use one of {', '.join(STORES)}")
    check_language("--language", language)
    if since and until and _timestamp(since, "--since").as_py() > _timestamp(until, "--until").as_py():
        raise InputError(f"--since {since} is after --until {until}; swap them or widen the range")
    parts = []
    if app:
        apps = [app] if isinstance(app, str) else list(app)
        parts.append(ds.field("app").isin(apps))
    if store:
        parts.append(ds.field("store") == store)
    if since:
        parts.append(ds.field("at") >= _timestamp(since, "--since"))
    if until:
        end = _timestamp(until, "--until")
        if isinstance(until, str) and len(until) <= 10 or isinstance(until, date) and not isinstance(until, datetime):
            end = end + pd.Timedelta(days=1)
            parts.append(ds.field("at") < end)
        else:
            parts.append(ds.field("at") <= end)
    if min_rating is not None:
        parts.append(ds.field("rating") >= min_rating)
    if max_rating is not None:
        parts.append(ds.field("rating") <= max_rating)
    if language:
        parts.append(ds.field("language") == language)
    if english_only:
        parts.append(ds.field("is_english"))
    if exclude_spam:
        parts.append(~ds.field("is_spam"))
    if not parts:
        return None
    expression = parts[0]
    for part in parts[1:]:
        expression = expression & part
    return expression


def check_language(option: str, code: str | None) -> None:
    """One ``InputError`` line unless ``code`` (``None``: not given) is a language the
    detector can give, so a filter on it can match."""
    if code is not None and code not in LANGUAGES:
        raise InputError(
            f"{option} {code!r}: not a language the detector knows; use a lower-case ISO 639-1 "
            "code such as en, de or es"
        )


def _timestamp(value, option: str) -> pa.Scalar:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{option} {value!r}: not a date; use YYYY-MM-DD") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return pa.scalar(stamp.to_pydatetime(), pa.timestamp("us", tz="UTC"))


def read_reviews(
    data_dir: Path | str,
    columns: list[str] | None = None,
    filters: ds.Expression | None = None,
    *,
    versions: bool = False,
    **filter_options,
) -> pd.DataFrame:
    """The processed reviews as a DataFrame (one file or a store/app-partitioned dataset).

    ``filter_options`` are those of :func:`review_filter` (``app``, ``store``, ``since``,
    ``until``, ``min_rating``, ``max_rating``, ``language``, ``english_only``,
    ``exclude_spam``); ``filters`` is any pyarrow expression. ``versions=True`` adds the
    earlier versions of edited reviews (``is_current`` tells them apart).

    >>> df = read_reviews("data", columns=["app", "text"], app="calm", english_only=True)
    ... # doctest: +SKIP
    """
    return read_reviews_table(data_dir, columns, filters, versions=versions, **filter_options).to_pandas()


def read_reviews_table(
    data_dir: Path | str,
    columns: list[str] | None = None,
    filters: ds.Expression | None = None,
    *,
    versions: bool = False,
    **filter_options,
) -> pa.Table:
    """Like :func:`read_reviews`, as an Arrow table."""
    path = reviews_path(require_data_dir(data_dir))
    if not path.exists():
        raise InputError(
            f"{path}: not found; run `reviewmine process --data-dir {data_dir}` first"
        )
    if filter_options.get("app"):
        filter_options["app"] = resolve_apps(path, filter_options["app"])
    expression = review_filter(**filter_options)
    if filters is not None:
        expression = filters if expression is None else expression & filters
    paths = [path]
    older = reviews_path(data_dir, versions=True)
    if versions and older.exists():
        paths.append(older)
    tables = []
    for p in paths:
        dataset = reviews_dataset(p)
        if columns:
            unknown = [c for c in columns if c not in dataset.schema.names]
            if unknown:
                raise InputError(
                    f"unknown column(s) {', '.join(unknown)}; see docs/data-dictionary-processed.md"
                )
        with damaged_parquet(p):
            tables.append(dataset.to_table(columns=columns, filter=expression))
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def resolve_apps(path: Path, apps: str | list[str]) -> list[str]:
    """The slugs of ``apps`` given by slug or by name ("Calm", "7 Cups", or a catalog name such
    as "Headspace: Meditation & Sleep"), as ``process`` slugs them; an app the data does not
    hold is one ``InputError`` line listing those it does."""
    from reviewmine.catalog import apps as catalog_apps
    from reviewmine.process.clean import slugify

    given = [apps] if isinstance(apps, str) else list(apps)
    by_name = {entry.name.casefold(): entry.slug for entry in catalog_apps()}
    slugs = [by_name.get(name.casefold(), slug)
             for name, slug in zip(given, slugify(pa.array(given, pa.string())).to_pylist(), strict=True)]
    with damaged_parquet(path):
        known = set(reviews_dataset(path).to_table(columns=["app"]).column("app").unique().to_pylist())
    missing = [name for name, slug in zip(given, slugs, strict=True) if slug not in known]
    if missing:
        listed = ", ".join(sorted(known)[:30]) + (", ..." if len(known) > 30 else "")
        raise InputError(f"--app {', '.join(missing)}: not in {path}; the apps there are: {listed}")
    return slugs


def export(
    data_dir: Path | str,
    out: Path | str,
    format: str | None = None,
    *,
    app: str | list[str] | None = None,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
    min_rating: int | None = None,
    max_rating: int | None = None,
    language: str | None = None,
    csv_raw_text: bool = False,
) -> int:
    """Write (a filtered part of) the processed reviews to CSV, Parquet or Excel.

    The format comes from ``format`` or the extension of ``out``. Returns the number of
    rows written. The file is written to a temporary name and renamed into place. CSV text
    starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so a spreadsheet
    shows it instead of running it as a formula; ``csv_raw_text`` keeps the text as it is.

    >>> export("data", "calm.csv", app="calm", since="2024-01-01")  # doctest: +SKIP
    1234
    """
    fmt = export_format(out, format)
    refuse_overwrite(out, protected_dirs=stage_dirs(data_dir))
    table = read_reviews_table(
        data_dir, app=app, store=store, since=since, until=until,
        min_rating=min_rating, max_rating=max_rating, language=language,
    )
    return write_reviews(table, out, fmt, csv_raw_text)


def export_format(out: Path | str, format: str | None = None) -> str:
    """``csv``, ``parquet`` or ``xlsx``: ``format``, else the extension of ``out``."""
    fmt = (format or Path(out).suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format {fmt or '?'}: use one of {', '.join(EXPORT_FORMATS)}")
    return fmt


def write_reviews(table: pa.Table, out: Path | str, fmt: str, csv_raw_text: bool = False) -> int:
    """Write a table of reviews atomically as ``fmt``: Parquet as is; CSV and XLSX with times
    as ISO 8601 UTC strings and formula-like text neutralised (unless ``csv_raw_text``)."""
    out = Path(out)
    if fmt == "xlsx" and table.num_rows > XLSX_MAX_ROWS:
        raise InputError(
            f"{table.num_rows:,} rows do not fit in an Excel sheet (max {XLSX_MAX_ROWS:,}); "
            "filter with --app/--since or export csv/parquet"
        )
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with write_atomic(out, suffix=".parquet") as tmp:
            pq.write_table(table, tmp, compression="zstd")
    else:
        write_frame(_for_spreadsheets(table), out, format=fmt, csv_raw_text=csv_raw_text)
    return table.num_rows


def _for_spreadsheets(table: pa.Table) -> pd.DataFrame:
    """Times as ISO 8601 UTC strings (Excel has no time zones)."""
    frame = table.to_pandas()
    for name in frame.columns:
        if pa.types.is_timestamp(table.schema.field(name).type):
            seconds = table.column(name).cast(pa.timestamp("s", tz="UTC"), safe=False)
            frame[name] = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ").to_pandas()
    return frame

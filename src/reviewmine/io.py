"""Reading users' tables and writing outputs safely.

``read_table`` turns every way an input file can be wrong into one ``InputError`` line
that names the file, the problem and the fix; ``write_atomic`` writes to a temporary
file and renames it into place, so a failed run never leaves half a file;
``refuse_overwrite`` stops a command before it writes over its own inputs or another
stage's outputs; ``write_frame`` writes spreadsheet text that can never run as a formula.
"""

from __future__ import annotations

import codecs
import csv
import errno
import glob
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from reviewmine.errors import InputError


def require_file(path: str | Path, what: str = "a CSV or Parquet file") -> Path:
    """The path as a ``Path`` if it is an existing, non-empty file; else one ``InputError`` line."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; pass {what}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty; pass a file with a header row and data")
    return path


def require_data_dir(data_dir: str | Path) -> Path:
    """``--data-dir`` as a ``Path``; one ``InputError`` line when it is a file, not a directory."""
    path = Path(data_dir)
    if path.exists() and not path.is_dir():
        raise InputError(f"--data-dir {path}: is a file, not a directory; pass the project data directory")
    return path


def read_table(path: str | Path, required: Iterable[str] = (), dtype=str) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file and check it has the ``required`` columns."""
    path = require_file(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif path.suffix.lower() == ".xlsx":
            df = pd.read_excel(path, sheet_name=0, dtype=dtype, keep_default_na=False)
        else:
            df = _read_csv(path, dtype)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {first_invalid_utf8(path)}); re-save it as UTF-8 CSV"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: file has no rows; pass a file with a header row and data") from exc
    except zipfile.BadZipFile as exc:  # an .xlsx is a zip archive
        raise InputError(f"{path}: damaged Excel file ({exc}); save it again from Excel") from exc
    except (pd.errors.ParserError, ValueError, OSError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read as CSV/Parquet ({first})") from exc
    missing = [c for c in required if c and c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:12]))
        raise InputError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; columns are: {have}"
        )
    return df


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (bounded memory for any size); of a folder (a
    Parquet dataset), of its Parquet files' relative paths and hashes."""
    path = Path(path)
    if path.is_dir():
        parts = [f"{p.relative_to(path)}={file_sha256(p)}" for p in sorted(path.rglob("*.parquet"))]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def first_invalid_utf8(path: str | Path) -> int | None:
    """Offset in the file of its first byte that is not valid UTF-8 (None if it all decodes).

    Parsers decode in chunks, so their ``UnicodeDecodeError.start`` is relative to a chunk.

    >>> first_invalid_utf8("export-from-excel.csv")  # doctest: +SKIP
    786431
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            pending = len(decoder.getstate()[0])  # bytes of a split character held over
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(block)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset - pending + exc.start
    return None


STAGE_DIRS = {
    "raw": "'reviewmine collect'", "state": "'reviewmine collect'",
    "processed": "'reviewmine process' and 'reviewmine analyze'",
}  # fmt: skip


def stage_dirs(data_dir: str | Path) -> list[Path]:
    """The stage-output directories of a data directory, which only their own stages write.

    >>> [p.name for p in stage_dirs("data")]
    ['raw', 'state', 'processed']
    """
    return [Path(data_dir) / name for name in STAGE_DIRS]


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _same_file(a: Path, b: Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    return _real(path).is_relative_to(_real(folder))


def refuse_overwrite(
    out: str | Path,
    inputs: Iterable[str | Path | None] = (),
    protected_dirs: Iterable[str | Path] = (),
    option: str = "--out",
    directory: bool = False,
) -> None:
    """One ``InputError`` line, before anything is written, if writing ``out`` would destroy data.

    Refused: ``out`` is one of ``inputs`` (after resolving symlinks, ``./x`` vs ``x`` and hard
    links), ``out`` lies inside one of ``protected_dirs`` (another stage's outputs, see
    ``stage_dirs``), or, for a ``directory`` output, an input lies inside ``out``.

    >>> refuse_overwrite("coded.csv", inputs=["./coded.csv"])
    Traceback (most recent call last):
    reviewmine.errors.InputError: --out coded.csv: is the input coded.csv; writing it would destroy the input, choose another output path
    >>> refuse_overwrite("data/processed/x.csv", protected_dirs=stage_dirs("data"))
    Traceback (most recent call last):
    reviewmine.errors.InputError: --out data/processed/x.csv: inside data/processed, where only 'reviewmine process' and 'reviewmine analyze' may write; choose an output path outside it
    """
    out = Path(out)
    for given in inputs:
        if not isinstance(given, str | os.PathLike):
            continue  # None, or an object passed instead of a file (a loaded Codebook)
        given = Path(given)
        if _same_file(out, given):
            raise InputError(f"{option} {out}: is the input {given}; writing it would destroy the input, "
                             "choose another output path")
        if directory and _inside(given, out):
            raise InputError(f"{option} {out}: holds the input {given}; move the input out of it "
                             "or choose another output directory")
    for folder in protected_dirs:
        folder = Path(folder)
        if _inside(out, folder):
            owner = STAGE_DIRS.get(folder.name, "another stage")
            raise InputError(f"{option} {out}: inside {folder}, where only {owner} may write; "
                             "choose an output path outside it")
def _read_csv(path: Path, dtype) -> pd.DataFrame:
    """``pd.read_csv``, refusing ragged rows: pandas would silently turn a first row with an
    extra field into an index (shifting every column) and fill a short row with blanks."""
    try:
        with warnings.catch_warnings(action="ignore", category=pd.errors.ParserWarning):
            df = pd.read_csv(path, dtype=dtype, keep_default_na=False, encoding="utf-8", index_col=False)
    except pd.errors.ParserError:
        _require_rectangular(path)  # pandas' own line number ignores multi-line quoted fields
        raise
    _require_rectangular(path)
    return df


def _require_rectangular(path: Path) -> None:
    """One ``InputError`` naming the file line of the first row whose field count differs
    from the header's (line 1 is the header; quoted fields may span lines)."""
    limit = csv.field_size_limit(sys.maxsize)  # review texts can exceed the 128 kB default
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            line = reader.line_num + 1
            for row in reader:
                if row and len(row) != len(header):
                    fix = (
                        "quote a text that holds commas" if len(row) > len(header)
                        else "add the missing fields"
                    )
                    raise InputError(
                        f"{path}: line {line} has {len(row)} field(s) but the header has "
                        f"{len(header)}; {fix} in that row"
                    )
                line = reader.line_num + 1
    finally:
        csv.field_size_limit(limit)


# OSErrors of writing that the user fixes, not the code: (problem, fix) for one line
_WRITE_ERRORS = {
    errno.ENOSPC: ("no space left on device", "free some space and run again"),
    errno.EDQUOT: ("disk quota exceeded", "free some space and run again"),
    errno.EACCES: ("permission denied", "choose a location you can write to"),
    errno.EPERM: ("permission denied", "choose a location you can write to"),
    errno.EROFS: ("read-only file system", "choose a location you can write to"),
    errno.ENOTDIR: ("a part of the path is a file, not a directory", "choose another path"),
    errno.EEXIST: ("a file is in the way of a directory", "choose another path"),
}


def write_error(path: str | Path, exc: OSError) -> InputError | None:
    """The one-line ``InputError`` naming ``path`` for a failed write the user can fix (disk
    full, no permission, read-only, a file where a directory should be); else ``None``."""
    if exc.errno not in _WRITE_ERRORS:
        return None
    problem, fix = _WRITE_ERRORS[exc.errno]
    return InputError(f"{path}: cannot write: {problem}; {fix}")


@contextmanager
def write_errors(path: str | Path):
    """Raise :func:`write_error`'s one line for a failed write inside the block."""
    try:
        yield
    except OSError as exc:
        error = write_error(path, exc)
        if error is None:
            raise
        raise error from exc


@contextmanager
def write_atomic(path: str | Path, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a file name to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror}); choose another output path") from exc
    os.close(fd)
    try:
        with write_errors(path):
            yield Path(tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'`` (OWASP CSV injection).

    Only text is touched: numbers stay numbers, and Excel hides the ``'`` when it opens the file.

    >>> csv_safe(pd.DataFrame({"text": ["=1+1", "fine", "-2"], "n": [-2, 0, 1]})).to_dict("list")
    {'text': ["'=1+1", 'fine', "'-2"], 'n': [-2, 0, 1]}
    """
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        try:
            risky = values.str.startswith(FORMULA_PREFIXES, na=False)
        except (AttributeError, TypeError):  # an object column that holds no text
            continue
        if risky.any():
            out.loc[risky, col] = "'" + values[risky]
    return out


def excel_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Strip characters Excel cannot store and cut cells to Excel's 32,767-character limit."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: ILLEGAL_CHARACTERS_RE.sub("", v)[:32_767] if isinstance(v, str) else v
            )
    return out


def write_xlsx(
    sheets: Iterable[tuple[str, pd.DataFrame]],
    path: str | Path,
    choices: dict[str, dict[str, list[str]]] | None = None,
) -> None:
    """Write (sheet name, frame) pairs as one XLSX, header row frozen, columns sized.

    ``choices`` (sheet -> column -> allowed values) adds a drop-down to those columns' cells
    (Excel's data validation): a coder picks a value instead of typing one.

    Every text cell is stored as text: openpyxl would store a string starting with ``=`` as a
    live formula, so reviews like ``=HYPERLINK(...)`` could run in the reader's Excel.

    >>> write_xlsx([("coding", sheet), ("codebook", codes)], "sheet.xlsx")  # doctest: +SKIP
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)  # streams rows: fast and small for big sheets

    def cell(sheet, value):
        if isinstance(value, str) and value.startswith("="):
            text = WriteOnlyCell(sheet, value=value)
            text.data_type = "s"
            return text
        return value

    from openpyxl.worksheet.datavalidation import DataValidation

    for name, df in sheets:
        df = excel_safe(df)
        sheet = book.create_sheet(name[:31])
        sheet.freeze_panes = "A2"
        for column, values in (choices or {}).get(name, {}).items():
            if column in df.columns and len(df):
                letter = get_column_letter(list(df.columns).index(column) + 1)
                rule = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                                      showErrorMessage=True, error=f"Choose one of {', '.join(values)}, or leave empty")
                rule.add(f"{letter}2:{letter}{len(df) + 1}")
                sheet.data_validations.append(rule)
        for i, col in enumerate(df.columns):
            sample = [len(str(v)) for v in df[col].head(200)]
            sheet.column_dimensions[get_column_letter(i + 1)].width = min(60, max([len(str(col)), 6, *sample]) + 2)
        sheet.append([cell(sheet, str(c)) for c in df.columns])
        for start in range(0, len(df), 10_000):  # in slices: an export may have a million rows
            part = df.iloc[start : start + 10_000]
            for row in part.astype(object).where(part.notna(), None).to_numpy().tolist():
                sheet.append([cell(sheet, v) for v in row])
    book.save(path)


def write_frame(
    df: pd.DataFrame,
    path: str | Path,
    writer: Callable | None = None,
    format: str | None = None,
    csv_raw_text: bool = False,
) -> Path:
    """Write a DataFrame atomically as CSV, Parquet or XLSX, chosen by ``format`` or the suffix.

    CSV text that a spreadsheet would run as a formula is prefixed with ``'`` (``csv_safe``)
    unless ``csv_raw_text``; for files that programs, not people, read.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    with write_atomic(path) as tmp:
        if writer is not None:
            writer(df, tmp)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        elif fmt == "xlsx":
            write_xlsx([("Sheet1", df)], tmp)
        else:
            (df if csv_raw_text else csv_safe(df)).to_csv(tmp, index=False, encoding="utf-8")
    return path


_STARTED = time.time()  # a temporary file older than this cannot be one this process writes
# The temporary names our writers use: write_atomic's mkstemp (``.NAME.XXXXXXXX.EXT``), the
# streaming and raw-layer writers (``.NAME.parquet.tmp``, ``.NAME.parquet.PID.tmp``) and the
# process stage's scratch directory (``.tmp-process-XXXXXXXX``).
_ATOMIC_TEMP = r"\.(?P<target>.+\.(?P<ext>\w+))\.[a-z0-9_]{8}\.(?P=ext)"
_TEMP_NAME = re.compile(
    _ATOMIC_TEMP + r"|\..+\.(?:parquet|csv|json)(?:\.\d+)?\.tmp|\.tmp-process-[a-z0-9_]{8}"
)


def remove_stale_temps(directory: str | Path, target: str | None = None) -> None:
    """Delete the temporary files of killed runs (``kill -9`` skips every cleanup).

    Only names our own writers give temporary files are touched, and only when they are
    older than this process. With ``target`` only ``write_atomic``'s temporary files for
    that file name in ``directory``; without, every temporary file anywhere under
    ``directory`` (call it only while holding the data directory's lock).
    """
    directory = Path(directory)
    if target is not None:
        candidates = [
            p
            for p in directory.glob(f".{glob.escape(target)}.*")
            if (m := re.fullmatch(_ATOMIC_TEMP, p.name)) and m["target"] == target
        ]
    else:
        candidates = [
            Path(root) / name
            for root, dirs, files in os.walk(directory)
            for name in [*dirs, *files]
            if _TEMP_NAME.fullmatch(name)
        ]
    for path in candidates:
        try:
            if path.is_symlink() or path.lstat().st_mtime >= _STARTED:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue  # gone already, or not ours to delete: leave it

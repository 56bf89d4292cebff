"""Reading users' tables and writing outputs safely.

``read_table`` turns every way an input file can be wrong into one ``InputError`` line
that names the file, the problem and the fix; ``write_atomic`` writes to a temporary
file and renames it into place, so a failed run never leaves half a file.
"""

from __future__ import annotations

import csv
import errno
import os
import sys
import tempfile
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
            f"{path}: not UTF-8 text (byte {exc.start}); re-save it as UTF-8 CSV"
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


def write_frame(df: pd.DataFrame, path: str | Path, writer: Callable | None = None) -> Path:
    """Write a DataFrame atomically as CSV, Parquet or XLSX, chosen by the file suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    with write_atomic(path) as tmp:
        if writer is not None:
            writer(df, tmp)
        elif suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif suffix == ".xlsx":
            excel_safe(df).to_excel(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    return path

"""Reading users' tables and writing outputs safely.

``read_table`` turns every way an input file can be wrong into one ``InputError`` line
that names the file, the problem and the fix; ``write_atomic`` writes to a temporary
file and renames it into place, so a failed run never leaves half a file.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
import time
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


def read_table(path: str | Path, required: Iterable[str] = (), dtype=str) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file and check it has the ``required`` columns."""
    path = require_file(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif path.suffix.lower() == ".xlsx":
            df = pd.read_excel(path, sheet_name=0, dtype=dtype, keep_default_na=False)
        else:
            df = pd.read_csv(path, dtype=dtype, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}); re-save it as UTF-8 CSV"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: file has no rows; pass a file with a header row and data") from exc
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

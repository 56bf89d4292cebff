"""Privacy: keyed pseudonyms for reviewer names and redaction of contact details.

Reviewer names never leave this module in clear: they are replaced by an HMAC-SHA256
pseudonym whose key lives outside the data directory and outside git
(:func:`reviewmine.config.secret_key_path`). E-mail addresses, phone numbers, URLs and
@handles in free text become placeholders. :func:`find_names` is the check that a
later stage (reports) can run on its own outputs.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from reviewmine.config import secret_key_path
from reviewmine.errors import ReviewmineError

PLACEHOLDERS = ("[EMAIL]", "[URL]", "[PHONE]", "[HANDLE]", "[NAME]")

# Bare domains only with these endings: reviews often lack the space after a full stop
# ("very good.it is", "made a difference.in"), which wider lists would redact.
_TLDS = "com|org|net|io|co|ly|info|edu|gov"
# Order matters: e-mail before handle (both contain @), URL before phone (URLs hold digits).
# Patterns are RE2 (pyarrow); a captured prefix stands in for the look-behind RE2 lacks.
REDACTION_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("email", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", "[EMAIL]"),
    (
        "url",
        r"(?i)(?:\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:"
        + _TLDS
        + r")\b(?:/[^\s<>\"']*)?)",
        "[URL]",
    ),
    (
        "phone",
        r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)\s?|\b\d{2,4}[\s.\-])\d{3,4}[\s.\-]\d{3,4}\b"
        r"|\+\d{8,15}\b|\b\d{10,15}\b",
        "[PHONE]",
    ),
    ("handle", r"(^|[^\w@.\[])@([A-Za-z0-9_]{2,30})\b", r"\1[HANDLE]"),
)

# Google Play shows this instead of a name for some reviewers: not personal data.
_ANONYMOUS_NAMES = frozenset({"a google user", "google user", "anonymous", ""})
# Name parts that are ordinary words; replacing them in text would damage the text.
_COMMON_WORDS = frozenset(
    "the and for you app user love good great best mom dad happy calm sleep mind peace hope "
    "joy grace faith sunny star angel baby boy girl king queen lady man mr mrs ms miss dr".split()
)


def redact(texts: pa.Array) -> tuple[pa.Array, dict[str, int]]:
    """Replace e-mail addresses, URLs, phone numbers and @handles by placeholders.

    Vectorised over an Arrow string array; returns the redacted array and the number of
    replacements per kind.

    >>> import pyarrow as pa
    >>> out, counts = redact(pa.array(["write to jo@example.org or call +44 20 7946 0958"]))
    >>> out[0].as_py(), counts["email"], counts["phone"]
    ('write to [EMAIL] or call [PHONE]', 1, 1)
    """
    counts: dict[str, int] = {}
    for kind, pattern, replacement in REDACTION_PATTERNS:
        n = pc.sum(pc.count_substring_regex(texts, pattern)).as_py() or 0
        counts[kind] = int(n)
        if n:
            texts = pc.replace_substring_regex(texts, pattern, replacement)
    return texts, counts


def name_parts(name: str | None) -> list[str]:
    """The strings of a reviewer name that must not appear in processed text.

    The full name, plus each part of at least three letters that is not an ordinary
    word (so "Sarah K." yields "Sarah K." and "Sarah"; "A Google user" yields nothing).
    """
    if name is None:
        return []
    name = " ".join(name.split())
    if name.casefold() in _ANONYMOUS_NAMES:
        return []
    parts = [name]
    for token in re.findall(r"\w+", name):
        if len(token) >= 3 and token.casefold() not in _COMMON_WORDS and token not in parts:
            parts.append(token)
    return parts


def remove_names(texts: Sequence[str | None], names: Sequence[str | None]) -> tuple[list, int]:
    """Replace each row's own reviewer name (and its name parts) in its text by ``[NAME]``.

    Developer replies often greet the reviewer by first name ("Hi Sarah, ..."), so the
    name has to go from the reply as well as from the pseudonymised name column.
    Returns the new texts and the number of rows changed.
    """
    out = list(texts)
    changed = 0
    for i, (text, name) in enumerate(zip(texts, names, strict=True)):
        if not text or not name:
            continue
        parts = name_parts(name)
        if not parts:
            continue
        lowered = text.casefold()
        if not any(p.casefold() in lowered for p in parts):
            continue
        pattern = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
        new = re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", "[NAME]", text, flags=re.IGNORECASE)
        if new != text:
            out[i] = new
            changed += 1
    return out, changed


def load_or_create_key(path: Path | None = None, data_dir: Path | None = None) -> bytes:
    """Read the pseudonymisation key, creating it (32 random bytes, mode 0600) on first use.

    The key must live outside the data directory, so that sharing the data never shares
    the key; ``REVIEWMINE_KEY_FILE`` points to another file.
    """
    path = Path(path) if path is not None else secret_key_path()
    if data_dir is not None:
        resolved, data_root = path.resolve(), Path(data_dir).resolve()
        if resolved == data_root or data_root in resolved.parents:
            raise ReviewmineError(
                f"the pseudonymisation key {path} is inside the data directory {data_dir}; "
                "set REVIEWMINE_KEY_FILE to a path outside it"
            )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    if len(key) < 32:
        raise ReviewmineError(
            f"the pseudonymisation key {path} is too short; delete it to create a new one "
            "(pseudonyms will change) or restore the original"
        )
    return key.encode()


@dataclass
class Pseudonymiser:
    """Keyed hash (HMAC-SHA256) of reviewer names: stable for one key, not reversible.

    >>> p = Pseudonymiser(b"k" * 32)
    >>> p("google_play", "Sarah K.") == p("google_play", "Sarah K.") != "Sarah K."
    True
    """

    key: bytes

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, str], str] = {}

    def __call__(self, store: str, name: str | None) -> str | None:
        if name is None:
            return None
        cache_key = (store, name)
        found = self._cache.get(cache_key)
        if found is None:
            if name.strip().casefold() in _ANONYMOUS_NAMES:
                return None
            message = f"{store}\x1f{' '.join(name.split())}".encode()
            found = "rv_" + hmac.digest(self.key, message, "sha256").hex()[:16]
            if len(self._cache) > 500_000:
                self._cache.clear()
            self._cache[cache_key] = found
        return found

    def many(self, stores: Sequence[str], names: Sequence[str | None]) -> list[str | None]:
        cache = self._cache
        return [
            None if n is None else (cache.get((s, n)) or self(s, n))
            for s, n in zip(stores, names, strict=True)
        ]


@dataclass(frozen=True)
class NameLeak:
    """A reviewer name found where it must not be."""

    name: str
    where: str


def find_names(texts: Iterable[tuple[str, str]], names: Iterable[str]) -> list[NameLeak]:
    """Find reviewer names (full names and their distinctive parts) in texts.

    ``texts`` yields ``(where, text)`` pairs (a file name, a column, a log); ``names`` are
    the names from the raw layer (see :func:`raw_reviewer_names`). Used by the tests of
    every stage that writes files: processed tables, logs, reports.

    >>> find_names([("report.html", "Thanks Sarah Kowalski!")], ["Sarah Kowalski"])
    [NameLeak(name='Sarah Kowalski', where='report.html')]
    """
    parts = sorted({p for n in names for p in name_parts(n)}, key=len, reverse=True)
    if not parts:
        return []
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(p) for p in parts) + r")(?!\w)", re.IGNORECASE
    )
    leaks = []
    for where, text in texts:
        if text:
            leaks.extend(NameLeak(m.group(0), where) for m in pattern.finditer(text))
    return leaks


def find_names_in_files(paths: Iterable[Path], names: Iterable[str]) -> list[NameLeak]:
    """:func:`find_names` over files: Parquet (every string cell) or any text file."""
    names = list(names)

    def cells() -> Iterable[tuple[str, str]]:
        for path in paths:
            path = Path(path)
            if path.suffix == ".parquet" or path.is_dir():
                import pyarrow.dataset as ds

                for batch in ds.dataset(path).to_batches():
                    for field, column in zip(batch.schema, batch.columns, strict=True):
                        if pa.types.is_string(field.type) or pa.types.is_large_string(
                            field.type
                        ):
                            for value in column.to_pylist():
                                yield f"{path}:{field.name}", value
            else:
                yield str(path), path.read_text(encoding="utf-8", errors="replace")

    return find_names(cells(), names)


def raw_reviewer_names(data_dir: Path) -> list[str]:
    """Every distinct reviewer name in ``DATA_DIR/raw/reviews`` (for leak checks)."""
    import pyarrow.parquet as pq

    names: set[str] = set()
    for path in sorted((Path(data_dir) / "raw" / "reviews").rglob("*.parquet")):
        pf = pq.ParquetFile(path)
        if "reviewer_name" in pf.schema_arrow.names:
            column = pf.read(columns=["reviewer_name"]).column(0)
            names.update(v for v in pc.unique(column).to_pylist() if v)
    return sorted(names)

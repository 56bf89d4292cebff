"""Text, time and version normalisation, vectorised over Arrow arrays.

Per-row Python runs only where a vectorised kernel cannot do the job: ``ftfy`` on the
few texts that may hold mojibake, ``html.unescape`` on texts that contain ``&``.
"""

from __future__ import annotations

import html
import re

import ftfy
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reviewmine.errors import InputError

MAX_TEXT_CHARS = 20_000
"""Longer texts are truncated (the longest real store review is about 6,000 characters)."""

# C0/C1 controls except tab and newline, plus invisible format characters (BOM, zero-width
# space, bidi marks). U+200D (zero-width joiner) is kept: emoji sequences need it.
_CONTROL = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\x{200B}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2060}\x{FEFF}]"
# Characters that show up in mojibake (Latin-1 and Windows-1252 specials): only texts with
# one of them go through ftfy, which costs ~25 us per text.
_MOJIBAKE_HINT = r"[\x{80}-\x{FF}\x{152}\x{153}\x{160}\x{161}\x{178}\x{17D}\x{17E}\x{192}\x{2C6}\x{2DC}\x{2020}-\x{2022}\x{2026}\x{2030}\x{2039}\x{203A}\x{20AC}\x{2122}\x{FFFD}]"
_FTFY_CONFIG = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False, normalization="NFC")
_NEEDS_REPAIR = r"[^\x{20}-\x{7E}]| {2}|[<&]|^ | $"
_ODD_SPACE = r"[\t\f\v\x{A0}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"
EMOJI_PATTERN = (
    r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}\x{2300}-\x{23FF}"
    r"\x{2190}-\x{21FF}\x{25A0}-\x{25FF}\x{FE00}-\x{FE0F}\x{200D}\x{20E3}\x{E0020}-\x{E007F}"
    r"\x{3030}\x{303D}\x{3297}\x{3299}\x{00A9}\x{00AE}\x{2122}\x{2139}\x{203C}\x{2049}]"
)


def to_string_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Any Arrow array as ``string`` (numbers formatted, binary decoded with U+FFFD)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_string(kind):
        return values
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return values.cast(pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_dictionary(kind):
        return to_string_array(values.dictionary_decode())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array(
            [None if v is None else v.decode("utf-8", "replace") for v in values.to_pylist()],
            pa.string(),
        )
    if pa.types.is_floating(kind):
        # 12.0 -> "12" (ids and versions read by pandas as floats)
        as_float = values.to_numpy(zero_copy_only=False)
        integral = np.isfinite(as_float) & (np.floor(as_float) == as_float)
        text = [
            None if v is None else (str(int(v)) if ok else repr(v))
            for v, ok in zip(values.to_pylist(), integral, strict=True)
        ]
        return pa.array(text, pa.string())
    return pc.cast(values, pa.string())


def empty_to_null(values: pa.Array) -> pa.Array:
    """Strip surrounding whitespace; an empty string becomes null."""
    stripped = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def normalise_text(values: pa.Array) -> pa.Array:
    """Repair and tidy review text; emoji are kept.

    Unicode repair (ftfy) on texts that may hold mojibake, HTML entities and ``<br>``
    tags, NFC, control and invisible characters removed, curly quotes straightened,
    runs of spaces collapsed, at most one blank line, no surrounding whitespace.

    >>> import pyarrow as pa
    >>> normalise_text(pa.array(["  Itâ€™s  great &amp; calm\\u200b 😊 "])).to_pylist()
    ["It's great & calm 😊"]
    """
    values = pc.fill_null(to_string_array(values), "")
    # most reviews are printable ASCII with single spaces: leave those alone
    dirty = pc.match_substring_regex(values, _NEEDS_REPAIR)
    positions = np.flatnonzero(dirty.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return values
    return _scatter(values, positions, _repair(values.take(pa.array(positions))))


def _repair(values: pa.Array) -> pa.Array:
    suspects = pc.match_substring_regex(values, _MOJIBAKE_HINT)
    values = _apply_where(values, suspects, lambda s: ftfy.fix_text(s, _FTFY_CONFIG))
    values = _replace_where(values, "<", r"(?i)<br\s*/?>", "\n")
    entities = pc.match_substring_regex(values, r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
    values = _apply_where(values, entities, html.unescape)
    if not pc.all(pc.string_is_ascii(values)).as_py():
        values = pc.utf8_normalize(values, "NFC")
    values = _replace_where(values, _CONTROL, _CONTROL, "")
    values = _replace_where(values, "[\u2018\u2019\u201a\u201b\u2032]", "[\u2018\u2019\u201a\u201b\u2032]", "'")
    values = _replace_where(values, "[\u201c\u201d\u201e\u201f\u2033]", "[\u201c\u201d\u201e\u201f\u2033]", '"')
    values = _replace_where(values, "\r", r"\r\n?", "\n")
    values = _replace_where(values, _ODD_SPACE, _ODD_SPACE, " ")
    values = _replace_where(values, "  ", r" {2,}", " ")
    values = _replace_where(values, "\n", r" ?\n ?", "\n")
    values = _replace_where(values, "\n\n\n", r"\n{3,}", "\n\n")
    return pc.utf8_trim_whitespace(values)


def strip_emoji(values: pa.Array) -> pa.Array:
    """The text without emoji (for tools that cannot read them), spaces tidied."""
    has = pc.match_substring_regex(values, EMOJI_PATTERN)
    positions = np.flatnonzero(has.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return values
    subset = values.take(pa.array(positions))
    stripped = pc.replace_substring_regex(subset, EMOJI_PATTERN + "+", " ")
    stripped = pc.replace_substring_regex(stripped, r" {2,}", " ")
    stripped = pc.replace_substring_regex(stripped, r" ([.,!?;:])", "\\1")
    return _scatter(values, positions, pc.utf8_trim_whitespace(stripped))


def count_emoji(values: pa.Array) -> pa.Array:
    """Number of emoji code points per text (variation selectors and joiners excluded)."""
    pattern = EMOJI_PATTERN.replace(r"\x{FE00}-\x{FE0F}\x{200D}\x{20E3}", "")
    return pc.cast(pc.count_substring_regex(values, pattern), pa.int32())


def fingerprint_text(values: pa.Array) -> pa.Array:
    """Text reduced to lower-case letters and digits separated by single spaces.

    Two reviews with the same fingerprint differ at most in case, punctuation, spacing and
    emoji: the basis of copy-paste detection and of content keys.
    """
    lowered = pc.utf8_lower(values)
    words = pc.replace_substring_regex(lowered, r"[^\p{L}\p{N} ]+", " ")
    words = _replace_where(words, "  ", r" {2,}", " ")
    return pc.utf8_trim_whitespace(words)


def slugify(values: pa.Array) -> pa.Array:
    """App names as catalog slugs: ``"7 Cups"`` -> ``"7-cups"`` (idempotent)."""
    lowered = pc.utf8_lower(pc.utf8_normalize(values, "NFKD"))
    no_marks = pc.replace_substring_regex(lowered, r"\p{Mn}+", "")
    dashed = pc.replace_substring_regex(no_marks, r"[^a-z0-9]+", "-")
    return pc.utf8_trim(dashed, "-")


def normalise_version(values: pa.Array) -> dict[str, pa.Array]:
    """App versions as dotted numbers, with ``major.minor`` and numeric parts for sorting.

    ``"v11.46.2 (build 1234)"`` -> ``app_version="11.46.2"``, ``version_major_minor="11.46"``,
    ``version_major=11``, ``version_minor=46``. Versions without a number stay null.
    """
    values = pc.utf8_lower(to_string_array(values))
    pattern = r"^\D{0,12}?(?P<v>(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.\d+)*)"
    extracted = pc.extract_regex(values, pattern)
    major = pc.cast(pc.struct_field(extracted, "major"), pa.int32())
    minor_text = pc.struct_field(extracted, "minor")
    minor = pc.cast(
        pc.if_else(pc.equal(minor_text, ""), pa.scalar(None, pa.string()), minor_text), pa.int32()
    )
    # joined from the integers, so "11.046" and "11.46" count as one version
    major_minor = pc.coalesce(
        pc.binary_join_element_wise(pc.cast(major, pa.string()), pc.cast(minor, pa.string()), "."),
        pc.cast(major, pa.string()),
    )
    return {
        "app_version": pc.struct_field(extracted, "v"),
        "version_major_minor": major_minor,
        "version_major": major,
        "version_minor": minor,
    }


_OFFSET = re.compile(r"(?:[zZ]|[+-]\d{2}:?\d{2}|UTC|GMT)$")


def check_time_zone(assume_tz: str) -> None:
    """One ``InputError`` line for a time zone pandas cannot localise to (``--assume-tz``)."""
    try:
        pd.Timestamp("2024-01-01").tz_localize(assume_tz)
    except (LookupError, ValueError, TypeError, OSError):
        raise InputError(
            f"--assume-tz {assume_tz!r}: unknown time zone; use an IANA name such as UTC, "
            "Europe/London or America/New_York"
        ) from None


def parse_times(values: pa.Array, assume_tz: str = "UTC") -> tuple[pa.Array, np.ndarray]:
    """Times as UTC timestamps; returns them and a mask of values that could not be parsed.

    Strings with an offset (``2024-03-05T10:00:00+02:00``, ``...Z``) keep it; strings
    without one are read in ``assume_tz`` (default UTC). Numbers are Unix epoch seconds
    (or milliseconds when larger than 10^11). Arrow timestamps without a zone are read in
    ``assume_tz``.
    """
    target = pa.timestamp("us", tz="UTC")
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    n = len(values)
    if pa.types.is_null(kind):
        return pa.nulls(n, target), np.zeros(n, bool)
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            series = pd.Series(values.to_pandas()).dt.tz_localize(
                assume_tz, ambiguous="NaT", nonexistent="shift_forward"
            )
            return pa.array(series.dt.tz_convert("UTC"), target), np.zeros(n, bool)
        return values.cast(target), np.zeros(n, bool)
    if pa.types.is_date(kind):
        return parse_times(values.cast(pa.timestamp("s")), assume_tz)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        numbers = values.to_numpy(zero_copy_only=False).astype("float64")
        millis = np.abs(numbers) > 1e11
        seconds = np.where(millis, numbers / 1000.0, numbers)
        parsed = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        return pa.array(parsed, target), np.zeros(n, bool)

    text = empty_to_null(to_string_array(values)).to_pandas()
    present = text.notna().to_numpy()
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    if present.any():
        has_offset = text.str.contains(_OFFSET, na=False).to_numpy()
        aware = present & has_offset
        naive = present & ~has_offset
        if aware.any():
            result[aware] = _to_datetime(text[aware], utc=True)
        if naive.any():
            local = _to_datetime(text[naive], utc=False)
            if getattr(local.dt, "tz", None) is None:
                local = local.dt.tz_localize(assume_tz, ambiguous="NaT", nonexistent="shift_forward")
            result[naive] = local.dt.tz_convert("UTC")
    bad = present & result.isna().to_numpy()
    return pa.array(result, target), bad


def _to_datetime(text: pd.Series, utc: bool) -> pd.Series:
    """ISO 8601 in one vectorised pass; anything else per value with dateutil."""
    parsed = pd.to_datetime(text, format="ISO8601", utc=utc, errors="coerce")
    retry = parsed.isna()
    if retry.any():
        numeric = pd.to_numeric(text[retry], errors="coerce")
        epoch = numeric.notna()
        if epoch.any():
            seconds = numeric[epoch].where(numeric[epoch].abs() <= 1e11, numeric[epoch] / 1000)
            stamps = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
            parsed = parsed.astype("datetime64[us, UTC]") if utc else parsed
            parsed[epoch[epoch].index] = stamps if utc else stamps.dt.tz_localize(None)
        rest = retry & ~numeric.reindex(text.index).notna()
        if rest.any():
            other = pd.Series(
                [_parse_one(v, utc) for v in text[rest]], index=text[rest].index, dtype=object
            )
            parsed = parsed.astype(object)
            parsed[rest] = other
            parsed = pd.to_datetime(parsed, utc=utc, errors="coerce", format="mixed")
    return parsed


def _parse_one(value: str, utc: bool):
    try:
        return pd.to_datetime(value, utc=utc, format="mixed", dayfirst=False)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def _apply_where(values: pa.Array, mask: pa.Array, func) -> pa.Array:
    """Apply a Python function to the rows where ``mask`` is true; others untouched."""
    positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return values
    fixed: dict[str, str] = {}
    results = []
    for text in values.take(pa.array(positions)).to_pylist():
        if text not in fixed:
            fixed[text] = func(text)
        results.append(fixed[text])
    return _scatter(values, positions, pa.array(results, pa.string()))


def _replace_where(values: pa.Array, hint: str, pattern: str, replacement: str) -> pa.Array:
    """Regex replace only in rows that contain ``hint`` (a literal, or a regex if it has ``[``).

    Scanning for a literal is ~10x faster than running a replacement over every row, and
    most rows need none of these repairs.
    """
    if hint.startswith("["):
        mask = pc.match_substring_regex(values, hint)
    else:
        mask = pc.match_substring(values, hint)
    positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return values
    subset = values.take(pa.array(positions))
    return _scatter(values, positions, pc.replace_substring_regex(subset, pattern, replacement))


def _scatter(values: pa.Array, positions: np.ndarray, replaced: pa.Array) -> pa.Array:
    """``values`` with the rows at ``positions`` replaced (vectorised, no Python loop)."""
    if len(positions) == len(values):
        return replaced
    indices = np.arange(len(values))
    indices[positions] = len(values) + np.arange(len(positions))
    return pa.concat_arrays([values, replaced.cast(values.type)]).take(pa.array(indices))

"""Pass 1 of ``process`` for one input batch, as named steps on its reviews.

check the rows (reject broken ones, null out bad values) -> clean the text -> redact
contact details -> pseudonymise reviewer names -> detect the language -> key the reviews
(store id or content key, content hash, copy-paste fingerprint) -> flag repetitive text ->
one staging table plus the keys for :class:`~reviewmine.process.dedupe.KeyIndex`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reviewmine.process import clean, dedupe
from reviewmine.process.ingest import Batch
from reviewmine.process.language import LanguageDetector, distinct_per_row
from reviewmine.process.privacy import Pseudonymiser, redact, remove_names
from reviewmine.process.rejects import JUNK, Issues
from reviewmine.process.summary import ProcessSummary

STORE_ALIASES = {
    **dict.fromkeys(
        ["google_play", "googleplay", "google play", "play", "play store", "android", "gp"],
        "google_play",
    ),
    **dict.fromkeys(
        ["app_store", "appstore", "app store", "apple", "apple app store", "ios", "itunes"],
        "app_store",
    ),
}
STORES_OPENED = pd.Timestamp("2008-07-01", tz="UTC")  # no store review is older
_PLACEHOLDER = r"\[(?:EMAIL|URL|PHONE|HANDLE|NAME)\]"


@dataclass
class Checked:
    """The columns of a batch after the row checks (every row, rejected ones too)."""

    column: Callable[[str], pa.Array]  # an input column as it came (nulls if absent)
    store: pa.Array
    store_inferred: pa.Array
    app: pa.Array
    review_id: pa.Array
    text: pa.Array
    title: pa.Array
    rating: pa.Array
    thumbs_up: pa.Array
    at: pa.Array
    developer_reply_at: pa.Array
    fetched_at: pa.Array
    text_truncated: np.ndarray


class Kept:
    """The rows of a batch that passed the checks: ``kept(values)`` keeps their values."""

    def __init__(self, checked: Checked, keep: np.ndarray) -> None:
        self.checked = checked
        self.keep = keep
        self.n = int(keep.sum())
        self._mask = pa.array(keep)
        self._all = self.n == len(keep)

    def __call__(self, values: pa.Array) -> pa.Array:
        return values if self._all else values.filter(self._mask)

    def strings(self, name: str) -> pa.Array:
        """Input column ``name`` as strings, kept rows only."""
        return self(clean.to_string_array(self.checked.column(name)))


class BatchStep:
    """Pass 1 for one batch: check, clean, redact, pseudonymise, detect language, key."""

    def __init__(self, pseudonymise: Pseudonymiser, detector: LanguageDetector,
                 summary: ProcessSummary) -> None:
        self.pseudonymise = pseudonymise
        self.detector = detector
        self.summary = summary

    def __call__(self, batch: Batch, kind: str, assume_tz: str) -> tuple[pa.Table, pa.Table, dict]:
        """(staging rows, rejects rows, keys for the index) of one batch."""
        checked, issues = check_rows(batch, assume_tz)
        self._count_issues(issues)
        rejected_table = issues.table()
        keep = ~issues.rejected
        if not keep.any():
            return pa.table({}), rejected_table, {}
        kept = Kept(checked, keep)
        text, title, reply = self._redact(*clean_texts(kept))
        text, title, reply, pseudonyms = self._pseudonymise_names(kept, text, title, reply)
        staged = {
            **describe_text(text, title, reply),
            **self._detect_language(text, title),
            "reviewer_pseudonym": pa.array(pseudonyms, pa.string()),
            **review_columns(kept, kind, batch.source_file),
        }
        ids, keys = review_keys(kept, text, title)
        staged |= ids
        return pa.table(staged), rejected_table, keys

    def _count_issues(self, issues: Issues) -> None:
        self.summary.rows_rejected += issues.n_rejected
        for code, count in issues.reject_counts.items():
            self.summary.rejected_by_reason[code] = self.summary.rejected_by_reason.get(code, 0) + count
        for code, count in issues.keep_counts.items():
            self.summary.kept_with_issues[code] = self.summary.kept_with_issues.get(code, 0) + count

    def _redact(self, *columns: pa.Array) -> list[pa.Array]:
        """E-mail addresses, URLs, phone numbers and handles replaced by placeholders."""
        totals = self.summary.redactions
        redacted = []
        for values in columns:
            values, counts = redact(values)
            redacted.append(values)
            for kind_name, count in counts.items():
                totals[kind_name] = totals.get(kind_name, 0) + count
        return redacted

    def _pseudonymise_names(self, kept: Kept, text: pa.Array, title: pa.Array,
                            reply: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, list]:
        """Each reviewer's name out of their own texts; the name becomes a keyed pseudonym."""
        names = kept.strings("reviewer_name")
        if names.null_count == len(names):
            return text, title, reply, [None] * kept.n
        name_list = names.to_pylist()
        text, title, reply, removed = _remove_names([text, title, reply], name_list)
        totals = self.summary.redactions
        totals["name"] = totals.get("name", 0) + removed
        pseudonyms = self.pseudonymise.many(kept(kept.checked.store).to_pylist(), name_list)
        self.summary.pseudonymised += sum(p is not None for p in pseudonyms)
        return text, title, reply, pseudonyms

    def _detect_language(self, text: pa.Array, title: pa.Array) -> dict[str, pa.Array]:
        """Language of the text without emoji, of the title when the text has no letter."""
        text_noemoji = clean.strip_emoji(text)
        title_noemoji = clean.strip_emoji(pc.fill_null(title, ""))
        detect_on = pc.if_else(pc.match_substring_regex(text_noemoji, r"\p{L}"),
                               text_noemoji, title_noemoji)
        languages, confidences, methods = self.detector.detect(detect_on)
        return {
            "text_noemoji": text_noemoji,
            "language": pa.array(languages, pa.string()),
            "language_confidence": pa.array(confidences, pa.float32()),
            "language_method": pa.array(methods, pa.string()),
            "is_english": pa.array([c == "en" for c in languages], pa.bool_()),
        }



def check_rows(batch: Batch, assume_tz: str) -> tuple[Checked, Issues]:
    """Parse every column of a batch; broken rows are rejected, bad values nulled."""
    table = batch.table
    n = table.num_rows
    issues = Issues(batch.source_file, batch.first_row, n)
    for line in batch.malformed:
        issues.add_line("malformed_row", "malformed CSV row (wrong number of fields)", line)

    def column(name: str) -> pa.Array:
        if name in table.column_names:
            return table.column(name).combine_chunks()
        return pa.nulls(n, pa.string())

    review_id = clean.empty_to_null(clean.to_string_array(column("review_id")))
    issues.review_id = review_id
    issues.names = clean.to_string_array(column("reviewer_name"))
    # a malformed line of a file with reviewer names may hold a name: no preview then
    issues.line_previews = "reviewer_name" not in table.column_names
    raw_text = clean.to_string_array(column("text"))
    issues.preview_source = raw_text
    store, inferred = _check_store(column("store"), issues)
    app = clean.slugify(pc.fill_null(clean.to_string_array(column("app")), ""))
    issues.reject("missing_app", "no app name", _np(pc.equal(app, "")))
    lengths = _check_binary(raw_text, issues)
    values = _parse_values(column, assume_tz, issues)
    title_raw = clean.to_string_array(column("title"))
    empty = (
        _np(pc.equal(pc.fill_null(pc.utf8_trim_whitespace(raw_text), ""), ""))
        & _np(pc.equal(pc.fill_null(pc.utf8_trim_whitespace(title_raw), ""), ""))
        & _np(pc.is_null(values["rating"]))
    )
    issues.reject("empty_review", "empty review (no text, title or rating)", empty)
    too_long = lengths > clean.MAX_TEXT_CHARS
    issues.keep_values("text_truncated", "text of {} characters cut to 20,000", too_long,
                       pa.array(lengths))
    checked = Checked(
        column=column, store=store, store_inferred=inferred, app=app, review_id=review_id,
        text=raw_text, title=title_raw, text_truncated=too_long, **values,
    )
    return checked, issues


def _check_store(values: pa.Array, issues: Issues) -> tuple[pa.Array, pa.Array]:
    """Store names and their aliases -> ``google_play``/``app_store``; others rejected."""
    store_raw = pc.utf8_lower(pc.utf8_trim_whitespace(clean.to_string_array(values)))
    inferred = pc.fill_null(pc.match_substring(store_raw, "infer"), False)
    store_base = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(store_raw, r"\(.*\)|[-_\s]+", " ")
    )
    store_values = [STORE_ALIASES.get(s) if s else None for s in store_base.to_pylist()]
    bad_store = np.array([s is None for s in store_values], dtype=bool)
    issues.reject_values("unknown_store", "unknown store {!r} (use google_play or app_store)",
                         bad_store, store_raw)
    return pa.array(store_values, pa.string()), inferred


def _check_binary(raw_text: pa.Array, issues: Issues) -> np.ndarray:
    """Reject binary data read as text; return the text lengths."""
    junk_chars = pc.count_substring_regex(pc.fill_null(raw_text, ""), JUNK).to_numpy()
    lengths = pc.utf8_length(pc.fill_null(raw_text, "")).to_numpy()
    issues.reject("binary_text", "binary data in text (control characters)",
                  (junk_chars >= 3) & (junk_chars * 10 >= lengths))
    return lengths


def _parse_values(column: Callable[[str], pa.Array], assume_tz: str,
                  issues: Issues) -> dict[str, pa.Array]:
    """Rating, thumbs-up count and times; unparseable values become null and are noted."""
    rating, bad_rating = _parse_int(column("rating"), low=1, high=5)
    issues.keep_values("invalid_rating", "invalid rating {!r} set to null", bad_rating,
                       column("rating"))
    at, bad_at = clean.parse_times(column("at"), assume_tz)
    issues.keep_values("unparseable_date", "unparseable date {!r} set to null", bad_at, column("at"))
    # a time before the stores opened or in the future is a broken value, not a review
    # date: kept, it would add empty months to every trend
    at_us = _times(at)
    known = at_us != dedupe.NULL_TIME
    latest = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
    issues.reject_values(
        "date_out_of_range",
        f"review time {{!r}} is before the stores opened ({STORES_OPENED:%Y-%m-%d})",
        known & (at_us < _us(STORES_OPENED)), column("at"),
    )
    issues.reject_values(
        "date_out_of_range", "review time {!r} is in the future",
        known & (at_us > _us(latest)), column("at"),
    )
    thumbs, bad_thumbs = _parse_int(column("thumbs_up"), low=0, high=None)
    issues.keep_values("invalid_thumbs_up", "invalid thumbs_up {!r} set to null", bad_thumbs,
                       column("thumbs_up"))
    reply_at, bad_reply_at = clean.parse_times(column("developer_reply_at"), assume_tz)
    issues.keep_values("unparseable_date", "unparseable reply date {!r} set to null",
                       bad_reply_at, column("developer_reply_at"))
    fetched, _ = clean.parse_times(column("fetched_at"), "UTC")
    return {"rating": rating, "thumbs_up": thumbs, "at": at, "developer_reply_at": reply_at,
            "fetched_at": fetched}


def clean_texts(kept: Kept) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Text, title and developer reply: cut, Unicode-normalised; empty title/reply -> null."""
    text = pc.utf8_slice_codeunits(pc.fill_null(kept(kept.checked.text), ""), 0, clean.MAX_TEXT_CHARS)
    text = clean.normalise_text(text)
    title_raw = kept(kept.checked.title)
    title = clean.empty_to_null(clean.normalise_text(title_raw))
    title = pc.if_else(pc.is_null(title_raw), pa.scalar(None, pa.string()), title)
    reply_raw = kept.strings("developer_reply")
    reply = pc.if_else(pc.is_null(reply_raw), pa.scalar(None, pa.string()),
                       clean.empty_to_null(clean.normalise_text(reply_raw)))
    return text, title, reply


def describe_text(text: pa.Array, title: pa.Array, reply: pa.Array) -> dict[str, pa.Array]:
    """The final texts with their lengths, emoji and redaction counts."""
    n_redactions = pc.add(
        pc.add(pc.count_substring_regex(text, _PLACEHOLDER),
               pc.fill_null(pc.count_substring_regex(title, _PLACEHOLDER), 0)),
        pc.fill_null(pc.count_substring_regex(reply, _PLACEHOLDER), 0),
    )
    has_contact = pc.match_substring_regex(text, r"\[(?:EMAIL|URL|PHONE|HANDLE)\]")
    return {
        "title": title,
        "text": text,
        "n_emoji": clean.count_emoji(text),
        "text_chars": pc.cast(pc.utf8_length(text), pa.int32()),
        "n_redactions": pc.cast(n_redactions, pa.int32()),
        "developer_reply": reply,
        "_has_contact": pc.fill_null(has_contact, False),
    }


def review_columns(kept: Kept, kind: str, source_file: str) -> dict[str, pa.Array]:
    """The columns that come from the input as parsed by the checks."""
    checked = kept.checked
    at = kept(checked.at)
    source_default = "collect" if kind == "raw" else f"import:{Path(source_file).name}"
    return {
        "store": kept(checked.store),
        "store_inferred": kept(checked.store_inferred),
        "app": kept(checked.app),
        "rating": kept(checked.rating),
        "text_truncated": pa.array(checked.text_truncated[kept.keep]),
        "at": at,
        "month": pc.strftime(at, format="%Y-%m"),
        **clean.normalise_version(kept(checked.column("app_version"))),
        "store_language": clean.empty_to_null(pc.utf8_lower(kept.strings("language"))),
        "country": clean.empty_to_null(pc.utf8_lower(kept.strings("country"))),
        "thumbs_up": pc.cast(kept(checked.thumbs_up), pa.int64()),
        "developer_reply_at": kept(checked.developer_reply_at),
        "source": pc.fill_null(clean.empty_to_null(kept.strings("source")), source_default),
        "run_id": clean.empty_to_null(kept.strings("run_id")),
        "fetched_at": kept(checked.fetched_at),
    }


def review_keys(kept: Kept, text: pa.Array, title: pa.Array) -> tuple[dict[str, pa.Array], dict]:
    """Identity columns (a content key where the store gave no id) and the index keys.

    The keys are the review key (store, app, id), the content key (store, app, text, day)
    that matches id-less rows to store rows, the content hash that tells versions apart
    and the copy-paste fingerprint (0 for texts too short to count as copies).
    """
    checked = kept.checked
    store, app, at = kept(checked.store), kept(checked.app), kept(checked.at)
    review_id = kept(checked.review_id)
    has_id = _np(pc.is_valid(review_id))
    fingerprint = clean.fingerprint_text(text)
    day = pc.fill_null(pc.strftime(at, format="%Y-%m-%d"), "")
    content_key_text = pc.binary_join_element_wise(store, app, fingerprint, day, "\x1f")
    content_key = dedupe.fast_hash64(content_key_text)
    if not has_id.all():
        no_id = np.flatnonzero(~has_id)
        visible = dedupe.hash64(content_key_text.take(pa.array(no_id)).to_pylist())
        content_ids = pa.array([f"ck_{c:016x}" for c in visible.tolist()], pa.string())
        review_id = clean._scatter(review_id, no_id, content_ids)
    key = dedupe.hash64(pc.binary_join_element_wise(store, app, review_id, "\x1f").to_pylist())
    title_fp = pc.fill_null(clean.fingerprint_text(pc.fill_null(title, "")), "")
    content = dedupe.fast_hash64(
        pc.binary_join_element_wise(
            pc.fill_null(pc.cast(kept(checked.rating), pa.string()), ""), title_fp, fingerprint, "\x1f"
        )
    )
    n_words = pc.add(pc.count_substring(fingerprint, " "), 1).to_numpy()
    long_enough = (n_words >= dedupe.COPY_MIN_WORDS) & (pc.utf8_length(fingerprint).to_numpy() > 0)
    copy_fp = np.where(long_enough, dedupe.fast_hash64(fingerprint), np.uint64(0))
    columns = {
        "review_id": review_id,
        "review_id_kind": pa.array(np.where(has_id, "store", "content"), pa.string()),
        "_repetitive": pa.array(_repetitive(fingerprint)),
    }
    keys = {
        "key": key,
        "has_id": has_id,
        "content_key": content_key,
        "content": content,
        "fingerprint": copy_fp,
        "apps": app.to_pylist(),
        "at": _times(at),
        "fetched_at": _times(kept(checked.fetched_at)),
    }
    return columns, keys
def _remove_names(columns: list[pa.Array], names: list[str | None]) -> list:
    """Each row's reviewer name out of its own text, title and reply.

    A cheap test first (does any word of the name occur in the lower-cased text?); the
    exact replacement runs only on the few rows where one does.
    """
    out, total = [], 0
    name_words = [
        [" ".join(n.casefold().split()), *(w for w in n.casefold().split() if len(w) >= 3)]
        if n and n.strip() else []
        for n in names
    ]
    for values in columns:
        lowered = pc.utf8_lower(pc.fill_null(values, "")).to_pylist()
        rows = []
        for i, text in enumerate(lowered):
            if text:
                for word in name_words[i]:
                    if word in text:
                        rows.append(i)
                        break
        if rows:
            texts = values.to_pylist()
            fixed, changed = remove_names([texts[i] for i in rows], [names[i] for i in rows])
            for i, new in zip(rows, fixed, strict=True):
                texts[i] = new
            values = pa.array(texts, pa.string())
            total += changed
        out.append(values)
    return [*out, total]


def _repetitive(fingerprints: pa.Array) -> np.ndarray:
    """Degenerate texts: 8+ words of which at most a quarter are distinct ("good good good
    ..."), or a 20+ letter run made of at most 3 letters ("hahahahahahahahahahaha").

    Judged on the first 150 characters (a degenerate text is degenerate from its start);
    word counts are vectorised, only texts with a 20+ letter word are checked in Python.
    """
    n = len(fingerprints)
    head = pc.utf8_slice_codeunits(fingerprints, 0, 150)
    words = pc.split_pattern(head, " ")
    n_words = pc.list_value_length(words).to_numpy(zero_copy_only=False)
    rows = pc.list_parent_indices(words).to_numpy()
    distinct = distinct_per_row(rows, pc.list_flatten(words), n)
    repetitive = (n_words >= 8) & (distinct * 4 <= n_words)
    long_word = np.flatnonzero(_np(pc.match_substring_regex(head, r"\S{20,}")))
    for i, text in zip(long_word.tolist(), head.take(pa.array(long_word)).to_pylist(), strict=True):
        if any(len(w) >= 20 and len(set(w)) <= 3 for w in text.split()):
            repetitive[i] = True
    return repetitive


def _np(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _times(values: pa.Array) -> np.ndarray:
    return pc.fill_null(values.cast(pa.int64()), dedupe.NULL_TIME).to_numpy()


def _us(stamp: pd.Timestamp) -> int:
    """A UTC time in the microseconds of ``_times``."""
    return stamp.value // 1000


def _parse_int(values: pa.Array, low: int | None, high: int | None) -> tuple[pa.Array, np.ndarray]:
    """Whole numbers in [low, high]; anything else present becomes null and is reported."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numbers = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        present = _np(pc.is_valid(values))
    else:
        text = clean.empty_to_null(clean.to_string_array(values))
        present = _np(pc.is_valid(text))
        numbers = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
        numbers = numbers.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(numbers) & (np.floor(numbers) == numbers)
        if low is not None:
            ok &= numbers >= low
        if high is not None:
            ok &= numbers <= high
    ok &= present
    safe = np.where(ok, numbers, 0).astype(np.int64)
    return pa.array(safe, pa.int64(), mask=~ok), present & ~ok



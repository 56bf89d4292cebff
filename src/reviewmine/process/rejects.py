"""Row-level problems of one input batch: what goes to ``rejects.parquet`` and the counts.

A row is either *rejected* (left out of the processed layer) or *kept* with a value fixed
(set to null, cut); either way ``rejects.parquet`` gets a row naming the file, the row, the
action and the reason, with a short, cleaned and redacted preview that never shows a
reviewer name.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reviewmine.process import clean
from reviewmine.process.privacy import redact, remove_names
from reviewmine.process.schema import REJECTS_SCHEMA

JUNK = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{FFFD}]"  # control characters and U+FFFD
PREVIEW_CHARS = 200
SHOWN_CHARS = 40


class Issues:
    """Row-level problems of one batch, for rejects.parquet and the summary."""

    def __init__(self, source_file: str, first_row: int, n: int) -> None:
        self.source_file = source_file
        self.first_row = first_row
        self.rejected = np.zeros(n, dtype=bool)
        self.review_id: pa.Array | None = None
        self.names: pa.Array | None = None
        self.line_previews = True
        self.preview_source: pa.Array | None = None
        self.reject_counts: Counter = Counter()
        self.keep_counts: Counter = Counter()
        self._parts: list[tuple[np.ndarray, str, list[str]]] = []
        self._lines: list[tuple[str, str]] = []

    def add_line(self, code: str, reason: str, line: str) -> None:
        """A line of the input that is not a row at all (e.g. a malformed CSV line)."""
        self._lines.append((reason, line))
        self.reject_counts[code] += 1

    def reject(self, code: str, reason: str, mask: np.ndarray) -> None:
        """Reject the rows of ``mask`` not rejected yet, all for the same reason."""
        mask = mask & ~self.rejected
        if mask.any():
            self.rejected |= mask
            self.reject_counts[code] += int(mask.sum())
            self._parts.append((np.flatnonzero(mask), "rejected", [reason] * int(mask.sum())))

    def reject_values(self, code: str, template: str, mask: np.ndarray, values: pa.Array) -> None:
        """Reject the rows of ``mask``; the reason shows each row's offending value."""
        mask = mask & ~self.rejected
        if mask.any():
            positions = np.flatnonzero(mask)
            shown = _shown(values, positions)
            self.rejected |= mask
            self.reject_counts[code] += len(positions)
            self._parts.append((positions, "rejected", [template.format(v) for v in shown]))

    def keep_values(self, code: str, template: str, mask: np.ndarray, values: pa.Array) -> None:
        """Note a value fixed in the rows of ``mask``; the rows stay in."""
        mask = mask & ~self.rejected
        if mask.any():
            positions = np.flatnonzero(mask)
            shown = _shown(values, positions)
            self.keep_counts[code] += len(positions)
            self._parts.append((positions, "kept", [template.format(v) for v in shown]))

    @property
    def n_rejected(self) -> int:
        """Rejected rows and rejected lines."""
        return int(self.rejected.sum()) + len(self._lines)

    def table(self) -> pa.Table:
        """The batch's rows of ``rejects.parquet`` (``REJECTS_SCHEMA``)."""
        # a later rejection overrides an earlier "kept" note for the same row
        parts = [
            (pos[~self.rejected[pos]], action, [r for p, r in zip(pos, reasons, strict=True)
                                                if not self.rejected[p]])
            if action == "kept" else (pos, action, reasons)
            for pos, action, reasons in self._parts
        ]
        positions = np.concatenate([p for p, _, _ in parts]) if parts else np.zeros(0, np.int64)
        n_lines = len(self._lines)
        if len(positions) == 0 and n_lines == 0:
            return REJECTS_SCHEMA.empty_table()
        take = pa.array(positions.astype(np.int64))
        rows = pa.array((positions + self.first_row).astype(np.int64))
        return pa.table({
            "source_file": [self.source_file] * (len(positions) + n_lines),
            "row": pa.concat_arrays([rows, pa.nulls(n_lines, pa.int64())]),
            "review_id": pa.concat_arrays([self.review_id.take(take), pa.nulls(n_lines, pa.string())]),
            "action": [a for _, a, r in parts for _ in r] + ["rejected"] * n_lines,
            "reason": [x for _, _, r in parts for x in r] + [r for r, _ in self._lines],
            "preview": pa.concat_arrays([
                self._without_names(preview(self.preview_source.take(take)), take),
                preview(pa.array([line if self.line_previews else None for _, line in self._lines],
                                 pa.string())),
            ]),
        }, schema=REJECTS_SCHEMA)

    def _without_names(self, previews: pa.Array, take: pa.Array) -> pa.Array:
        if self.names is None or self.names.null_count == len(self.names):
            return previews
        names = self.names.take(take).to_pylist()
        fixed, _ = remove_names(previews.to_pylist(), names)
        return pa.array(fixed, pa.string())


def preview(values: pa.Array) -> pa.Array:
    """Short, cleaned and redacted text for the rejects file (names are removed by the caller)."""
    short = pc.utf8_slice_codeunits(pc.fill_null(clean.to_string_array(values), ""), 0, PREVIEW_CHARS)
    short = pc.replace_substring_regex(short, JUNK, "")
    redacted, _ = redact(short)
    return redacted


def _shown(values: pa.Array, positions: np.ndarray) -> list:
    """Offending values as a user would recognise them (cut to 40 characters)."""
    shown = clean.to_string_array(values.take(pa.array(positions))).to_pylist()
    return [v if v is None or len(v) <= SHOWN_CHARS else v[:SHOWN_CHARS] + "..." for v in shown]

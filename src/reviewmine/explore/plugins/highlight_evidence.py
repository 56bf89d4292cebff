"""Datasette plugin (loaded from --plugins-dir): show a code's evidence sentence highlighted
in the review's title or text, and fold the long list of column descriptions.

Review text is hostile input, so the cell is HTML-escaped first and only the <mark>
element this plugin adds is markup.
"""

from __future__ import annotations

import re

from datasette import hookimpl
from markupsafe import Markup, escape

HIGHLIGHTED = ("title", "text")


def highlight(text: str, evidence: str) -> Markup:
    """``text`` escaped, with ``evidence`` wrapped in <mark> where it occurs (whitespace may differ)."""
    words = evidence.split()
    if not words:
        return escape(text)
    match = re.search(r"\s+".join(re.escape(w) for w in words), text)
    if match is None:
        return escape(text)
    start, end = match.span()
    return escape(text[:start]) + Markup("<mark>") + escape(text[start:end]) + Markup("</mark>") + escape(text[end:])


@hookimpl
def render_cell(row, value, column):
    if column not in HIGHLIGHTED or not isinstance(value, str):
        return None
    keys = row.keys()
    if "evidence" not in keys or not row["evidence"]:
        return None
    return highlight(value, row["evidence"])


# The column descriptions fill a screen above the rows: fold them into a <details>.
FOLD_DESCRIPTIONS = """
document.querySelectorAll("dl.column-descriptions").forEach(function (list) {
  var box = document.createElement("details");
  var summary = document.createElement("summary");
  summary.textContent = "Column descriptions";
  list.parentNode.insertBefore(box, list);
  box.appendChild(summary);
  box.appendChild(list);
});
"""


@hookimpl
def extra_body_script(view_name):
    return FOLD_DESCRIPTIONS if view_name == "table" else None

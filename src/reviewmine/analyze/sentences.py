"""Sentence segmentation for app reviews.

Reviews are often one run-on line with no punctuation, or many short lines with emoji
for full stops. We split on sentence punctuation, line breaks and emoji runs, then cut
longer unpunctuated stretches before contrastive clause markers ("but", "however",
"although", "though" but not "even though") so that each piece carries one opinion.

>>> split_sentences("Love the sleep stories but it crashes constantly")
['Love the sleep stories', 'but it crashes constantly']
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# End of sentence: . ! ? … (repeated) followed by space, or line breaks.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\s*[\r\n]+\s*|(?<=[\U0001F300-\U0001FAFF\u2600-\u27BF])\s+(?=[A-Z])")
_CLAUSE = re.compile(
    r"\s+(?=(?:but|however|although|except|unfortunately|otherwise)\b)|(?<!\beven)(?<!\bas)\s+(?=though\b)",
    re.IGNORECASE,
)
_LONG_WORDS = 6
_MAX_CHARS = 2000


def split_sentences(text: str | None) -> list[str]:
    """Split a review into sentence-like pieces (empty list for empty text)."""
    if not text:
        return []
    pieces: list[str] = []
    for chunk in _BOUNDARY.split(str(text)):
        chunk = chunk.strip()
        if not chunk:
            continue
        if len(chunk.split()) > _LONG_WORDS:
            pieces.extend(p.strip() for p in _CLAUSE.split(chunk) if p.strip())
        else:
            pieces.append(chunk)
    # A 100 KB text of one "sentence" would make every per-sentence step slow; bound it.
    return [p[:_MAX_CHARS] for p in pieces if any(ch.isalnum() for ch in p) or _has_emoji(p)]


def _has_emoji(text: str) -> bool:
    return any(ord(ch) >= 0x2600 for ch in text)


def review_texts(reviews: pd.DataFrame) -> list[str]:
    """Each review's title and text as one string, ``"title. text"`` (just the text when it
    has no title; ``reviews`` may lack a ``title`` column), for the models that read both."""
    title = reviews["title"].fillna("") if "title" in reviews else ""
    return (title + ". " + reviews["text"].fillna("")).str.strip(". ").tolist()

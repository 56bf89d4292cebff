"""The small exception hierarchy shared by every stage.

A ``ReviewmineError`` is a problem with the user's input or environment; the CLI prints
its message on one line and exits with code 2. Anything else is a bug.
"""

from __future__ import annotations


class ReviewmineError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class InputError(ReviewmineError):
    """A missing, empty, unreadable or malformed input file or column."""


class CodebookError(ReviewmineError):
    """A codebook file that does not validate."""


class CatalogError(ReviewmineError):
    """A catalog file that does not validate."""


class ModelError(ReviewmineError):
    """A model file that cannot be used (missing, or built by an incompatible version)."""

"""The small exception hierarchy shared by every stage.

A ``ReviewmineError`` is a problem with the user's input or environment; the CLI prints
its message on one line and exits with code 2. Anything else is a bug. ``check_range`` and
``check_seed`` turn an out-of-range numeric option into such an error.
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


def check_range(option: str, value: int | None, low: int, high: int | None = None) -> None:
    """One ``InputError`` line when a numeric option (``None``: not given) is out of range.

    >>> check_range("--n", 5, 1)
    """
    if value is not None and (value < low or (high is not None and value > high)):
        bound = f"from {low:,} to {high:,}" if high is not None else f"of {low:,} or more"
        raise InputError(f"{option} {value}: out of range; use a whole number {bound}")


def check_seed(seed: int) -> None:
    """Seeds feed numpy and scikit-learn, which take unsigned 32-bit integers only."""
    check_range("--seed", seed, 0, 2**32 - 1)

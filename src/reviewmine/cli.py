"""The ``reviewmine`` command line: a thin Typer layer over the package's functions.

Each command calls one Python function of the same name; heavy imports happen inside
the commands so ``reviewmine --help`` and light commands start fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from reviewmine.errors import ReviewmineError

app = typer.Typer(
    name="reviewmine",
    help="Mine app-store reviews of mental-health apps for barriers and facilitators of engagement.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable)


def user_errors(func: F) -> F:
    """Turn a ``ReviewmineError`` into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ReviewmineError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


DataDir = Annotated[Path, typer.Option("--data-dir", help="Project data directory.")]

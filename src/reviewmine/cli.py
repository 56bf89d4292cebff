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


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
@user_errors
def collect(
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Catalog YAML (default: the shipped apps.yaml).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Project data directory (default ./data).")
    ] = None,
    apps: Annotated[str | None, typer.Option("--apps", help="Comma-separated app slugs.")] = None,
    stores: Annotated[
        str | None, typer.Option("--stores", help="google_play,app_store (default both).")
    ] = None,
    countries: Annotated[
        str | None, typer.Option("--countries", help="Only these storefronts, e.g. us,gb.")
    ] = None,
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", help="At most N pages per app/store/partition.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only reviews on or after this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Collect new Google Play and App Store reviews and app metadata for a catalog.

    Incremental and resumable: a rerun fetches only what is new, and a killed run resumes from
    its last saved page. Exit code 1 if any app/store failed (after finishing the others).
    """
    from datetime import date

    from reviewmine.collect import collect as run_collect
    from reviewmine.collect import summary_table
    from reviewmine.errors import InputError

    try:
        since_date = date.fromisoformat(since) if since else None
    except ValueError:
        raise InputError(f"--since {since!r} is not a date; use YYYY-MM-DD") from None
    result = run_collect(
        catalog=catalog,
        data_dir=data_dir,
        apps=_split(apps),
        stores=_split(stores),
        countries=_split(countries),
        max_pages=max_pages,
        since=since_date,
        console=console,
    )
    out.print(summary_table(result))
    if result.failed:
        raise typer.Exit(1)


@app.command("apps")
@user_errors
def apps_(
    tag: Annotated[str | None, typer.Option("--tag", help="Only apps with this tag.")] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in the name, slug, ids or notes.")
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Only apps with an id in google_play or app_store.")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Catalog YAML (default: the shipped apps.yaml).")
    ] = None,
) -> None:
    """List the apps of the catalog, filtered by tag, search text or store."""
    from rich.table import Table

    from reviewmine.catalog import apps as list_apps

    found = list_apps(catalog=catalog, tag=tag, search=search, store=store)
    table = Table(title=f"{len(found)} apps")
    for col in ("slug", "name", "tags", "google_play", "app_store", "countries", "status"):
        table.add_column(col)
    for a in found:
        status = a.status if a.status == "active" else f"[yellow]{a.status}[/]"
        table.add_row(
            a.slug, a.name, ",".join(a.tags), a.google_play or "-", a.app_store or "-",
            ",".join(a.countries), status,
        )
    out.print(table)

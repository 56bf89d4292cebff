"""The ``reviewmine`` command line: a thin Typer layer over the package's functions.

Each command calls one Python function of the same name; heavy imports happen inside
the commands so ``reviewmine --help`` and light commands start fast.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from reviewmine.errors import ReviewmineError

if TYPE_CHECKING:
    from reviewmine.collect import CollectResult

app = typer.Typer(
    name="reviewmine",
    help="Mine app-store reviews of mental-health apps for barriers and facilitators of engagement.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# No emoji codes: ":x:" in a file or app name must print as typed.
console = Console(stderr=True, emoji=False)
out = Console(emoji=False)


def _print_version(value: bool) -> None:
    if value:
        from reviewmine import __version__

        print(f"reviewmine {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Mine app-store reviews of mental-health apps for barriers and facilitators of engagement."""

F = TypeVar("F", bound=Callable)


def user_errors(func: F) -> F:
    """Turn a ``ReviewmineError`` into one line on stderr and exit code 2.

    The message is printed literally (a Text, not markup): file and column names may hold
    square brackets, which Rich would otherwise read as style tags.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with _interruptible():
                return func(*args, **kwargs)
        except ReviewmineError as exc:
            message = " ".join(str(exc).splitlines())
            console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, what ``timeout``, cron and systemd send: unwound like Ctrl-C."""


def _raise_terminated(signum, frame) -> None:
    raise _Terminated


@contextmanager
def _interruptible() -> Iterator[None]:
    """Stop on SIGTERM as on Ctrl-C: the exception runs every ``finally`` (unfinished outputs
    and temporary files are removed, coding workers stopped), then one line and exit code
    143 (SIGTERM) or 130 (Ctrl-C), as a shell reports a process killed by that signal."""
    main = threading.current_thread() is threading.main_thread()  # handlers: main thread only
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main else None
    try:
        yield
    except KeyboardInterrupt as exc:
        name, code = ("SIGTERM", 143) if isinstance(exc, _Terminated) else ("Ctrl-C", 130)
        for worker in multiprocessing.active_children():
            worker.kill()  # coding workers of a batch loop the signal interrupted outside them
        console.print(
            f"[bold red]error:[/] stopped by {name}; unfinished outputs were removed - run the "
            "command again to redo them",
            highlight=False, soft_wrap=True,
        )
        sys.exit(code)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def locks_data_dir(create: bool = True) -> Callable[[F], F]:
    """Hold the command's data directory's lock for the whole run (``reviewmine.lock``), so
    two commands never write one data directory at once."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            from reviewmine.config import default_data_dir
            from reviewmine.lock import data_dir_lock

            with data_dir_lock(kwargs.get("data_dir") or default_data_dir(), create=create):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _default_data_dir(value: Path | None) -> Path:
    from reviewmine.config import default_data_dir

    return value or default_data_dir()


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", callback=_default_data_dir, show_default=False,
        help="Project data directory (default: $REVIEWMINE_DATA_DIR or ./data).",
    ),
]


Engine = Annotated[
    str, typer.Option("--engine", help="local (this machine) or dask (a Dask cluster; see docs/scale.md).")
]
Scheduler = Annotated[
    str | None,
    typer.Option("--scheduler", show_default=False,
                 help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: $REVIEWMINE_DASK_SCHEDULER, "
                      "else a local cluster of this machine's cores); with --engine dask."),
]


class _PartitionProgress:
    """A bar of the Dask tasks done (on a terminal only); the dashboard link printed above it."""

    def __init__(self, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn(label), BarColumn(bar_width=None), MofNCompleteColumn(), TextColumn("partitions"),
            TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
        )
        self.task = self.progress.add_task(label, total=None)

    def __enter__(self) -> _PartitionProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    @staticmethod
    def message(text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)


CoderOption = Annotated[
    str,
    typer.Option(
        "--coder",
        help="fast (linear coder, thousands of reviews/s) or accurate (sentence encoder blended with the "
        "fast coder: slower; measured accuracy of both in docs/coder-accuracy.md).",
    ),
]


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
@user_errors
@locks_data_dir()
def collect(
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Catalog YAML (default: the shipped apps.yaml).")
    ] = None,
    data_dir: DataDir = None,
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

    from reviewmine.errors import InputError

    try:
        since_date = date.fromisoformat(since) if since else None
    except ValueError:
        raise InputError(f"--since {since!r} is not a date; use YYYY-MM-DD") from None
    result = _collect(
        catalog=catalog,
        data_dir=data_dir,
        apps=_split(apps),
        stores=_split(stores),
        countries=_split(countries),
        max_pages=max_pages,
        since=since_date,
    )
    if result.failed:
        raise typer.Exit(1)


def _collect(**options: object) -> CollectResult:
    """Run ``collect``: notes on stderr as they come, a progress line per partition, then
    the summary table."""
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    from reviewmine.collect import collect as run_collect

    tasks: dict[str, TaskID] = {}

    def show(label: str, status: str, done: bool) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(escape(label), total=None, status=status)
        elif done:
            bar.update(tasks[label], status=status, total=1, completed=1)
        else:
            bar.update(tasks[label], status=status)

    def note(message: str) -> None:
        console.print(message, highlight=False, soft_wrap=True, markup=False)

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[status]}"),
        TimeElapsedColumn(), console=console, transient=False,
    ) as bar:
        result = run_collect(**options, on_message=note, progress=show)
    out.print(summary_table(result))
    return result


def summary_table(result: CollectResult) -> Table:
    """The end-of-run table: new, updated, pages, retries and stop reason per app/store/partition."""
    t = Table(title=f"collect run {result.run_id}")
    for col in ("app", "store", "partition", "new", "updated", "pages", "retries", "stop"):
        t.add_column(col, justify="right" if col in ("new", "updated", "pages", "retries") else "left")
    for p in result.partitions:
        stop = f"[red]{p.stop_reason}[/]" if p.failed else p.stop_reason
        t.add_row(escape(p.app), p.store, escape(p.partition), str(p.new), str(p.updated), str(p.pages), str(p.retries), stop)
    t.add_section()
    t.add_row("total", "", "", str(result.new), str(result.updated),
              str(sum(p.pages for p in result.partitions)),
              str(sum(p.retries for p in result.partitions)),
              "[red]some failed[/]" if result.failed else "ok")
    return t


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
    from reviewmine.catalog import apps as list_apps

    found = list_apps(catalog=catalog, tag=tag, search=search, store=store)
    table = Table(title=f"{len(found)} apps")
    for col in ("slug", "name", "tags", "google_play", "app_store", "countries", "status"):
        table.add_column(col)
    for a in found:
        status = Text(a.status, style="" if a.status == "active" else "yellow")
        table.add_row(
            *(escape(v) for v in (a.slug, a.name, ",".join(a.tags), a.google_play or "-",
                                  a.app_store or "-", ",".join(a.countries))),
            status,
        )
    out.print(table)


# --------------------------------------------------------------------------- coding
@app.command()
@user_errors
def code(
    input: Annotated[Path, typer.Argument(help="CSV or Parquet file of reviews (or any short texts).")],
    out: Annotated[Path, typer.Option("--out", help="Output .csv, .parquet or .xlsx (CSV text is written as is).")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the review text.")] = "text",
    id_col: Annotated[str, typer.Option("--id-col", help="Column with a row id, copied to 'uid'.")] = "uid",
    title_col: Annotated[str | None, typer.Option("--title-col", help="Title column (default: 'title' when the file has one).")] = None,
    codebook: Annotated[Path | None, typer.Option("--codebook", help="Your own codebook YAML.")] = None,
    use_model: Annotated[bool, typer.Option("--use-model/--no-model", help="--no-model: cues only, no learned weights.")] = True,
    coder: CoderOption = "fast",
    engine: Engine = "local",
    scheduler: Scheduler = None,
) -> None:
    """Code each row with engagement factors: codes, polarity, evidence sentence, sentiment."""
    from reviewmine.analyze.accurate import make_coder
    from reviewmine.analyze.codebook import load_codebook
    from reviewmine.analyze.coding import code as run_code
    from reviewmine.engine import CoderFactory

    # a factory: the Dask engine builds the coder on each worker instead of shipping it
    factory = CoderFactory(make_coder, {"coder": coder, "codebook": load_codebook(codebook) if codebook else None,
                                        "use_model": use_model})
    tier = factory()
    dask = engine == "dask"
    with _PartitionProgress("coding") if dask else contextlib.nullcontext() as bar:
        result = run_code(input, out, text_col, id_col, title_col, codebook=codebook,
                          coder=factory if dask else tier, engine=engine, scheduler=scheduler,
                          on_message=_PartitionProgress.message, on_partition=bar.update if dask else None)
    coded = int((result["n_codes"] > 0).sum()) if len(result) else 0
    console.print(
        f"coded {len(result):,} rows ({coded:,} with at least one code; coder: {coder}, "
        f"method: {tier.method}) -> {out}",
        highlight=False, markup=False, soft_wrap=True,
    )


@app.command()
@user_errors
def evaluate(
    gold: Annotated[Path, typer.Option("--gold", help="Hand-coded CSV (uid,text,codes) or a coding sheet.")],
    pred: Annotated[Path | None, typer.Option("--pred", help="Codes to compare (default: code the gold texts now).")] = None,
    text_col: Annotated[str, typer.Option("--text-col")] = "text",
    id_col: Annotated[str, typer.Option("--id-col")] = "uid",
    title_col: Annotated[str | None, typer.Option("--title-col", help="Title column, used if present.")] = "title",
    codebook: Annotated[Path | None, typer.Option("--codebook")] = None,
    disagreements: Annotated[Path, typer.Option("--disagreements", help="Where to write rows that differ.")] = Path("disagreements.csv"),
    use_model: Annotated[bool, typer.Option("--use-model/--no-model", help="--no-model: evaluate the cue-only coder.")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", "--json-out", help="Also write the figures as JSON.")] = None,
    coder: Annotated[
        str | None,
        typer.Option("--coder", help="Tier to code the gold texts with: fast or accurate (default: both, side by side; "
                     "the accurate tier's files get '.accurate' before the suffix)."),
    ] = None,
) -> None:
    """Agreement of automatic codes with hand codes: per-code P/R/F1, micro/macro F1, kappa."""
    from reviewmine.evaluate import evaluate as run_evaluate

    tiers = [coder] if coder else ["fast"] if pred is not None or not use_model else ["fast", "accurate"]
    evaluations = {}
    for tier in tiers:
        evaluations[tier] = run_evaluate(gold, pred, text_col, id_col, title_col, codebook,
                                         _tiered(disagreements, tier, tiers), use_model, _tiered(json_out, tier, tiers),
                                         coder=tier)
    if len(evaluations) > 1:
        _print_tiers(evaluations, gold, disagreements)
        return
    ev = evaluations[tiers[0]]
    table = Table(
        title=f"Per-code agreement with {escape(gold.name)}",
        caption="precision/recall/f1: code and polarity must match; f1_code_only, kappa_presence: code alone; "
        "alpha: Krippendorff's alpha, nominal (absent/barrier/facilitator/neutral)",
    )
    columns = ("code", "support", "predicted", "precision", "recall", "f1", "f1_code_only", "kappa_presence", "alpha")
    for col in columns:
        table.add_column(col, justify="left" if col == "code" else "right")
    for row in ev.per_code.itertuples(index=False):
        if row.support or row.predicted:
            table.add_row(*(escape(str(getattr(row, c))) for c in columns))
    out.print(table)
    summary = Table(title="Overall")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for key, value in ev.summary.items():
        summary.add_row(key, str(value))
    out.print(summary)
    console.print(f"{len(ev.disagreements)} reviews differ -> {disagreements}", highlight=False, markup=False, soft_wrap=True)


def _tiered(path: Path | None, tier: str, tiers: list[str]) -> Path | None:
    """``path`` for the first tier; the others' files get ``.TIER`` before the suffix."""
    return path.with_name(f"{path.stem}.{tier}{path.suffix}") if path and tier != tiers[0] else path


def _print_tiers(evaluations: dict, gold: Path, disagreements: Path) -> None:
    """Both coding tiers' agreement with ``gold``, side by side."""
    tiers = list(evaluations)
    table = Table(title=f"Per-code F1 (code and polarity) with {escape(gold.name)}, by coder tier")
    table.add_column("code")
    table.add_column("support", justify="right")
    for tier in tiers:
        table.add_column(f"f1 {tier}", justify="right")
    frames = {t: ev.per_code.set_index("code") for t, ev in evaluations.items()}
    first = frames[tiers[0]]
    for code in first.index:
        if any(frames[t].loc[code, "support"] or frames[t].loc[code, "predicted"] for t in tiers):
            table.add_row(escape(str(code)), str(first.loc[code, "support"]), *(str(frames[t].loc[code, "f1"]) for t in tiers))
    out.print(table)
    summary = Table(title="Overall, by coder tier")
    summary.add_column("measure")
    for tier in tiers:
        summary.add_column(tier, justify="right")
    for key in evaluations[tiers[0]].summary:
        summary.add_row(key, *(str(evaluations[t].summary.get(key)) for t in tiers))
    out.print(summary)
    for tier in tiers:
        console.print(f"{tier}: {len(evaluations[tier].disagreements)} reviews differ -> {_tiered(disagreements, tier, tiers)}",
                      highlight=False, markup=False, soft_wrap=True)


@app.command("sample-for-coding")
@user_errors
def sample_for_coding(
    input: Annotated[Path, typer.Argument(help="Reviews (CSV/Parquet), e.g. data/processed/reviews.parquet.")],
    out: Annotated[Path, typer.Option("--out", help="Coding sheet to write (.xlsx or .csv).")],
    n: Annotated[int, typer.Option("--n", help="Number of reviews.")] = 200,
    text_col: Annotated[str, typer.Option("--text-col")] = "text",
    id_col: Annotated[str | None, typer.Option("--id-col")] = None,
    title_col: Annotated[str | None, typer.Option("--title-col", help="Title column, included when the input has it.")] = "title",
    seed: Annotated[int, typer.Option("--seed")] = 42,
    codebook: Annotated[Path | None, typer.Option("--codebook")] = None,
) -> None:
    """Export a stratified sample (by app and rating) as a coding sheet for human coders."""
    from reviewmine.evaluate import sample_for_coding as run

    sheet = run(input, out, n=n, text_col=text_col, id_col=id_col, seed=seed, codebook=codebook, title_col=title_col)
    console.print(
        f"wrote a coding sheet of {len(sheet)} reviews -> {out}; code it, then run "
        f"'reviewmine evaluate --gold {out}'",
        highlight=False, markup=False, soft_wrap=True,
    )


@app.command()
@user_errors
@locks_data_dir()
def process(
    data_dir: DataDir = None,
    inputs: Annotated[list[Path] | None, typer.Option("--input", "--inputs", help="CSV/Parquet review file to import (repeatable); kept with earlier imports.")] = None,
    column_map: Annotated[str | None, typer.Option("--map", "--column-map", help="Column mapping for imports, e.g. 'app=app_name,at=date'.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="YAML mapping file (columns: and defaults:).")] = None,
    include_raw: Annotated[bool, typer.Option("--include-raw/--no-raw", help="--no-raw: ignore the collected reviews in DATA_DIR/raw/reviews; process only imports.")] = True,
    assume_tz: Annotated[str, typer.Option("--assume-tz", help="Time zone of times without an offset in the --input files.")] = "UTC",
    drop_imports: Annotated[list[str] | None, typer.Option("--drop-import", "--drop-imports", help="Remove a recorded import: file name, path or SHA-256 prefix (repeatable).")] = None,
    engine: Engine = "local",
    scheduler: Scheduler = None,
) -> None:
    """Clean, deduplicate and pseudonymise reviews into DATA_DIR/processed/reviews.parquet.

    Reads the collectors' raw layer (DATA_DIR/raw/reviews) and every imported file: each
    --input file is recorded in DATA_DIR/state/imports.json and kept in DATA_DIR/raw/imports,
    so later runs keep it until --drop-import. Bad rows go to processed/rejects.parquet with
    a reason, never silently dropped. With --engine dask the outputs are Parquet datasets
    (folders partitioned by store/app) under the same names.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reviewmine.process import process as run_process

    if engine == "dask":
        with _PartitionProgress("processing") as bar:
            summary = run_process(
                data_dir, inputs=inputs or [], column_map=column_map, mapping=mapping,
                include_raw=include_raw, assume_tz=assume_tz, drop_imports=drop_imports or [],
                engine=engine, scheduler=scheduler, on_message=bar.message, on_partition=bar.update,
            )
        _print_process(summary, data_dir)
        return
    with Progress(
        TextColumn("processing"), BarColumn(bar_width=None), TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(), console=console, transient=True,
        disable=not console.is_terminal,  # off a terminal Rich would print a blank line at the end
    ) as progress:
        task = progress.add_task("rows", total=None)
        summary = run_process(
            data_dir, inputs=inputs or [], column_map=column_map, mapping=mapping,
            include_raw=include_raw, assume_tz=assume_tz, drop_imports=drop_imports or [],
            on_progress=lambda n: progress.advance(task, n), engine=engine, scheduler=scheduler,
        )
    _print_process(summary, data_dir)


def _print_process(summary, data_dir: Path) -> None:
    for note in summary.import_notes:
        console.print(note, highlight=False, soft_wrap=True, markup=False)
    table = Table(title=f"reviewmine process: {escape(str(data_dir))}", show_header=False)
    table.add_column("what")
    table.add_column("count", overflow="fold")
    for label, value in summary.rows():
        table.add_row(label, escape(value))
    out.print(table)
    console.print(f"wrote {summary.outputs['reviews']} (summary: {summary.outputs['summary']})",
                  highlight=False, markup=False, soft_wrap=True)


@app.command()
@user_errors
def export(
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option("--out", help="File to write.")] = Path("reviews.csv"),
    format: Annotated[str | None, typer.Option("--format", help="csv, parquet or xlsx (default: from --out).")] = None,
    app: Annotated[list[str] | None, typer.Option("--app", help="Only this app slug (repeatable).")] = None,
    store: Annotated[str | None, typer.Option("--store", help="google_play or app_store.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this date (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to and including this date.")] = None,
    min_rating: Annotated[int | None, typer.Option("--min-rating", min=1, max=5)] = None,
    max_rating: Annotated[int | None, typer.Option("--max-rating", min=1, max=5)] = None,
    language: Annotated[str | None, typer.Option("--language", help="ISO 639-1 code, e.g. en.")] = None,
    csv_raw_text: Annotated[bool, typer.Option("--csv-raw-text", help="CSV: keep text starting with = + - @ as is (default: prefix ', no formulas).")] = False,
    with_codes: Annotated[bool, typer.Option("--with-codes", help="Join each review's sentiment, codes and evidence sentences (after 'reviewmine analyze').")] = False,
) -> None:
    """Export (a filtered part of) the processed reviews as CSV, Parquet or Excel."""
    from reviewmine.workflow import export as run_export

    n = run_export(
        data_dir, out, format, app=app, store=store, since=since, until=until,
        min_rating=min_rating, max_rating=max_rating, language=language, csv_raw_text=csv_raw_text,
        with_codes=with_codes,
    )
    console.print(f"exported {n:,} reviews -> {out}", highlight=False, markup=False, soft_wrap=True)


# --------------------------------------------------------------------------- analyze, run, demo
@app.command()
@user_errors
@locks_data_dir(create=False)
def analyze(
    data_dir: DataDir = None,
    languages: Annotated[list[str] | None, typer.Option("--language", "--languages", help="Languages to analyse (repeatable).")] = None,
    include_spam: Annotated[bool, typer.Option("--include-spam", help="Also analyse reviews flagged as spam.")] = False,
    codebook: Annotated[Path | None, typer.Option("--codebook", help="Your own codebook YAML.")] = None,
    topics: Annotated[bool, typer.Option("--topics/--no-topics", help="Fit the topic model too.")] = True,
    embeddings: Annotated[str, typer.Option("--embeddings", help="static (fast, default) or minilm.")] = "static",
    seed: Annotated[int, typer.Option("--seed")] = 42,
    coder: CoderOption = "fast",
    engine: Engine = "local",
    scheduler: Scheduler = None,
) -> None:
    """Sentiment, engagement-factor codes and topics for the processed reviews."""
    from reviewmine.analyze import analyze as run_analyze

    dask = engine == "dask"
    with _PartitionProgress("analysing") if dask else _AnalyzeProgress() as bar:
        summary = run_analyze(
            data_dir, languages=tuple(languages or ["en"]), include_spam=include_spam, codebook=codebook,
            topics=topics, embeddings=embeddings, seed=seed, on_progress=None if dask else bar.advance,
            engine=engine, scheduler=scheduler, on_message=_PartitionProgress.message,
            on_partition=bar.update if dask else None, coder=coder,
        )
    _print_analyze(summary, data_dir)


class _AnalyzeProgress:
    """The analyze stage's progress bar (on a terminal only), started and stopped around it."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("analysing"), BarColumn(bar_width=None), TextColumn("{task.completed:,} reviews"),
            TimeElapsedColumn(), console=console, transient=True,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("reviews", total=None)

    def __enter__(self) -> _AnalyzeProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)


def _print_analyze(summary, data_dir: Path) -> None:
    table = Table(title=f"reviewmine analyze: {escape(str(data_dir))}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    by_language = ", ".join(f"{lang} {n:,}" for lang, n in list(summary.skipped_by_language.items())[:6])
    rows = [
        ("processed reviews", summary.reviews_in),
        (f"skipped: not {'/'.join(summary.languages)}", summary.skipped_non_english),
        *([("  by language", by_language)] if by_language else []),
        ("skipped: spam", summary.skipped_spam),
        ("skipped: empty text", summary.skipped_empty),
        ("analysed", summary.analysed),
        ("with at least one code", summary.with_codes),
        ("codes", summary.codes),
        ("sentences", summary.sentences),
        ("topics", "not fitted" if summary.topics is None else summary.topics),
    ]
    for label, value in rows:
        table.add_row(escape(label), f"{value:,}" if isinstance(value, int) else escape(str(value)))
    out.print(table)
    if summary.skipped_language_sample:
        console.print(
            f"Reviews skipped for their language, a sample to check (all {len(summary.skipped_language_sample)} "
            f"in {data_dir / 'processed' / 'analyze_summary.json'}, 'skipped_language_sample'):",
            highlight=False, markup=False,
        )
        for item in summary.skipped_language_sample[:5]:
            console.print(f"  [{item['language']}] {item['text'][:100]}", highlight=False, markup=False)


@app.command()
@user_errors
@locks_data_dir()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Demo data directory.")] = Path("data/demo"),
    topics: Annotated[bool, typer.Option("--topics/--no-topics", help="Include the topic model.")] = True,
) -> None:
    """Run process -> analyze -> report on the shipped real sample, offline."""
    from reviewmine.workflow import demo as run_demo
    from reviewmine.workflow import demo_sample

    headings = {
        "process": f"[bold]1/3 process[/] {escape(str(demo_sample()))}",
        "analyze": "[bold]2/3 analyze[/] sentiment, engagement factors" + (", topics" if topics else ""),
        "report": "[bold]3/3 report[/]",
    }
    with _StagePrinter(data_dir, headings) as printer:
        run_demo(data_dir, topics, on_start=printer.start, on_done=printer.done, on_progress=printer.advance)
    out.print(f"Explore the reviews: reviewmine explore --data-dir {data_dir}", highlight=False, markup=False)


class _StagePrinter:
    """Print each stage of a workflow as the stage commands do: its heading (if any) when it
    starts, the analyze progress bar while it runs, its summary when it ends."""

    def __init__(self, data_dir: Path, headings: dict[str, str] | None = None):
        self.data_dir, self.headings = data_dir, headings or {}
        self.progress: _AnalyzeProgress | None = None
        self.partitions: _PartitionProgress | None = None

    def __enter__(self) -> _StagePrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:  # a stage failed while its bar was shown
            self.progress.__exit__()
        if self.partitions is not None:
            self.partitions.__exit__()

    def start(self, stage: str) -> None:
        if stage in self.headings:
            console.print(self.headings[stage], highlight=False)
        if stage == "analyze":
            self.progress = _AnalyzeProgress().__enter__()

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(n)

    def partition(self, done: int, total: int) -> None:
        """Dask tasks of the running stage done (``--engine dask``)."""
        if self.partitions is None:
            self.partitions = _PartitionProgress("tasks").__enter__()
        self.partitions.update(done, total)

    def done(self, stage: str, result) -> None:
        if self.partitions is not None:
            self.partitions.__exit__()
            self.partitions = None
        if stage == "collect":
            out.print(summary_table(result))
        elif stage == "process":
            _print_process(result, self.data_dir)
        elif stage == "analyze":
            self.progress.__exit__()
            self.progress = None
            _print_analyze(result, self.data_dir)
        elif stage == "report":
            out.print(f"Report: {result / 'report.html' if result.is_dir() else result}", markup=False)


@app.command("topics")
@user_errors
def topics_command(
    input: Annotated[Path, typer.Argument(help="CSV of reviews (any short texts).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for topics.csv, assignments.csv, the model.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the review text.")] = "text",
    embeddings: Annotated[str, typer.Option("--embeddings", help="static (fast, default) or minilm.")] = "static",
    seed: Annotated[int, typer.Option("--seed", help="Seed for sampling, PCA and k-means.")] = 42,
    min_topic_size: Annotated[int | None, typer.Option("--min-topic-size", help="Smallest topic (default: 0.75% of the fitted reviews, at least 10).")] = None,
    sample_size: Annotated[int, typer.Option("--sample-size", help="Reviews to fit on; the rest are assigned.")] = 15_000,
    app_col: Annotated[str | None, typer.Option("--app-col", help="App column for shares by app (default: app, if present).")] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="Time column for topics by month (default: at, if present).")] = None,
    version_col: Annotated[str | None, typer.Option("--version-col", help="App-version column (default: app_version, if present).")] = None,
    codebook: Annotated[Path | None, typer.Option("--codebook", help="Codebook YAML whose factors seed zero-shot topics.")] = None,
    metrics: Annotated[bool, typer.Option("--metrics", help="Measure NPMI, diversity, outliers and mapped-factor agreement on this corpus (DIR/metrics.json).")] = False,
) -> None:
    """Fit BERTopic topics (codebook factors as zero-shot topics + new themes) on a CSV."""
    from reviewmine.analyze.topics import topics as run_topics

    result = run_topics(
        input, out, text_col=text_col, embeddings=embeddings, seed=seed,
        min_topic_size=min_topic_size, sample_size=sample_size, app_col=app_col,
        time_col=time_col, version_col=version_col, codebook=codebook, metrics=metrics,
    )
    _print_topics(result)


def _print_topics(result) -> None:
    table = result.topics
    outliers = int(table.loc[table.topic_id == -1, "size"].sum())
    total = int(table["size"].sum())
    out.print(
        f"{len(table) - 1} topics ({int(table.is_zeroshot.sum())} codebook, "
        f"{int(table.is_emerging.sum())} emerging) over {total:,} rows; "
        f"outliers {outliers / max(total, 1):.1%}; written to {result.out_dir}", markup=False
    )
    if result.metrics:
        m = result.metrics
        agreement = "n/a" if m["agreement"] is None else f"{m['agreement']:.0%}"
        out.print(f"quality on this corpus: NPMI {m['npmi']}, diversity {m['diversity']}, outliers "
                  f"{m['outlier_share']:.1%} (top-10 unigrams, stop words and 'app' dropped); mapped factor "
                  f"= coded factor for {m['agreeing_topics']} of {m['mapped_topics']} mapped topics ({agreement}); "
                  f"{m['seconds']} s -> {result.out_dir / 'metrics.json'}", markup=False)


# --------------------------------------------------------------------------- report
@app.command()
@user_errors
@locks_data_dir(create=False)
def report(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Project data directory (default: the manifest's, or $REVIEWMINE_DATA_DIR or ./data).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Report directory (default: DATA_DIR/reports/RUN).")] = None,
    run_name: Annotated[str | None, typer.Option("--run", "--run-name", help="Run name (default: UTC time, e.g. 20250301-120000).")] = None,
    apps: Annotated[str | None, typer.Option("--apps", help="Only these app slugs, comma-separated.")] = None,
    small_n: Annotated[int, typer.Option("--small-n", min=1, help="Flag apps with fewer analysed reviews.")] = 30,
    quotes_per_cell: Annotated[int, typer.Option("--quotes", "--quotes-per-cell", min=1, help="Quotes per app x factor x polarity.")] = 3,
    codebook: Annotated[Path | None, typer.Option("--codebook", help="Your own codebook YAML.")] = None,
    from_manifest: Annotated[
        Path | None, typer.Option("--from-manifest", help="Re-run the report a manifest.json describes.")
    ] = None,
    explore_url: Annotated[str, typer.Option("--explore-url", help="Base URL of 'reviewmine explore', linked when DATA_DIR/explore/reviews.db exists.")] = "http://127.0.0.1:8001",
    include_sensitive_quotes: Annotated[bool, typer.Option("--include-sensitive-quotes", help="Also quote reviews that speak of self-harm or suicide (hidden by default).")] = False,
) -> None:
    """Tables, figures and a self-contained HTML report of the analysed reviews, with a manifest.

    Writes report.html, tables/ (Parquet + CSV), workbook.xlsx, figures/ (PNG + SVG) and
    manifest.json (inputs with SHA-256, parameters, seeds, versions). With --from-manifest the
    report is rebuilt with the manifest's parameters and compared with the original.
    """
    from reviewmine.report import report as run_report

    with console.status("report") as status:
        path = run_report(
            data_dir, out=out, run_name=run_name, apps=_split(apps), small_n=small_n,
            quotes_per_cell=quotes_per_cell, codebook=codebook, from_manifest=from_manifest,
            on_step=lambda s: status.update(f"report: {s}"), explore_url=explore_url,
            include_sensitive_quotes=include_sensitive_quotes,
        )
    _print_report(path, bool(from_manifest))


def _print_report(path: Path, reproduced: bool) -> None:
    if reproduced:
        import json

        check = json.loads((path / "manifest.json").read_text())["reproduction"]
        same, total = len(check["identical"]), len(check["identical"]) + len(check["different"])
        console.print(f"reproduced {same} of {total} tables and figures byte-identical", highlight=False)
        for name in check["different"]:
            console.print(f"  differs: {name}", highlight=False, markup=False, soft_wrap=True)
    out.print(f"Report: {path / 'report.html'}", highlight=False, soft_wrap=True, markup=False)


@app.command()
@user_errors
@locks_data_dir()
def run(
    data_dir: DataDir = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog YAML (default: the shipped one).")] = None,
    apps: Annotated[str | None, typer.Option("--apps", help="Comma-separated app slugs.")] = None,
    collect: Annotated[bool, typer.Option("--collect/--no-collect", help="Collect new reviews first.")] = True,
    topics: Annotated[bool, typer.Option("--topics/--no-topics", help="Fit the topic model.")] = True,
    coder: CoderOption = "fast",
    engine: Engine = "local",
    scheduler: Scheduler = None,
) -> None:
    """Chain collect -> process -> analyze -> report (the scheduled-run command).

    --apps limits collection and the report to those apps; process and analyze work on every
    review of DATA_DIR. Exit code 1 when some app/store could not be collected; the later
    stages still run on everything collected so far.
    """
    from reviewmine.workflow import run as run_workflow

    with _StagePrinter(data_dir) as printer:
        result = run_workflow(
            data_dir, catalog, _split(apps), collect, topics, coder=coder,
            on_message=lambda m: console.print(m, highlight=False, soft_wrap=True, markup=False),
            on_start=printer.start, on_done=printer.done, on_progress=printer.advance,
            engine=engine, scheduler=scheduler, on_partition=printer.partition,
        )
    if result.failed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- explore
@app.command()
@user_errors
def explore(
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8001,
    host: Annotated[str, typer.Option("--host", help="Address to bind; 0.0.0.0 exposes the data to the network.")] = "127.0.0.1",
    build_only: Annotated[bool, typer.Option("--build-only", help="Build DATA_DIR/explore/reviews.db and stop (open it with Datasette, DB Browser, DuckDB).")] = False,
) -> None:
    """Browse the analysed reviews in Datasette: facets, full-text search, canned queries.

    Builds DATA_DIR/explore/reviews.db (rebuilt only when the analysis changed) and serves it
    read-only at http://HOST:PORT/reviews. Needs the explore extra (datasette, sqlite-utils).
    """
    from reviewmine.explore import explore as run_explore

    run_explore(data_dir, port=port, host=host, build_only=build_only,
                on_message=lambda m: console.print(m, markup=False, highlight=False, soft_wrap=True))

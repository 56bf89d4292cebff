"""Whole workflows over the stages: :func:`run` (collect -> process -> analyze -> report, the
scheduled run), :func:`demo` (process -> analyze -> report on the shipped sample) and
:func:`export` (processed reviews, with their analysis joined on request).

The CLI commands ``reviewmine run`` and ``reviewmine demo`` only parse options and print:
the stages report back through ``on_start`` (a stage begins), ``on_done`` (a stage's result)
and ``on_progress`` (reviews analysed so far), so a notebook or a scheduler can drive the same
workflow without the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewmine import config

DEMO_DATA_DIR = Path("data/demo")
DEMO_SAMPLE = "reviews_sample.csv"


@dataclass
class WorkflowResult:
    """What each stage of a workflow returned (``None`` for a stage that did not run)."""

    data_dir: Path
    collect: Any = None
    """``reviewmine.collect.CollectResult``."""
    process: Any = None
    """``reviewmine.process.ProcessSummary``."""
    analyze: Any = None
    """``reviewmine.analyze.AnalyzeSummary``."""
    report: Path | None = None
    """The report's directory."""

    @property
    def failed(self) -> bool:
        """Whether some app/store could not be collected (the later stages still ran)."""
        return bool(self.collect is not None and self.collect.failed)


def run(
    data_dir: str | Path | None = None,
    catalog: str | Path | None = None,
    apps: Sequence[str] | None = None,
    collect: bool = True,
    topics: bool = True,
    coder: str = "fast",
    *,
    on_message: Callable[[str], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[str, Any], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    on_partition: Callable[[int, int], None] | None = None,
) -> WorkflowResult:
    """Chain collect -> process -> analyze -> report in ``data_dir`` (default
    ``$REVIEWMINE_DATA_DIR`` or ``./data``).

    ``apps`` limits collection and the report to those app slugs; process and analyze have no
    app filter and work on every review the data directory holds. A failed app/store does not
    stop the later stages: they run on everything collected so far (see ``result.failed``).
    ``on_message`` receives collect's notes (apps skipped, stores that failed) and, with
    ``engine="dask"``, the dashboard link; process and analyze run on that engine
    (``scheduler``: see :func:`reviewmine.process.process`), ``on_partition`` gets their
    Dask tasks done. ``coder``: the coding tier of analyze (``fast`` or ``accurate``).
    """
    from reviewmine.engine import check_engine

    check_engine(engine, scheduler)
    options = {"catalog": catalog, "apps": list(apps) if apps else None, "collect": collect,
               "topics": topics, "on_message": on_message, "on_start": on_start, "on_done": on_done,
               "on_progress": on_progress, "engine": engine, "on_partition": on_partition, "coder": coder}
    data_dir = Path(data_dir) if data_dir else config.default_data_dir()
    if engine == "local":
        return _run(data_dir, scheduler=scheduler, **options)
    from reviewmine.engine import dask_client

    # one cluster for both stages, reached before collect writes anything
    with dask_client(scheduler, on_message) as client:
        return _run(data_dir, scheduler=client.scheduler.address, **options)


def _run(data_dir: Path, *, catalog, apps, collect: bool, topics: bool, on_message, on_start, on_done,
         on_progress, engine: str, scheduler: str | None, on_partition, coder: str) -> WorkflowResult:
    """:func:`run`'s stages."""
    from reviewmine.process import process
    from reviewmine.report import report

    result = WorkflowResult(data_dir)
    stage = _Stages(on_start, on_done)
    if collect:
        from reviewmine.collect import collect as collect_reviews

        result.collect = stage("collect", collect_reviews, catalog=catalog, data_dir=data_dir, apps=apps,
                               on_message=on_message)
    scale = {"engine": engine, "scheduler": scheduler, "on_message": on_message,
             "on_partition": on_partition}
    result.process = stage("process", process, data_dir, **scale)
    result.analyze = stage("analyze", _analyze, data_dir, topics=topics, on_progress=on_progress, coder=coder,
                           **scale)
    result.report = stage("report", report, data_dir, apps=apps)
    return result


def demo(
    data_dir: str | Path = DEMO_DATA_DIR,
    topics: bool = True,
    *,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[str, Any], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> WorkflowResult:
    """Process, analyse and report the shipped real sample (:func:`demo_sample`) in
    ``data_dir``, offline."""
    from reviewmine.process import process
    from reviewmine.report import report

    data_dir = Path(data_dir)
    result = WorkflowResult(data_dir)
    stage = _Stages(on_start, on_done)
    result.process = stage("process", process, data_dir, inputs=[demo_sample()], include_raw=False)
    result.analyze = stage("analyze", _analyze, data_dir, topics=topics, on_progress=on_progress)
    result.report = stage("report", report, data_dir)
    return result


def demo_sample() -> Path:
    """The shipped sample of real reviews the demo runs on."""
    return config.sample_dir() / DEMO_SAMPLE


def _analyze(data_dir: Path, topics: bool, on_progress: Callable[[int], None] | None, coder: str = "fast",
             **scale: Any):
    """The analyze stage with the defaults both workflows use (English, no spam, shipped
    codebook, static embeddings, seed 42); ``scale``: the engine options of :func:`run`."""
    from reviewmine.analyze import analyze

    return analyze(data_dir, topics=topics, on_progress=on_progress, coder=coder, **scale)


class _Stages:
    """Run one stage between the ``on_start`` and ``on_done`` callbacks."""

    def __init__(self, on_start: Callable[[str], None] | None, on_done: Callable[[str, Any], None] | None):
        self.on_start, self.on_done = on_start, on_done

    def __call__(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.on_start:
            self.on_start(name)
        value = func(*args, **kwargs)
        if self.on_done:
            self.on_done(name, value)
        return value


def export(
    data_dir: str | Path | None,
    out: str | Path,
    format: str | None = None,
    *,
    app: str | list[str] | None = None,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
    min_rating: int | None = None,
    max_rating: int | None = None,
    language: str | None = None,
    csv_raw_text: bool = False,
    with_codes: bool = False,
) -> int:
    """Write (a filtered part of) the processed reviews: ``reviewmine.process.export``, or with
    ``with_codes`` the same reviews joined with their sentiment, codes and evidence sentences
    (``reviewmine.analyze.outputs.export_with_codes``). Returns the number of rows written."""
    data_dir = Path(data_dir) if data_dir else config.default_data_dir()
    filters = {"app": app, "store": store, "since": since, "until": until, "min_rating": min_rating,
               "max_rating": max_rating, "language": language}
    if with_codes:
        from reviewmine.analyze.outputs import export_with_codes

        return export_with_codes(data_dir, out, format, csv_raw_text=csv_raw_text, **filters)
    from reviewmine.process import export as export_reviews

    return export_reviews(data_dir, out, format, csv_raw_text=csv_raw_text, **filters)

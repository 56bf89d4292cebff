"""The report stage: analysed reviews -> tables, figures, HTML report and manifest.

Writes ``DATA_DIR/reports/<run>/`` (or ``out``)::

    report.html       self-contained page (works offline)
    tables/*.parquet  every table, and the same as CSV
    workbook.xlsx     every table, one sheet each
    figures/*.png|svg publication figures
    manifest.json     inputs + SHA-256, parameters, seeds, versions, outputs + SHA-256
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from reviewmine.config import default_data_dir
from reviewmine.errors import InputError
from reviewmine.explore.build import database_path
from reviewmine.io import refuse_overwrite, stage_dirs, write_atomic, write_errors
from reviewmine.process.imports import ImportRegistry
from reviewmine.report.figures import draw_figures
from reviewmine.report.html import model_files, render_report
from reviewmine.report.inputs import load_inputs
from reviewmine.report.manifest import (
    MANIFEST_NAME,
    build_manifest,
    changed_inputs,
    compare_outputs,
    read_manifest,
    write_manifest,
)
from reviewmine.report.quotes import representative_quotes
from reviewmine.report.tables import build_tables, write_tables, write_workbook
from reviewmine.versions import software_versions

PARALLEL_WORKBOOK_CELLS = 100_000
EXPLORE_URL = "http://127.0.0.1:8001"  # where 'reviewmine explore' serves by default
RUN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
DEFAULTS = {
    "apps": None,
    "small_n": 30,
    "quotes_per_cell": 3,
    "top_topics_per_app": 10,
    "min_version_reviews": 1,
    "codebook": None,
    "explore_url": EXPLORE_URL,
    "include_sensitive_quotes": False,
}


def report(
    data_dir: str | Path | None = None,
    out: str | Path | None = None,
    run_name: str | None = None,
    apps: list[str] | None = None,
    small_n: int = 30,
    quotes_per_cell: int = 3,
    top_topics_per_app: int = 10,
    min_version_reviews: int = 1,
    codebook: str | Path | None = None,
    from_manifest: str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
    explore_url: str = EXPLORE_URL,
    include_sensitive_quotes: bool = False,
) -> Path:
    """Build the report of ``data_dir`` and return its directory.

    ``from_manifest`` re-runs the report a manifest describes, with its parameters (the data
    directory and output may be given anew); it refuses if an input changed since, and the
    new manifest records which tables and figures came out byte-identical. When
    ``reviewmine explore`` has built ``DATA_DIR/explore/reviews.db``, quotes, factor cells and
    topics link to their reviews in the explorer served at ``explore_url``. Reviews that speak
    of self-harm or suicide are never quoted unless ``include_sensitive_quotes``.

    >>> run_dir = report("data", run_name="sample")  # doctest: +SKIP
    >>> (run_dir / "report.html").exists()  # doctest: +SKIP
    True
    """
    step = on_step or (lambda _: None)
    params = {
        "apps": list(apps) if apps else None, "small_n": small_n, "quotes_per_cell": quotes_per_cell,
        "top_topics_per_app": top_topics_per_app, "min_version_reviews": min_version_reviews,
        "codebook": str(codebook) if codebook else None, "explore_url": explore_url,
        "include_sensitive_quotes": include_sensitive_quotes,
    }  # fmt: skip
    original = read_manifest(from_manifest) if from_manifest else None
    if original is not None:
        params, data_dir, run_name = _reproduce(original, data_dir, run_name)
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    _check_params(params)
    run_name = run_name or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    check_run_name(run_name)
    run_dir = Path(out) if out else data_dir / "reports" / run_name
    refuse_overwrite(run_dir, [params["codebook"], from_manifest], stage_dirs(data_dir), directory=True)

    step("reading inputs")
    inputs = load_inputs(data_dir, params["apps"], params["codebook"])
    _prepare(run_dir)

    step("computing tables")
    tables = build_tables(inputs, params["small_n"], params["min_version_reviews"], params["top_topics_per_app"])
    step("choosing quotes")
    quotes = representative_quotes(inputs, params["quotes_per_cell"], params["include_sensitive_quotes"])
    tables["quotes"] = quotes
    outputs, figures = _write_tables_and_figures(tables, inputs, run_dir, params["small_n"], step)

    step("writing the HTML report")
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    listed = sorted(str(p.relative_to(run_dir)) for p in outputs) + ["report.html", MANIFEST_NAME]
    explore = f"{params['explore_url'].rstrip('/')}/reviews" if database_path(data_dir).is_file() else None
    html = render_report(inputs, tables, quotes, figures, {"run_name": run_name, **params}, run_dir,
                         listed, created_at, software_versions(), explore)
    with write_atomic(run_dir / "report.html") as tmp:
        tmp.write_text(html, encoding="utf-8")
    outputs.append(run_dir / "report.html")

    # The report itself draws no random numbers (quotes and the topic map are deterministic);
    # the seeds that shaped its inputs are the upstream ones.
    options = inputs.analyze_summary.get("options") or {}
    seeds = {"report": None, "analyze": options.get("seed"), "analyze.embeddings": options.get("embeddings")}
    manifest = build_manifest(
        run_dir, data_dir, run_name, inputs.files,
        [inputs_codebook_path(params["codebook"]), *model_files()],
        params, seeds, outputs, _upstream(inputs, data_dir),
    )
    if original is not None:
        manifest["reproduction"] = compare_outputs(original, run_dir)
    write_manifest(manifest, run_dir)
    _share(run_dir)
    return run_dir


def _reproduce(original: dict, data_dir: str | Path | None, run_name: str | None) -> tuple[dict, Path, str]:
    """The parameters, data directory and run name of a rerun of the ``original`` manifest's
    report; refuses when an input changed since."""
    params = {**DEFAULTS, **{k: v for k, v in original["parameters"].items() if k in DEFAULTS}}
    data_dir = Path(data_dir) if data_dir else Path(original["data_dir"])
    changed = changed_inputs(original, data_dir)
    if changed:
        raise InputError(
            f"inputs changed since {original['_path']} was written: {'; '.join(changed)}; "
            "restore them, or run 'reviewmine report' for a new report of the current data"
        )
    if not run_name:
        check_run_name(str(original["run_name"]), f"{original['_path']}: run_name")
        run_name = f"{original['run_name']}-reproduced"
    return params, data_dir, run_name


def _check_params(params: dict) -> None:
    if params["small_n"] < 1 or params["quotes_per_cell"] < 1:
        raise InputError("small_n and quotes_per_cell must be at least 1")
    if not str(params["explore_url"]).startswith(("http://", "https://")):
        raise InputError(
            f"--explore-url {params['explore_url']!r}: not an http(s) URL; use e.g. http://127.0.0.1:8001"
        )


def _write_tables_and_figures(tables: dict, inputs, run_dir: Path, small_n: int,
                              step: Callable[[str], None]) -> tuple[list[Path], dict]:
    """Write the tables (Parquet, CSV, workbook) and draw the figures; return the files
    written and the figures."""
    step("writing tables")
    outputs = write_tables(tables, run_dir / "tables")
    parquet = {name: run_dir / "tables" / f"{name}.parquet" for name in tables}
    cells = sum(df.size for df in tables.values())
    if cells > PARALLEL_WORKBOOK_CELLS:
        # openpyxl is pure Python (~30k cells/s): a worker process writes a large workbook
        # while the figures are drawn here, so the two slowest steps overlap.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            workbook = pool.submit(write_workbook, parquet, run_dir / "workbook.xlsx")
            step("drawing figures")
            figures = draw_figures(tables, run_dir / "figures", inputs.topic_info, small_n)
            outputs.append(workbook.result())
    else:
        outputs.append(write_workbook(parquet, run_dir / "workbook.xlsx"))
        step("drawing figures")
        figures = draw_figures(tables, run_dir / "figures", inputs.topic_info, small_n)
    outputs += [p for paths in figures.values() if not isinstance(paths, str) for p in paths]
    return outputs, figures


def _upstream(inputs, data_dir: Path) -> dict:
    """What the upstream stages did, for the manifest."""
    return {
        "process_summary": {k: inputs.process_summary.get(k) for k in ("rows_read", "reviews", "english", "spam")},
        "analyze_summary": {k: inputs.analyze_summary.get(k) for k in (
            "reviews_in", "analysed", "with_codes", "codes", "topics", "coder_method", "codebook", "finished_at")},
        "generation": inputs.generation,
        # what shaped the codes: analyze's options (codebook, embeddings, seed, languages) and
        # the model files it used, by hash; and every imported file with its mapping
        "analyze_options": inputs.analyze_summary.get("options"),
        "models": inputs.analyze_summary.get("models"),
        "imports": [
            {"path": r.path, "sha256": r.sha256, "rows": r.rows, "columns": r.columns, "defaults": r.defaults,
             "mapping_file": r.mapping_file, "assume_tz": r.assume_tz, "imported_at": r.imported_at}
            for r in ImportRegistry(data_dir).active
        ],
    }


def check_run_name(name: str, what: str = "--run") -> None:
    """A run name is one plain directory name, so the report stays inside DATA_DIR/reports/.

    >>> check_run_name("calm-2024.v2")
    >>> check_run_name("../elsewhere")
    Traceback (most recent call last):
    reviewmine.errors.InputError: --run '../elsewhere': not a plain name; use letters, digits, '-', '_' and '.' (not starting with '.')
    """
    if not RUN_NAME.fullmatch(name):
        raise InputError(
            f"{what} {name!r}: not a plain name; use letters, digits, '-', '_' and '.' "
            "(not starting with '.')"
        )


def _share(run_dir: Path) -> None:
    """Make the report as readable as any file the user creates (temp files start as 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in run_dir.rglob("*"):
        if path.is_file():
            path.chmod(0o666 & ~umask)


def inputs_codebook_path(codebook: str | Path | None) -> Path:
    from reviewmine.analyze.codebook import shipped_codebook_path

    return Path(codebook) if codebook else shipped_codebook_path()


def _prepare(run_dir: Path) -> None:
    """Empty a previous report in ``run_dir``; never touch a directory that is not one."""
    if run_dir.exists() and any(run_dir.iterdir()):
        if not (run_dir / MANIFEST_NAME).exists():
            raise InputError(
                f"{run_dir}: exists and is not a reviewmine report (no {MANIFEST_NAME}); "
                "choose an empty or new --out directory"
            )
        for child in ("tables", "figures"):
            shutil.rmtree(run_dir / child, ignore_errors=True)
    with write_errors(run_dir):  # an unwritable place fails here, before any table is built
        for child in ("tables", "figures"):
            (run_dir / child).mkdir(parents=True, exist_ok=True)

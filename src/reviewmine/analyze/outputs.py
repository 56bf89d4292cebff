"""Reading the analyze stage's outputs back: checked to be one run of the current reviews.

``current_outputs`` is the check every reader of ``processed/`` analysis tables goes through
(the report, the coded export): the outputs must be those ``analyze_summary.json`` lists, each
stamped with that run's id, and the run must have read today's ``reviews.parquet``. Otherwise
one line names the stage to re-run, and nothing stale is mixed into a result.

``coded_reviews`` / ``export_with_codes`` give researchers the reviews joined with their
sentiment, codes and evidence sentences in one table (``reviewmine export --with-codes``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from reviewmine.analyze.pipeline import RUN_KEY, SUMMARY_FILE
from reviewmine.errors import InputError
from reviewmine.process.schema import GENERATION_KEY

ANALYSIS_TABLES = ("review_scores", "codes", "topics", "topic_info")
CODED_COLUMNS = ["sentiment", "codes", "n_codes", "evidence"]


def read_summary(data_dir: Path) -> dict:
    """``processed/analyze_summary.json`` (one line naming the stage when missing or unreadable)."""
    path = Path(data_dir) / "processed" / SUMMARY_FILE
    if not path.exists():
        raise InputError(f"{path}: not found; run 'reviewmine analyze --data-dir {data_dir}' first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path}: not readable JSON; run 'reviewmine analyze --data-dir {data_dir}' again") from None


def current_outputs(data_dir: Path, generation: str, summary: dict | None = None) -> set[str]:
    """The analysis tables of the last analyze run, after checking that each is of that run and
    that the run read the reviews of ``generation`` (the current ``reviews.parquet``)."""
    proc = Path(data_dir) / "processed"
    summary = read_summary(data_dir) if summary is None else summary
    rerun = f"run 'reviewmine analyze --data-dir {data_dir}'"
    if not summary.get("run_id") or not isinstance(summary.get("outputs"), dict):
        raise InputError(f"{proc / SUMMARY_FILE}: written by an older reviewmine without a run id; {rerun}")
    if summary.get("generation") != generation:
        raise InputError(f"{proc / 'review_scores.parquet'}: was made from an older processed/reviews.parquet; {rerun}")
    outputs = {name for name in summary["outputs"] if name in ANALYSIS_TABLES}
    for name in sorted(outputs | {"review_scores", "codes"}):
        path = proc / f"{name}.parquet"
        first = next(iter(sorted(path.rglob("*.parquet"))), None) if path.is_dir() else path
        metadata = (pq.read_schema(first).metadata or {}) if first and first.is_file() else {}
        if (metadata.get(RUN_KEY.encode(), b"").decode() != summary["run_id"]
                or metadata.get(GENERATION_KEY.encode(), b"").decode() != generation):
            raise InputError(
                f"{path}: is not an output of the last analyze run ({summary['run_id']}), "
                f"which was interrupted or whose files were replaced; {rerun}"
            )
    return outputs


def read_output(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """An analysis output as a DataFrame: a file, or the dataset folder of ``--engine dask``
    (its store/app folder names read back as text columns)."""
    if not path.is_dir():
        return pd.read_parquet(path, columns=columns)
    from reviewmine.process.reader import reviews_dataset

    return reviews_dataset(path).to_table(columns=columns).to_pandas()


def coder_tier(analyze_summary: dict) -> str:
    """The coding tier an analysis used (``fast`` for analyses made before there were two)."""
    return (analyze_summary.get("options") or {}).get("coder") or "fast"


def shipped_coder_used(analyze_summary: dict) -> bool:
    """Whether the analysis was coded by a shipped coder: its codebook, its models (the
    files analyze hashed are today's), the model and not cues alone. Only then do that
    tier's measured accuracy and error rates describe the codes."""
    from reviewmine.analyze.pipeline import shipped_model_hashes

    options = analyze_summary.get("options") or {}
    method = analyze_summary.get("coder_method") or ""
    model_made = method.startswith("encoder+model") if coder_tier(analyze_summary) == "accurate" else method == "cues+model"
    return (
        options.get("codebook") is None
        and model_made
        and analyze_summary.get("models") == shipped_model_hashes()
    )


def coded_reviews(data_dir: str | Path, **filters) -> pd.DataFrame:
    """The processed reviews (filtered as ``read_reviews`` filters them) with their review
    sentiment, serialised codes, number of codes and ``evidence`` (``code: sentence`` per code,
    joined by `` || ``). Reviews that were not analysed (other languages, spam, empty) keep empty
    code columns.

    >>> coded_reviews("data", app="calm", min_rating=1, max_rating=2)  # doctest: +SKIP
    """
    from reviewmine.process.reader import read_reviews, reviews_generation

    data_dir = Path(data_dir)
    current_outputs(data_dir, reviews_generation(data_dir))
    reviews = read_reviews(data_dir, **filters)
    proc = data_dir / "processed"
    scores = pd.read_parquet(proc / "review_scores.parquet", columns=["review_key", "sentiment", "codes", "n_codes"])
    codes = pd.read_parquet(proc / "codes.parquet", columns=["review_key", "code", "evidence"])
    evidence = (
        codes.assign(item=codes["code"] + ": " + codes["evidence"].fillna(""))
        .groupby("review_key", sort=False)["item"].agg(" || ".join).rename("evidence")
    )
    out = reviews.merge(scores, on="review_key", how="left").merge(evidence, on="review_key", how="left")
    out["codes"] = out["codes"].fillna("")
    out["evidence"] = out["evidence"].fillna("")
    out["n_codes"] = out["n_codes"].fillna(0).astype("int64")
    return out


def export_with_codes(data_dir: str | Path, out: str | Path, format: str | None = None,
                      csv_raw_text: bool = False, **filters) -> int:
    """Write :func:`coded_reviews` as CSV, Parquet or XLSX (the format from ``format`` or the
    suffix), as ``reviewmine.process.export`` writes reviews; returns the number of rows."""
    import pyarrow as pa

    from reviewmine.io import refuse_overwrite, stage_dirs
    from reviewmine.process.reader import export_format, write_reviews

    fmt = export_format(out, format)
    refuse_overwrite(out, protected_dirs=stage_dirs(data_dir))
    table = pa.Table.from_pandas(coded_reviews(data_dir, **filters), preserve_index=False)
    return write_reviews(table, out, fmt, csv_raw_text)

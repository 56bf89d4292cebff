"""Read what the report is built from: the processed and analysed layers of a data directory.

Every input is checked up front, so a missing stage gives one line naming the command
to run first instead of a traceback half-way through the report. That includes stale
inputs: every analysis table must come from the analyze run its ``analyze_summary.json``
describes, and that run must have read the current ``reviews.parquet`` (same generation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reviewmine.analyze.codebook import Codebook, load_codebook
from reviewmine.analyze.outputs import current_outputs, read_output
from reviewmine.analyze.pipeline import SUMMARY_FILE
from reviewmine.errors import InputError
from reviewmine.io import require_data_dir

ALL_APPS = "(all apps)"
POLARITIES = ("barrier", "facilitator", "neutral")

REVIEW_COLUMNS = [
    "review_key", "store", "app", "at", "text", "title", "reviewer_pseudonym", "source",
    "country", "is_english", "is_spam",
]  # fmt: skip


@dataclass
class ReportInputs:
    """The tables and summaries one report is made from (restricted to ``apps`` if given)."""

    data_dir: Path
    reviews: pd.DataFrame
    scores: pd.DataFrame
    codes: pd.DataFrame
    codebook: Codebook
    process_summary: dict = field(default_factory=dict)
    analyze_summary: dict = field(default_factory=dict)
    topics: pd.DataFrame | None = None
    topic_info: pd.DataFrame | None = None
    files: list[Path] = field(default_factory=list)
    apps: list[str] | None = None
    generation: dict = field(default_factory=dict)
    """``{"processed": ..., "analyze_run": ...}``: the generations the report was made from."""

    @property
    def code_ids(self) -> list[str]:
        """Codebook codes in codebook order, then any other code found in the data."""
        ids = list(self.codebook.ids)
        return ids + sorted(set(self.codes["code"]) - set(ids))

    def code_label(self, code: str) -> str:
        return self.codebook[code].label if code in self.codebook else code.replace("_", " ").capitalize()

    def code_category(self, code: str) -> str:
        return self.codebook[code].category if code in self.codebook else ""

    @property
    def has_topics(self) -> bool:
        return self.topics is not None and self.topic_info is not None


def processed_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "processed"


def load_inputs(
    data_dir: str | Path,
    apps: list[str] | None = None,
    codebook: str | Path | None = None,
) -> ReportInputs:
    """Load the processed reviews, the analyze outputs and the codebook of ``data_dir``.

    >>> inputs = load_inputs("data", apps=["calm"])  # doctest: +SKIP
    """
    from reviewmine.process import read_reviews
    from reviewmine.process.reader import reviews_generation

    data_dir = require_data_dir(data_dir)
    proc = processed_dir(data_dir)
    reviews_file = proc / "reviews.parquet"
    if not reviews_file.exists():
        raise InputError(
            f"{reviews_file}: not found; run 'reviewmine process --data-dir {data_dir}' and then "
            f"'reviewmine analyze --data-dir {data_dir}' first"
        )
    for name in ("review_scores.parquet", "codes.parquet", SUMMARY_FILE):
        if not (proc / name).exists():
            raise InputError(
                f"{proc / name}: not found; run 'reviewmine analyze --data-dir {data_dir}' first"
            )
    generation = reviews_generation(data_dir)
    summaries = {name: _read_json(proc / name) for name in ("process_summary.json", SUMMARY_FILE)}
    analysis = current_outputs(data_dir, generation, summaries[SUMMARY_FILE])
    if summaries["process_summary.json"].get("generation", generation) != generation:
        raise InputError(
            f"{proc / 'process_summary.json'}: does not belong to {reviews_file.name} (a process "
            f"run was interrupted); run 'reviewmine process --data-dir {data_dir}'"
        )
    reviews = read_reviews(data_dir, columns=REVIEW_COLUMNS)
    scores = read_output(proc / "review_scores.parquet")  # a file, or a dataset of --engine dask
    codes = read_output(proc / "codes.parquet")
    if apps:
        known = sorted(set(scores["app"]))
        unknown = [a for a in apps if a not in known]
        if unknown:
            raise InputError(
                f"--apps: no analysed reviews for {', '.join(unknown)} in {proc / 'review_scores.parquet'}; "
                f"apps are: {', '.join(known)}"
            )
        reviews = reviews[reviews["app"].isin(apps)]
        scores = scores[scores["app"].isin(apps)]
        codes = codes[codes["app"].isin(apps)]
    if scores.empty:
        raise InputError(
            f"{proc / 'review_scores.parquet'}: no analysed reviews; check 'reviewmine analyze' "
            "found English, non-spam reviews"
        )
    files = [reviews_file, proc / "review_scores.parquet", proc / "codes.parquet"]
    topics = topic_info = None
    if {"topics", "topic_info"} <= analysis:
        topics = read_output(proc / "topics.parquet")
        topic_info = pd.read_parquet(proc / "topic_info.parquet")
        if "app" not in topics.columns:
            topics = topics.merge(scores[["review_key", "app"]], on="review_key", how="inner")
        elif apps:
            topics = topics[topics["app"].isin(apps)]
        files += [proc / "topics.parquet", proc / "topic_info.parquet"]
    files += [proc / name for name in ("process_summary.json", SUMMARY_FILE) if (proc / name).exists()]
    return ReportInputs(
        data_dir=data_dir,
        reviews=reviews.reset_index(drop=True),
        scores=scores.reset_index(drop=True),
        codes=codes.reset_index(drop=True),
        codebook=load_codebook(codebook) if codebook else load_codebook(),
        process_summary=summaries["process_summary.json"],
        analyze_summary=summaries[SUMMARY_FILE],
        topics=topics,
        topic_info=topic_info,
        files=files,
        apps=list(apps) if apps else None,
        generation={"processed": generation, "analyze_run": summaries[SUMMARY_FILE]["run_id"]},
    )


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path}: not readable JSON; run the stage that writes it again") from None


def app_order(scores: pd.DataFrame) -> list[str]:
    """Apps by number of analysed reviews (largest first), ties by name."""
    counts = scores.groupby("app").size()
    return sorted(counts.index, key=lambda a: (-counts[a], a))

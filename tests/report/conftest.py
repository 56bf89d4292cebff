"""A small real data directory, processed and analysed once per test session.

About 400 reviews of the shipped sample (four large apps and a few with one or two
reviews) plus collector rows whose reviewers have names, some of which the reviewers wrote
into their own texts, so the tests can check that no name reaches a report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewmine.config import sample_dir
from reviewmine.schema import REVIEW_COLUMNS, REVIEW_SCHEMA

REVIEWERS = ["Sarah Kowalski", "Marek Wiśniewski", "Jennifer Okonkwo", "Bartholomew Quince"]
NAMED_TEXTS = [
    "I'm Sarah Kowalski and honestly the subscription is way too expensive for what you get.",
    "Marek Wiśniewski here. The app keeps crashing every time I open a meditation, fix it please.",
    "This app really helps me sleep better, thanks from Jennifer Okonkwo!",
    "The daily reminder keeps me consistent and I love seeing my streak grow.",
]
PER_APP = {"calm": 140, "woebot": 110, "replika": 80, "wysa": 60}


def _sample(path: Path) -> Path:
    sample = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    parts = [sample[sample["app"] == app].head(n) for app, n in PER_APP.items()]
    small = sample[~sample["app"].isin(PER_APP)]
    parts.append(small[small["app"].isin(small["app"].drop_duplicates().head(3))])
    subset = pd.concat(parts)
    subset.to_csv(path, index=False)
    return path


def _raw_rows() -> list[dict]:
    rows = []
    for i, (name, text) in enumerate(zip(REVIEWERS, NAMED_TEXTS, strict=True)):
        row = dict.fromkeys(REVIEW_COLUMNS)
        row.update(
            store="google_play", app="calm", review_id=f"named-{i}", rating=1 + i, text=text,
            at=datetime(2024, 3, 5 + i, 10, 0, tzinfo=UTC), app_version="6.44.1", reviewer_name=name,
            source="google_play", run_id="run-1", fetched_at=datetime(2024, 4, 1, tzinfo=UTC),
        )
        rows.append(row)
    return rows


@pytest.fixture(scope="session")
def analysed_dir(tmp_path_factory) -> Path:
    """A data directory after process and analyze (no topics)."""
    from reviewmine.analyze import analyze
    from reviewmine.process import process

    root = tmp_path_factory.mktemp("report")
    data_dir = root / "data"
    raw = data_dir / "raw" / "reviews" / "google_play-calm.parquet"
    raw.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(_raw_rows(), schema=REVIEW_SCHEMA), raw)
    process(data_dir, inputs=[_sample(root / "subset.csv")], key_file=root / "secrets" / "key")
    analyze(data_dir, topics=False)
    return data_dir


@pytest.fixture(scope="session")
def report_dir(analysed_dir: Path) -> Path:
    """The report of ``analysed_dir``, built once."""
    from reviewmine.report import report

    return report(analysed_dir, run_name="session")


def write_stage_output(frame: pd.DataFrame, path: Path, like: Path | None = None) -> None:
    """Write ``frame`` as a stage would: stamped with the ``reviewmine.*`` metadata (run id,
    generation) of ``like`` (default: the file being replaced), so tests can edit an output
    without making it look like another run's."""
    stamp = pq.read_schema(like or path).metadata or {}
    stamp = {k: v for k, v in stamp.items() if k.startswith(b"reviewmine.")}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **stamp}), path)


def add_topic_outputs(data: Path, topics: pd.DataFrame, info: pd.DataFrame) -> None:
    """topics.parquet and topic_info.parquet as analyze writes them: stamped with the run id
    of the other outputs and listed in analyze_summary.json."""
    import json

    processed = data / "processed"
    scores = processed / "review_scores.parquet"
    write_stage_output(topics, processed / "topics.parquet", like=scores)
    write_stage_output(info, processed / "topic_info.parquet", like=scores)
    summary_path = processed / "analyze_summary.json"
    summary = json.loads(summary_path.read_text())
    summary["outputs"].update(topics="topics.parquet", topic_info="topic_info.parquet")
    summary_path.write_text(json.dumps(summary))

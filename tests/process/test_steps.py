"""The pass-1 steps of ``process`` and the rejects bookkeeping, one batch at a time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from reviewmine.process.ingest import Batch
from reviewmine.process.language import LanguageDetector
from reviewmine.process.privacy import Pseudonymiser
from reviewmine.process.rejects import Issues
from reviewmine.process.steps import BatchStep, check_rows
from reviewmine.process.summary import ProcessSummary


def batch(**columns) -> Batch:
    return Batch(table=pa.table(columns), source_file="in.csv", first_row=10, malformed=["a,b,c"])


def test_a_later_rejection_replaces_a_kept_note_and_lines_count_as_rejected():
    issues = Issues("in.csv", first_row=10, n=3)
    issues.review_id = pa.array(["a", "b", "c"])
    issues.preview_source = pa.array(["mail jo@example.org", "Jo Smith was here", "fine"])
    issues.names = pa.array([None, "Jo Smith", None])
    issues.add_line("malformed_row", "malformed", "x,y")
    values = pa.array(["7", "9", "1"])
    issues.keep_values("invalid_rating", "rating {!r} set to null", np.array([True, True, False]), values)
    issues.reject("empty_review", "empty", np.array([True, False, False]))

    rows = issues.table().to_pylist()

    assert issues.n_rejected == 2
    assert dict(issues.reject_counts) == {"malformed_row": 1, "empty_review": 1}
    assert [(r["row"], r["action"], r["reason"]) for r in rows] == [
        (11, "kept", "rating '9' set to null"), (10, "rejected", "empty"), (None, "rejected", "malformed"),
    ]
    previews = {r["reason"]: r["preview"] for r in rows}
    assert previews["empty"] == "mail [EMAIL]"
    assert "Jo" not in previews["rating '9' set to null"] and "Smith" not in previews["rating '9' set to null"]
    assert previews["malformed"] == "x,y"


def test_check_rows_maps_store_aliases_and_nulls_bad_values():
    checked, issues = check_rows(batch(
        store=["Apple App Store", "martian", "Google Play (inferred)"],
        app=["Calm", "Calm", "Calm"],
        review_id=["1", "2", "3"],
        text=["good", "good", "good"],
        rating=["5", "5", "eleven"],
        at=["2024-01-01", "2024-01-01", "not a date"],
    ), "UTC")

    assert checked.store.to_pylist() == ["app_store", None, "google_play"]
    assert checked.store_inferred.to_pylist() == [False, False, True]
    assert checked.app.to_pylist() == ["calm"] * 3
    assert checked.rating.to_pylist() == [5, 5, None]
    assert checked.at.is_valid().to_pylist() == [True, True, False]
    assert issues.rejected.tolist() == [False, True, False]
    assert dict(issues.keep_counts) == {"invalid_rating": 1, "unparseable_date": 1}
    assert checked.column("missing_column").null_count == 3


def test_a_batch_with_every_row_rejected_stages_nothing_and_counts_the_rejects():
    summary = ProcessSummary(data_dir="d")
    step = BatchStep(Pseudonymiser(b"k" * 32), LanguageDetector(), summary)

    staged, rejected, keys = step(batch(store=["martian"], app=["calm"], text=["hi"]), "raw", "UTC")

    assert staged.num_rows == 0 and keys == {}
    assert rejected.num_rows == 2
    assert summary.rows_rejected == 2
    assert summary.rejected_by_reason == {"malformed_row": 1, "unknown_store": 1}

"""The outputs of ``process`` and the dedupe decisions applied to staged rows: shared by
the local engine's pass 2 (:mod:`reviewmine.process.pipeline`) and the Dask engine's write
step (:mod:`reviewmine.process.on_dask`)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reviewmine.process import dedupe
from reviewmine.process.schema import PROCESSED_SCHEMA
from reviewmine.schema import UTC_TS

REVIEWS_FILE = "reviews.parquet"
VERSIONS_FILE = "review_versions.parquet"
REJECTS_FILE = "rejects.parquet"
SUMMARY_FILE = "process_summary.json"

DEDUPE_COLUMNS = (
    "review_key", "version", "is_current", "n_versions", "n_sightings", "is_copy_paste",
    "copy_group_size", "copy_n_apps", "is_spam", "spam_reason", "first_fetched_at",
)
STAGING_SCHEMA = pa.schema(
    [f for f in PROCESSED_SCHEMA if f.name not in DEDUPE_COLUMNS]
    + [pa.field("_row", pa.int64()), pa.field("_repetitive", pa.bool_()),
       pa.field("_has_contact", pa.bool_())]
)


def apply_decisions(
    batch: pa.RecordBatch, decisions: dedupe.Decisions, tally: Counter
) -> tuple[pa.Table, pa.Table, int]:
    """Attach the dedupe columns; split into current rows, earlier versions, dropped count."""
    rows = batch.column("_row").to_numpy()
    role = decisions.role[rows]
    keep = role != dedupe.ROLE_DUPLICATE
    table = pa.Table.from_batches([batch]).filter(pa.array(keep))
    rows, role = rows[keep], role[keep]
    group = decisions.copy_group_size[rows]
    n_apps = decisions.copy_n_apps[rows]
    is_copy = group >= 2
    repetitive = table.column("_repetitive").to_numpy(zero_copy_only=False)
    contact = table.column("_has_contact").to_numpy(zero_copy_only=False)
    cross_app_spam = n_apps >= dedupe.CROSS_APP_SPAM_APPS
    copied_link = is_copy & contact
    reason = np.where(
        repetitive, "repetitive",
        np.where(cross_app_spam, "cross_app_copy", np.where(copied_link, "copied_link", "")),
    )
    is_spam = reason != ""
    first_fetched = decisions.first_fetched_at[rows]
    columns = {
        "review_key": pa.array(dedupe.key_hex(decisions.key[rows]), pa.string()),
        "version": pa.array(decisions.version[rows]),
        "is_current": pa.array(role == dedupe.ROLE_CURRENT),
        "n_versions": pa.array(decisions.n_versions[rows]),
        "n_sightings": pa.array(decisions.n_sightings[rows]),
        "is_copy_paste": pa.array(is_copy),
        "copy_group_size": pa.array(group),
        "copy_n_apps": pa.array(n_apps),
        "is_spam": pa.array(is_spam),
        "spam_reason": pa.array(np.where(is_spam, reason, None).tolist(), pa.string()),
        "first_fetched_at": pa.array(
            first_fetched, pa.int64(), mask=first_fetched == dedupe.NULL_TIME
        ).cast(UTC_TS),
    }
    for name, values in columns.items():
        table = table.append_column(name, values)
    table = table.drop_columns(["_row", "_repetitive", "_has_contact"])
    current_mask = role == dedupe.ROLE_CURRENT
    current = table.filter(pa.array(current_mask))

    tally["content_keyed"] += pc.sum(pc.equal(current.column("review_id_kind"), "content")).as_py() or 0
    tally["copy_paste"] += int(is_copy[current_mask].sum())
    tally["cross_app_copy_paste"] += int((is_copy & (n_apps >= 2))[current_mask].sum())
    for value, count in Counter(reason[current_mask & is_spam].tolist()).items():
        tally[f"spam:{value}"] += count
    languages = current.column("language").value_counts()
    for item in languages.to_pylist():
        if item["values"] is None:
            tally["no_language"] += item["counts"]
        else:
            tally[f"lang:{item['values']}"] += item["counts"]
            if item["values"] == "en":
                tally["english"] += item["counts"]
    return current, table.filter(pa.array(~current_mask)), int((~keep).sum())

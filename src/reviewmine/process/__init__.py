"""Processing stage: raw and imported reviews -> clean, deduplicated, pseudonymised Parquet.

Public entry points:

* :func:`process` (CLI ``reviewmine process``) builds ``DATA_DIR/processed/``;
* :func:`read_reviews` reads it back as a DataFrame, with filters;
* :func:`export` (CLI ``reviewmine export``) writes a filtered CSV/Parquet/XLSX copy;
* :func:`find_names` / :func:`find_names_in_files` check outputs for reviewer names.
"""

from reviewmine.process.pipeline import process
from reviewmine.process.privacy import (
    find_names,
    find_names_in_files,
    raw_reviewer_names,
)
from reviewmine.process.reader import export, read_reviews, read_reviews_table, review_filter
from reviewmine.process.schema import PROCESSED_SCHEMA
from reviewmine.process.summary import ProcessSummary

__all__ = [
    "PROCESSED_SCHEMA",
    "ProcessSummary",
    "export",
    "find_names",
    "find_names_in_files",
    "process",
    "raw_reviewer_names",
    "read_reviews",
    "read_reviews_table",
    "review_filter",
]

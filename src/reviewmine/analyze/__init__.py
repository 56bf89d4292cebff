"""Analysis stage: processed reviews -> sentiment, engagement-factor codes and topics.

Public entry points:

* :func:`analyze` (CLI ``reviewmine analyze``) writes the analysis tables beside
  ``DATA_DIR/processed/reviews.parquet``;
* :func:`reviewmine.analyze.coding.code` (CLI ``reviewmine code``) codes any CSV of short texts;
* :func:`reviewmine.analyze.topics.topics` (CLI ``reviewmine topics``) fits topics on a CSV.
"""

from reviewmine.analyze.pipeline import AnalyzeSummary, analyze

__all__ = ["AnalyzeSummary", "analyze"]

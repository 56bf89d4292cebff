"""Report stage: tables, figures, a self-contained HTML report and a run manifest.

Public entry points:

* :func:`report` (CLI ``reviewmine report``) writes ``DATA_DIR/reports/<run>/``;
* :func:`load_inputs` and :func:`build_tables` give the report's tables as DataFrames;
* :func:`representative_quotes` picks typical quotes per app x factor x polarity;
* the figure functions in :mod:`reviewmine.report.figures` draw from those tables;
* :func:`compare_apps`, :func:`version_changes` and :func:`app_balanced` test differences
  between apps and versions (statsmodels; effect sizes; Holm / Benjamini-Hochberg).
"""

from reviewmine.report.compare import app_balanced, compare_apps, version_changes
from reviewmine.report.inputs import ALL_APPS, ReportInputs, load_inputs
from reviewmine.report.pipeline import report
from reviewmine.report.quotes import representative_quotes
from reviewmine.report.tables import build_tables, net_score_interval, wilson_interval

__all__ = [
    "ALL_APPS",
    "ReportInputs",
    "app_balanced",
    "build_tables",
    "compare_apps",
    "load_inputs",
    "net_score_interval",
    "report",
    "representative_quotes",
    "version_changes",
    "wilson_interval",
]

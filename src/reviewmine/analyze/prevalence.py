"""Prevalence with the coder's error in its interval.

A factor share computed from automatic codes is biased by the coder's misses and false
finds, and its Wilson interval only covers sampling error. Researchers report shares per app,
so each share also gets a **misclassification-corrected** estimate (Rogan & Gladen 1978):

    corrected = (observed + specificity - 1) / (sensitivity + specificity - 1)

with the coder's sensitivity and specificity for that ``code:polarity`` label measured on apps
it never saw (leave one app out over the project's training set, ``coder_crossapp.json``), and
an interval from a parametric bootstrap that draws the observed share (Jeffreys), sensitivity and
specificity (Beta posteriors of the held-out counts) together, so the interval carries both the
sampling error and the uncertainty in the coder's error rates. Where the coder is barely better
than chance for a label (sensitivity + specificity - 1 below ``MIN_INFORMATIVE``) no correction is
possible and the interval is [0, 1].

>>> rates = ErrorRates(tp=40, fp=10, fn=10, tn=940)   # doctest: +SKIP
>>> corrected_share(30, 400, rates)                     # doctest: +SKIP
(0.0543, 0.0261, 0.0884)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from reviewmine.config import MODELS_DIR

CROSSAPP_FILE = "coder_crossapp.json"
MIN_INFORMATIVE = 0.1
DRAWS = 4000


@dataclass(frozen=True)
class ErrorRates:
    """Held-out counts of one label: found and there (tp), found but not there (fp), missed
    (fn), rightly absent (tn)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else float("nan")


def pooled_rates(crossapp: dict, exclude: str | None = None) -> dict[str, ErrorRates]:
    """Label -> error rates summed over the held-out apps of ``crossapp`` (leaving out
    ``exclude``, to estimate an app's share with rates it did not contribute to)."""
    totals: dict[str, np.ndarray] = {}
    for app, result in crossapp.items():
        if app == exclude:
            continue
        for label, counts in result.get("confusion", {}).items():
            totals[label] = totals.get(label, np.zeros(4, dtype=np.int64)) + np.asarray(counts)
    return {label: ErrorRates(*map(int, c)) for label, c in totals.items()}


def shipped_rates() -> dict[str, ErrorRates]:
    """The shipped coder's held-out error rates per label (empty when not measured)."""
    path = MODELS_DIR / CROSSAPP_FILE
    if not path.exists():
        return {}
    return pooled_rates(json.loads(path.read_text(encoding="utf-8")))


def _rogan_gladen(q, sensitivity, specificity):
    informative = sensitivity + specificity - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = (q + specificity - 1) / informative
    return np.where(informative >= MIN_INFORMATIVE, np.clip(corrected, 0.0, 1.0), np.nan)


def corrected_share(k: int, n: int, rates: ErrorRates, draws: int = DRAWS, seed: int = 0) -> tuple[float, float, float]:
    """Corrected share of ``k`` coded reviews out of ``n``, with a 95% interval that includes
    the coder's error (NaNs when ``n`` is 0)."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    point = float(_rogan_gladen(np.float64(k / n), np.float64(rates.sensitivity), np.float64(rates.specificity)))
    rng = np.random.default_rng(seed)
    q = rng.beta(k + 0.5, n - k + 0.5, draws)
    sensitivity = rng.beta(rates.tp + 1, rates.fn + 1, draws)
    specificity = rng.beta(rates.tn + 1, rates.fp + 1, draws)
    sampled = _rogan_gladen(q, sensitivity, specificity)
    if np.isnan(point) or np.isnan(sampled).mean() > 0.025:
        return float("nan"), 0.0, 1.0  # the coder's error rates are too uncertain to correct
    low, high = np.quantile(sampled[~np.isnan(sampled)], [0.025, 0.975])
    return round(point, 4), round(float(low), 4), round(float(high), 4)


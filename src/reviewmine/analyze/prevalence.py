"""Prevalence with the coder's error in its interval.

A factor share computed from automatic codes is off by the coder's misses and false finds,
and its Wilson interval only covers sampling error. Researchers report shares per app, so each
share also gets an interval that includes the coder's measured error on apps it never saw.

For a ``code:polarity`` label, leave-one-app-out validation over the project's training set
(``coder_crossapp.json``) gives, for each held-out app, the error of the coded share:
``(false finds - misses) / reviews``. Across apps that error has a mean (the coder's bias for
the label) and a spread (how much the bias changes from app to app). The interval for a new
app's share is then

    share +- t(0.975, apps - 1) x sqrt(bias^2 + spread^2 + sampling variance)

centred on the coded share itself. Correcting the share for the bias (or by Rogan-Gladen with
the held-out sensitivity and specificity) was measured too and made shares of unseen apps
worse, because the coder's error differs from app to app: the interval, not the point, is
where the error belongs. ``training/prevalence_check.py`` measures both on the left-out apps.

>>> errors = label_errors(crossapp)["cost_monetization:barrier"]   # doctest: +SKIP
>>> share_interval(30, 400, errors)                                 # doctest: +SKIP
(0.031, 0.119)
"""

from __future__ import annotations

import json

import numpy as np

from reviewmine.config import MODELS_DIR

CROSSAPP_FILE = "coder_crossapp.json"
ACCURATE_CROSSAPP_FILE = "coder_accurate_crossapp.json"  # its apps under "apps"


def label_errors(crossapp: dict, exclude: str | None = None) -> dict[str, np.ndarray]:
    """Label -> the error of the coded share, ``(false finds - misses) / reviews``, in each
    held-out app of ``crossapp`` (0 where neither coding used the label), leaving out
    ``exclude`` (to judge an app with errors it did not contribute to)."""
    apps = [app for app in crossapp if app != exclude]
    labels = sorted({label for app in apps for label in crossapp[app].get("confusion", {})})
    errors = {}
    for label in labels:
        values = []
        for app in apps:
            tp, fp, fn, tn = crossapp[app].get("confusion", {}).get(label, (0, 0, 0, 1))
            values.append((fp - fn) / (tp + fp + fn + tn))
        errors[label] = np.array(values)
    return errors


def shipped_errors(tier: str = "fast") -> dict[str, np.ndarray]:
    """The shipped coder's (``tier``'s) held-out errors per label (empty when not measured).

    The accurate tier's count only when its leave-one-app-out run retrained the whole blend:
    errors of its encoder alone are another coder's."""
    path = MODELS_DIR / (ACCURATE_CROSSAPP_FILE if tier == "accurate" else CROSSAPP_FILE)
    if not path.exists():
        return {}
    crossapp = json.loads(path.read_text(encoding="utf-8"))
    if tier != "accurate":
        return label_errors(crossapp)
    return label_errors(crossapp["apps"]) if crossapp.get("blend") else {}


def share_interval(k: int, n: int, errors: np.ndarray) -> tuple[float, float]:
    """95% interval for the share of ``k`` coded reviews out of ``n`` that includes the
    coder's bias and its app-to-app spread (``errors``) besides sampling error."""
    from scipy.stats import t

    if n <= 0 or len(errors) < 2:
        return float("nan"), float("nan")
    share = k / n
    sampling = max(share * (1 - share), 0.5 / n) / n  # never zero: 0 of n still has an error
    half = float(t.ppf(0.975, len(errors) - 1)) * np.sqrt(errors.mean() ** 2 + errors.var(ddof=1) + sampling)
    return round(max(0.0, share - half), 4), round(min(1.0, share + half), 4)

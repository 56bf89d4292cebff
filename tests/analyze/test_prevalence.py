"""Factor shares with an interval that includes the coder's measured error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import t

from reviewmine.analyze.prevalence import label_errors, share_interval


def test_errors_per_app_are_false_finds_minus_misses_over_reviews_without_the_judged_app():
    crossapp = {
        "A": {"confusion": {"c:barrier": [10, 30, 10, 950]}},   # +2% (over-finds)
        "B": {"confusion": {"c:barrier": [5, 0, 15, 980]}},     # -1.5% (misses)
        "C": {"confusion": {"d:facilitator": [1, 0, 0, 99]}},   # c never used: 0
    }
    errors = label_errors(crossapp)
    assert errors["c:barrier"].tolist() == pytest.approx([0.02, -0.015, 0.0])
    assert label_errors(crossapp, exclude="A")["c:barrier"].tolist() == pytest.approx([-0.015, 0.0])


def test_the_interval_widens_with_the_coders_bias_and_spread():
    errors = np.array([0.02, 0.03, 0.01, 0.04, 0.02, 0.03])
    low, high = share_interval(100, 1000, errors)
    half = t.ppf(0.975, 5) * np.sqrt(errors.mean() ** 2 + errors.var(ddof=1) + 0.1 * 0.9 / 1000)
    assert (low, high) == pytest.approx((round(0.1 - half, 4), round(0.1 + half, 4)))
    exact = share_interval(100, 1000, np.zeros(6))
    assert exact[1] - exact[0] < high - low  # a coder without error: sampling error only


def test_a_share_of_zero_still_gets_an_interval_and_bounds_stay_in_0_1():
    low, high = share_interval(0, 50, np.array([0.1, -0.1, 0.05]))
    assert low == 0.0 and 0 < high <= 1
    assert share_interval(5, 10, np.array([0.5])) != share_interval(5, 10, np.array([0.5, 0.5]))  # one app: no spread
    assert all(np.isnan(share_interval(5, 10, np.array([0.5]))))

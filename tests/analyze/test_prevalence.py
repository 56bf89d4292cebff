"""Factor shares corrected for the coder's measured error, with intervals that include it."""

from __future__ import annotations

import math

import pytest

from reviewmine.analyze.prevalence import ErrorRates, corrected_share, pooled_rates


def test_a_coder_that_over_finds_a_label_is_corrected_back_to_the_true_share():
    # sensitivity 0.8, specificity 0.95, measured on 2,000 held-out reviews
    rates = ErrorRates(tp=400, fn=100, fp=75, tn=1425)
    true_share, n = 0.10, 1000
    observed = round(n * (0.8 * true_share + 0.05 * (1 - true_share)))  # 125: the raw share says 12.5%
    estimate, low, high = corrected_share(observed, n, rates)
    assert estimate == pytest.approx(true_share, abs=0.005)
    assert low < true_share < high  # covers the truth
    assert high - low > 0.02  # wider than sampling error alone would make it


def test_a_perfect_coder_leaves_the_share_as_it_is():
    rates = ErrorRates(tp=300, fn=0, fp=0, tn=700)
    estimate, low, high = corrected_share(50, 500, rates)
    assert estimate == pytest.approx(0.1) and low < 0.1 < high


def test_a_coder_no_better_than_chance_cannot_be_corrected():
    estimate, low, high = corrected_share(50, 500, ErrorRates(tp=5, fn=5, fp=50, tn=50))
    assert math.isnan(estimate) and (low, high) == (0.0, 1.0)


def test_error_rates_of_an_app_are_estimated_without_that_app():
    crossapp = {
        "A": {"confusion": {"c:barrier": [1, 2, 3, 4]}},
        "B": {"confusion": {"c:barrier": [10, 20, 30, 40], "d:facilitator": [1, 0, 0, 9]}},
    }
    assert pooled_rates(crossapp)["c:barrier"] == ErrorRates(11, 22, 33, 44)
    assert pooled_rates(crossapp, exclude="B") == {"c:barrier": ErrorRates(1, 2, 3, 4)}

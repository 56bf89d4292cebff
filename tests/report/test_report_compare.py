"""Between-app and between-version comparisons, and app-balanced pooled shares."""

from __future__ import annotations

import pandas as pd
import pytest

from reviewmine.report.compare import app_balanced, compare_apps, version_changes
from reviewmine.report.inputs import ALL_APPS


def shares(rows):
    df = pd.DataFrame(rows, columns=["app", "code", "polarity", "count", "n_reviews"])
    return df.assign(share=df["count"] / df["n_reviews"])


def test_apps_that_differ_are_flagged_with_effect_size_and_adjusted_p():
    table = shares([
        ("a", "cost_monetization", "barrier", 60, 200),
        ("b", "cost_monetization", "barrier", 10, 200),
        ("c", "cost_monetization", "barrier", 11, 200),
        ("tiny", "cost_monetization", "barrier", 5, 10),
        (ALL_APPS, "cost_monetization", "barrier", 86, 610),
    ])
    result = compare_apps(table, code="cost_monetization", min_reviews=30)
    assert set(zip(result.app_a, result.app_b, strict=True)) == {("a", "b"), ("a", "c"), ("b", "c")}
    ab = result[(result.app_a == "a") & (result.app_b == "b")].iloc[0]
    assert ab.difference == pytest.approx(0.25)
    assert ab.diff_ci_low < 0.25 < ab.diff_ci_high and ab.diff_ci_low > 0
    assert ab.cohens_h > 0.5 and ab.significant
    bc = result[(result.app_a == "b") & (result.app_b == "c")].iloc[0]
    assert not bc.significant and bc.p_adjusted >= bc.p_value
    with pytest.raises(ValueError, match="use one of"):
        compare_apps(table, method="tukey")


def test_the_version_where_a_barrier_share_jumps_is_pointed_at():
    rows = []
    for version, (k, n) in {"1.0": (2, 100), "1.1": (3, 120), "1.2": (2, 90), "1.10": (70, 100), "1.11": (65, 100)}.items():
        rows.append(("app", version, "cost_monetization", "barrier", k, n))
    table = pd.DataFrame(rows, columns=["app", "version_major_minor", "code", "polarity", "count", "n_reviews"])
    result = version_changes(table, min_reviews=30)
    assert result["version"].tolist() == ["1.1", "1.2", "1.10", "1.11"]  # 1.10 after 1.2, not after 1.1
    assert result.loc[result.rose, "version"].tolist() == ["1.10", "1.11"]
    jump = result[result.version == "1.10"].iloc[0]
    assert jump.earlier_share == pytest.approx(7 / 310, abs=1e-4) and jump.share == pytest.approx(0.7)


def test_app_balanced_share_counts_each_app_once():
    table = shares([
        ("big", "c", "barrier", 100, 1000),
        ("small", "c", "barrier", 30, 50),
        (ALL_APPS, "c", "barrier", 130, 1050),
    ])
    row = app_balanced(table).iloc[0]
    assert row.pooled_share == pytest.approx(round(130 / 1050, 4))
    assert row.app_mean_share == pytest.approx((0.1 + 0.6) / 2)
    assert row.apps == 2


def test_one_hit_in_a_small_version_is_not_a_significant_rise():
    rows = [("app", "1.0", "c", "barrier", 0, 450), ("app", "1.1", "c", "barrier", 1, 30)]
    table = pd.DataFrame(rows, columns=["app", "version_major_minor", "code", "polarity", "count", "n_reviews"])
    result = version_changes(table)
    assert result["p_value"].iloc[0] > 0.05 and not result["rose"].any()

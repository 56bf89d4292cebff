"""Report tables: intervals, shares, net scores and ratings agree with the coded reviews."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reviewmine.report import (
    ALL_APPS,
    build_tables,
    load_inputs,
    net_score_interval,
    wilson_interval,
)
from reviewmine.report.tables import version_key


def test_wilson_interval_matches_the_textbook_value_and_is_empty_without_reviews():
    low, high = wilson_interval([8, 0, 3], [20, 0, 3])
    assert low[0] == pytest.approx(0.2188, abs=1e-4) and high[0] == pytest.approx(0.6134, abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert high[2] == 1.0 and 0.3 < low[2] < 0.5  # 3 of 3 is not "certainly 100%"


def test_net_score_interval_matches_newcombe_1998():
    low, high = net_score_interval([36], [12], [2], [50])
    assert low[0] == pytest.approx(0.0569, abs=1e-4)
    assert high[0] == pytest.approx(0.3404, abs=1e-4)


@pytest.fixture(scope="module")
def inputs(analysed_dir):
    return load_inputs(analysed_dir)


@pytest.fixture(scope="module")
def tables(inputs):
    return build_tables(inputs, small_n=30)


def test_factor_shares_count_reviews_with_each_code_and_polarity(inputs, tables):
    codes = pd.read_parquet(inputs.data_dir / "processed" / "codes.parquet")
    scores = pd.read_parquet(inputs.data_dir / "processed" / "review_scores.parquet")
    shares = tables["factor_shares"].set_index(["app", "code", "polarity"])
    cell = codes[(codes.app == "calm") & (codes.code == "cost_monetization") & (codes.polarity == "barrier")]
    row = shares.loc[("calm", "cost_monetization", "barrier")]
    assert row["count"] == cell.review_key.nunique() > 0
    assert row["n_reviews"] == (scores.app == "calm").sum()
    assert row["share"] == pytest.approx(row["count"] / row["n_reviews"], abs=1e-4)
    assert row["ci_low"] <= row["share"] <= row["ci_high"]
    pooled = shares.loc[(ALL_APPS, "cost_monetization", "barrier")]
    assert pooled["n_reviews"] == len(scores)
    assert pooled["count"] == codes[(codes.code == "cost_monetization") & (codes.polarity == "barrier")].review_key.nunique()
    any_ = shares.xs("any", level="polarity")
    by_pol = shares.drop(index="any", level="polarity")["count"].groupby(level=["app", "code"]).max()
    assert (any_["count"] >= by_pol.reindex(any_.index)).all()


def test_every_code_of_the_codebook_is_listed_even_when_never_raised(inputs, tables):
    calm = tables["factor_shares"].query("app == 'calm' and polarity == 'barrier'")
    assert set(calm["code"]) >= set(inputs.codebook.ids)


def test_apps_with_few_reviews_are_kept_and_flagged(tables):
    summary = tables["app_summary"].set_index("app")
    assert summary.index[0] == ALL_APPS
    small = summary[summary["n_analysed"] < 30]
    assert len(small) >= 1 and small["small_n"].all()
    assert not summary.loc["calm", "small_n"]
    assert set(small.index) <= set(tables["factor_shares"]["app"])


def test_net_score_is_facilitator_minus_barrier_share_with_an_interval_around_it(tables):
    net = tables["net_by_factor"]
    raised = net[(net.n_facilitator + net.n_barrier) > 0]
    assert np.allclose(raised.net_score, raised.facilitator_share - raised.barrier_share, atol=2e-4)
    assert (raised.net_ci_low <= raised.net_score + 1e-4).all() and (raised.net_score <= raised.net_ci_high + 1e-4).all()
    assert raised.net_ci_low.between(-1, 1).all() and raised.net_ci_high.between(-1, 1).all()


def test_category_net_counts_reviews_with_any_code_of_the_category(inputs, tables):
    codes = inputs.codes
    tech = codes[(codes.app == "calm") & (codes.category == "technology")]
    row = tables["net_by_category"].set_index(["app", "category"]).loc[("calm", "technology")]
    assert row["n_barrier"] == tech[tech.polarity == "barrier"].review_key.nunique()
    assert row["n_facilitator"] == tech[tech.polarity == "facilitator"].review_key.nunique()
    both = set(tech[tech.polarity == "barrier"].review_key) & set(tech[tech.polarity == "facilitator"].review_key)
    assert row["n_both"] == len(both)


def test_ratings_by_factor_are_the_mean_stars_of_the_cells_reviews(inputs, tables):
    codes = inputs.codes
    cell = codes[(codes.code == "perceived_benefit") & (codes.polarity == "facilitator")]
    row = tables["ratings_by_factor"].set_index(["app", "code", "polarity"]).loc[(ALL_APPS, "perceived_benefit", "facilitator")]
    assert row["n"] == len(cell)
    assert row["mean_rating"] == pytest.approx(cell.rating.mean(), abs=1e-3)
    assert row["rating_difference"] == pytest.approx(row["mean_rating"] - inputs.scores.rating.mean(), abs=1e-3)


def test_versions_sort_numerically():
    assert sorted(["6.10", "6.9", "10.0", "6.10.1"], key=version_key) == ["6.9", "6.10", "6.10.1", "10.0"]


def test_shares_by_version_lists_versions_in_release_order(tables):
    calm = tables["shares_by_version"].query("app == 'calm'")
    versions = list(dict.fromkeys(calm["version_major_minor"]))
    assert len(versions) > 3
    assert versions == sorted(versions, key=version_key)


def test_trends_by_month_cover_every_month_with_reviews(inputs, tables):
    trends = tables["trends_by_month"].query("app == @ALL_APPS")
    assert set(trends["month"]) == set(inputs.scores["month"].dropna())
    months = trends.drop_duplicates("month").set_index("month")["n_reviews"]
    assert months.sum() == inputs.scores["month"].notna().sum()


def test_app_filter_keeps_only_the_chosen_apps(analysed_dir):
    tables = build_tables(load_inputs(analysed_dir, apps=["woebot"]))
    assert list(tables["app_summary"]["app"]) == [ALL_APPS, "woebot"]
    summary = tables["app_summary"].set_index("app")
    assert summary.loc[ALL_APPS, "n_analysed"] == summary.loc["woebot", "n_analysed"]


def test_version_parts_keep_10_10_apart_from_10_1_when_read_back_from_csv(tables, tmp_path):
    from reviewmine.report.tables import write_tables

    by_version = tables["shares_by_version"]
    expected = by_version["version_major_minor"].str.split(".", expand=True).astype(int)
    assert (by_version["version_major"] == expected[0]).all() and (by_version["version_minor"] == expected[1]).all()
    # a CSV reader's default (numbers) merges "6.1" and "6.10"; the integer parts do not
    write_tables({"shares_by_version": by_version}, tmp_path)
    back = pd.read_csv(tmp_path / "shares_by_version.csv")
    assert back[["version_major", "version_minor"]].drop_duplicates().shape[0] == by_version["version_major_minor"].nunique()


def test_heatmap_legend_clears_the_labels_and_no_cell_reads_minus_zero(tables):
    from reviewmine.report.figures import factor_heatmap

    fig = factor_heatmap(tables["net_by_factor"], tables["app_summary"], small_n=1)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    labels = [t.get_window_extent(renderer) for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
    assert not any(legend.overlaps(box) for box in [*labels, ax.title.get_window_extent(renderer)])
    assert not any(t.get_text() in ("+0", "-0") for t in ax.texts)


def test_signed_numbers_never_read_minus_zero():
    from reviewmine.report.html import _net_ci, _signed

    assert _signed(-0.04) == "0.0" and _signed(0.04) == "0.0" and _signed(-0.06) == "-0.1" and _signed(1.25, 2) == "+1.25"
    assert _net_ci(-0.0001, -0.0004, 0.0003) == "0.0 (0.0 to 0.0)"


def test_app_mean_trend_counts_each_app_once():
    from reviewmine.report.figures import app_mean_shares

    rows = []
    for month in ("2024-01", "2024-02"):
        rows.append(("big", month, 1000, "c", "barrier", 100))   # 10%
        rows.append(("small", month, 40, "c", "barrier", 20))    # 50%
        rows.append((ALL_APPS, month, 1040, "c", "barrier", 120))  # pooled 11.5%
    trends = pd.DataFrame(rows, columns=["app", "month", "n_reviews", "code", "polarity", "count"])
    mean = app_mean_shares(trends, pd.Index(["2024-01", "2024-02"]), "c", "barrier", window=1, min_window_reviews=20)
    assert mean.tolist() == pytest.approx([0.3, 0.3])
    too_small = app_mean_shares(trends, pd.Index(["2024-01", "2024-02"]), "c", "barrier", window=1, min_window_reviews=50)
    assert too_small.tolist() == pytest.approx([0.1, 0.1])  # the small app is left out below 50 reviews


def test_pooled_trend_figure_also_draws_the_mean_of_apps(tables):
    from reviewmine.report.figures import monthly_trends

    fig = monthly_trends(tables["trends_by_month"])
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert names == ["barrier, pooled", "barrier, mean of apps", "facilitator, pooled", "facilitator, mean of apps"]
    assert "pooled and mean of apps" in fig.get_suptitle()


def test_factor_shares_carry_an_interval_with_the_coders_error(tables):
    shares = tables["factor_shares"]
    measured = shares.dropna(subset=["coder_ci_low"])
    assert len(measured) > 20 and measured["polarity"].isin(["barrier", "facilitator", "neutral"]).all()
    assert ((measured["coder_ci_low"] <= measured["share"] + 1e-9) & (measured["share"] <= measured["coder_ci_high"] + 1e-9)).all()
    width = measured["coder_ci_high"] - measured["coder_ci_low"]
    assert width.mean() > (measured["ci_high"] - measured["ci_low"]).mean()  # the coder's error widens it
    assert shares.loc[shares["polarity"] == "any", "coder_ci_low"].isna().all()  # no error measured for 'any'

"""Comparisons a reviewer of the paper asks for: between apps, between versions, app-balanced pools.

Every test is a two-sample test of proportions from statsmodels (the score test), or
Fisher's exact test from scipy where a cell is too sparse for it (no hand-written
statistics), reported with its effect size and a p-value adjusted for the number of tests
run (Holm by default, or Benjamini-Hochberg with ``method="fdr_bh"``):

* ``compare_apps``: for one code and polarity (or every code), each pair of apps: shares,
  their difference with a 95% Newcombe interval, Cohen's h, p and adjusted p;
* ``version_changes``: per app and code, each version against all earlier versions pooled,
  flagging the versions where a barrier share rose significantly (the place to look when an
  update changed how people engage);
* ``app_balanced``: the mean of the apps' shares beside the pooled share, which large apps
  dominate.

>>> from reviewmine.report import build_tables, load_inputs
>>> tables = build_tables(load_inputs("data"))                      # doctest: +SKIP
>>> compare_apps(tables["factor_shares"], code="cost_monetization")  # doctest: +SKIP
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from reviewmine.report.inputs import ALL_APPS
from reviewmine.report.tables import version_key

METHODS = ("holm", "fdr_bh", "bonferroni")


def _two_proportions(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float, float]:
    """p-value (two-sided), Newcombe 95% interval of p1 - p2, Cohen's h.

    The score test where every expected cell count is at least 5; Fisher's exact test
    otherwise (the score test is far too optimistic for 1 of 15 against 0 of 450)."""
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        proportion_effectsize,
        test_proportions_2indep,
    )

    hits, total = k1 + k2, n1 + n2
    expected = min(n1, n2) * min(hits, total - hits) / total
    # statsmodels also computes ratio and odds-ratio statistics, which divide by a zero share
    with np.errstate(divide="ignore", invalid="ignore"):
        if hits == 0 or hits == total:  # no variation: nothing to test
            p = 1.0
        elif expected < 5:
            p = float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
        else:
            p = float(test_proportions_2indep(k1, n1, k2, n2, method="score").pvalue)
        low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb")
    h = float(proportion_effectsize(k1 / n1, k2 / n2))
    return p, float(low), float(high), h


def _adjust(p: pd.Series, method: str) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    if method not in METHODS:
        raise ValueError(f"method {method!r}: use one of {', '.join(METHODS)}")
    if p.empty:
        return np.array([])
    return multipletests(p.to_numpy(), method=method)[1]


def compare_apps(
    factor_shares: pd.DataFrame,
    code: str | None = None,
    polarity: str = "barrier",
    min_reviews: int = 30,
    method: str = "holm",
) -> pd.DataFrame:
    """Pairwise comparison of apps' shares of reviews with ``code`` x ``polarity``.

    ``factor_shares`` is the report table of that name. Apps with fewer than ``min_reviews``
    analysed reviews are left out. p-values are adjusted over every pair (and every code, when
    ``code`` is None) with ``method``.
    """
    rows = factor_shares[
        (factor_shares["app"] != ALL_APPS)
        & (factor_shares["polarity"] == polarity)
        & (factor_shares["n_reviews"] >= min_reviews)
    ]
    if code is not None:
        rows = rows[rows["code"] == code]
    out = []
    for c, group in rows.groupby("code", sort=False):
        for a, b in combinations(group.itertuples(index=False), 2):
            p, low, high, h = _two_proportions(int(a.count), int(a.n_reviews), int(b.count), int(b.n_reviews))
            out.append({
                "code": c, "polarity": polarity, "app_a": a.app, "app_b": b.app,
                "n_a": int(a.n_reviews), "n_b": int(b.n_reviews), "share_a": a.share, "share_b": b.share,
                "difference": a.count / a.n_reviews - b.count / b.n_reviews, "diff_ci_low": low,
                "diff_ci_high": high, "cohens_h": h, "p_value": p,
            })
    table = pd.DataFrame(out, columns=[
        "code", "polarity", "app_a", "app_b", "n_a", "n_b", "share_a", "share_b", "difference",
        "diff_ci_low", "diff_ci_high", "cohens_h", "p_value",
    ])
    table["p_adjusted"] = _adjust(table["p_value"], method)
    table["significant"] = table["p_adjusted"] < 0.05
    return table.round(4)


def version_changes(
    shares_by_version: pd.DataFrame,
    polarity: str = "barrier",
    min_reviews: int = 30,
    method: str = "fdr_bh",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Each app version's share against all its earlier versions pooled, per app and code.

    Versions with fewer than ``min_reviews`` reviews are skipped (and not pooled into later
    baselines either, so a tiny version cannot decide a flag). ``rose`` marks versions whose
    share is higher than before with an adjusted p below ``alpha`` (Benjamini-Hochberg over
    every test by default: many versions x codes are screened).
    """
    rows = shares_by_version[
        (shares_by_version["polarity"] == polarity) & (shares_by_version["n_reviews"] >= min_reviews)
    ]
    out = []
    for (app, code), group in rows.groupby(["app", "code"], sort=False):
        group = group.sort_values("version_major_minor", key=lambda s: s.map(version_key))
        k_before = n_before = 0
        for row in group.itertuples(index=False):
            if n_before:
                p, low, high, h = _two_proportions(int(row.count), int(row.n_reviews), k_before, n_before)
                out.append({
                    "app": app, "code": code, "polarity": polarity, "version": row.version_major_minor,
                    "n_reviews": int(row.n_reviews), "share": row.count / row.n_reviews,
                    "earlier_reviews": n_before, "earlier_share": k_before / n_before,
                    "difference": row.count / row.n_reviews - k_before / n_before,
                    "diff_ci_low": low, "diff_ci_high": high, "cohens_h": h, "p_value": p,
                })
            k_before += int(row.count)
            n_before += int(row.n_reviews)
    table = pd.DataFrame(out, columns=[
        "app", "code", "polarity", "version", "n_reviews", "share", "earlier_reviews", "earlier_share",
        "difference", "diff_ci_low", "diff_ci_high", "cohens_h", "p_value",
    ])
    table["p_adjusted"] = _adjust(table["p_value"], method)
    table["rose"] = (table["p_adjusted"] < alpha) & (table["difference"] > 0)
    return table.round(4)


def app_balanced(factor_shares: pd.DataFrame, min_reviews: int = 30) -> pd.DataFrame:
    """Per code x polarity: the pooled share (large apps weigh more) beside the mean of the
    apps' shares (each app counts once), over apps with at least ``min_reviews`` reviews."""
    apps = factor_shares[(factor_shares["app"] != ALL_APPS) & (factor_shares["n_reviews"] >= min_reviews)]
    pooled = factor_shares[factor_shares["app"] == ALL_APPS].set_index(["code", "polarity"])["share"]
    balanced = apps.groupby(["code", "polarity"]).agg(
        app_mean_share=("share", "mean"), apps=("app", "nunique"),
        app_min_share=("share", "min"), app_max_share=("share", "max"),
    )
    out = balanced.join(pooled.rename("pooled_share"), how="left").reset_index()
    return out[["code", "polarity", "pooled_share", "app_mean_share", "apps", "app_min_share", "app_max_share"]].round(4)

"""Report tables: factor x polarity shares with confidence intervals, net scores, ratings,
trends by month and by app version, topics.

Every share is "reviews with this code (and polarity) among the analysed reviews of the
app", so apps of different sizes compare directly. Intervals are 95% Wilson score
intervals; net scores (facilitator share minus barrier share) get Newcombe's hybrid score
interval for a difference of two proportions from the same reviews.

>>> wilson_interval(np.array([8]), np.array([20]))
(array([0.2188...]), array([0.6134...]))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.report.inputs import ALL_APPS, POLARITIES, ReportInputs, app_order

Z95 = 1.959963984540054
DIRECTED = ("barrier", "facilitator")

TABLE_ORDER = (
    "app_summary", "factor_shares", "net_by_factor", "net_by_category", "ratings_by_factor",
    "trends_by_month", "shares_by_version", "top_topics", "quotes",
)  # fmt: skip


def wilson_interval(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``k`` successes out of ``n`` (NaN where ``n`` is 0)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def net_score_interval(both, first_only, second_only, n, z: float = Z95):
    """Newcombe's (1998, method 10) interval for p1 - p2 of two proportions on the same units.

    ``p1 = (both + first_only) / n`` and ``p2 = (both + second_only) / n``; for the net score
    of a factor, first = facilitator and second = barrier.

    >>> net_score_interval([36], [12], [2], [50])  # Newcombe's example: 0.0569 to 0.3404
    (array([0.0569...]), array([0.3404...]))
    """
    a = np.asarray(both, dtype=float)
    b = np.asarray(first_only, dtype=float)
    c = np.asarray(second_only, dtype=float)
    n = np.asarray(n, dtype=float)
    d = n - a - b - c
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = (a + b) / n, (a + c) / n
        l1, u1 = wilson_interval(a + b, n, z)
        l2, u2 = wilson_interval(a + c, n, z)
        denom = np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
        # Newcombe's continuity-corrected phi: ad - bc shrunk by n/2 when positive.
        cross = a * d - b * c
        cross = np.where(cross > n / 2, cross - n / 2, np.minimum(cross, 0))
        phi = np.where(denom > 0, cross / np.where(denom > 0, denom, 1), 0.0)
        delta = np.sqrt(np.maximum((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
        eps = np.sqrt(np.maximum((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
        diff = p1 - p2
    return np.clip(diff - delta, -1, 1), np.clip(diff + eps, -1, 1)


def _with_all(df: pd.DataFrame) -> pd.DataFrame:
    """The rows once per app and once more pooled under ``ALL_APPS``."""
    return pd.concat([df.assign(app=ALL_APPS), df], ignore_index=True)


def _app_sizes(inputs: ReportInputs) -> pd.Series:
    sizes = inputs.scores.groupby("app").size()
    order = [ALL_APPS, *app_order(inputs.scores)]
    return pd.concat([pd.Series({ALL_APPS: len(inputs.scores)}), sizes]).reindex(order)


def _add_ci(df: pd.DataFrame, k: str = "count", n: str = "n_reviews", prefix: str = "") -> pd.DataFrame:
    df[f"{prefix}share"] = np.where(df[n] > 0, df[k] / df[n].where(df[n] > 0, 1), np.nan)
    df[f"{prefix}ci_low"], df[f"{prefix}ci_high"] = wilson_interval(df[k], df[n])
    return df


def _round(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    floats = df.select_dtypes("float").columns
    df[floats] = df[floats].round(digits)
    return df


def app_summary(inputs: ReportInputs, small_n: int) -> pd.DataFrame:
    """One row per app (and all apps): reviews at each stage, ratings, dates, small-n flag."""
    reviews, scores = inputs.reviews, inputs.scores
    coded = scores[scores["n_codes"] > 0]
    frames = {
        "n_processed": _with_all(reviews).groupby("app").size(),
        "n_english": _with_all(reviews[reviews["is_english"]]).groupby("app").size(),
        "n_analysed": _with_all(scores).groupby("app").size(),
        "n_coded": _with_all(coded).groupby("app").size(),
        "mean_rating": _with_all(scores).groupby("app")["rating"].mean(),
        "mean_sentiment": _with_all(scores).groupby("app")["sentiment"].mean(),
        "first_review": _with_all(scores).groupby("app")["at"].min(),
        "last_review": _with_all(scores).groupby("app")["at"].max(),
    }
    out = pd.DataFrame(frames).reindex(_app_sizes(inputs).index)
    stores = _with_all(scores).groupby("app")["store"].agg(lambda s: ",".join(sorted(set(s))))
    out.insert(0, "stores", stores)
    for col in ("n_processed", "n_english", "n_analysed", "n_coded"):
        out[col] = out[col].fillna(0).astype("int64")
    out["share_coded"] = out["n_coded"] / out["n_analysed"]
    out["small_n"] = out["n_analysed"] < small_n
    for col in ("first_review", "last_review"):
        out[col] = out[col].dt.strftime("%Y-%m-%d")
    return _round(out.rename_axis("app").reset_index())


def _presence(inputs: ReportInputs) -> pd.DataFrame:
    """One row per (review, code, polarity) found, with app."""
    return inputs.codes[["review_key", "app", "code", "category", "polarity"]].drop_duplicates()


def factor_shares(inputs: ReportInputs, small_n: int) -> pd.DataFrame:
    """Count and share of reviews with each code x polarity (and 'any'), per app and pooled."""
    sizes = _app_sizes(inputs)
    pres = _with_all(_presence(inputs))
    counts = pres.groupby(["app", "code", "polarity"]).size()
    any_counts = pres.drop_duplicates(["app", "review_key", "code"]).groupby(["app", "code"]).size()
    any_counts = pd.concat({"any": any_counts}, names=["polarity"]).reorder_levels(["app", "code", "polarity"])
    grid = pd.MultiIndex.from_product(
        [sizes.index, inputs.code_ids, [*POLARITIES, "any"]], names=["app", "code", "polarity"]
    )
    out = pd.concat([counts, any_counts]).reindex(grid, fill_value=0).rename("count").reset_index()
    out["count"] = out["count"].astype("int64")
    out["n_reviews"] = out["app"].map(sizes).astype("int64")
    out["small_n"] = out["n_reviews"] < small_n
    out.insert(2, "label", out["code"].map(inputs.code_label))
    out.insert(3, "category", out["code"].map(inputs.code_category))
    out = _add_ci(out)
    out = _with_coder_error(out, inputs)
    cols = ["app", "n_reviews", "small_n", "code", "label", "category", "polarity", "count", "share", "ci_low",
            "ci_high", "coder_ci_low", "coder_ci_high"]
    return _round(out[cols])


def _with_coder_error(shares: pd.DataFrame, inputs: ReportInputs) -> pd.DataFrame:
    """A 95% interval of each share that includes the shipped coder's measured error on unseen
    apps besides sampling error (``analyze.prevalence``); NaN where that error is unmeasured or
    the codes were not made by the shipped coder."""
    from reviewmine.analyze.outputs import coder_tier, shipped_coder_used
    from reviewmine.analyze.prevalence import share_interval, shipped_errors

    summary = inputs.analyze_summary
    errors = shipped_errors(coder_tier(summary)) if shipped_coder_used(summary) else {}
    bounds = [
        share_interval(int(k), int(n), errors[f"{c}:{p}"]) if f"{c}:{p}" in errors else (np.nan, np.nan)
        for c, p, k, n in zip(shares["code"], shares["polarity"], shares["count"], shares["n_reviews"], strict=True)
    ]
    low, high = np.array(bounds, dtype=float).reshape(-1, 2).T
    return shares.assign(coder_ci_low=low, coder_ci_high=high)


def _net(flags: pd.DataFrame, key: str, sizes: pd.Series, keys: list[str]) -> pd.DataFrame:
    """Net score per (app, key) from per-review facilitator/barrier flags."""
    per_review = flags.pivot_table(
        index=["app", "review_key", key], columns="polarity", aggfunc="size", fill_value=0
    )
    for pol in DIRECTED:
        if pol not in per_review:
            per_review[pol] = 0
    f, b = per_review["facilitator"] > 0, per_review["barrier"] > 0
    cells = pd.DataFrame({"both": f & b, "f_only": f & ~b, "b_only": b & ~f}).astype(int)
    agg = cells.groupby(level=["app", key]).sum()
    grid = pd.MultiIndex.from_product([sizes.index, keys], names=["app", key])
    agg = agg.reindex(grid, fill_value=0).reset_index()
    agg["n_reviews"] = agg["app"].map(sizes).astype("int64")
    agg["n_facilitator"] = agg["both"] + agg["f_only"]
    agg["n_barrier"] = agg["both"] + agg["b_only"]
    n = agg["n_reviews"].where(agg["n_reviews"] > 0)
    agg["facilitator_share"] = agg["n_facilitator"] / n
    agg["barrier_share"] = agg["n_barrier"] / n
    agg["net_score"] = agg["facilitator_share"] - agg["barrier_share"]
    agg["net_ci_low"], agg["net_ci_high"] = net_score_interval(
        agg["both"], agg["f_only"], agg["b_only"], agg["n_reviews"]
    )
    agg["n_both"] = agg["both"]
    return agg


def net_by_factor(inputs: ReportInputs, small_n: int) -> pd.DataFrame:
    """Net score (facilitator share minus barrier share) per factor, per app and pooled."""
    sizes = _app_sizes(inputs)
    flags = _with_all(_presence(inputs)[lambda d: d["polarity"].isin(DIRECTED)])
    out = _net(flags, "code", sizes, inputs.code_ids)
    out.insert(2, "label", out["code"].map(inputs.code_label))
    out.insert(3, "category", out["code"].map(inputs.code_category))
    out["small_n"] = out["n_reviews"] < small_n
    cols = [
        "app", "n_reviews", "small_n", "code", "label", "category", "n_facilitator", "n_barrier",
        "n_both", "facilitator_share", "barrier_share", "net_score", "net_ci_low", "net_ci_high",
    ]  # fmt: skip
    return _round(out[cols])


def net_by_category(inputs: ReportInputs, small_n: int) -> pd.DataFrame:
    """Net score per Borghouts category: reviews with any facilitator vs any barrier code in it."""
    sizes = _app_sizes(inputs)
    pres = _presence(inputs)
    pres = pres.assign(category=pres["code"].map(inputs.code_category).replace("", "other"))
    flags = _with_all(pres[pres["polarity"].isin(DIRECTED)])
    categories = list(dict.fromkeys([*inputs.codebook.categories, "user", "program", "technology"]))
    categories += sorted(set(flags["category"]) - set(categories))
    out = _net(flags, "category", sizes, categories)
    out["small_n"] = out["n_reviews"] < small_n
    cols = [
        "app", "n_reviews", "small_n", "category", "n_facilitator", "n_barrier", "n_both",
        "facilitator_share", "barrier_share", "net_score", "net_ci_low", "net_ci_high",
    ]  # fmt: skip
    return _round(out[cols])


def ratings_by_factor(inputs: ReportInputs, small_n: int) -> pd.DataFrame:
    """Star ratings and sentiment of the reviews in each code x polarity cell vs the app's mean."""
    scores = inputs.scores[["review_key", "app", "rating", "sentiment"]]
    pres = _presence(inputs).merge(scores[["review_key", "rating", "sentiment"]], on="review_key")
    pres = _with_all(pres)
    stats = pres.groupby(["app", "code", "polarity"]).agg(
        n=("review_key", "size"),
        mean_rating=("rating", "mean"),
        sd_rating=("rating", "std"),
        share_1_2_stars=("rating", lambda r: float((r <= 2).mean())),
        mean_sentiment=("sentiment", "mean"),
    ).reset_index()
    half = Z95 * stats["sd_rating"].fillna(0) / np.sqrt(stats["n"])
    stats["rating_ci_low"] = (stats["mean_rating"] - half).clip(1, 5)
    stats["rating_ci_high"] = (stats["mean_rating"] + half).clip(1, 5)
    stats.loc[stats["n"] < 2, ["rating_ci_low", "rating_ci_high"]] = np.nan
    base = _with_all(scores).groupby("app")["rating"].mean()
    stats["app_mean_rating"] = stats["app"].map(base)
    stats["rating_difference"] = stats["mean_rating"] - stats["app_mean_rating"]
    sizes = _app_sizes(inputs)
    stats["n_reviews"] = stats["app"].map(sizes).astype("int64")
    stats["small_n"] = stats["n"] < small_n
    stats.insert(2, "label", stats["code"].map(inputs.code_label))
    stats.insert(3, "category", stats["code"].map(inputs.code_category))
    order = {a: i for i, a in enumerate(sizes.index)}
    stats = stats.sort_values(["app", "code", "polarity"], key=lambda s: s.map(order) if s.name == "app" else s)
    cols = [
        "app", "code", "label", "category", "polarity", "n", "small_n", "mean_rating",
        "sd_rating", "rating_ci_low", "rating_ci_high", "share_1_2_stars", "mean_sentiment",
        "app_mean_rating", "rating_difference",
    ]  # fmt: skip
    return _round(stats[cols].reset_index(drop=True))


def _cell_grid(pres: pd.DataFrame, denom: pd.DataFrame, by: list[str], codes: list[str]) -> pd.DataFrame:
    """Counts of code x barrier/facilitator for every group in ``denom`` (zeros kept)."""
    counts = pres.groupby([*by, "code", "polarity"]).size().rename("count")
    rows = denom[by].drop_duplicates()
    grid = rows.merge(
        pd.MultiIndex.from_product([codes, DIRECTED], names=["code", "polarity"]).to_frame(index=False),
        how="cross",
    )
    out = grid.merge(counts.reset_index(), on=[*by, "code", "polarity"], how="left")
    out["count"] = out["count"].fillna(0).astype("int64")
    return out.merge(denom, on=by)


def trends_by_month(inputs: ReportInputs) -> pd.DataFrame:
    """Share of reviews with each factor x barrier/facilitator per calendar month (UTC)."""
    scores = _with_all(inputs.scores[["review_key", "app", "month"]].dropna(subset=["month"]))
    denom = scores.groupby(["app", "month"]).size().rename("n_reviews").reset_index()
    pres = _presence(inputs)[lambda d: d["polarity"].isin(DIRECTED)]
    pres = _with_all(pres.merge(inputs.scores[["review_key", "month"]], on="review_key"))
    out = _add_ci(_cell_grid(pres, denom, ["app", "month"], inputs.code_ids))
    out.insert(3, "label", out["code"].map(inputs.code_label))
    order = {a: i for i, a in enumerate(_app_sizes(inputs).index)}
    out = out.sort_values(["app", "month", "code", "polarity"], key=lambda s: s.map(order) if s.name == "app" else s)
    cols = ["app", "month", "n_reviews", "code", "label", "polarity", "count", "share", "ci_low", "ci_high"]
    return _round(out[cols].reset_index(drop=True))


def version_key(version: str) -> tuple:
    """Sort key for dotted versions: '6.9' before '6.10'."""
    return tuple(int(p) if p.isdigit() else 0 for p in str(version).split("."))


def shares_by_version(inputs: ReportInputs, min_reviews: int = 1) -> pd.DataFrame:
    """Share of reviews with each factor x barrier/facilitator per app and ``major.minor`` version."""
    scores = inputs.scores.dropna(subset=["version_major_minor"])
    denom = scores.groupby(["app", "version_major_minor"]).size().rename("n_reviews").reset_index()
    denom = denom[denom["n_reviews"] >= min_reviews]
    pres = _presence(inputs)[lambda d: d["polarity"].isin(DIRECTED)]
    pres = pres.merge(scores[["review_key", "version_major_minor"]], on="review_key")
    by = ["app", "version_major_minor"]
    cols = ["app", "version_major_minor", "version_major", "version_minor", "n_reviews", "code", "label",
            "polarity", "count", "share", "ci_low", "ci_high"]
    if denom.empty:
        return pd.DataFrame(columns=cols)
    out = _add_ci(_cell_grid(pres, denom, by, inputs.code_ids))
    out["label"] = out["code"].map(inputs.code_label)
    # "10.10" reads back from CSV as the number 10.1 (= "10.1") in pandas, R and Excel; the
    # integer parts keep the versions apart in any reader.
    parts = out["version_major_minor"].str.split(".", n=1, expand=True)
    out["version_major"] = pd.to_numeric(parts[0], errors="coerce").astype("Int64")
    out["version_minor"] = pd.to_numeric(parts[1], errors="coerce").astype("Int64")
    order = {a: i for i, a in enumerate(app_order(inputs.scores))}
    out["_app"] = out["app"].map(order)
    out["_version"] = out["version_major_minor"].map(version_key)
    out = out.sort_values(["_app", "_version", "code", "polarity"])
    return _round(out[cols].reset_index(drop=True))


def top_topics(inputs: ReportInputs, per_app: int = 10) -> pd.DataFrame:
    """The largest topics of each app and pooled (outliers excluded), with their factor mapping."""
    cols = [
        "app", "rank", "topic_id", "label", "words", "factor", "coded_factor", "is_emerging",
        "n_reviews", "app_reviews", "share", "ci_low", "ci_high",
    ]  # fmt: skip
    if not inputs.has_topics:
        return pd.DataFrame(columns=cols)
    info = inputs.topic_info.set_index("topic_id")
    assigned = inputs.topics[["review_key", "app", "topic_id"]].drop_duplicates()
    assigned = _with_all(assigned[assigned["topic_id"] != -1])
    counts = assigned.groupby(["app", "topic_id"])["review_key"].nunique().rename("n_reviews").reset_index()
    sizes = _app_sizes(inputs)
    counts["app_reviews"] = counts["app"].map(sizes)
    counts = counts.dropna(subset=["app_reviews"])
    counts["app_reviews"] = counts["app_reviews"].astype("int64")
    order = {a: i for i, a in enumerate(sizes.index)}
    counts = counts.sort_values(["app", "n_reviews", "topic_id"], ascending=[True, False, True],
                                key=lambda s: s.map(order) if s.name == "app" else s)
    counts = counts.groupby("app", sort=False).head(per_app)
    counts["rank"] = counts.groupby("app", sort=False).cumcount() + 1
    for col, default in (("label", ""), ("words", ""), ("factor", ""), ("coded_factor", ""), ("is_emerging", False)):
        counts[col] = counts["topic_id"].map(info[col]) if col in info else default
    counts[["factor", "coded_factor"]] = counts[["factor", "coded_factor"]].fillna("")
    counts = _add_ci(counts, k="n_reviews", n="app_reviews")
    return _round(counts[cols].reset_index(drop=True))


def build_tables(inputs: ReportInputs, small_n: int = 30, min_version_reviews: int = 1,
                 top_topics_per_app: int = 10) -> dict[str, pd.DataFrame]:
    """Every report table except quotes, by name (see ``docs/report.md`` for the columns)."""
    return {
        "app_summary": app_summary(inputs, small_n),
        "factor_shares": factor_shares(inputs, small_n),
        "net_by_factor": net_by_factor(inputs, small_n),
        "net_by_category": net_by_category(inputs, small_n),
        "ratings_by_factor": ratings_by_factor(inputs, small_n),
        "trends_by_month": trends_by_month(inputs),
        "shares_by_version": shares_by_version(inputs, min_version_reviews),
        "top_topics": top_topics(inputs, top_topics_per_app),
    }


def write_tables(tables: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write each table as Parquet and CSV into ``out_dir``."""
    from reviewmine.io import write_frame

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        written.append(write_frame(df, out_dir / f"{name}.parquet"))
        written.append(write_frame(df, out_dir / f"{name}.csv"))
    return written


def write_workbook(table_files: dict[str, Path], workbook: Path) -> Path:
    """One XLSX with a sheet per table (read from its Parquet file), header row frozen.

    Takes file paths rather than frames so it can run in a worker process while the
    figures are drawn.
    """
    from reviewmine.io import write_atomic, write_xlsx

    with write_atomic(workbook) as tmp:
        write_xlsx(((name, pd.read_parquet(path)) for name, path in table_files.items()), tmp)
    return workbook

"""Publication figures (PNG at 300 dpi and SVG) drawn from the report tables.

Sized for journal columns (3.5 in single, 7 in double), 7-8 pt text, and the Okabe-Ito
colour-blind-safe palette: barriers in vermillion, facilitators in blue, and a diverging
vermillion-white-blue scale for net scores. Each function takes tables and returns a
matplotlib ``Figure`` (or ``None`` when the data cannot support the figure), so
notebooks can show them and ``draw_figures`` can save them.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from matplotlib.figure import Figure

from reviewmine.report.inputs import ALL_APPS
from reviewmine.report.tables import version_key

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000",
}  # fmt: skip
POLARITY_COLOURS = {"barrier": OKABE_ITO["vermillion"], "facilitator": OKABE_ITO["blue"]}
CATEGORY_COLOURS = {
    "user": OKABE_ITO["purple"], "program": OKABE_ITO["green"], "technology": OKABE_ITO["sky_blue"],
    "": "#9a9a9a",
}  # fmt: skip
NET_CMAP = LinearSegmentedColormap.from_list(
    "barrier_facilitator", [OKABE_ITO["vermillion"], "#f7f7f7", OKABE_ITO["blue"]]
)
SINGLE_COLUMN, DOUBLE_COLUMN = 3.5, 7.0
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
    "svg.fonttype": "none",
    "figure.dpi": 100,
}
FIGURE_NAMES = ("factor_heatmap", "barriers_facilitators", "monthly_trends", "version_shares", "topic_map")


@contextmanager
def figure_style():
    """The report's matplotlib style, for use around your own figures too."""
    # rc_context restores every rcParam on exit, "interactive" included: Jupyter's inline
    # backend switches interactive mode on when the first figure is made, inside this block,
    # and restoring it off stopped every later figure of the kernel from showing
    # (matplotlib-inline issue 22). Keep what the block set.
    with plt.rc_context(STYLE):
        yield
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def save_figure(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Save ``fig`` as ``name.png`` (300 dpi) and ``name.svg`` with no timestamps, then close it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context({**STYLE, "svg.hashsalt": name}):
        for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            path = out_dir / f"{name}.{ext}"
            fig.savefig(path, format=ext, metadata=metadata)
            paths.append(path)
    plt.close(fig)
    return paths


def _app_label(app: str, n: int, small_n: int) -> str:
    flag = "†" if n < small_n else ""
    return f"{app}{flag}\n(n={n:,})"


def _factor_order(net: pd.DataFrame, top: int | None = None) -> list[str]:
    """Codes mentioned in the pooled data, by category then by how often they are raised."""
    pooled = net[net["app"] == ALL_APPS].copy()
    pooled["total"] = pooled["n_facilitator"] + pooled["n_barrier"]
    pooled = pooled[pooled["total"] > 0]
    if top:
        pooled = pooled.nlargest(top, "total")
    cats = {c: i for i, c in enumerate(("user", "program", "technology"))}
    pooled["cat_order"] = pooled["category"].map(cats).fillna(len(cats))
    return pooled.sort_values(["cat_order", "total"], ascending=[True, False])["code"].tolist()


def factor_heatmap(net: pd.DataFrame, summary: pd.DataFrame, small_n: int = 30, max_apps: int = 30) -> Figure | None:
    """Factors (rows, grouped by Borghouts category) x apps (columns), coloured by net score."""
    codes = _factor_order(net)
    if not codes:
        return None
    sized = summary.set_index("app")["n_analysed"]
    apps = [a for a in summary["app"] if a != ALL_APPS and sized[a] >= small_n]
    if not apps:
        apps = [a for a in summary["app"] if a != ALL_APPS]
    apps = [ALL_APPS, *apps[:max_apps]] if len(apps) > 1 else apps
    grid = net.pivot_table(index="code", columns="app", values="net_score").reindex(index=codes, columns=apps)
    labels = net.drop_duplicates("code").set_index("code")["label"]
    cats = net.drop_duplicates("code").set_index("code")["category"]
    with figure_style():
        width = min(DOUBLE_COLUMN, 2.6 + 0.55 * len(apps))
        fig, ax = plt.subplots(figsize=(width, 0.9 + 0.19 * len(codes)))
        limit = max(0.05, float(np.nanmax(np.abs(grid.to_numpy()))))
        # pcolormesh keeps the cells vector shapes in the SVG (imshow would embed a bitmap).
        image = ax.pcolormesh(np.ma.masked_invalid(grid.to_numpy()), cmap=NET_CMAP,
                              norm=TwoSlopeNorm(0, -limit, limit), edgecolors="white", linewidth=0.4)
        ax.set_xlim(0, len(apps))
        ax.set_ylim(len(codes), 0)
        ax.set_xticks(np.arange(len(apps)) + 0.5, [_app_label(a, int(sized[a]), small_n) for a in apps], rotation=90)
        ax.set_yticks(np.arange(len(codes)) + 0.5, [labels[c] for c in codes])
        for tick, code in zip(ax.get_yticklabels(), codes, strict=True):
            tick.set_color(CATEGORY_COLOURS.get(cats[code], "black") if cats[code] else "black")
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        if grid.size <= 500:
            for (i, j), value in np.ndenumerate(grid.to_numpy()):
                shown = round(100 * value) if np.isfinite(value) else 0
                if shown:  # cells that round to 0 stay blank rather than read "-0" / "+0"
                    colour = "white" if abs(value) > 0.6 * limit else "black"
                    ax.text(j + 0.5, i + 0.5, f"{shown:+d}", ha="center", va="center", fontsize=5.5, color=colour)
        bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label("net score (facilitator − barrier share)")
        bar.ax.tick_params(labelsize=6)
        # The category legend sits above the cells, under the title: below them it ran into the
        # rotated app names.
        ax.set_title("Engagement factors across apps (cell: net score × 100; label colour: category)",
                     loc="left", pad=14)
        for cat, colour in CATEGORY_COLOURS.items():
            if cat:
                ax.plot([], [], "s", color=colour, label=cat)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False, fontsize=6,
                  borderaxespad=0.1, handletextpad=0.2, columnspacing=0.8)
    return fig


def barriers_facilitators(net: pd.DataFrame, summary: pd.DataFrame, small_n: int = 30,
                          max_apps: int = 5, top_factors: int = 12) -> Figure | None:
    """Diverging bars: share of reviews raising each factor as a barrier (left) or facilitator (right)."""
    codes = _factor_order(net, top_factors)
    if not codes:
        return None
    sized = summary.set_index("app")["n_analysed"]
    apps = [a for a in summary["app"] if a != ALL_APPS and sized[a] >= small_n][:max_apps]
    panels = [ALL_APPS, *apps] if apps else list(summary["app"][:max_apps + 1])
    labels = net.drop_duplicates("code").set_index("code")["label"]
    ncols = min(3, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    with figure_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(DOUBLE_COLUMN, 0.4 + nrows * (0.5 + 0.16 * len(codes))),
                                 sharey=True, squeeze=False)
        y = np.arange(len(codes))
        limit = float(net[net["app"].isin(panels)][["barrier_share", "facilitator_share"]].max().max())
        limit = min(1.0, max(0.05, limit * 1.1))
        for ax, app in zip(axes.flat, panels, strict=False):
            rows = net[net["app"] == app].set_index("code").reindex(codes)
            ax.barh(y, -rows["barrier_share"], color=POLARITY_COLOURS["barrier"], height=0.7, label="barrier")
            ax.barh(y, rows["facilitator_share"], color=POLARITY_COLOURS["facilitator"], height=0.7, label="facilitator")
            ax.axvline(0, color="black", linewidth=0.6)
            ax.set_xlim(-limit, limit)
            ticks = ax.get_xticks()
            ax.set_xticks(ticks, [f"{abs(t):.0%}" for t in ticks])
            ax.set_xlim(-limit, limit)
            ax.set_title(_app_label(app, int(sized[app]), small_n).replace("\n", " "), loc="left")
            ax.set_yticks(y, [labels[c] for c in codes])
            ax.grid(axis="x", linewidth=0.3, alpha=0.5)
        axes.flat[0].invert_yaxis()  # shared: inverting once flips every panel
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        fig.supxlabel("share of the app's analysed reviews (barrier ← | → facilitator)", fontsize=7)
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper right", ncol=2, frameon=False)
    return fig


def app_mean_shares(trends: pd.DataFrame, months: pd.Index, code: str, polarity: str, window: int = 3,
                    min_window_reviews: int = 20) -> np.ndarray:
    """Per month, the mean over apps of each app's rolling-window share (apps with at least
    ``min_window_reviews`` reviews in the window): every app counts once, however large."""
    apps = trends[trends["app"] != ALL_APPS]
    shares = []
    for _, data in apps.groupby("app"):
        n = data.drop_duplicates("month").set_index("month")["n_reviews"].reindex(months, fill_value=0)
        k = data[(data["code"] == code) & (data["polarity"] == polarity)].set_index("month")["count"]
        k = k.reindex(months, fill_value=0)
        n_window = n.rolling(window, center=True, min_periods=1).sum().to_numpy()
        k_window = k.rolling(window, center=True, min_periods=1).sum().to_numpy()
        shares.append(np.where(n_window >= min_window_reviews, k_window / np.maximum(n_window, 1), np.nan))
    if not shares:
        return np.full(len(months), np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # months no app covers: NaN
        return np.nanmean(np.vstack(shares), axis=0)


def monthly_trends(trends: pd.DataFrame, app: str = ALL_APPS, top_factors: int = 6,
                   window: int = 3, min_window_reviews: int = 20) -> Figure | None:
    """Barrier and facilitator shares of the most raised factors per month (rolling window).

    For all apps, the pooled share (solid; large apps weigh more, so it partly shows which
    apps were reviewed when) is drawn beside the mean of the apps' shares (dashed; each app
    counts once)."""
    data = trends[trends["app"] == app]
    if data.empty:
        return None
    totals = data.groupby("code")["count"].sum()
    codes = totals[totals > 0].nlargest(top_factors).index.tolist()
    if not codes:
        return None
    months = pd.period_range(data["month"].min(), data["month"].max(), freq="M")
    per_month = data.drop_duplicates("month").set_index("month")["n_reviews"]
    n = per_month.reindex(months.strftime("%Y-%m"), fill_value=0).to_numpy()
    n_window = pd.Series(n).rolling(window, center=True, min_periods=1).sum().to_numpy()
    labels = data.drop_duplicates("code").set_index("code")["label"]
    x = months.to_timestamp()
    ncols = min(3, len(codes))
    nrows = int(np.ceil(len(codes) / ncols))
    with figure_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(DOUBLE_COLUMN, 0.5 + 1.6 * nrows), sharex=True, squeeze=False)
        for ax, code in zip(axes.flat, codes, strict=False):
            for polarity, colour in POLARITY_COLOURS.items():
                cell = data[(data["code"] == code) & (data["polarity"] == polarity)].set_index("month")["count"]
                k = cell.reindex(months.strftime("%Y-%m"), fill_value=0).to_numpy()
                k_window = pd.Series(k).rolling(window, center=True, min_periods=1).sum().to_numpy()
                share = np.where(n_window >= min_window_reviews, k_window / np.maximum(n_window, 1), np.nan)
                pooled = app == ALL_APPS
                ax.plot(x, share, color=colour, linewidth=1.1, label=f"{polarity}, pooled" if pooled else polarity)
                if pooled:
                    balanced = app_mean_shares(trends, months.strftime("%Y-%m"), code, polarity, window,
                                               min_window_reviews)
                    ax.plot(x, balanced, color=colour, linewidth=0.9, linestyle="--",
                            label=f"{polarity}, mean of apps")
            ax.set_title(labels[code], loc="left")
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", linewidth=0.3, alpha=0.5)
        for ax in list(axes.flat)[len(codes):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.tick_params(axis="x", rotation=45)
        scope = "all apps: pooled and mean of apps" if app == ALL_APPS else app
        fig.suptitle(f"Monthly share of reviews ({scope}; {window}-month rolling window, "
                     f"shown where it holds ≥{min_window_reviews} reviews)", x=0.01, ha="left", fontsize=8)
        fig.tight_layout()
        # below the panels, where it hides no line
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(names),
                   frameon=False, fontsize=6.5)
    return fig


def version_shares(by_version: pd.DataFrame, min_reviews: int = 15, min_versions: int = 3,
                   max_apps: int = 4, top_cells: int = 4) -> Figure | None:
    """Factor shares by app version (major.minor) for the apps with enough reviews per version."""
    if by_version.empty:
        return None
    enough = by_version[by_version["n_reviews"] >= min_reviews]
    versions = enough.groupby("app")["version_major_minor"].nunique()
    apps = [a for a in dict.fromkeys(enough["app"]) if versions.get(a, 0) >= min_versions][:max_apps]
    if not apps:
        return None
    with figure_style():
        fig, axes = plt.subplots(len(apps), 1, figsize=(DOUBLE_COLUMN, 0.4 + 1.7 * len(apps)), squeeze=False)
        styles = ["-", "--", ":", "-."]
        for ax, app in zip(axes[:, 0], apps, strict=True):
            data = enough[enough["app"] == app]
            order = sorted(data["version_major_minor"].unique(), key=version_key)
            cells = data.groupby(["code", "polarity"])["count"].sum().nlargest(top_cells)
            cells = cells[cells > 0]
            x = np.arange(len(order))
            for i, (code, polarity) in enumerate(cells.index):
                rows = data[(data["code"] == code) & (data["polarity"] == polarity)].set_index("version_major_minor").reindex(order)
                label = f"{rows['label'].dropna().iloc[0]}: {polarity}"
                ax.plot(x, rows["share"], styles[i % len(styles)], marker="o", markersize=2.5, linewidth=1,
                        color=POLARITY_COLOURS[polarity], label=label)
                ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=POLARITY_COLOURS[polarity], alpha=0.06, linewidth=0)
            ax.set_xticks(x, order, rotation=90 if len(order) > 12 else 0)
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
            ax.set_ylim(bottom=0)
            ax.set_title(f"{app}: versions with ≥{min_reviews} reviews", loc="left")
            ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
            ax.grid(axis="y", linewidth=0.3, alpha=0.5)
        axes[-1, 0].set_xlabel("app version (major.minor); shaded: 95% Wilson interval")
        fig.tight_layout()
    return fig


def topic_layout(topic_info: pd.DataFrame) -> np.ndarray:
    """2-D positions of topics: the model's own if ``topic_info`` has ``x``/``y``, else
    classical MDS of the cosine distances between the topics' top words (tf-idf), which is
    deterministic (no random start)."""
    if {"x", "y"} <= set(topic_info.columns):
        return topic_info[["x", "y"]].to_numpy(dtype=float)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_distances

    words = topic_info["words"].fillna("").replace("", "none").tolist()
    if len(words) < 3:
        return np.column_stack([np.arange(len(words), dtype=float), np.zeros(len(words))])
    d2 = cosine_distances(TfidfVectorizer().fit_transform(words)) ** 2
    n = len(words)
    centre = np.eye(n) - np.ones((n, n)) / n
    values, vectors = np.linalg.eigh(-0.5 * centre @ d2 @ centre)
    top = np.argsort(values)[::-1][:2]
    xy = vectors[:, top] * np.sqrt(np.maximum(values[top], 0))
    signs = np.sign(xy[np.abs(xy).argmax(axis=0), range(2)])  # fix the sign so reruns agree
    return xy * np.where(signs == 0, 1, signs)


def topic_map(topic_info: pd.DataFrame, max_labels: int = 12) -> Figure | None:
    """Topics as bubbles (area: reviews), placed by word similarity, coloured by mapped category."""
    info = topic_info[topic_info["topic_id"] != -1].reset_index(drop=True)
    if info.empty:
        return None
    xy = topic_layout(info)
    category = info["category"].fillna("") if "category" in info else pd.Series("", index=info.index)
    emerging = info["is_emerging"].fillna(False).astype(bool) if "is_emerging" in info else pd.Series(False, index=info.index)
    sizes = info["size"].to_numpy(dtype=float)
    area = 20 + 600 * sizes / max(sizes.max(), 1)
    with figure_style():
        fig, ax = plt.subplots(figsize=(DOUBLE_COLUMN, 4.2))
        colours = [CATEGORY_COLOURS.get(c, CATEGORY_COLOURS[""]) for c in category]
        ax.scatter(xy[:, 0], xy[:, 1], s=area, c=colours, alpha=0.75,
                   edgecolors=["black" if e else "white" for e in emerging], linewidths=[1.0 if e else 0.4 for e in emerging])
        for i in np.argsort(-sizes)[:max_labels]:
            label = str(info.loc[i, "label"] or info.loc[i, "words"])[:38]
            ax.annotate(label, xy[i], fontsize=6, ha="center", va="bottom", xytext=(0, 4), textcoords="offset points")
        for cat, colour in CATEGORY_COLOURS.items():
            ax.scatter([], [], s=30, c=colour, label=cat or "no factor")
        ax.scatter([], [], s=30, c="white", edgecolors="black", label="emerging (not in codebook)")
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="mapped category")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        basis = "meaning (topic embeddings)" if {"x", "y"} <= set(info.columns) else "top words"
        ax.set_title(f"Topic map (bubble area: reviews; distance: dissimilarity of {basis})", loc="left")
        fig.tight_layout()
    return fig


def draw_figures(tables: dict[str, pd.DataFrame], out_dir: Path, topic_info: pd.DataFrame | None = None,
                 small_n: int = 30) -> dict[str, list[Path] | str]:
    """Draw and save every figure; a figure that cannot be drawn maps to the reason why."""
    makers = {
        "factor_heatmap": lambda: factor_heatmap(tables["net_by_factor"], tables["app_summary"], small_n),
        "barriers_facilitators": lambda: barriers_facilitators(tables["net_by_factor"], tables["app_summary"], small_n),
        "monthly_trends": lambda: monthly_trends(tables["trends_by_month"]),
        "version_shares": lambda: version_shares(tables["shares_by_version"]),
        "topic_map": lambda: topic_map(topic_info) if topic_info is not None else None,
    }
    reasons = {
        "factor_heatmap": "no engagement-factor codes in the analysed reviews",
        "barriers_facilitators": "no engagement-factor codes in the analysed reviews",
        "monthly_trends": "no review dates",
        "version_shares": "no app has 3 or more versions with 15 or more reviews each",
        "topic_map": "topics not computed (run 'reviewmine analyze' with topics)",
    }
    result: dict[str, list[Path] | str] = {}
    for name, make in makers.items():
        fig = make()
        result[name] = save_figure(fig, out_dir, name) if fig is not None else reasons[name]
    return result

"""The self-contained HTML report: one file with inline CSS, JS, SVG figures and data.

Nothing is fetched when the page opens (no CDN, no fonts, no images by URL), so it can be
mailed, archived as supplementary material, and opened offline. The methods section is
generated from the run: sources and dates, counts at each stage, the codebook and its
citation, the coder's measured accuracy and the software versions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from jinja2 import Environment, FunctionLoader, select_autoescape

from reviewmine.analyze.outputs import coder_tier, shipped_coder_used
from reviewmine.config import MODELS_DIR
from reviewmine.report.inputs import ALL_APPS, ReportInputs

ACCURACY_FILE = "coder_accuracy.json"
ACCURATE_ACCURACY_FILE = "coder_accurate_accuracy.json"
SENTIMENT_FILE = "sentiment_stars.json"
CODER_FILE = "coder.json"


def model_files() -> list[Path]:
    """Every file of the shipped models: weights and the measured figures the methods quote."""
    return sorted(p for p in MODELS_DIR.glob("*.*") if p.is_file())



def _template(name: str) -> str:
    return (resources.files("reviewmine.report") / "templates" / name).read_text(encoding="utf-8")


def _environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_template),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


# ------------------------------------------------------------------ formatting
def _num(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:,.{digits}f}"


def _pct(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{100 * value:.{digits}f}%"


def _share_ci(share, low, high) -> str:
    if share is None or not math.isfinite(share):
        return ""
    return f"{_pct(share)} ({_pct(low)}–{_pct(high)})"


def _signed(value: float, digits: int = 1) -> str:
    """``+1.5`` / ``-0.3``, and ``0.0`` for values that round to zero (never ``-0.0``)."""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def _net_ci(net, low, high) -> str:
    if net is None or not math.isfinite(net):
        return ""
    return f"{_signed(100 * net)} ({_signed(100 * low)} to {_signed(100 * high)})"


# header, row -> text, numeric[, row -> link to the explorer or None]
Column = tuple[str, Callable[[dict], str], bool] | tuple[str, Callable[[dict], str], bool, Callable[[dict], str | None]]


def html_table(df: pd.DataFrame, columns: list[Column], limit: int | None = None) -> dict:
    """Rows ready for the template: formatted cells (text, numeric, link), the row's app (for
    the filter), small-n flag."""
    records = df.to_dict("records") if limit is None else df.head(limit).to_dict("records")
    rows = []
    for rec in records:
        rows.append(
            {
                "app": rec.get("app"),
                "small": bool(rec.get("small_n", False)),
                "cells": [(col[1](rec), col[2], col[3](rec) if len(col) > 3 else None) for col in columns],
            }
        )
    return {"headers": [col[0] for col in columns], "rows": rows}


def explorer_link(base: str | None, table: str, **filters) -> str | None:
    """URL of a filtered Datasette table page of the explorer (None without an explorer);
    ``app`` is left out for the pooled '(all apps)' rows."""
    if base is None:
        return None
    query = {k: v for k, v in filters.items() if v is not None and not (k == "app" and v == ALL_APPS)}
    return f"{base}/{table}?{urlencode(query)}"


def _field(name: str, fmt: Callable = str) -> Callable[[dict], str]:
    return lambda r: fmt(r[name]) if r.get(name) is not None else ""


def report_tables(tables: dict[str, pd.DataFrame], explore: str | None = None) -> dict[str, dict]:
    """The tables the page shows (the full ones are in tables/ and the workbook); with an
    ``explore`` base URL, factor cells and topics link to their reviews in the explorer."""

    def cell_link(polarity: str) -> Callable[[dict], str | None]:
        return lambda r: explorer_link(explore, "codes", app=r["app"], code=r["code"], polarity=polarity)

    summary = tables["app_summary"]
    net_factor = tables["net_by_factor"]
    net_factor = net_factor[(net_factor["n_facilitator"] + net_factor["n_barrier"]) > 0]
    ratings = tables["ratings_by_factor"]
    ratings = ratings[ratings["polarity"].isin(["barrier", "facilitator"])]
    return {
        "app_summary": html_table(summary, [
            ("app", _field("app"), False),
            ("stores", _field("stores"), False),
            ("processed", _field("n_processed", _num), True),
            ("analysed (English, not spam)", _field("n_analysed", _num), True),
            ("with ≥1 code", _field("n_coded", _num), True),
            ("coded share", _field("share_coded", _pct), True),
            ("mean rating", _field("mean_rating", lambda v: _num(v, 2)), True),
            ("first review", _field("first_review"), False),
            ("last review", _field("last_review"), False),
            ("small n", lambda r: "yes" if r["small_n"] else "", False),
        ]),
        "net_by_category": html_table(tables["net_by_category"], [
            ("app", _field("app"), False),
            ("category", _field("category"), False),
            ("reviews", _field("n_reviews", _num), True),
            ("facilitator share", lambda r: _pct(r["facilitator_share"]), True),
            ("barrier share", lambda r: _pct(r["barrier_share"]), True),
            ("net × 100 (95% CI)", lambda r: _net_ci(r["net_score"], r["net_ci_low"], r["net_ci_high"]), True),
        ]),
        "net_by_factor": html_table(net_factor, [
            ("app", _field("app"), False),
            ("factor", _field("label"), False),
            ("category", _field("category"), False),
            ("reviews", _field("n_reviews", _num), True),
            ("facilitator", lambda r: f"{r['n_facilitator']:,} ({_pct(r['facilitator_share'])})", True,
             cell_link("facilitator")),
            ("barrier", lambda r: f"{r['n_barrier']:,} ({_pct(r['barrier_share'])})", True, cell_link("barrier")),
            ("net × 100 (95% CI)", lambda r: _net_ci(r["net_score"], r["net_ci_low"], r["net_ci_high"]), True),
        ]),
        "ratings_by_factor": html_table(ratings, [
            ("app", _field("app"), False),
            ("factor", _field("label"), False),
            ("polarity", _field("polarity"), False),
            ("reviews", _field("n", _num), True),
            ("mean rating (95% CI)", lambda r: f"{_num(r['mean_rating'], 2)}" + (
                f" ({_num(r['rating_ci_low'], 2)}–{_num(r['rating_ci_high'], 2)})" if _finite(r["rating_ci_low"]) else ""), True),
            ("vs app mean", lambda r: _signed(r["rating_difference"], 2), True),
            ("1-2 stars", _field("share_1_2_stars", _pct), True),
        ]),
        "top_topics": html_table(tables["top_topics"], [
            ("app", _field("app"), False),
            ("rank", _field("rank"), True),
            ("topic", _field("label"), False,
             lambda r: explorer_link(explore, "reviews", topic_id=r["topic_id"], app=r["app"])),
            ("top words", _field("words"), False),
            ("factor", lambda r: r["factor"] or ("emerging" if r["is_emerging"] else ""), False),
            ("reviews", _field("n_reviews", _num), True),
            ("share (95% CI)", lambda r: _share_ci(r["share"], r["ci_low"], r["ci_high"]), True),
        ]),
    }


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


# ------------------------------------------------------------------ methods
def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def methods_context(inputs: ReportInputs, tables: dict[str, pd.DataFrame], parameters: dict,
                    software: dict) -> dict:
    """Everything the methods section says, computed from this run's inputs."""
    ana = inputs.analyze_summary
    sources, sources_text = _sources(inputs)
    stages, stage_cols = _stages(inputs, tables)
    cb = inputs.codebook
    codebook_df = pd.DataFrame(
        [{"id": c.id, "label": c.label, "category": c.category, "source": c.source, "description": c.description}
         for c in cb.codes]
    )
    all_software = {**(ana.get("software") or {}), **software}
    software_df = pd.DataFrame({"package": list(all_software), "version": list(all_software.values())})
    coder_method = ana.get("coder_method") or "unknown"
    tier = coder_tier(ana)
    tier_text = (
        "the accurate tier (a sentence encoder, all-MiniLM-L6-v2 with a head trained on the project's "
        "coded reviews, ensembled with the fast linear coder)"
        if tier == "accurate" else "the fast tier (a linear coder over words and codebook cues)"
    )
    return {
        "sources_text": sources_text,
        "sources": html_table(sources, [
            ("source", _field("source"), False), ("store", _field("store"), False),
            ("reviews", _field("n", _num), True), ("first", _field("first"), False), ("last", _field("last"), False)]),
        "stages": html_table(stages, stage_cols),
        "coding_text": (
            f"Each analysed review was coded with engagement factors and a polarity (barrier, facilitator, "
            f"neutral) per factor by the reviewmine factor coder, {tier_text} (method: {coder_method}), "
            f"which also keeps the sentence that is the evidence for each code."
        ),
        "codebook_name": cb.name,
        "citation": cb.citation or "(no citation in the codebook file)",
        "codebook": html_table(codebook_df, [(c, _field(c), False) for c in codebook_df.columns]),
        **_accuracy(ana),
        "cross_validation": _cross_validation_text(),
        "sentiment_text": _sentiment_text(),
        "statistics_text": _statistics_text(parameters),
        "quotes_text": _quotes_text(parameters),
        "software": html_table(software_df, [("package", _field("package"), False), ("version", _field("version"), False)]),
        "parameters": [(k, json.dumps(v)) for k, v in parameters.items()],
    }


def _sources(inputs: ReportInputs) -> tuple[pd.DataFrame, str]:
    """Reviews per source and store with their first and last dates, and the sentence on them."""
    reviews, proc = inputs.reviews, inputs.process_summary
    at = pd.to_datetime(reviews["at"], utc=True)
    src = reviews.assign(at=at, source=reviews["source"].fillna("(unknown)"))
    sources = (
        src.groupby(["source", "store"])
        .agg(n=("review_key", "size"), first=("at", "min"), last=("at", "max"))
        .reset_index()
        .sort_values("n", ascending=False)
    )
    for col in ("first", "last"):
        sources[col] = sources[col].dt.strftime("%Y-%m-%d")
    kinds = sorted({i.get("kind", "") for i in proc.get("inputs", [])} - {""})
    sources_text = (
        f"{len(reviews):,} processed reviews of {reviews['app'].nunique()} app(s) from "
        f"{sources['source'].nunique()} source(s), dated {_date(at.min())} to {_date(at.max())} (UTC)."
    )
    if kinds:
        sources_text += f" Inputs of the last processing run: {', '.join(kinds)} ({len(proc.get('inputs', []))} file(s))."
    return sources, sources_text


def _stages(inputs: ReportInputs, tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, list[Column]]:
    """Counts at each stage, for the data directory and (with selected apps) this report."""
    proc, ana = inputs.process_summary, inputs.analyze_summary
    overall = tables["app_summary"].iloc[0]
    stage_rows = [
        ("Rows collected or imported", proc.get("rows_read"), None),
        ("Rows rejected (invalid)", proc.get("rows_rejected"), None),
        ("Repeated sightings collapsed (deduplication)", proc.get("duplicates_collapsed"), None),
        ("Reviews after deduplication", proc.get("reviews"), int(overall["n_processed"])),
        ("Not English (language filter)", ana.get("skipped_non_english"),
         int(overall["n_processed"] - overall["n_english"])),
        ("Spam excluded", ana.get("skipped_spam"), None),
        ("Empty texts excluded", ana.get("skipped_empty"), None),
        ("Reviews analysed", ana.get("analysed"), int(overall["n_analysed"])),
        ("Reviews with ≥1 engagement-factor code", ana.get("with_codes"), int(overall["n_coded"])),
        ("Codes assigned (review × factor)", ana.get("codes"), int(len(inputs.codes))),
    ]
    stages_df = pd.DataFrame(stage_rows, columns=["stage", "all", "selected"])
    stage_cols: list[Column] = [
        ("stage", _field("stage"), False),
        ("data directory (all apps)", lambda r: _num(r["all"]) if _finite(r["all"]) else "–", True),
    ]
    if inputs.apps is not None:
        stage_cols.append(("this report's apps", lambda r: _num(r["selected"]) if _finite(r["selected"]) else "–", True))
    return stages_df, stage_cols


def _accuracy(analyze_summary: dict) -> dict:
    """The shipped coder's measured accuracy (tables and text), quoted only when the shipped
    codebook and models made the codes: otherwise it describes other codes."""
    tier = coder_tier(analyze_summary)
    accuracy_file = MODELS_DIR / (ACCURATE_ACCURACY_FILE if tier == "accurate" else ACCURACY_FILE)
    shipped = shipped_coder_used(analyze_summary)
    accuracy = _read_json(accuracy_file) if shipped and accuracy_file.exists() else None
    acc_table = acc_per_code = None
    accuracy_text = ""
    if accuracy:
        flat = {k: v for k, v in _flatten(accuracy).items() if not isinstance(v, (list, dict))}
        acc_table = html_table(pd.DataFrame({"measure": list(flat), "value": [str(v) for v in flat.values()]}), [
            ("measure", _field("measure"), False), ("value", _field("value"), True)])
        per_code = accuracy.get("per_code") if isinstance(accuracy, dict) else None
        if isinstance(per_code, list) and per_code and isinstance(per_code[0], dict):
            df = pd.DataFrame(per_code)
            acc_per_code = html_table(df, [(c, _field(c), c != "code") for c in df.columns])
        accuracy_text = (
            f"Agreement of the {tier} tier's codes with the evaluation set {accuracy.get('gold_file', '')}, "
            f"measured by 'reviewmine evaluate' ({accuracy_file.name}). The evaluation set was coded by "
            "AI research assistants briefed with the codebook, not by human experts: these figures measure "
            "agreement with the codebook as such coders read it, and agreement with human experts is "
            "unmeasured. Code and polarity must both match to count as agreement."
        )
    from reviewmine.analyze.prevalence import shipped_errors

    return {"accuracy": acc_table, "accuracy_per_code": acc_per_code, "accuracy_text": accuracy_text,
            "shipped_coder": shipped, "coder_errors": shipped and bool(shipped_errors(tier)), "coder_tier": tier}


def _cross_validation_text() -> str:
    """The shipped coder's cross-validation figures (a training-set estimate)."""
    coder = _read_json(MODELS_DIR / CODER_FILE) or {}
    cv = coder.get("cv_f1_presence")
    if not (isinstance(cv, dict) and cv):
        return ""
    values = [v for v in cv.values() if isinstance(v, (int, float))]
    return (
        f"Training-set estimate (not a held-out test): in cross-validation on the "
        f"{coder.get('training_reviews', '?'):,} training reviews (coded by AI research assistants briefed "
        f"with the codebook) the presence models reach a "
        f"mean F1 of {np.mean(values):.2f} over {len(values)} codes and polarity accuracy "
        f"{coder.get('cv_polarity_accuracy', float('nan')):.2f}."
    )


def _sentiment_text() -> str:
    """How review sentiment is computed and how well it separates low from high ratings."""
    sentiment = _read_json(MODELS_DIR / SENTIMENT_FILE) or {}
    text = (
        "Review sentiment in [-1, 1] blends VADER with a domain lexicon (clinical words name a topic, "
        "not a feeling; 'paywall', 'crash' carry meaning) and a star-trained linear model."
    )
    if "heldout_auc_blend" in sentiment:
        text += (
            f" Validated against star ratings on {sentiment.get('heldout_rows', '?'):,} held-out reviews: "
            f"AUC {sentiment['heldout_auc_blend']:.3f} for telling 1-2 from 4-5 stars "
            f"(plain VADER {sentiment.get('heldout_auc_plain_vader', float('nan')):.3f})."
        )
    return text


def _statistics_text(parameters: dict) -> str:
    return (
        "A share is the number of an app's analysed reviews that carry a code with a polarity, divided by "
        "the app's analysed reviews (English, not spam); '(all apps)' pools every review, so large apps "
        "weigh more. Intervals are 95% Wilson score intervals. The net score is facilitator share minus "
        "barrier share, with Newcombe's hybrid score interval for paired proportions (a review can raise "
        f"a category both ways). Apps with fewer than {parameters['small_n']} analysed reviews are kept and "
        "flagged small_n. Rating intervals are normal-approximation intervals of the mean."
    )


def _quotes_text(parameters: dict) -> str:
    return (
        "Quotes are the coded evidence sentences most typical of their cell. Evidence whose polarity "
        "contradicts both the star rating and the sentence's own sentiment is not quoted unless the coder "
        "was confident (probability >= 0.9); cells with fewer than 10 reviews are marked. "
        + ("Reviews that speak of self-harm or suicide are quoted in this report (--include-sensitive-quotes): "
           if parameters.get("include_sensitive_quotes") else
           "Reviews that speak of self-harm or suicide are never quoted (--include-sensitive-quotes shows them). ")
        + "Verbatim quotes can be found with a search engine and lead back to their author's store profile: "
        "paraphrase or ask before publishing them."
    )


def _flatten(obj, prefix: str = "") -> dict:
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out.update(_flatten(v, key + "."))
            else:
                out[key] = v
    return out


def _date(value) -> str:
    return value.strftime("%Y-%m-%d") if pd.notna(value) else "?"


# ------------------------------------------------------------------ page data
def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else round(float(value), 5)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def page_data(tables: dict[str, pd.DataFrame], quotes: pd.DataFrame, explore: str | None = None) -> dict:
    """The JSON the page's script reads: apps, per-app factor cells with CIs, quotes per cell
    (each linking to its review in the explorer when there is one)."""
    summary = tables["app_summary"]
    apps = [{"app": r.app, "n": int(r.n_analysed), "small_n": bool(r.small_n)} for r in summary.itertuples()]
    net = tables["net_by_factor"]
    net = net[(net["n_facilitator"] + net["n_barrier"]) > 0]
    shares = tables["factor_shares"].set_index(["app", "code", "polarity"])[["ci_low", "ci_high"]]
    cells: dict[str, list] = {}
    for r in net.itertuples():
        b, f = shares.loc[(r.app, r.code, "barrier")], shares.loc[(r.app, r.code, "facilitator")]
        cells.setdefault(r.app, []).append({k: _clean(v) for k, v in {
            "code": r.code, "label": r.label, "category": r.category,
            "b": r.n_barrier, "f": r.n_facilitator, "bs": r.barrier_share, "fs": r.facilitator_share,
            "bl": b["ci_low"], "bh": b["ci_high"], "fl": f["ci_low"], "fh": f["ci_high"], "net": r.net_score,
        }.items()})
    by_cell: dict[str, list] = {}
    for q in quotes.itertuples():
        by_cell.setdefault(f"{q.app}|{q.code}|{q.polarity}", []).append({k: _clean(v) for k, v in {
            "quote": q.quote, "review_text": q.review_text, "date": q.date,
            "version": q.app_version if isinstance(q.app_version, str) else "",
            "rating": q.rating if pd.notna(q.rating) else None, "store": q.store, "reviewer": q.reviewer,
            "label": q.label, "cell_reviews": q.cell_reviews, "small_cell": bool(q.small_cell),
            "url": explorer_link(explore, "codes", review_key=q.review_key, code=q.code),
        }.items()})
    codes = net[net["app"] == ALL_APPS][["code", "label"]].drop_duplicates()
    return {
        "all_apps": ALL_APPS,
        "explore": explore,
        "apps": apps,
        "cells": cells,
        "quotes": by_cell,
        "codes": codes.to_dict("records"),
    }


def script_json(data: dict) -> str:
    """JSON safe to put inside a <script> element (no '</script>' can end it early)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def inline_svg(path: Path) -> str:
    """The <svg> element of an SVG file, without its XML prolog, for inlining."""
    text = path.read_text(encoding="utf-8")
    return text[text.index("<svg"):]


def render_report(
    inputs: ReportInputs,
    tables: dict[str, pd.DataFrame],
    quotes: pd.DataFrame,
    figures: dict,
    parameters: dict,
    run_dir: Path,
    files: list[str],
    created_at: str,
    software: dict,
    explore: str | None = None,
) -> str:
    """The whole report page as one HTML string; ``explore`` is the base URL of the explorer
    database (``http://127.0.0.1:8001/reviews``) when there is one to link to."""
    summary = tables["app_summary"]
    overall = summary.iloc[0]
    apps = summary[summary["app"] != ALL_APPS]
    figure_ctx = {}
    for name, result in figures.items():
        if isinstance(result, str):
            figure_ctx[name] = {"svg": None, "reason": result}
        else:
            svg = next(p for p in result if p.suffix == ".svg")
            figure_ctx[name] = {"svg": inline_svg(svg), "reason": None}
    app_names = list(apps["app"])
    apps_label = (
        f"{len(app_names)} mental-health apps" if len(app_names) > 3 else ", ".join(app_names)
    )
    cards = [
        (f"{int(overall['n_analysed']):,}", "reviews analysed"),
        (f"{len(app_names):,}", "apps"),
        (_pct(overall["share_coded"], 0), "reviews with ≥1 factor"),
        (f"{len(inputs.codes):,}", "factor codes"),
        (f"{overall['first_review']} – {overall['last_review']}", "review dates (UTC)"),
        (str(inputs.analyze_summary.get("topics") or "–"), "topics"),
    ]
    context = {
        "title": f"reviewmine report: {parameters.get('run_name', '')}".strip(),
        "css": _template("report.css"),
        "js": _template("report.js"),
        "apps_label": apps_label,
        "period": f"reviews dated {overall['first_review']} to {overall['last_review']}",
        "cards": cards,
        "small_apps": int(apps["small_n"].sum()),
        "parameters": parameters,
        "tables": report_tables(tables, explore),
        "figures": figure_ctx,
        "has_topics": inputs.has_topics,
        "methods": methods_context(inputs, tables, parameters, software),
        "data_json": script_json(page_data(tables, quotes, explore)),
        "explore": explore,
        "files": files,
        "run_dir": str(run_dir),
        "created_at": created_at,
        "software": software,
    }
    return _environment().get_template("report.html.j2").render(**context)

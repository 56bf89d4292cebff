"""Train the shipped models from the development corpus and the hand-coded training set.

Run from the repository root (needs ``../shared/data/reviews_dev.csv``)::

    python -m reviewmine.analyze.train sentiment --dev ../shared/data/reviews_dev.csv
    python -m reviewmine.analyze.train coder

The sentiment model learns from star ratings of the MIT-licensed rows only (so the
shipped weights derive from redistributable data) and is validated on apps it never
saw. The coder learns from ``data/training/coded_reviews.csv`` (hand-coded by the
project, provenance in ``data/training/README.md``); ``gold_dev.csv`` is never used here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.sentiment import DomainVader, shipped_model_path
from reviewmine.analyze.textmodel import LinearTextModel

MIT_DATASETS = ("et6_cdsp_group20", "et6_cdsp_group20_mixed", "meditation_proj", "mhard_sample")
BETA_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def _review_text(df: pd.DataFrame) -> list[str]:
    title = df["title"].fillna("") if "title" in df else ""
    return (title + ". " + df["text"].fillna("")).str.strip(". ").tolist()


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def _polar(df: pd.DataFrame) -> pd.DataFrame:
    df = df[df["rating"].isin([1, 2, 4, 5]) & df["text"].notna()]
    return df.assign(y=(df["rating"] >= 4).astype(int))


def _vader_means(vader: DomainVader, texts: list[str]) -> np.ndarray:
    return np.array([vader.review(t)[0] for t in texts])


def train_sentiment(dev_csv: Path, out: Path) -> dict:
    """Fit the star model on MIT rows, choose beta by leave-one-app-out, report held-out AUC."""
    dev = pd.read_csv(dev_csv, dtype={"review_id": str})
    dev = dev[~dev["is_exact_dup_text"].astype(bool)]
    # Held out: the apps of the non-redistributable rows that the MIT rows barely cover.
    held_apps = set(dev.loc[~dev["dataset"].isin(MIT_DATASETS), "app_name"]) - set(
        dev.loc[dev["dataset"].isin(MIT_DATASETS[:3]), "app_name"]
    )
    train = _polar(dev[dev["dataset"].isin(MIT_DATASETS) & ~dev["app_name"].isin(held_apps)])
    train_apps = set(train["app_name"])
    held = _polar(dev[~dev["dataset"].isin(MIT_DATASETS) & dev["app_name"].isin(held_apps)])
    vader = DomainVader()
    counts = train.groupby("app_name")["y"].agg(["size", "nunique"])
    big_apps = counts.index[(counts["size"] >= 200) & (counts["nunique"] == 2)].tolist()

    # beta: leave one training app out, pick the blend weight with the best mean AUC.
    auc_by_beta = {b: [] for b in BETA_GRID}
    for app in big_apps:
        fit_part, val_part = train[train["app_name"] != app], train[train["app_name"] == app]
        model = LinearTextModel.fit(_review_text(fit_part), fit_part[["y"]].to_numpy(), ["positive"])
        val_text = _review_text(val_part)
        logit = model.decision(val_text)[:, 0]
        vmean = _vader_means(vader, val_text)
        for b in BETA_GRID:
            auc_by_beta[b].append(_auc(val_part["y"].to_numpy(), logit + b * vmean))
    beta = max(BETA_GRID, key=lambda b: float(np.mean(auc_by_beta[b])))

    model = LinearTextModel.fit(_review_text(train), train[["y"]].to_numpy(), ["positive"])
    path = out / "sentiment_stars.npz"
    model.save(path)

    held_text = _review_text(held)
    y = held["y"].to_numpy()
    logit = model.decision(held_text)[:, 0]
    vmean = _vader_means(vader, held_text)
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    plain = SentimentIntensityAnalyzer()
    plain_scores = np.array([plain.polarity_scores(t)["compound"] for t in held_text])
    report = {
        "beta": beta,
        "train_rows": int(len(train)),
        "train_apps": sorted(train_apps),
        "loao_apps": big_apps,
        "heldout_rows": int(len(held)),
        "heldout_apps": sorted(held["app_name"].unique().tolist()),
        "loao_auc_by_beta": {str(b): round(float(np.mean(v)), 4) for b, v in auc_by_beta.items()},
        "heldout_auc_blend": round(_auc(y, logit + beta * vmean), 4),
        "heldout_auc_star_model": round(_auc(y, logit), 4),
        "heldout_auc_domain_vader": round(_auc(y, vmean), 4),
        "heldout_auc_plain_vader": round(_auc(y, plain_scores), 4),
    }
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def record_accuracy(gold: Path, path: Path) -> dict:
    """Evaluate the shipped coder on ``gold`` and keep the figures for reports (measured, not tuned)."""
    from datetime import UTC, datetime

    from reviewmine.evaluate import evaluate

    ev = evaluate(gold)
    record = {
        "gold_file": gold.name,
        "measured_at": datetime.now(UTC).date().isoformat(),
        "summary": ev.summary,
        "per_code": ev.per_code.to_dict("records"),
    }
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    return record


def accuracy_markdown(record: dict, coder_meta: dict, sentiment_meta: dict, crossapp: dict | None = None) -> str:
    """The measured figures as a Markdown page (docs/coder-accuracy.md)."""
    s = record["summary"]
    lines = [
        "# Measured accuracy of the coder and the sentiment score",
        "",
        "Generated by `python -m reviewmine.analyze.train accuracy` from the shipped models; do not edit.",
        "",
        f"## Factor coding vs hand codes ({record['gold_file']}, {s['reviews']} reviews, measured {record['measured_at']})",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| micro-F1, code and polarity must both match | {s['micro_f1']:.3f} |",
        f"| micro precision / recall | {s['micro_precision']:.3f} / {s['micro_recall']:.3f} |",
        f"| macro-F1 over the {s['codes_support_ge_5']} codes with at least 5 gold examples | {s['macro_f1_support_ge_5']:.3f} |",
        f"| macro-F1 over every code in the gold set or the predictions | {s['macro_f1_all_codes']:.3f} |",
        f"| micro-F1, code only (polarity ignored) | {s['micro_f1_code_only']:.3f} |",
        f"| polarity accuracy on codes both found | {s['polarity_accuracy']:.3f} ({s['matched_codes']} codes) |",
        f"| Cohen's kappa, pooled review x code presence (polarity ignored) | {s['cohen_kappa_pooled']:.3f} |",
        f"| Cohen's kappa on presence, mean over codes with at least 5 examples | {s['cohen_kappa_mean_frequent']:.3f} |",
        f"| reviews with exactly the gold code set | {s['exact_match_reviews']:.3f} |",
        "",
        "Per code (F1 requires code and polarity to match; `F1 code` ignores polarity):",
        "",
        "| code | gold | predicted | precision | recall | F1 | F1 code | kappa (presence) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(record["per_code"], key=lambda r: (-r["support"], r["code"])):
        if r["support"] or r["predicted"]:
            kappa = "" if r["kappa_presence"] != r["kappa_presence"] else f"{r['kappa_presence']:.2f}"
            lines.append(
                f"| {r['code']} | {r['support']} | {r['predicted']} | {r['precision']:.2f} | {r['recall']:.2f} "
                f"| {r['f1']:.2f} | {r['f1_code_only']:.2f} | {kappa} |"
            )
    lines += [
        "",
        f"## Cross-validation on the training set ({coder_meta['training_reviews']} hand-coded reviews, 5 folds)",
        "",
        f"- presence, micro-F1 (code only): {coder_meta['cv_micro_f1_presence']:.3f} "
        f"(review/sentence blend weight {coder_meta['review_weight']})",
        f"- polarity accuracy on the coders' evidence sentences: {coder_meta['cv_polarity_accuracy']:.3f} "
        f"({coder_meta['polarity_examples']} examples)",
        "",
        "Thresholds and the blend weight were chosen on these same out-of-fold predictions, so the",
        "presence figure is optimistic; the held-out figures above and below are the ones to quote.",
        "",
    ]
    if crossapp:
        lines += [
            "## Apps the coder never saw (leave one app out, training set)",
            "",
            "The whole coder (models, blend weight, thresholds) retrained without one app's hand-coded",
            "reviews, then scored on them (`python -m reviewmine.analyze.train crossapp`). These",
            "reviews were coded by the project's coders, so the figures measure agreement with them.",
            "",
            "| held-out app | reviews | micro-F1 | micro-F1 code only | polarity accuracy |",
            "|---|---:|---:|---:|---:|",
        ]
        for app, r in crossapp.items():
            lines.append(
                f"| {app} | {r['reviews']} | {r['micro_f1']:.3f} | {r['micro_f1_code_only']:.3f} | {r['polarity_accuracy']:.3f} |"
            )
        lines.append("")
    lines += [
        "## Sentiment vs stars on apps left out of training (4-5 vs 1-2 stars, ROC AUC)",
        "",
        f"Trained on {sentiment_meta['train_rows']:,} reviews of {len(sentiment_meta['train_apps'])} apps; "
        f"evaluated on {sentiment_meta['heldout_rows']:,} reviews of {', '.join(sentiment_meta['heldout_apps'])}.",
        "",
        "| score | ROC AUC |",
        "|---|---:|",
        f"| reviewmine sentiment (blend, beta = {sentiment_meta['beta']}) | {sentiment_meta['heldout_auc_blend']:.4f} |",
        f"| learned star model alone | {sentiment_meta['heldout_auc_star_model']:.4f} |",
        f"| domain VADER alone (mean of sentences) | {sentiment_meta['heldout_auc_domain_vader']:.4f} |",
        f"| plain VADER compound on the whole review | {sentiment_meta['heldout_auc_plain_vader']:.4f} |",
        "",
    ]
    return "\n".join(lines)


def cross_app(training_csv: Path, dev_csv: Path, min_reviews: int = 100) -> dict:
    """Leave one app out: train the whole coder (thresholds included) without an app's
    hand-coded reviews, then code them. Estimates accuracy on apps the coder never saw."""
    import tempfile

    from reviewmine.analyze.codebook import load_codebook, parse_codes
    from reviewmine.analyze.factors import FactorCoder, load_training_set, train_coder
    from reviewmine.evaluate import compare

    df = load_training_set(training_csv, dev_csv)
    codebook = load_codebook()
    results = {}
    for app, n in df["app_name"].value_counts().items():
        if n < min_reviews:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            df[df["app_name"] != app].to_csv(tmp / "train.csv", index=False)
            train_coder(tmp / "train.csv", tmp, folds=3)
            held = df[df["app_name"] == app]
            coded = FactorCoder(model_dir=tmp).code_texts(held["text"].tolist(), held["title"].tolist())
        gold = [parse_codes(c) for c in held["codes"]]
        pred = [{h.code: h.polarity for h in r.codes} for r in coded]
        _, summary = compare(gold, pred, codebook)
        results[app] = {k: summary[k] for k in ("reviews", "micro_f1", "micro_f1_code_only", "polarity_accuracy")}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sentiment")
    s.add_argument("--dev", type=Path, default=Path("../shared/data/reviews_dev.csv"))
    c = sub.add_parser("coder")
    c.add_argument("--training", type=Path, default=Path("data/training/coded_reviews.csv"))
    c.add_argument("--dev", type=Path, default=Path("../shared/data/reviews_dev.csv"))
    x = sub.add_parser("crossapp", help="leave-one-app-out estimate on the training set")
    x.add_argument("--training", type=Path, default=Path("data/training/coded_reviews.csv"))
    x.add_argument("--dev", type=Path, default=Path("../shared/data/reviews_dev.csv"))
    a = sub.add_parser("accuracy", help="measure the shipped coder on hand-coded reviews")
    a.add_argument("--gold", type=Path, default=Path("../shared/data/gold_dev.csv"))
    a.add_argument("--markdown", type=Path, default=Path("docs/coder-accuracy.md"))
    args = parser.parse_args()
    out = shipped_model_path("x").parent
    if args.what == "crossapp":
        results = cross_app(args.training, args.dev)
        (out / "coder_crossapp.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return
    if args.what == "accuracy":
        record = record_accuracy(args.gold, out / "coder_accuracy.json")
        meta = json.loads((out / "coder.json").read_text())
        sentiment = json.loads((out / "sentiment_stars.json").read_text())
        crossapp_file = out / "coder_crossapp.json"
        crossapp = json.loads(crossapp_file.read_text()) if crossapp_file.exists() else None
        args.markdown.write_text(accuracy_markdown(record, meta, sentiment, crossapp))
        print(json.dumps(record["summary"], indent=2))
        return
    if args.what == "sentiment":
        print(json.dumps(train_sentiment(args.dev, out), indent=2))
    else:
        from reviewmine.analyze.factors import train_coder

        print(json.dumps(train_coder(args.training, out, args.dev), indent=2))


if __name__ == "__main__":
    main()

"""Train the shipped models from the development corpus and the hand-coded training set.

Run from the repository root; every input and the output folder are explicit::

    python -m training.train sentiment --dev DEV.csv --models-dir src/reviewmine/analyze/models
    python -m training.train coder --training data/training/coded_reviews.csv --dev DEV.csv \
        --models-dir src/reviewmine/analyze/models
    python -m training.train crossapp --training data/training/coded_reviews.csv --dev DEV.csv \
        --models-dir src/reviewmine/analyze/models
    python -m training.train accuracy --gold GOLD.csv --models-dir src/reviewmine/analyze/models
    make docs    # re-render the figures quoted in README.md and docs/ from those files

``DEV.csv`` is the development corpus (``reviews_dev.csv`` of the project's shared data);
``GOLD.csv`` the evaluation set, used by ``accuracy`` only.

The sentiment model learns from star ratings of the MIT-licensed rows only (so the
shipped weights derive from redistributable data) and is validated on apps it never
saw. The coder learns from ``data/training/coded_reviews.csv`` (hand-coded by the
project, provenance in ``data/training/README.md``); ``gold_dev.csv`` is never used here.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.codebook import load_codebook, parse_codes
from reviewmine.analyze.factors import (
    POLARITY_MODEL,
    PRESENCE_MODEL,
    SENTENCE_MODEL,
    CueMatcher,
    combine_presence,
    merge_cue_hits,
    polarity_text,
    presence_text,
)
from reviewmine.analyze.sentences import review_texts, split_sentences
from reviewmine.analyze.sentiment import DomainVader, SentimentScorer
from reviewmine.analyze.textmodel import LinearTextModel

MIT_DATASETS = ("et6_cdsp_group20", "et6_cdsp_group20_mixed", "meditation_proj", "mhard_sample")
BETA_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


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
        model = LinearTextModel.fit(review_texts(fit_part), fit_part[["y"]].to_numpy(), ["positive"])
        val_text = review_texts(val_part)
        logit = model.decision(val_text)[:, 0]
        vmean = _vader_means(vader, val_text)
        for b in BETA_GRID:
            auc_by_beta[b].append(_auc(val_part["y"].to_numpy(), logit + b * vmean))
    beta = max(BETA_GRID, key=lambda b: float(np.mean(auc_by_beta[b])))

    model = LinearTextModel.fit(review_texts(train), train[["y"]].to_numpy(), ["positive"])
    path = out / "sentiment_stars.npz"
    model.save(path)

    held_text = review_texts(held)
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


def cross_app(training_csv: Path, dev_csv: Path, min_reviews: int = 100) -> dict:
    """Leave one app out: train the whole coder (thresholds included) without an app's
    hand-coded reviews, then code them. Estimates accuracy on apps the coder never saw."""
    import tempfile

    from reviewmine.analyze.factors import FactorCoder
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
        results[app]["confusion"] = label_confusion(gold, pred)
    return results


def label_confusion(gold: list[dict[str, str]], pred: list[dict[str, str]]) -> dict[str, list[int]]:
    """Per ``code:polarity`` label found in either coding: [TP, FP, FN, TN] over the reviews
    (a review has the label when it has the code with that polarity). What the prevalence
    correction needs: how often the coder finds a label that is there, and adds one that is not."""
    labels = sorted({f"{c}:{p}" for coding in (*gold, *pred) for c, p in coding.items()})
    out = {}
    for label in labels:
        code, polarity = label.split(":")
        g = [x.get(code) == polarity for x in gold]
        p = [y.get(code) == polarity for y in pred]
        tp = sum(a and b for a, b in zip(g, p, strict=True))
        fp = sum(b and not a for a, b in zip(g, p, strict=True))
        fn = sum(a and not b for a, b in zip(g, p, strict=True))
        out[label] = [tp, fp, fn, len(g) - tp - fp - fn]
    return out


def _evidence_sentence(full: str, span: list[int] | None, sentences: list[str]) -> str:
    """The sentence of ``full`` that overlaps most with the coder's evidence span (the whole
    text when the span is unknown). Sentences are located by their offsets in ``full``."""
    if not span:
        return full
    best, best_overlap, pos = full[span[0] : span[1]], 0, 0
    for sentence in sentences:
        start = full.find(sentence, pos)
        if start < 0:
            continue
        end = start + len(sentence)
        pos = end
        overlap = min(end, span[1]) - max(start, span[0])
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best


def load_training_set(training_csv: Path, dev_csv: Path | None = None):
    """Hand-coded reviews with texts (joined from the development corpus where not shipped)."""
    import pandas as pd

    df = pd.read_csv(training_csv, dtype=str, keep_default_na=False)
    missing = df["text"] == ""
    if missing.any():
        if dev_csv is None or not Path(dev_csv).is_file():
            warnings.warn(
                f"{int(missing.sum())} of {len(df)} training reviews have no text in {training_csv} "
                f"(not redistributable) and the development corpus {dev_csv or '(not given)'} is not "
                "there to join them: training on the rest only; pass --dev for the full set",
                stacklevel=2,
            )
            df = df[~missing]
        else:
            dev = pd.read_csv(dev_csv, dtype=str, keep_default_na=False).set_index("uid")
            df.loc[missing, "title"] = dev.loc[df.loc[missing, "uid"], "title"].to_numpy()
            df.loc[missing, "text"] = dev.loc[df.loc[missing, "uid"], "text"].to_numpy()
    return df.reset_index(drop=True)


def train_coder(training_csv: Path, out: Path, dev_csv: Path | None = None, folds: int = 5, seed: int = 13) -> dict:
    """Train presence and polarity models on hand-coded reviews; thresholds by cross-validation."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import KFold

    df = load_training_set(training_csv, dev_csv)
    codebook = load_codebook()
    matcher = CueMatcher(codebook)
    scorer = SentimentScorer()
    vader = scorer.vader
    fulls = [f"{t}. {x}" if t.strip() else x for t, x in zip(df["title"], df["text"], strict=True)]
    review_sentiment = [r.score for r in scorer.score_many(fulls)]
    sentence_lists = [split_sentences(f) for f in fulls]
    cue_texts = [
        presence_text(f, merge_cue_hits(matcher.match_sentences(sents)))
        for f, sents in zip(fulls, sentence_lists, strict=True)
    ]
    parsed = [parse_codes(c) for c in df["codes"]]
    labels = [c for c in codebook.ids if sum(c in p for p in parsed) >= 3]
    y = np.array([[1 if c in p else 0 for c in labels] for p in parsed])

    # Sentence examples: a sentence is positive for a code when it holds the coder's evidence.
    sent_texts, sent_review, sent_y = [], [], []
    for i, (full, sents, spans) in enumerate(zip(fulls, sentence_lists, df["evidence_spans"], strict=True)):
        spans = json.loads(spans or "{}")
        evidence = {c: _evidence_sentence(full, spans.get(c), sents) for c in parsed[i] if spans.get(c)}
        for sentence, hits in zip(sents, matcher.match_sentences(sents), strict=True):
            sent_texts.append(presence_text(sentence, hits))
            sent_review.append(i)
            sent_y.append([1 if evidence.get(c) == sentence else 0 for c in labels])
    sent_review, sent_y = np.array(sent_review), np.array(sent_y)

    # Out-of-fold probabilities (folds by review) to choose the review/sentence blend and a
    # per-code threshold that maximises F1.
    def fit_presence(texts, targets):
        return LinearTextModel.fit(texts, targets, labels, c=8.0, class_weight="balanced")

    oof_review, oof_sentence = np.zeros(y.shape), np.zeros(y.shape)
    for tr, te in KFold(folds, shuffle=True, random_state=seed).split(cue_texts):
        oof_review[te] = fit_presence([cue_texts[i] for i in tr], y[tr]).proba([cue_texts[i] for i in te])
        in_tr, in_te = np.isin(sent_review, tr), np.isin(sent_review, te)
        model = fit_presence([t for t, m in zip(sent_texts, in_tr, strict=True) if m], sent_y[in_tr])
        probs = model.proba([t for t, m in zip(sent_texts, in_te, strict=True) if m])
        np.maximum.at(oof_sentence, sent_review[in_te], probs)

    def tune(oof):
        thresholds, f1s, predicted = {}, {}, np.zeros(y.shape, dtype=bool)
        for k, code in enumerate(labels):
            grid = np.arange(0.1, 0.91, 0.05)
            scores = [f1_score(y[:, k], oof[:, k] >= t, zero_division=0) for t in grid]
            best = int(np.argmax(scores))
            thresholds[code], f1s[code] = round(float(grid[best]), 2), round(float(scores[best]), 3)
            predicted[:, k] = oof[:, k] >= grid[best]
        micro = f1_score(y.ravel(), predicted.ravel())
        return thresholds, f1s, micro

    blends = {w: tune(combine_presence(oof_review, oof_sentence, w)) for w in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)}
    review_weight = max(blends, key=lambda w: blends[w][2])
    thresholds, cv_f1, cv_micro = blends[review_weight]
    fit_presence(cue_texts, y).save(out / PRESENCE_MODEL)
    fit_presence(sent_texts, sent_y).save(out / SENTENCE_MODEL)

    # Polarity: one example per (review, code) from the evidence sentence.
    pol_texts, pol_y = [], []
    for full, sents, codes, spans, rs in zip(
        fulls, sentence_lists, parsed, df["evidence_spans"], review_sentiment, strict=True
    ):
        spans = json.loads(spans or "{}")
        for code, polarity in sorted(codes.items()):
            if polarity == "neutral":
                continue
            sentence = _evidence_sentence(full, spans.get(code), sents)
            pol_texts.append(polarity_text(code, sentence, vader.sentence(sentence), rs))
            pol_y.append(1 if polarity == "facilitator" else 0)
    pol_y = np.array(pol_y)
    oof_pol = np.zeros(len(pol_y))
    for tr, te in KFold(folds, shuffle=True, random_state=seed).split(pol_texts):
        m = LinearTextModel.fit([pol_texts[i] for i in tr], pol_y[tr, None], ["facilitator"], c=4.0)
        oof_pol[te] = m.proba([pol_texts[i] for i in te])[:, 0]
    polarity = LinearTextModel.fit(pol_texts, pol_y[:, None], ["facilitator"], c=4.0)
    polarity.save(out / POLARITY_MODEL)

    report = {
        "training_reviews": len(df),
        "labels": labels,
        "review_weight": review_weight,
        "thresholds": thresholds,
        "cv_micro_f1_presence": round(float(cv_micro), 3),
        "cv_micro_f1_presence_by_blend": {str(w): round(float(b[2]), 3) for w, b in blends.items()},
        "cv_f1_presence": cv_f1,
        "cv_polarity_accuracy": round(float(((oof_pol >= 0.5) == pol_y).mean()), 3),
        "polarity_examples": len(pol_y),
    }
    (out / "coder.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sentiment", help="the star model and the blend weight")
    s.add_argument("--dev", type=Path, required=True)
    c = sub.add_parser("coder", help="presence and polarity models, thresholds")
    x = sub.add_parser("crossapp", help="leave-one-app-out estimate on the training set")
    for p in (c, x):
        p.add_argument("--training", type=Path, required=True)
        p.add_argument("--dev", type=Path, required=True)
    a = sub.add_parser("accuracy", help="measure the shipped coder on hand-coded reviews")
    a.add_argument("--gold", type=Path, required=True)
    for p in (s, c, x, a):
        p.add_argument("--models-dir", type=Path, required=True, help="folder the models are read from / written to")
    args = parser.parse_args(argv)
    out = args.models_dir
    if args.what == "crossapp":
        results = cross_app(args.training, args.dev)
        (out / "coder_crossapp.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return
    if args.what == "accuracy":
        record = record_accuracy(args.gold, out / "coder_accuracy.json")
        print(json.dumps(record["summary"], indent=2))
        print("now run 'make docs' to re-render the figures quoted in README.md and docs/")
        return
    if args.what == "sentiment":
        print(json.dumps(train_sentiment(args.dev, out), indent=2))
    else:
        print(json.dumps(train_coder(args.training, out, args.dev), indent=2))


if __name__ == "__main__":
    main()

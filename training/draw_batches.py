"""Draw new batches of reviews to hand-code.

    python -m training.draw_batches --dev DEV.csv --gold GOLD.csv --coded data/training/coded_reviews.csv \
        --first 28 --batches 5 --out-dir data/training/batches [--seed 28]

Reviews come from the development corpus after removing every review of the evaluation set
(by id and by identical text), every review already coded (``--coded``: the merged training
set and any batch files still being coded, repeatable), and exact duplicate texts. Draws are
weighted towards the rating mix of the evaluation design (more 1-3 star reviews than the corpus
has), towards App Store rows and smaller apps, and away from one- or two-word reviews (rarely
codable). Each batch of 280 goes to ``OUT_DIR/batchN.csv``; the coded batches are merged with
``training.build_training_set``.

With ``--uncertain CODE[,CODE...]`` the draw is active learning instead: every review of the pool
is scored by the shipped coder, and reviews are drawn in proportion to how close the coder's
probability for one of the named (weak) codes is to that code's threshold, or whose cue patterns
for those codes fire while the model says no: the reviews the coder is least sure of, where it is
weakest. ``--batch-size`` sets the batch size (default 280). ``--min-words N`` keeps only reviews of
at least N words (title + text): the long reviews that carry most codes and that the training
set had few of (batches 40-45).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

BATCH_SIZE = 280
RATING_WEIGHT = {"1": 1.0, "2": 1.6, "3": 1.4, "4": 0.9, "5": 0.45}


def draw_batches(dev: pd.DataFrame, gold: pd.DataFrame, coded_uids: set[str], n_batches: int, seed: int,
                 weak: list[str] | None = None, batch_size: int = BATCH_SIZE, min_words: int = 0) -> list[pd.DataFrame]:
    """``n_batches`` disjoint batches of reviews not yet coded and not in the evaluation set
    (drawn by the coder's uncertainty on the ``weak`` codes when given; only reviews whose
    title and text have at least ``min_words`` words when given)."""
    norm = dev["text"].str.lower().str.strip()
    pool = dev[
        ~dev["uid"].isin(set(gold["uid"]) | coded_uids)
        & ~norm.isin(set(gold["text"].str.lower().str.strip()))
        & (dev["is_exact_dup_text"].str.lower() != "true")
        & (norm.str.len() > 2)
        & ((dev["title"] + " " + dev["text"]).str.split().str.len() >= min_words)
    ].copy()
    weight = pool["rating"].map(RATING_WEIGHT).fillna(0.5)
    weight *= np.where(pool["store"].str.startswith("app_store"), 2.5, 1.0)
    weight /= np.sqrt(pool["app_name"].map(pool["app_name"].value_counts()))
    words = pool["text"].str.split().str.len()
    weight *= np.where(words <= 2, 0.3, 1.0)
    if weak:
        weight = uncertainty_weights(pool, weak) / np.sqrt(pool["app_name"].map(pool["app_name"].value_counts()))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(pool), size=batch_size * n_batches, replace=False, p=(weight / weight.sum()).to_numpy())
    columns = ["uid", "app_name", "store", "rating", "title", "text"]
    return [pool.iloc[picked[b * batch_size : (b + 1) * batch_size]][columns] for b in range(n_batches)]


def uncertainty_weights(pool: pd.DataFrame, weak: list[str]) -> np.ndarray:
    """Draw weight of each pool review: the shipped coder's closeness to a decision on any
    ``weak`` code (1 at the threshold, 0 at a confident 0 or 1), plus 0.5 when a weak code's
    cue fires but the model stays below the threshold (what the cue patterns of rare codes find)."""
    from reviewmine.analyze.factors import FactorCoder, presence_text

    coder = FactorCoder()
    labels = coder.presence.labels
    missing = sorted(set(weak) - set(labels))
    if missing:
        raise SystemExit(f"--uncertain: the model has no code {', '.join(missing)}; pick from {', '.join(labels)}")
    fulls = [f"{t}. {x}" if t.strip() else x for t, x in zip(pool["title"], pool["text"], strict=True)]
    weights = np.zeros(len(fulls))
    for start in range(0, len(fulls), 2000):
        chunk = fulls[start : start + 2000]
        hits = [coder.cues.match(f) for f in chunk]
        probs = coder.presence.proba([presence_text(f, h) for f, h in zip(chunk, hits, strict=True)])
        for code in weak:
            k = labels.index(code)
            thr = coder.thresholds.get(code, 0.5)
            p = probs[:, k]
            near = 1.0 - np.abs(p - thr) / np.where(p >= thr, 1.0 - thr, thr)
            cue_no = np.array([0.5 if code in h else 0.0 for h in hits]) * (p < thr)
            weights[start : start + len(chunk)] = np.maximum(weights[start : start + len(chunk)], near + cue_no)
    return np.clip(weights, 0.0, None) ** 3  # sharpen: mostly the truly uncertain ones


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--coded", type=Path, action="append", default=[], help="CSV with a uid column (repeatable)")
    parser.add_argument("--first", type=int, required=True, help="number of the first new batch")
    parser.add_argument("--batches", type=int, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=None, help="default: --first")
    parser.add_argument("--uncertain", default=None, help="comma-separated weak codes: draw by the coder's uncertainty")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--min-words", type=int, default=0,
                        help="only reviews of at least this many words (title + text): long reviews carry most codes")
    args = parser.parse_args(argv)
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    coded = set().union(*(set(read(p)["uid"]) for p in args.coded)) if args.coded else set()
    batches = draw_batches(read(args.dev), read(args.gold), coded, args.batches,
                           args.first if args.seed is None else args.seed,
                           args.uncertain.split(",") if args.uncertain else None, args.batch_size, args.min_words)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for b, rows in enumerate(batches):
        rows.to_csv(args.out_dir / f"batch{args.first + b}.csv", index=False)
        print(f"batch{args.first + b}: {len(rows)} reviews", rows["rating"].value_counts().sort_index().to_dict())


if __name__ == "__main__":
    main()

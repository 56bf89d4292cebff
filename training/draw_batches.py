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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

BATCH_SIZE = 280
RATING_WEIGHT = {"1": 1.0, "2": 1.6, "3": 1.4, "4": 0.9, "5": 0.45}


def draw_batches(dev: pd.DataFrame, gold: pd.DataFrame, coded_uids: set[str], n_batches: int, seed: int) -> list[pd.DataFrame]:
    """``n_batches`` disjoint batches of reviews not yet coded and not in the evaluation set."""
    norm = dev["text"].str.lower().str.strip()
    pool = dev[
        ~dev["uid"].isin(set(gold["uid"]) | coded_uids)
        & ~norm.isin(set(gold["text"].str.lower().str.strip()))
        & (dev["is_exact_dup_text"].str.lower() != "true")
        & (norm.str.len() > 2)
    ].copy()
    weight = pool["rating"].map(RATING_WEIGHT).fillna(0.5)
    weight *= np.where(pool["store"].str.startswith("app_store"), 2.5, 1.0)
    weight /= np.sqrt(pool["app_name"].map(pool["app_name"].value_counts()))
    words = pool["text"].str.split().str.len()
    weight *= np.where(words <= 2, 0.3, 1.0)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(pool), size=BATCH_SIZE * n_batches, replace=False, p=(weight / weight.sum()).to_numpy())
    columns = ["uid", "app_name", "store", "rating", "title", "text"]
    return [pool.iloc[picked[b * BATCH_SIZE : (b + 1) * BATCH_SIZE]][columns] for b in range(n_batches)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--coded", type=Path, action="append", default=[], help="CSV with a uid column (repeatable)")
    parser.add_argument("--first", type=int, required=True, help="number of the first new batch")
    parser.add_argument("--batches", type=int, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=None, help="default: --first")
    args = parser.parse_args(argv)
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    coded = set().union(*(set(read(p)["uid"]) for p in args.coded)) if args.coded else set()
    batches = draw_batches(read(args.dev), read(args.gold), coded, args.batches,
                           args.first if args.seed is None else args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for b, rows in enumerate(batches):
        rows.to_csv(args.out_dir / f"batch{args.first + b}.csv", index=False)
        print(f"batch{args.first + b}: {len(rows)} reviews", rows["rating"].value_counts().sort_index().to_dict())


if __name__ == "__main__":
    main()

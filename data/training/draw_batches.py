"""Draw new batches of reviews to hand-code (run from the repository root).

    python data/training/draw_batches.py FIRST_BATCH N_BATCHES [SEED]

Reviews come from ``../shared/data/reviews_dev.csv`` after removing every review of the
evaluation set (by id and by identical text), every review already coded, and exact
duplicate texts. Draws are weighted towards the rating mix of the evaluation design (more
1-3 star reviews than the corpus has), towards App Store rows and smaller apps, and away
from one- or two-word reviews (rarely codable). Each batch of 280 goes to
``data/training/batches/batchN.csv``.
"""

import glob
import sys

import numpy as np
import pandas as pd

first, n_batches = int(sys.argv[1]), int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else first
dev = pd.read_csv("../shared/data/reviews_dev.csv", dtype=str, keep_default_na=False)
gold = pd.read_csv("../shared/data/gold_dev.csv", dtype=str, keep_default_na=False)
coded = set()
for path in glob.glob("data/training/coded/*.csv") + glob.glob("data/training/batches/*.csv"):
    coded |= set(pd.read_csv(path, dtype=str, keep_default_na=False)["uid"])
norm = dev["text"].str.lower().str.strip()
pool = dev[
    ~dev["uid"].isin(set(gold["uid"]) | coded)
    & ~norm.isin(set(gold["text"].str.lower().str.strip()))
    & (dev["is_exact_dup_text"].str.lower() != "true")
    & (norm.str.len() > 2)
].copy()
rating_weight = {"1": 1.0, "2": 1.6, "3": 1.4, "4": 0.9, "5": 0.45}
weight = pool["rating"].map(rating_weight).fillna(0.5)
weight *= np.where(pool["store"].str.startswith("app_store"), 2.5, 1.0)
weight /= np.sqrt(pool["app_name"].map(pool["app_name"].value_counts()))
words = pool["text"].str.split().str.len()
weight *= np.where(words <= 2, 0.3, 1.0)
rng = np.random.default_rng(seed)
picked = rng.choice(len(pool), size=280 * n_batches, replace=False, p=(weight / weight.sum()).to_numpy())
columns = ["uid", "app_name", "store", "rating", "title", "text"]
for b in range(n_batches):
    rows = pool.iloc[picked[b * 280 : (b + 1) * 280]][columns]
    rows.to_csv(f"data/training/batches/batch{first + b}.csv", index=False)
    print(f"batch{first + b}: {len(rows)} reviews", rows["rating"].value_counts().sort_index().to_dict())

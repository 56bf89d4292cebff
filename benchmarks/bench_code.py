"""Throughput of `reviewmine code` on 50,000 reviews of the development corpus.

Prints reviews/second for the whole command (start-up included, as a user runs it),
next to plain VADER's speed on the same reviews (one compound score per review).

    python benchmarks/bench_code.py [--dev ../shared/data/reviews_dev.csv] [--n 50000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=Path("../shared/data/reviews_dev.csv"))
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args()
    dev = pd.read_csv(args.dev, dtype=str, keep_default_na=False)
    reviews = dev.sample(n=args.n, replace=len(dev) < args.n, random_state=0)[["uid", "title", "text"]]
    reviews["uid"] = [f"r{i}" for i in range(len(reviews))]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        reviews.to_csv(src, index=False)
        exe = Path(sys.executable).with_name("reviewmine")
        start = time.perf_counter()
        subprocess.run(
            [str(exe), "code", str(src), "--text-col", "text", "--id-col", "uid", "--title-col", "title", "--out", str(out)],
            check=True,
        )
        elapsed = time.perf_counter() - start
        coded = pd.read_csv(out, keep_default_na=False)
    assert len(coded) == len(reviews)

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = reviews["text"].tolist()
    start = time.perf_counter()
    analyzer = SentimentIntensityAnalyzer()
    for text in texts:
        analyzer.polarity_scores(text)
    vader_elapsed = time.perf_counter() - start

    print(f"reviews: {len(reviews):,} (mean {reviews['text'].str.len().mean():.0f} chars)")
    print(f"reviewmine code (start-up included): {elapsed:.1f} s = {len(reviews) / elapsed:,.0f} reviews/s")
    print(f"plain VADER, one score per review:   {vader_elapsed:.1f} s = {len(reviews) / vader_elapsed:,.0f} reviews/s")
    print(f"reviews with at least one code: {(coded['codes'] != '').mean():.1%}")


if __name__ == "__main__":
    main()

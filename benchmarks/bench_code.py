"""Throughput of `reviewmine code` on 50,000 reviews of the development corpus.

Prints reviews/second for the whole command (start-up included, as a user runs it),
next to plain VADER's speed on the same reviews in the same run (one compound score per
review) and the ratio of the two; repeats the pair ``--repeat`` times and writes every run to
``benchmarks/results/code.json`` (the README's speed figures are rendered from it).

    python benchmarks/bench_code.py [--dev ../shared/data/reviews_dev.csv] [--n 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from results import save


def time_code(src: Path, out: Path) -> float:
    """Seconds for the whole `reviewmine code` command, start-up included."""
    exe = Path(sys.executable).with_name("reviewmine")
    start = time.perf_counter()
    subprocess.run(
        [str(exe), "code", str(src), "--text-col", "text", "--id-col", "uid", "--title-col", "title", "--out", str(out)],
        check=True,
    )
    return time.perf_counter() - start


def time_vader(texts: list[str]) -> float:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    start = time.perf_counter()
    analyzer = SentimentIntensityAnalyzer()
    for text in texts:
        analyzer.polarity_scores(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=Path("../shared/data/reviews_dev.csv"))
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dev = pd.read_csv(args.dev, dtype=str, keep_default_na=False)
    reviews = dev.sample(n=args.n, replace=len(dev) < args.n, random_state=0)[["uid", "title", "text"]]
    reviews["uid"] = [f"r{i}" for i in range(len(reviews))]
    n = len(reviews)
    print(f"reviews: {n:,} (mean {reviews['text'].str.len().mean():.0f} chars)")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        reviews.to_csv(src, index=False)
        for i in range(args.repeat):
            elapsed = time_code(src, out)
            vader_elapsed = time_vader(reviews["text"].tolist())
            run = {"code_per_s": round(n / elapsed), "vader_per_s": round(n / vader_elapsed),
                   "ratio_to_vader": round(vader_elapsed / elapsed, 3)}
            runs.append(run)
            print(f"run {i + 1}: reviewmine code (start-up included) {run['code_per_s']:,} reviews/s, "
                  f"plain VADER {run['vader_per_s']:,} reviews/s, ratio {run['ratio_to_vader']:.2f}x")
        coded = pd.read_csv(out, keep_default_na=False)
    assert len(coded) == n
    with_codes = float((coded["codes"] != "").mean())
    print(f"reviews with at least one code: {with_codes:.1%}")
    save("code", runs, reviews=n, mean_chars=round(float(reviews["text"].str.len().mean())),
         share_with_codes=round(with_codes, 4), coder="fast")


if __name__ == "__main__":
    main()

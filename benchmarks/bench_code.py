"""Throughput of `reviewmine code` on reviews of the development corpus.

Prints reviews/second for the whole command (start-up included, as a user runs it),
next to plain VADER's speed on the same reviews in the same run (one compound score per
review) and the ratio of the two; repeats the pair ``--repeat`` times and writes every run to
``benchmarks/results/code.json`` (the README's speed figures are rendered from it).
``--coder accurate`` times the accurate tier on 10,000 reviews (default) with the fast tier
and plain VADER in the same run, into ``benchmarks/results/code_accurate.json``.

    python benchmarks/bench_code.py [--dev ../shared/data/reviews_dev.csv] [--n 50000] [--repeat 3]
    python benchmarks/bench_code.py --coder accurate [--n 10000] [--repeat 3]
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


def time_code(src: Path, out: Path, coder: str = "fast") -> float:
    """Seconds for the whole `reviewmine code` command, start-up included."""
    exe = Path(sys.executable).with_name("reviewmine")
    start = time.perf_counter()
    subprocess.run(
        [str(exe), "code", str(src), "--text-col", "text", "--id-col", "uid", "--title-col", "title", "--out", str(out),
         "--coder", coder],
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
    parser.add_argument("--n", type=int, help="reviews (default 50,000; 10,000 with --coder accurate)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--coder", choices=("fast", "accurate"), default="fast")
    args = parser.parse_args()
    args.n = args.n or (10_000 if args.coder == "accurate" else 50_000)
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
            elapsed = time_code(src, out, args.coder)
            fast_elapsed = time_code(src, Path(tmp) / "fast.csv") if args.coder == "accurate" else elapsed
            vader_elapsed = time_vader(reviews["text"].tolist())
            run = {"code_per_s": round(n / elapsed), "vader_per_s": round(n / vader_elapsed),
                   "ratio_to_vader": round(vader_elapsed / elapsed, 3)}
            if args.coder == "accurate":
                run.update(fast_per_s=round(n / fast_elapsed), fast_ratio_to_vader=round(vader_elapsed / fast_elapsed, 3))
            runs.append(run)
            print(f"run {i + 1}: reviewmine code --coder {args.coder} (start-up included) {run['code_per_s']:,} reviews/s, "
                  + (f"fast tier {run['fast_per_s']:,} reviews/s, " if args.coder == "accurate" else "")
                  + f"plain VADER {run['vader_per_s']:,} reviews/s, ratio {run['ratio_to_vader']:.2f}x")
        coded = pd.read_csv(out, keep_default_na=False)
    assert len(coded) == n
    with_codes = float((coded["codes"] != "").mean())
    print(f"reviews with at least one code: {with_codes:.1%}")
    save("code" if args.coder == "fast" else "code_accurate", runs, reviews=n,
         mean_chars=round(float(reviews["text"].str.len().mean())), share_with_codes=round(with_codes, 4),
         coder=args.coder)


if __name__ == "__main__":
    main()

"""Throughput and peak memory of ``reviewmine process`` on a large resampled corpus.

Builds an input of N reviews (default 1,000,000) by resampling the real reviews in
``reviews_dev.csv`` (each resampled row gets its own review id and a made-up reviewer
name; 3 % are the same review seen again in a later run, 1 % are edited versions), writes
it as a raw-layer Parquet file in a temporary data directory, then runs the whole
``process`` step in a child process and prints reviews/second and the child's peak RSS.

    python benchmarks/bench_process.py [--rows 1000000] [--dev /work/shared/data/reviews_dev.csv] [--repeat 2]

Every run is written to ``benchmarks/results/process.json`` (docs/process.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from results import save

from reviewmine.schema import REVIEW_SCHEMA

DEFAULT_DEV = Path(os.environ.get("REVIEWMINE_DEV_DATA", "/work/shared/data")) / "reviews_dev.csv"
FIRST = ["Alex", "Sam", "Jordan", "Maria", "Priya", "Chen", "Fatima", "Olu", "Noah", "Ines"]
LAST = ["Morgan", "Okafor", "Silva", "Kowalski", "Nguyen", "Haddad", "Larsen", "Patel"]


def fake_names(rng: np.random.Generator, n: int) -> pd.Series:
    """``n`` made-up reviewer names (processing must pseudonymise them)."""
    return (pd.Series(rng.choice(FIRST, n)) + " " + pd.Series(rng.choice(LAST, n))
            + pd.Series(rng.integers(0, 1000, n)).astype(str))


def raw_frame(pick: pd.DataFrame, review_ids: list[str], text: pd.Series, at: pd.Series, names: pd.Series) -> pd.DataFrame:
    """Raw-layer rows (``REVIEW_SCHEMA``) of the development reviews ``pick``, first seen in
    run 1, with the given ids, texts, dates and reviewer names."""
    return pd.DataFrame({
        "store": pick["store"].str.replace(" (inferred)", "", regex=False),
        "app": pick["app_name"].str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True),
        "review_id": review_ids,
        "rating": pd.to_numeric(pick["rating"], errors="coerce").astype("Int8"),
        "text": text,
        "at": at,
        "title": pick["title"].replace("", None),
        "app_version": pick["app_version"].replace("", None),
        "language": "en",
        "country": pick["country"].replace("", "us"),
        "thumbs_up": pd.to_numeric(pick["thumbs_up"], errors="coerce").astype("Int64"),
        "reviewer_name": names,
        "developer_reply": pick["developer_reply"].replace("", None),
        "developer_reply_at": pd.NaT,
        "source": "benchmark",
        "run_id": "run-1",
        "fetched_at": pd.Timestamp("2026-01-01", tz="UTC"),
    })


def build_input(dev_csv: Path, rows: int, data_dir: Path, seed: int = 7) -> Path:
    """Write ``rows`` resampled reviews to ``data_dir/raw/reviews/bench.parquet``."""
    rng = np.random.default_rng(seed)
    dev = pd.read_csv(dev_csv, dtype=str, keep_default_na=False)
    n_edit, n_again = rows // 100, rows * 3 // 100
    n_base = rows - n_edit - n_again
    pick = dev.iloc[rng.integers(0, len(dev), n_base)].reset_index(drop=True)
    at = pd.to_datetime(pick["date"].replace("", None), errors="coerce", utc=True)
    at = at.fillna(pd.Timestamp("2023-01-01", tz="UTC"))
    names = fake_names(rng, n_base)
    base = raw_frame(pick, [f"bench-{i}" for i in range(n_base)], pick["text"], at, names)
    again = base.sample(n_again, random_state=seed).assign(
        run_id="run-2", fetched_at=pd.Timestamp("2026-02-01", tz="UTC")
    )
    edits = base.sample(n_edit, random_state=seed + 1).assign(
        text=lambda d: d["text"] + " Edit: changed my mind.",
        rating=lambda d: ((d["rating"].fillna(3).astype(int) % 5) + 1).astype("Int8"),
        at=lambda d: d["at"] + pd.Timedelta(days=30),
        run_id="run-3",
        fetched_at=pd.Timestamp("2026-03-01", tz="UTC"),
    )
    frame = pd.concat([base, again, edits], ignore_index=True)
    out = data_dir / "raw" / "reviews" / "bench.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, schema=REVIEW_SCHEMA, preserve_index=False)
    pq.write_table(table, out, row_group_size=100_000, compression="zstd")
    return out


CHILD = """
import json, sys
from reviewmine.process import process
summary = process(sys.argv[1], key_file=sys.argv[2])
print(json.dumps(summary.to_dict()))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if not args.dev.exists():
        sys.exit(f"{args.dev}: not found; pass --dev PATH/reviews_dev.csv")
    with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        path = build_input(args.dev, args.rows, data_dir)
        print(f"input: {args.rows:,} reviews, {path.stat().st_size / 2**20:.0f} MiB Parquet "
              f"(built in {time.perf_counter() - started:.1f} s)")
        runs = [run_process(data_dir, Path(tmp) / "key" / "pseudonym.key", args.rows) for _ in range(args.repeat)]
    save("process", runs, rows=args.rows)


def run_process(data_dir: Path, key_file: Path, rows: int) -> dict:
    """One ``process`` run in a child process: wall and CPU time, peak memory, output counts."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), str(key_file)],
        check=True, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime + usage.ru_stime) - (before.ru_utime + before.ru_stime)
    peak_gib = usage.ru_maxrss / 2**20  # the largest child so far: every child does the same work
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    out_size = Path(summary["outputs"]["reviews"]).stat().st_size
    print(f"process: {elapsed:.1f} s wall (interpreter start and imports included), "
          f"{summary['seconds']:.1f} s inside process()")
    print(f"throughput: {rows / elapsed:,.0f} reviews/s "
          f"({summary['rows_per_second']:,.0f} reviews/s inside process())")
    print(f"CPU time: {cpu:.1f} s ({rows / cpu:,.0f} reviews per CPU-second; "
          f"wall time depends on what else runs, CPU time much less)")
    print(f"peak memory (RSS of the process step): {peak_gib:.2f} GiB")
    print(f"output: {summary['reviews']:,} current reviews, {summary['previous_versions']:,} "
          f"earlier versions, {summary['duplicates_collapsed']:,} repeated sightings "
          f"collapsed, {summary['copy_paste']:,} copy-paste, {summary['spam']:,} spam; "
          f"reviews.parquet {out_size / 2**20:.0f} MiB")
    return {
        "wall_s": round(elapsed, 1), "reviews_per_s": round(rows / elapsed),
        "reviews_per_cpu_s": round(rows / cpu), "cpu_s": round(cpu, 1), "peak_rss_gib": round(peak_gib, 2),
        "current_reviews": summary["reviews"], "previous_versions": summary["previous_versions"],
    }


if __name__ == "__main__":
    main()

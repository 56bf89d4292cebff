"""``process`` + ``code`` (the fast coder tier) on the local engine and on Dask, and what that
projects to on a cluster.

Builds a synthetic corpus of N reviews (default 2,000,000) by resampling the development
reviews ``reviews_dev.csv`` with new ids, dates spread over two years, made-up reviewer
names and a small edit to each text (so resampled texts are not all copies of each other);
3 % are the same review seen again, 1 % edited. It is written as raw-layer Parquet files of
``--file-rows`` reviews each (the Dask engine's partitions). Then:

1. ``local``: ``process`` and ``code`` each in a child process; reviews/s and peak RSS;
2. ``dask``: the same on a ``LocalCluster`` of ``--workers`` single-threaded worker
   processes; reviews/s and the peak RSS of each worker (its ``VmHWM``);
3. out-of-core: ``process`` on Dask over ``--ooc-reviews`` reviews (default: N) with each
   worker's memory limited to ``--memory-limit`` (default 1.5 GiB);
4. a projection for 10M and 100M reviews on 32 and 128 cores: the measured per-worker rates
   times the workers, plus the scheduler's overhead per task (measured with no-op tasks)
   times the tasks such a run makes. On paper: it assumes the per-worker rate holds (shared
   storage fast enough) and leaves out the client-side steps (reading the code input).

    python benchmarks/bench_scale.py [--reviews 2000000] [--ooc-reviews N] [--workers 2]

Results go to ``benchmarks/results/scale.json``; docs/scale.md quotes them (``docs/figures.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from bench_process import DEFAULT_DEV, fake_names, raw_frame
from results import save

from reviewmine.schema import REVIEW_SCHEMA

WORDS = ("really", "honestly", "overall", "today", "so far", "lately", "still", "again", "tbh", "now")
PROJECTION = ((10_000_000, 32), (10_000_000, 128), (100_000_000, 32), (100_000_000, 128))


def build_corpus(dev_csv: Path, rows: int, data_dir: Path, file_rows: int, seed: int = 11) -> int:
    """Write ``rows`` synthetic reviews as raw-layer files of ``file_rows``; returns the files."""
    rng = np.random.default_rng(seed)
    dev = pd.read_csv(dev_csv, dtype=str, keep_default_na=False)
    folder = data_dir / "raw" / "reviews"
    folder.mkdir(parents=True, exist_ok=True)
    n_files = max(1, -(-rows // file_rows))
    for f in range(n_files):
        n = min(file_rows, rows - f * file_rows)
        frame = _synthetic(dev, n, rng, first_id=f * file_rows)
        table = pa.Table.from_pandas(frame, schema=REVIEW_SCHEMA, preserve_index=False)
        pq.write_table(table, folder / f"bench-{f:04d}.parquet", row_group_size=100_000, compression="zstd")
    return n_files


def _synthetic(dev: pd.DataFrame, rows: int, rng: np.random.Generator, first_id: int) -> pd.DataFrame:
    """``rows`` resampled reviews: 96 % new, 3 % seen again in a later run, 1 % edited."""
    n_edit, n_again = rows // 100, rows * 3 // 100
    n_base = rows - n_edit - n_again
    pick = dev.iloc[rng.integers(0, len(dev), n_base)].reset_index(drop=True)
    edit = pd.Series(rng.choice(WORDS, n_base)) + " " + pd.Series(rng.integers(0, 500, n_base)).astype(str)
    at = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 730 * 86400, n_base), unit="s")
    names = fake_names(rng, n_base)
    base = raw_frame(pick, [f"scale-{first_id + i}" for i in range(n_base)], pick["text"] + " " + edit, at, names)
    again = base.sample(n_again, random_state=int(rng.integers(1 << 31))).assign(
        run_id="run-2", fetched_at=pd.Timestamp("2026-02-01", tz="UTC"))
    edits = base.sample(n_edit, random_state=int(rng.integers(1 << 31))).assign(
        text=lambda d: d["text"] + " Edit: changed my mind.",
        at=lambda d: d["at"] + pd.Timedelta(days=30), run_id="run-3",
        fetched_at=pd.Timestamp("2026-03-01", tz="UTC"))
    return pd.concat([base, again, edits], ignore_index=True)


def code_input(data_dir: Path, out: Path) -> int:
    """The current processed reviews' ids, texts and titles as the ``code`` input (Parquet)."""
    from reviewmine.process import read_reviews

    reviews = read_reviews(data_dir, columns=["review_key", "title", "text"])
    pq.write_table(pa.Table.from_pandas(reviews.rename(columns={"review_key": "uid"}),
                                        preserve_index=False), out)
    return len(reviews)


LOCAL_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
if sys.argv[1] == "process":
    from reviewmine.process import process
    process(sys.argv[2], key_file=sys.argv[3])
else:
    from reviewmine.analyze.coding import code
    code(sys.argv[2], sys.argv[3])
peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps({"seconds": time.perf_counter() - started, "peak_gib": peak / 2**20}))
"""


def run_local(step: str, *args: str) -> dict:
    """One step in a child process: seconds inside the call, and the peak RSS of the
    largest process it ran (the step itself or one of its forked coding workers)."""
    result = subprocess.run([sys.executable, "-c", LOCAL_CHILD, step, *args], check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _peak_rss_gib() -> float:
    """This process's peak RSS (``VmHWM``), run on each Dask worker."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def run_dask(step: str, workers: int, memory_limit: str | None, *args) -> dict:
    """One step on a fresh LocalCluster: seconds, tasks, and each worker's peak RSS."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit or "auto", dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        tasks = []
        started = time.perf_counter()
        if step == "process":
            from reviewmine.process import process

            process(args[0], key_file=args[1], engine="dask", scheduler=cluster.scheduler_address,
                    on_partition=lambda done, total: tasks.append(total))
        else:
            from reviewmine.analyze.coding import code
            from reviewmine.analyze.factors import FactorCoder
            from reviewmine.engine import CoderFactory

            code(args[0], args[1], engine="dask", scheduler=cluster.scheduler_address,
                 coder=CoderFactory(FactorCoder), on_partition=lambda done, total: tasks.append(total))
        seconds = time.perf_counter() - started
        peaks = sorted(client.run(_peak_rss_gib).values())
    return {"seconds": seconds, "tasks": tasks[-1] if tasks else 0, "worker_peak_gib": peaks}


def task_overhead(workers: int, n: int = 2000) -> float:
    """Seconds of scheduler and transfer time per no-op task on a LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.gather(client.map(int, range(100)))  # warm up
        started = time.perf_counter()
        client.gather(client.map(int, range(n), pure=False))
        return (time.perf_counter() - started) / n * workers  # per task, per worker slot


def projection(rates: dict[str, float], overhead_s: float, file_rows: int, code_rows: int) -> list[dict]:
    """Hours for ``process`` + ``code`` at each (reviews, cores): per-worker rates times the
    workers (one single-threaded worker per core), plus the scheduler overhead of the tasks."""
    rows = []
    for reviews, cores in PROJECTION:
        tasks = 3 * reviews / file_rows + reviews / code_rows  # process: 3 steps per partition
        seconds = sum(reviews / (rates[step] * cores) for step in ("process", "code"))
        seconds += tasks * overhead_s / cores
        rows.append({"reviews": reviews, "cores": cores, "tasks": int(tasks),
                     "hours": round(seconds / 3600, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=2_000_000)
    parser.add_argument("--ooc-reviews", type=int, default=None, help="out-of-core run size (default: --reviews)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--file-rows", type=int, default=100_000)
    parser.add_argument("--memory-limit", default="1.5GiB")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    args = parser.parse_args()
    if not args.dev.exists():
        sys.exit(f"{args.dev}: not found; pass --dev PATH/reviews_dev.csv")
    ooc_reviews = args.ooc_reviews or args.reviews
    run = {"reviews": args.reviews, "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        data_dir = tmp / "data"
        files = build_corpus(args.dev, args.reviews, data_dir, args.file_rows)
        print(f"corpus: {args.reviews:,} reviews in {files} files", flush=True)
        local = run_local("process", str(data_dir), str(tmp / "key"))
        n_code = code_input(data_dir, tmp / "code_in.parquet")
        local_code = run_local("code", str(tmp / "code_in.parquet"), str(tmp / "coded_local.parquet"))
        dask = run_dask("process", args.workers, None, data_dir, tmp / "key")
        dask_code = run_dask("code", args.workers, None, tmp / "code_in.parquet", tmp / "coded_dask.parquet")
        same = pd.read_parquet(tmp / "coded_local.parquet").equals(pd.read_parquet(tmp / "coded_dask.parquet"))
        for name, result, n in (("process", local, args.reviews), ("code", local_code, n_code)):
            run[f"local_{name}_per_s"] = round(n / result["seconds"])
            run[f"local_{name}_peak_gib"] = round(result["peak_gib"], 2)
        for name, result, n in (("process", dask, args.reviews), ("code", dask_code, n_code)):
            run[f"dask_{name}_per_s"] = round(n / result["seconds"])
            run[f"dask_{name}_worker_peak_gib"] = round(max(result["worker_peak_gib"]), 2)
            run[f"dask_{name}_tasks"] = result["tasks"]
            run[f"dask_to_local_{name}"] = round(run[f"dask_{name}_per_s"] / run[f"local_{name}_per_s"], 2)
        run["code_reviews"] = n_code
        run["code_outputs_identical"] = same
        print(json.dumps(run, indent=1), flush=True)
        if ooc_reviews != args.reviews:
            data_dir = tmp / "ooc"
            build_corpus(args.dev, ooc_reviews, data_dir, args.file_rows)
        ooc = run_dask("process", args.workers, args.memory_limit, data_dir, tmp / "key")
    run["ooc_reviews"] = ooc_reviews
    run["ooc_memory_limit"] = args.memory_limit
    run["ooc_per_s"] = round(ooc_reviews / ooc["seconds"])
    run["ooc_worker_peak_gib"] = round(max(ooc["worker_peak_gib"]), 2)
    run["task_overhead_ms"] = round(task_overhead(args.workers) * 1000, 2)
    rates = {"process": run["dask_process_per_s"] / args.workers, "code": run["dask_code_per_s"] / args.workers}
    table = projection(rates, run["task_overhead_ms"] / 1000, args.file_rows, 20_000)
    print(json.dumps(run, indent=1))
    for row in table:
        print(f"{row['reviews']:>12,} reviews on {row['cores']:>3} cores: {row['hours']:.2f} h "
              f"({row['tasks']:,} tasks)")
    save("scale", [run], reviews=args.reviews, ooc_reviews=ooc_reviews, workers=args.workers,
         file_rows=args.file_rows, projection=table)


if __name__ == "__main__":
    main()

"""Same answer on both engines at size: ``process`` and ``analyze`` (with topics) of a
synthetic corpus (default 200,000 reviews, built as ``bench_scale.py`` builds it) on the
local engine and on a Dask LocalCluster of 2 worker processes, every output compared after
sorting. Too slow for the test suite (tests/scale/test_engine_equality.py checks the same on
a small corpus in CI); run it after changing either engine:

    python benchmarks/check_scale_equality.py [--reviews 200000]

Exit code 1 when an output differs; the result goes to ``benchmarks/results/scale_equality.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_process import DEFAULT_DEV
from bench_scale import build_corpus
from results import save

OUTPUTS = ("reviews", "review_versions", "rejects", "review_scores", "codes", "sentences", "topics",
           "topic_info")
SORT_KEYS = ("review_key", "version", "code", "sentence_no", "source_file", "row", "reason")


def table(path: Path) -> pd.DataFrame:
    from reviewmine.process.reader import reviews_dataset

    frame = reviews_dataset(path).to_table().to_pandas()
    keys = [c for c in SORT_KEYS if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)[sorted(frame.columns)]


POSITIONS = ["x", "y"]
POSITIONS_NOTE = " (map positions x, y to 1e-6: see _same)"


def _same(local: pd.DataFrame, dask: pd.DataFrame, name: str) -> bool:
    """Exactly the same values, but for the topic map positions: the local engine computes
    them after assigning topics in the same process, whose float32 normalisation of the topic
    vectors (in place, once per batch) moves them by about 1e-8; the Dask client does not
    assign topics itself."""
    if name != "topic_info":
        return local.equals(dask)
    close = np.allclose(local[POSITIONS], dask[POSITIONS], rtol=1e-6, equal_nan=True)
    return close and local.drop(columns=POSITIONS).equals(dask.drop(columns=POSITIONS))


def main() -> None:
    from distributed import LocalCluster

    from reviewmine.analyze import analyze
    from reviewmine.process import process

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=200_000)
    parser.add_argument("--file-rows", type=int, default=25_000)
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    args = parser.parse_args()
    run: dict = {"reviews": args.reviews}
    with tempfile.TemporaryDirectory(prefix="scale-equality-") as tmp, LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        tmp = Path(tmp)
        for engine in ("local", "dask"):
            data_dir = tmp / engine
            build_corpus(args.dev, args.reviews, data_dir, args.file_rows)
            scheduler = cluster.scheduler_address if engine == "dask" else None
            started = time.perf_counter()
            process(data_dir, key_file=tmp / "key", engine=engine, scheduler=scheduler)
            summary = analyze(data_dir, engine=engine, scheduler=scheduler)
            run[f"{engine}_seconds"] = round(time.perf_counter() - started, 1)
            run[f"{engine}_analysed"] = summary.analysed
            print(f"{engine}: {run[f'{engine}_seconds']} s, {summary.analysed:,} analysed, "
                  f"{summary.topics} topics", flush=True)
        different = []
        for name in OUTPUTS:
            local, dask = (table(tmp / e / "processed" / f"{name}.parquet") for e in ("local", "dask"))
            same = _same(local, dask, name)
            run[f"{name}_rows"] = len(local)
            print(f"{name}: {len(local):,} rows, {'identical' if same else 'DIFFERENT'}"
                  f"{POSITIONS_NOTE if name == 'topic_info' and same else ''}", flush=True)
            if not same:
                different.append(name)
    run["identical"] = not different
    save("scale_equality", [run], reviews=args.reviews, different=different)
    sys.exit(1 if different else 0)


if __name__ == "__main__":
    main()

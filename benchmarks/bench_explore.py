"""Time the explorer database build (`reviewmine explore --build-only`).

    .venv/bin/python benchmarks/bench_explore.py [DATA_DIR | --dev reviews_dev.csv] [--repeat 3]

DATA_DIR must be processed and analysed. With ``--dev`` the development corpus is processed
and analysed (no topics) into a temporary directory first; with neither, the shipped sample.
Prints the seconds of each full build and of the up-to-date check, and writes every run to
``benchmarks/results/explore.json`` (docs/explore.md quotes it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from results import save

from reviewmine.analyze import analyze
from reviewmine.config import sample_dir
from reviewmine.explore import build_database
from reviewmine.process import process


def prepare(source: Path) -> Path:
    """Process and analyse ``source`` (no topics) into a temporary data directory."""
    root = Path(tempfile.mkdtemp())
    data_dir = root / "data"
    column_map = None if source == sample_dir() / "reviews_sample.csv" else "app=app_name,at=date"
    process(data_dir, inputs=[source], include_raw=False, key_file=root / "key", column_map=column_map)
    analyze(data_dir, topics=False)
    return data_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", nargs="?", type=Path)
    parser.add_argument("--dev", type=Path, help="development corpus CSV to process and analyse first")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data_dir = args.data_dir or prepare(args.dev or sample_dir() / "reviews_sample.csv")
    runs = []
    for _ in range(args.repeat):
        built = build_database(data_dir, force=True)
        start = time.perf_counter()
        check = build_database(data_dir)
        check_seconds = time.perf_counter() - start
        assert not check.rebuilt
        runs.append({"build_s": round(built.seconds, 2), "up_to_date_check_s": round(check_seconds, 3),
                     "database_mb": round(built.path.stat().st_size / 1e6, 1)})
        print(f"built {built.path} in {built.seconds:.1f} s ({', '.join(f'{n:,} {t}' for t, n in built.rows.items())}; "
              f"{runs[-1]['database_mb']} MB); up-to-date check {check_seconds:.2f} s")
    corpus = "development corpus" if args.dev else ("user data" if args.data_dir else "shipped sample")
    save("explore", runs, corpus=corpus, rows=built.rows)


if __name__ == "__main__":
    main()

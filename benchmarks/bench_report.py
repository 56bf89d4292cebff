"""Time `reviewmine report` on the shipped sample (process + analyze once, then the report).

    .venv/bin/python benchmarks/bench_report.py [DATA_DIR] [--repeat 3]

Prints the seconds of each report step and the total, and writes every run to
``benchmarks/results/report.json`` (docs/report.md quotes it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from results import save

from reviewmine.analyze import analyze
from reviewmine.config import sample_dir
from reviewmine.process import process
from reviewmine.report import report


def time_report(data_dir: Path, run_name: str) -> dict:
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    run_dir = report(data_dir, run_name=run_name, on_step=lambda s: marks.append((s, time.perf_counter())))
    end = time.perf_counter()
    for (name, t), (_, t_next) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        print(f"{name:<24} {t_next - t:6.2f} s")
    print(f"{'total':<24} {end - start:6.2f} s  -> {run_dir}")
    return {"total_s": round(end - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data_dir = args.data_dir
    if data_dir is None:
        root = Path(tempfile.mkdtemp())
        data_dir = root / "data"
        process(data_dir, inputs=[sample_dir() / "reviews_sample.csv"], include_raw=False, key_file=root / "key")
        analyze(data_dir, topics=False)
    runs = [time_report(data_dir, f"bench-{i + 1}") for i in range(args.repeat)]
    save("report", runs, data="shipped sample" if args.data_dir is None else "user data", topics=False)


if __name__ == "__main__":
    main()

"""Time `reviewmine report` on the shipped sample (process + analyze once, then the report).

    .venv/bin/python benchmarks/bench_report.py [DATA_DIR]

Prints the seconds of each report step and the total.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from reviewmine.analyze.pipeline import analyze
from reviewmine.config import sample_dir
from reviewmine.process import process
from reviewmine.report import report


def main() -> None:
    if len(sys.argv) > 1:
        data_dir = Path(sys.argv[1])
    else:
        root = Path(tempfile.mkdtemp())
        data_dir = root / "data"
        process(data_dir, inputs=[sample_dir() / "reviews_sample.csv"], include_raw=False, key_file=root / "key")
        analyze(data_dir, topics=False)
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    run_dir = report(data_dir, run_name="bench", on_step=lambda s: marks.append((s, time.perf_counter())))
    end = time.perf_counter()
    for (name, t), (_, t_next) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        print(f"{name:<24} {t_next - t:6.2f} s")
    print(f"{'total':<24} {end - start:6.2f} s  -> {run_dir}")


if __name__ == "__main__":
    main()

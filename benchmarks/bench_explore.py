"""Time the explorer database build (`reviewmine explore --build-only`).

    .venv/bin/python benchmarks/bench_explore.py [DATA_DIR]

DATA_DIR must be processed and analysed; without it the shipped sample is processed and
analysed (no topics) into a temporary directory first. Prints the seconds of a full build and
of the up-to-date check, and writes them to benchmarks/results/explore.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from reviewmine.analyze.pipeline import analyze
from reviewmine.config import sample_dir
from reviewmine.explore import build_database
from reviewmine.process import process
from reviewmine.versions import software_versions

RESULTS = Path(__file__).resolve().parent / "results" / "explore.json"


def main() -> None:
    if len(sys.argv) > 1:
        data_dir = Path(sys.argv[1])
    else:
        root = Path(tempfile.mkdtemp())
        data_dir = root / "data"
        process(data_dir, inputs=[sample_dir() / "reviews_sample.csv"], include_raw=False, key_file=root / "key")
        analyze(data_dir, topics=False)
    built = build_database(data_dir, force=True)
    start = time.perf_counter()
    check = build_database(data_dir)
    check_seconds = time.perf_counter() - start
    assert not check.rebuilt
    figures = {
        "data_dir": str(data_dir),
        "rows": built.rows,
        "build_seconds": round(built.seconds, 2),
        "up_to_date_check_seconds": round(check_seconds, 2),
        "database_mb": round(built.path.stat().st_size / 1e6, 1),
        "cpus": os.cpu_count(),
        "software": software_versions(("pandas", "pyarrow", "sqlite-utils", "datasette")),
    }
    print(f"built {built.path} in {built.seconds:.1f} s ({', '.join(f'{n:,} {t}' for t, n in built.rows.items())}; "
          f"{figures['database_mb']} MB); up-to-date check {check_seconds:.2f} s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

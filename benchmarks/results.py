"""Where benchmarks keep what they measured: ``benchmarks/results/NAME.json``.

Every figure the README and docs quote about speed is rendered from these files
(``docs/figures.py``, checked by ``tests/test_docs.py``), so a benchmark run is the only way a
speed figure changes. Each file holds every repeated run of one invocation and, per measure,
its range over those runs (timings on shared machines are noisy: quote the range).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summarise(runs: list[dict]) -> dict:
    """min / median / max of every numeric measure over the runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {
        k: {"min": min(r[k] for r in runs), "median": statistics.median(r[k] for r in runs),
            "max": max(r[k] for r in runs)}
        for k in keys
    }


def save(name: str, runs: list[dict], **context) -> Path:
    """Write the runs of one benchmark invocation (with machine and software) and return the path."""
    from reviewmine.versions import software_versions

    record = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": len(os.sched_getaffinity(0)), "cpu": _cpu_model(),
                    "python": platform.python_version()},
        "software": software_versions(),
        **context,
        "runs": runs,
        "summary": summarise(runs),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    print(f"results -> {path}")
    return path

"""End-to-end collection figure against the local fake store, with faults injected.

Runs `reviewmine collect` (subprocess) against tests/fakestore on 127.0.0.1, kills it twice
with SIGKILL mid-run, resumes, then adds new and edited reviews and runs again. Prints reviews
collected / expected, duplicates and the faults served, and writes them to
``benchmarks/results/collect.json`` (docs/collect.md quotes it).

    .venv/bin/python benchmarks/collect_fakestore.py [--fault-rate 0.3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402
from results import save  # noqa: E402
from tests.fakestore.population import Population  # noqa: E402
from tests.fakestore.server import FakeStore  # noqa: E402

APPS = {  # slug: (play id, app store id, storefronts, play reviews, apple reviews)
    "calm-mind": ("org.example.calmmind", "1000000001", ["us", "gb", "ca"], 900, 1500),
    "mood-log": ("org.example.moodlog", "1000000002", ["us", "au"], 300, 400),
    "talk-bot": ("org.example.talkbot", "1000000003", ["us"], 150, 700),
}
ENV = {
    "REVIEWMINE_CONNECT_TIMEOUT": "1", "REVIEWMINE_READ_TIMEOUT": "0.25",
    "REVIEWMINE_MAX_ATTEMPTS": "6", "REVIEWMINE_BACKOFF_BASE": "0.001",
    "REVIEWMINE_BACKOFF_MAX": "0.01", "REVIEWMINE_RATE_GOOGLE_PLAY": "0",
    "REVIEWMINE_RATE_APP_STORE": "0", "REVIEWMINE_RATE_LOOKUP": "0",
}


def run(fs: FakeStore, catalog: Path, data: Path, kill_at: int | None) -> int:
    env = os.environ | ENV | {"REVIEWMINE_GOOGLE_PLAY_URL": fs.url, "REVIEWMINE_ITUNES_URL": fs.url}
    code = "import sys; from reviewmine.cli import app; sys.argv[0] = 'reviewmine'; app()"
    start, holder = fs.requests, {}

    def hook(n: int) -> None:
        if kill_at is not None and n == start + kill_at and "p" in holder:
            holder["p"].send_signal(signal.SIGKILL)

    fs.on_request = hook
    holder["p"] = p = subprocess.Popen(
        [sys.executable, "-c", code, "collect", "--catalog", str(catalog), "--data-dir", str(data)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    p.wait()
    fs.on_request = None
    return p.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault-rate", type=float, default=0.3)
    args = ap.parse_args()
    pop = Population(seed=2026)
    lines = ["apps:"]
    id_of = {}
    for slug, (gp, ios, ccs, n_play, n_ios) in APPS.items():
        pop.add_play(gp, n_play)
        pop.add_apple(ios, ccs, n_ios, shared=0.25)
        id_of[("google_play", slug)], id_of[("app_store", slug)] = gp, ios
        lines.append(f"  - {{slug: {slug}, name: {slug}, google_play: {gp}, app_store: {ios}, "
                     f"countries: [{', '.join(ccs)}], languages: [en]}}")
    tmp = Path(tempfile.mkdtemp(prefix="reviewmine-bench-"))
    catalog = tmp / "catalog.yaml"
    catalog.write_text("\n".join(lines) + "\n")
    data = tmp / "data"
    t0 = time.time()
    with FakeStore(pop, fault_rate=args.fault_rate, timeout_sleep=0.3, seed=3) as fs:
        codes = [run(fs, catalog, data, 40), run(fs, catalog, data, 90), run(fs, catalog, data, None)]
        earlier = pop.expected()
        pop.edit_play("org.example.calmmind", 10)
        for gp, ios, ccs, _, _ in APPS.values():
            pop.add_play(gp, 60)
            pop.add_apple(ios, ccs, 40, shared=0.0)
        codes.append(run(fs, catalog, data, None))
        faults, violations, requests = Counter(fs.faults), fs.violations, fs.requests
    elapsed = time.time() - t0
    rows = [r for f in sorted((data / "raw" / "reviews").glob("*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    keys = [(r["store"], id_of[(r["store"], r["app"])], r["review_id"],
             json.dumps([r["rating"], r["title"], r["text"], r["developer_reply"]])) for r in rows]
    expected = pop.expected() | earlier
    got = set(keys) & expected
    print(f"exit codes: {codes} (-9 = killed on purpose)")
    print(f"requests served: {requests}; faults injected: {sum(faults.values())} {dict(faults)}")
    print(f"protocol violations (page 11, token without cookie, wrong sort): {len(violations)}")
    print(f"review versions collected / expected: {len(got)} / {len(expected)} "
          f"({100 * len(got) / len(expected):.2f}%)")
    print(f"duplicates: {len(keys) - len(set(keys))}; unexpected rows: {len(set(keys) - expected)}")
    print(f"wall time: {elapsed:.1f} s for 4 runs (2 killed)")
    save("collect", [{
        "requests": requests, "faults": sum(faults.values()), "protocol_violations": len(violations),
        "collected": len(got), "expected": len(expected), "duplicates": len(keys) - len(set(keys)),
        "unexpected": len(set(keys) - expected), "wall_s": round(elapsed, 1),
    }], exit_codes=codes, faults_by_kind=dict(faults))


if __name__ == "__main__":
    main()

"""How well the corrected shares and their intervals recover the coded shares of unseen apps.

    python -m training.prevalence_check --crossapp src/reviewmine/analyze/models/coder_crossapp.json \
        --out src/reviewmine/analyze/models/coder_prevalence.json

For each app left out of training (``training.train crossapp``), each ``code:polarity`` label
that app's coders or the coder used: the raw share of coded reviews, the corrected share
(``reviewmine.analyze.prevalence``, with error rates from the OTHER apps only), and the share the
project's coders gave. Reported: mean absolute error of the raw and corrected shares, and how
often the raw share's Wilson interval and the corrected interval cover the coders' share.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reviewmine.analyze.prevalence import corrected_share, pooled_rates
from reviewmine.report.tables import wilson_interval


def check(crossapp: dict) -> dict:
    rows = []
    for app, result in crossapp.items():
        rates = pooled_rates(crossapp, exclude=app)
        for label, (tp, fp, fn, tn) in result.get("confusion", {}).items():
            if label not in rates:
                continue
            n, k, truth = tp + fp + fn + tn, tp + fp, (tp + fn) / (tp + fp + fn + tn)
            estimate, low, high = corrected_share(k, n, rates[label])
            wilson_low, wilson_high = (float(v) for v in wilson_interval(np.array([k]), np.array([n])))
            rows.append({
                "app": app, "label": label, "truth": truth, "raw": k / n, "corrected": estimate,
                "raw_covered": wilson_low <= truth <= wilson_high, "corrected_covered": low <= truth <= high,
            })
    corrected = [r for r in rows if r["corrected"] == r["corrected"]]
    per_app = {}
    for app in crossapp:
        mine = [r for r in corrected if r["app"] == app]
        if mine:
            per_app[app] = {
                "labels": len(mine),
                "raw_mae": round(float(np.mean([abs(r["raw"] - r["truth"]) for r in mine])), 4),
                "corrected_mae": round(float(np.mean([abs(r["corrected"] - r["truth"]) for r in mine])), 4),
                "corrected_coverage": round(float(np.mean([r["corrected_covered"] for r in mine])), 3),
            }
    return {
        "labels_checked": len(rows),
        "labels_corrected": len(corrected),
        "raw_mae": round(float(np.mean([abs(r["raw"] - r["truth"]) for r in corrected])), 4),
        "corrected_mae": round(float(np.mean([abs(r["corrected"] - r["truth"]) for r in corrected])), 4),
        "raw_wilson_coverage": round(float(np.mean([r["raw_covered"] for r in rows])), 3),
        "corrected_coverage": round(float(np.mean([r["corrected_covered"] for r in rows])), 3),
        "per_app": per_app,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crossapp", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = check(json.loads(args.crossapp.read_text()))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_app"}, indent=2))


if __name__ == "__main__":
    main()

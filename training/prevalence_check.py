"""How well share intervals that include the coder's error cover the coded shares of unseen apps.

    python -m training.prevalence_check --crossapp src/reviewmine/analyze/models/coder_crossapp.json \
        --out src/reviewmine/analyze/models/coder_prevalence.json
    python -m training.prevalence_check --crossapp src/reviewmine/analyze/models/coder_accurate_crossapp.json \
        --out src/reviewmine/analyze/models/coder_accurate_prevalence.json

(the accurate tier's from ``training.train_accurate crossapp --finetune``, the whole blend retrained
per app: the errors ``analyze`` builds its intervals from)

For each app left out of training (``training.train crossapp``) and each ``code:polarity``
label its coders or the coder used: the share of its reviews the coder gave the label, the share
the project's coders gave it, the plain Wilson interval of the coded share, and the interval of
``reviewmine.analyze.prevalence.share_interval`` built from the OTHER apps' errors only.
Reported: mean absolute error of the coded share, and how often each interval covers the coders'
share, overall and per app. Two point corrections are measured beside it (bias-corrected, and
Rogan-Gladen with the other apps' sensitivity and specificity) to show why the shipped method
keeps the coded share as its point.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reviewmine.analyze.prevalence import label_errors, share_interval
from reviewmine.report.tables import wilson_interval


def _rogan_gladen(crossapp: dict, app: str, label: str, raw: float) -> float:
    tp = fp = fn = tn = 0
    for other, result in crossapp.items():
        if other != app and label in result.get("confusion", {}):
            a, b, c, d = result["confusion"][label]
            tp, fp, fn, tn = tp + a, fp + b, fn + c, tn + d
    sensitivity = tp / (tp + fn) if tp + fn else 0.0
    specificity = tn / (tn + fp) if tn + fp else 1.0
    informative = sensitivity + specificity - 1
    return float(np.clip((raw + specificity - 1) / informative, 0, 1)) if informative > 0.1 else raw


def check(crossapp: dict) -> dict:
    rows = []
    for app, result in crossapp.items():
        errors = label_errors(crossapp, exclude=app)
        for label, (tp, fp, fn, tn) in result.get("confusion", {}).items():
            n = tp + fp + fn + tn
            raw, truth = (tp + fp) / n, (tp + fn) / n
            mine = errors.get(label, np.zeros(len(crossapp) - 1))
            low, high = share_interval(tp + fp, n, mine)
            wilson_low, wilson_high = (float(np.ravel(v)[0]) for v in wilson_interval(np.array([tp + fp]), np.array([n])))
            rows.append({
                "app": app, "raw_error": abs(raw - truth),
                "bias_corrected_error": abs(min(max(raw - mine.mean(), 0.0), 1.0) - truth),
                "rogan_gladen_error": abs(_rogan_gladen(crossapp, app, label, raw) - truth),
                "wilson_covered": wilson_low <= truth <= wilson_high, "covered": low <= truth <= high,
                "width": high - low,
            })

    def summary(part: list[dict]) -> dict:
        return {
            "labels": len(part),
            "coded_share_mae": round(float(np.mean([r["raw_error"] for r in part])), 4),
            "wilson_coverage": round(float(np.mean([r["wilson_covered"] for r in part])), 3),
            "coverage": round(float(np.mean([r["covered"] for r in part])), 3),
            "median_width": round(float(np.median([r["width"] for r in part])), 4),
        }

    return {
        **summary(rows),
        "bias_corrected_mae": round(float(np.mean([r["bias_corrected_error"] for r in rows])), 4),
        "rogan_gladen_mae": round(float(np.mean([r["rogan_gladen_error"] for r in rows])), 4),
        "per_app": {app: summary([r for r in rows if r["app"] == app]) for app in crossapp},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crossapp", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    crossapp = json.loads(args.crossapp.read_text())
    if "apps" in crossapp:  # the accurate tier's file: per-app results under "apps"
        if not crossapp.get("blend"):
            raise SystemExit(f"{args.crossapp}: the encoder's head alone, not the shipped blend; its errors are another coder's")
        crossapp = crossapp["apps"]
    result = check(crossapp)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_app"}, indent=2))


if __name__ == "__main__":
    main()

"""Agreement between the evaluation set's coders and a coder briefed like the training coders.

    python -m training.second_coder --gold GOLD.csv --second data/evaluation/gold_dev_second_coder.csv \
        --out src/reviewmine/analyze/models/gold_second_coder.json

``--second`` is a blind second coding of the evaluation set (``data/evaluation/README.md``);
the result is scored exactly as ``reviewmine evaluate`` scores a coder, so its figures sit
beside the tiers' as the agreement a coder trained on the training set could at most expect.
It is a measurement only: nothing here is used for training or tuning.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from reviewmine.analyze.codebook import load_codebook, parse_codes
from reviewmine.evaluate import compare


def second_coder_agreement(gold_csv: Path, second_csv: Path) -> dict:
    """``evaluate``'s summary and per-code table of the second coding against the gold codes."""
    gold = pd.read_csv(gold_csv, dtype=str, keep_default_na=False)
    second = pd.read_csv(second_csv, dtype=str, keep_default_na=False).set_index("uid")
    missing = sorted(set(gold["uid"]) - set(second.index))
    if missing:
        raise SystemExit(f"{second_csv}: {len(missing)} reviews of {gold_csv} are not coded (e.g. {missing[0]})")
    per_code, summary = compare(
        [parse_codes(c) for c in gold["codes"]], [parse_codes(c) for c in second.loc[gold["uid"], "codes"]], load_codebook()
    )
    return {
        "gold_file": Path(gold_csv).name,
        "second_file": str(second_csv),
        "measured_at": datetime.now(UTC).date().isoformat(),
        "second_coder": "one AI research assistant briefed as the training coders (codebook and rules G, C, R1-R10), "
                        "blind to the evaluation set's codes",
        "summary": summary,
        "per_code": per_code.to_dict("records"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--second", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = second_coder_agreement(args.gold, args.second)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    keys = ("micro_f1", "micro_f1_code_only", "macro_f1_support_ge_5", "polarity_accuracy", "cohen_kappa_pooled")
    print(json.dumps({k: round(float(result["summary"][k]), 3) for k in keys}, indent=2))


if __name__ == "__main__":
    main()

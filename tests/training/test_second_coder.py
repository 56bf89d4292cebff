"""The agreement of a blind second coding of the evaluation set with its codes (training/second_coder.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from training.second_coder import second_coder_agreement


def _write(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_agreement_is_scored_as_evaluate_scores_a_coder(tmp_path):
    gold = _write(tmp_path / "gold.csv", {
        "uid": ["a", "b", "c"], "text": ["x", "y", "z"],
        "codes": ["cost_monetization:barrier", "technical_issues:barrier|usability_design:facilitator", ""],
    })
    second = _write(tmp_path / "second.csv", {
        "uid": ["c", "b", "a"],  # any order: joined by uid
        "codes": ["", "technical_issues:barrier", "cost_monetization:facilitator"],
    })
    result = second_coder_agreement(gold, second)
    s = result["summary"]
    assert s["reviews"] == 3 and s["gold_codes"] == 3 and s["predicted_codes"] == 2
    assert s["micro_f1_code_only"] == pytest.approx(2 * 2 / (3 + 2))
    assert s["micro_f1"] == pytest.approx(2 * 1 / (3 + 2))  # the cost code has the other polarity
    assert s["polarity_accuracy"] == pytest.approx(0.5)
    assert "blind" in result["second_coder"]


def test_a_second_coding_that_misses_reviews_is_refused(tmp_path):
    gold = _write(tmp_path / "gold.csv", {"uid": ["a", "b"], "text": ["x", "y"], "codes": ["", ""]})
    second = _write(tmp_path / "second.csv", {"uid": ["a"], "codes": [""]})
    with pytest.raises(SystemExit, match="1 reviews of .* are not coded"):
        second_coder_agreement(gold, second)

"""The training scripts (top-level ``training/``): explicit inputs, honest warnings."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.analyze.test_embeddings import distilled_model_dir
from training.topic_threshold import calibrate_zeroshot_threshold
from training.train import load_training_set


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    distilled_model_dir(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVIEWMINE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "reviewmine-cache"))
        yield


def test_zero_shot_threshold_calibration_prefers_precise_assignments(cache):
    texts = ["it crashes constantly", "way too expensive subscription", "the app froze",
             "I love the sleep stories"]
    gold = [["technical_issues"], ["cost_monetization"], ["technical_issues"], ["content_quality"]]
    threshold, curve = calibrate_zeroshot_threshold(texts, gold, "static", reference=texts)
    assert curve.loc[curve.threshold == threshold, "precision"].item() >= 0.5
    assert curve.assigned.is_monotonic_decreasing


def _training_csv(tmp_path):
    path = tmp_path / "coded.csv"
    pd.DataFrame({
        "uid": ["a1", "b2"], "title": ["", ""], "text": ["too expensive", ""],
        "codes": ["cost_monetization:barrier", "technical_issues:barrier"],
        "app_name": ["x", "y"], "evidence_spans": ["{}", "{}"],
    }).to_csv(path, index=False)
    return path


def test_training_set_without_the_development_corpus_warns_what_it_leaves_out(tmp_path):
    with pytest.warns(UserWarning, match="1 of 2 training reviews have no text"):
        df = load_training_set(_training_csv(tmp_path), None)
    assert df["uid"].tolist() == ["a1"]


def test_training_set_joins_texts_from_the_development_corpus(tmp_path):
    dev = tmp_path / "dev.csv"
    pd.DataFrame({"uid": ["b2"], "title": ["t"], "text": ["it crashes"]}).to_csv(dev, index=False)
    df = load_training_set(_training_csv(tmp_path), dev)
    assert df.set_index("uid").loc["b2", "text"] == "it crashes"


def test_training_commands_need_explicit_paths(capsys):
    from training import train

    with pytest.raises(SystemExit) as exc:
        train.main(["coder"])
    assert exc.value.code == 2
    assert "--training" in capsys.readouterr().err


def test_audit_changes_rows_already_in_the_training_set(tmp_path, capsys):
    """--existing with --audit re-codes old rows: a dropped code loses its span, a kept one
    keeps it without a new quote, a new quote gets a new span; unaudited rows stay as they are."""
    from training.build_training_set import main

    dev = tmp_path / "dev.csv"
    pd.DataFrame({"uid": ["a1", "b2", "c3"], "dataset": ["x"] * 3, "app_name": ["A"] * 3, "store": ["s"] * 3,
                  "rating": ["5"] * 3, "title": ["Reminder", "", ""],
                  "text": ["Comforting and diversified", "helps", "too expensive"]}).to_csv(dev, index=False)
    existing = tmp_path / "coded.csv"
    pd.DataFrame({
        "uid": ["a1", "b2", "c3"], "dataset": ["x"] * 3, "app_name": ["A"] * 3, "store": ["s"] * 3,
        "rating": ["5"] * 3, "title": [""] * 3, "text": [""] * 3,
        "codes": ["content_quality:facilitator|perceived_benefit:facilitator|reminders_notifications:facilitator",
                  "perceived_benefit:facilitator", "cost_monetization:barrier"],
        "evidence_spans": ['{"content_quality": [24, 35], "perceived_benefit": [10, 20], "reminders_notifications": [0, 8]}',
                           '{"perceived_benefit": [0, 5]}', '{"cost_monetization": [0, 13]}'],
        "coder_batch": ["batch1"] * 3,
    }).to_csv(existing, index=False)
    audit = tmp_path / "audit.csv"
    pd.DataFrame({"uid": ["a1", "b2", "c3"], "codes": ["content_quality:facilitator|perceived_benefit:facilitator", "", "x"],
                  "evidence": [" || Comforting", "", ""], "changed": ["yes", "yes", "no"],
                  "rule": ["R7", "R4", "R1"]}).to_csv(audit, index=False)
    out = tmp_path / "out.csv"
    main(["--dev", str(dev), "--existing", str(existing), "--audit", str(audit), "--out", str(out)])
    rows = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("uid")
    assert rows.loc["a1", "codes"] == "content_quality:facilitator|perceived_benefit:facilitator"
    assert json.loads(rows.loc["a1", "evidence_spans"]) == {"content_quality": [24, 35], "perceived_benefit": [10, 20]}
    assert rows.loc["b2", "codes"] == "" and rows.loc["b2", "evidence_spans"] == "{}"
    assert rows.loc["c3", "codes"] == "cost_monetization:barrier"
    assert "2 audited" in capsys.readouterr().out

    stray = tmp_path / "stray.csv"
    pd.DataFrame({"uid": ["zz"], "codes": [""], "evidence": [""], "changed": ["yes"]}).to_csv(stray, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["--dev", str(dev), "--existing", str(existing), "--audit", str(stray), "--out", str(out)])
    assert exc.value.code == 2 and "zz" in capsys.readouterr().err

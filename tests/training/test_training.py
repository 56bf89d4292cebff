"""The training scripts (top-level ``training/``): explicit inputs, honest warnings."""

from __future__ import annotations

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

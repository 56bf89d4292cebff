"""The accurate coding tier: same interface and outputs as the fast tier, deterministic,
independent of how reviews are batched or how many workers code them."""

import json

import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from reviewmine.analyze.accurate import AccurateCoder
from reviewmine.analyze.factors import code_batches
from reviewmine.cli import app

runner = CliRunner()

TEXTS = [
    "It crashes every single time I open it.",
    "Everything good is locked behind the subscription, far too expensive. I cancelled.",
    "Good app",
    "I sleep so much better since I started the sleep stories. The narrators are calm and the "
    "music helps me unwind after work; I only wish there were more reminders to keep me going.",
    "The chatbot understands me better than my friends do, it asks good questions and remembers what I said.",
    "",
]
TITLES = ["", "Paywall", "", "Love it", "", ""]


@pytest.fixture(scope="module")
def coder():
    return AccurateCoder()


@pytest.fixture()
def reviews(tmp_path):
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"uid": [f"r{i}" for i in range(len(TEXTS))], "title": TITLES, "text": TEXTS}).to_csv(path, index=False)
    return path


def _plain(results):
    return [[(h.code, h.polarity, round(h.probability, 6), h.evidence, h.cues) for h in r.codes] for r in results]


@pytest.mark.parametrize("command", ["code", "analyze", "run"])
def test_every_coding_command_takes_the_coder_tier(command):
    option = next(p for p in get_command(app).commands[command].params if p.name == "coder")
    assert option.opts == ["--coder"]
    assert option.default == "fast"


def test_accurate_code_writes_the_fast_tiers_columns(reviews, tmp_path):
    outs = {}
    for tier in ("fast", "accurate"):
        outs[tier] = tmp_path / f"{tier}.csv"
        result = runner.invoke(app, ["code", str(reviews), "--out", str(outs[tier]), "--coder", tier])
        assert result.exit_code == 0, result.output
        assert f"coder: {tier}" in result.output
    fast, accurate = (pd.read_csv(outs[t], keep_default_na=False) for t in ("fast", "accurate"))
    assert list(accurate.columns) == list(fast.columns)
    assert list(accurate["uid"]) == list(fast["uid"])
    assert "technical_issues:barrier" in accurate.loc[0, "codes"]
    assert "cost_monetization:barrier" in accurate.loc[1, "codes"]
    for i, row in accurate.iterrows():
        full = f"{TITLES[i]}. {TEXTS[i]}" if TITLES[i] else TEXTS[i]
        evidence, scores = json.loads(row["evidence"]), json.loads(row["scores"])
        assert set(evidence) == set(scores) == {c.split(":")[0] for c in row["codes"].split("|") if c}
        assert all(sentence and sentence in full for sentence in evidence.values())
        assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert accurate.loc[5, "codes"] == "" and accurate.loc[5, "n_codes"] == 0


def test_same_input_gives_the_same_codes(coder):
    first = _plain(coder.code_texts(TEXTS, TITLES))
    assert _plain(coder.code_texts(TEXTS, TITLES)) == first
    assert _plain(AccurateCoder().code_texts(TEXTS, TITLES)) == first


def test_batches_of_mixed_lengths_code_like_one_review_at_a_time(coder):
    together = _plain(coder.code_texts(TEXTS, TITLES))
    alone = [_plain(coder.code_texts([t], [ti]))[0] for t, ti in zip(TEXTS, TITLES, strict=True)]
    assert together == alone


def test_two_workers_code_like_one(coder):
    batches = [(TEXTS[i : i + 2], TITLES[i : i + 2]) for i in range(0, len(TEXTS), 2)]
    one = [_plain(r) for r in code_batches(coder, batches, workers=1)]
    two = [_plain(r) for r in code_batches(coder, batches, workers=2)]
    assert two == one


def test_evaluate_without_pred_shows_both_tiers_side_by_side(tmp_path):
    gold = tmp_path / "gold.csv"
    pd.DataFrame(
        {"uid": ["a", "b"], "title": ["", ""], "text": TEXTS[:2],
         "codes": ["technical_issues:barrier", "cost_monetization:barrier"]}
    ).to_csv(gold, index=False)
    dis = tmp_path / "dis.csv"
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "--disagreements", str(dis)])
    assert result.exit_code == 0, result.output
    assert "by coder tier" in result.output
    assert "fast" in result.output and "accurate" in result.output
    assert dis.exists() and (tmp_path / "dis.accurate.csv").exists()
    one = runner.invoke(app, ["evaluate", "--gold", str(gold), "--disagreements", str(dis), "--coder", "accurate"])
    assert one.exit_code == 0, one.output
    assert "by coder tier" not in one.output


def test_accurate_tier_refuses_no_model(reviews, tmp_path):
    result = runner.invoke(app, ["code", str(reviews), "--out", str(tmp_path / "o.csv"), "--coder", "accurate", "--no-model"])
    assert result.exit_code == 2
    assert "--no-model" in result.output and "--coder fast" in result.output


def test_unknown_tier_is_one_line_naming_the_choices(reviews, tmp_path):
    result = runner.invoke(app, ["code", str(reviews), "--out", str(tmp_path / "o.csv"), "--coder", "best"])
    assert result.exit_code == 2
    assert "fast, accurate" in result.output


def test_analyze_records_the_tier_it_coded_with(tmp_path):
    from reviewmine.config import sample_dir
    from reviewmine.process import process

    sample = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "subset.csv"
    sample[sample["app"] == "calm"].head(40).to_csv(path, index=False)
    data_dir = tmp_path / "data"
    process(data_dir, inputs=[path], include_raw=False, key_file=tmp_path / "key")
    result = runner.invoke(app, ["analyze", "--data-dir", str(data_dir), "--no-topics", "--coder", "accurate"])
    assert result.exit_code == 0, result.output
    summary = json.loads((data_dir / "processed" / "analyze_summary.json").read_text())
    assert summary["coder"] == "accurate" and summary["options"]["coder"] == "accurate"
    assert summary["coder_method"].startswith("encoder+model")
    assert "coder_accurate.onnx" in summary["models"]


def test_the_report_quotes_the_measured_accuracy_of_the_tier_that_coded():
    from reviewmine.analyze.outputs import shipped_coder_used
    from reviewmine.analyze.pipeline import shipped_model_hashes
    from reviewmine.analyze.prevalence import shipped_errors
    from reviewmine.report.html import _accuracy

    tiers = {
        "fast": {"options": {"codebook": None}, "coder_method": "cues+model"},
        "accurate": {"options": {"codebook": None, "coder": "accurate"}, "coder_method": AccurateCoder().method},
    }
    for tier, summary in tiers.items():
        summary["models"] = shipped_model_hashes()
        assert shipped_coder_used(summary), tier
        quoted = _accuracy(summary)
        assert f"coder_{'accurate_' if tier == 'accurate' else ''}accuracy.json" in quoted["accuracy_text"]
        assert f"the {tier} tier's codes" in quoted["accuracy_text"]
        assert "AI research assistants" in quoted["accuracy_text"]
        assert quoted["coder_errors"]  # both tiers' leave-one-app-out errors are measured
        assert quoted["coder_tier"] == tier
    # The fast tier's method string under the accurate tier's name describes neither.
    assert not shipped_coder_used({**tiers["accurate"], "coder_method": "cues+model"})
    assert shipped_errors("fast") and shipped_errors("accurate")


def test_the_accurate_tiers_intervals_take_no_error_of_its_encoder_alone(tmp_path, monkeypatch):
    """A leave-one-app-out run of the encoder's head without the blend measured another coder:
    its errors must not widen the shipped tier's share intervals."""
    from reviewmine.analyze import prevalence

    cross = json.loads((prevalence.MODELS_DIR / prevalence.ACCURATE_CROSSAPP_FILE).read_text())
    assert cross["blend"] and cross["encoder_fine_tuned_per_app"]  # the shipped file: the whole tier
    (tmp_path / prevalence.ACCURATE_CROSSAPP_FILE).write_text(json.dumps({**cross, "blend": False}))
    monkeypatch.setattr(prevalence, "MODELS_DIR", tmp_path)
    assert prevalence.shipped_errors("accurate") == {}

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from reviewmine.cli import app

runner = CliRunner()

REVIEWS = pd.DataFrame(
    {
        "uid": ["a1", "a2", "a3", "a4"],
        "title": ["", "Paywall", "", ""],
        "text": [
            "It crashes every single time I open it.",
            "Everything good is locked behind the subscription, far too expensive.",
            "Good app",
            "I sleep so much better since I started the sleep stories.",
        ],
        "codes": [
            "technical_issues:barrier",
            "cost_monetization:barrier",
            "",
            "content_quality:facilitator|perceived_benefit:facilitator",
        ],
    }
)


@pytest.fixture()
def gold(tmp_path):
    path = tmp_path / "gold.csv"
    REVIEWS.to_csv(path, index=False)
    return path


def test_code_writes_one_row_per_input_with_fixed_columns(tmp_path, gold):
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["code", str(gold), "--text-col", "text", "--id-col", "uid", "--title-col", "title", "--out", str(out)])
    assert result.exit_code == 0, result.output
    coded = pd.read_csv(out, keep_default_na=False)
    assert list(coded["uid"]) == ["a1", "a2", "a3", "a4"]
    assert {"uid", "codes", "sentiment", "evidence", "cues", "scores"} <= set(coded.columns)
    assert coded["sentiment"].between(-1, 1).all()
    assert "technical_issues:barrier" in coded.loc[0, "codes"]
    evidence = json.loads(coded.loc[0, "evidence"])
    assert evidence["technical_issues"] in REVIEWS.loc[0, "text"]


def test_evaluate_prints_figures_and_writes_disagreements(tmp_path, gold):
    dis = tmp_path / "dis.csv"
    js = tmp_path / "ev.json"
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "--disagreements", str(dis), "--json", str(js)])
    assert result.exit_code == 0, result.output
    assert "micro_f1" in result.output and "cohen_kappa_pooled" in result.output
    figures = json.loads(js.read_text())
    assert 0 <= figures["micro_f1"] <= 1 and figures["reviews"] == 4
    assert dis.exists()


def test_evaluate_perfect_predictions_score_one(tmp_path, gold):
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(gold), "--json", str(tmp_path / "e.json"), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "e.json").read_text())
    assert figures["micro_f1"] == 1.0 and figures["polarity_accuracy"] == 1.0 and figures["cohen_kappa_pooled"] == 1.0


def test_coding_sheet_round_trip(tmp_path, gold):
    sheet = tmp_path / "sheet.xlsx"
    result = runner.invoke(app, ["sample-for-coding", str(gold), "--out", str(sheet), "--n", "3"])
    assert result.exit_code == 0, result.output
    coded = pd.read_excel(sheet, sheet_name="coding", dtype=str).fillna("")
    assert len(coded) == 3 and "technical_issues" in coded.columns
    coded.loc[:, "technical_issues"] = "b"
    back = tmp_path / "back.csv"
    coded.to_csv(back, index=False)
    result = runner.invoke(app, ["evaluate", "--gold", str(back), "--json", str(tmp_path / "e.json"), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["gold_codes"] == 3


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_text(""), "file is empty"),
        (lambda p: p.write_bytes("uid,text\n1,caf\xe9\n".encode("latin-1")), "not UTF-8"),
        (lambda p: p.write_text("uid,body\n1,hello\n"), "no column 'text'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, setup, message):
    src = tmp_path / "in.csv"
    setup(src)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["code", str(src), "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output and str(src) in result.output.replace("\n", "")
    assert not out.exists()

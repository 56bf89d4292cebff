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
    codebook = pd.read_excel(sheet, sheet_name="codebook", dtype=str).fillna("")
    rules = codebook[codebook["category"] == "coding rule"].set_index("id")["description"]
    assert rules["R1"].startswith("Free is praise.") and "R10" in rules.index
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


def test_empty_and_emoji_rows_anywhere_are_coded(tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"uid": ["1", "2", "3"], "text": ["Crashes every time", "Love it. 😀", ""]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["code", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    coded = pd.read_csv(out, keep_default_na=False)
    assert list(coded["uid"].astype(str)) == ["1", "2", "3"]
    assert coded.loc[2, "codes"] == "" and coded.loc[2, "sentiment"] == 0


def test_coding_sheet_xlsx_is_read_back_directly(tmp_path, gold):
    sheet = tmp_path / "sheet.xlsx"
    assert runner.invoke(app, ["sample-for-coding", str(gold), "--out", str(sheet), "--n", "4"]).exit_code == 0
    from openpyxl import load_workbook

    book = load_workbook(sheet)
    coding = book["coding"]
    header = [c.value for c in coding[1]]
    column = header.index("technical_issues") + 1
    coding.cell(row=2, column=column, value="B")
    book.save(sheet)
    js = tmp_path / "e.json"
    result = runner.invoke(app, ["evaluate", "--gold", str(sheet), "--json", str(js), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    assert json.loads(js.read_text())["gold_codes"] == 1


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"uid": ["1"], "text": ["x"], "technical_issues": ["yes"]}), "is not b, f or n"),
        (pd.DataFrame({"uid": [], "text": [], "codes": []}), "has no rows"),
        (pd.DataFrame({"uid": ["1"], "text": ["x"], "codes": ["technical_issues:bad"]}), "is not barrier, facilitator or neutral"),
        (pd.DataFrame({"uid": ["1"], "text": ["x"], "codes": ["made_up:barrier"]}), "not in the codebook"),
    ],
)
def test_bad_hand_codes_are_one_line_errors(tmp_path, frame, message):
    path = tmp_path / "gold.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["evaluate", "--gold", str(path), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 2 and message in result.output


def test_pred_with_duplicate_ids_is_refused(tmp_path, gold):
    pred = tmp_path / "pred.csv"
    pd.concat([REVIEWS, REVIEWS.head(1)]).to_csv(pred, index=False)
    result = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(pred), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 2 and "more than once" in result.output


def test_unwritable_output_is_a_one_line_error(tmp_path, gold):
    result = runner.invoke(app, ["code", str(gold), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output


def test_code_reads_a_title_column_by_default_and_rejects_a_missing_one(tmp_path, gold):
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["code", str(gold), "--out", str(out)])
    assert result.exit_code == 0, result.output
    coded = pd.read_csv(out, keep_default_na=False)
    assert json.loads(coded.loc[1, "evidence"]).get("cost_monetization")  # "Paywall" title counts
    result = runner.invoke(app, ["code", str(gold), "--title-col", "headline", "--out", str(out)])
    assert result.exit_code == 2
    assert "headline" in result.output


def test_two_filled_coding_sheets_are_compared_with_kappa_and_alpha(tmp_path, gold):
    """Second-coder validation: --gold A.xlsx --pred B.xlsx, both coding sheets."""
    sheet = tmp_path / "sheet.xlsx"
    assert runner.invoke(app, ["sample-for-coding", str(gold), "--out", str(sheet), "--n", "4"]).exit_code == 0
    from openpyxl import load_workbook

    def filled(name: str, cells: dict[int, str]) -> str:
        book = load_workbook(sheet)
        coding = book["coding"]
        column = [c.value for c in coding[1]].index("technical_issues") + 1
        for row, value in cells.items():
            coding.cell(row=row, column=column, value=value)
        path = tmp_path / name
        book.save(path)
        return str(path)

    a = filled("a.xlsx", {2: "b", 3: "b", 4: "f"})
    b = filled("b.xlsx", {2: "b", 3: "f"})
    js = tmp_path / "e.json"
    result = runner.invoke(app, ["evaluate", "--gold", a, "--pred", b, "--json", str(js), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    figures = json.loads(js.read_text())
    assert figures["gold_codes"] == 3 and figures["predicted_codes"] == 2
    assert figures["micro_f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3), abs=1e-3)
    assert -1 <= figures["krippendorff_alpha_pooled"] < 1
    assert "alpha" in result.output


def test_alpha_agrees_with_a_hand_computed_value():
    """Krippendorff's alpha, nominal, 2 coders, 4 units: values (1,1) (2,2) (1,2) (0,0)."""
    from reviewmine.evaluate import _alpha

    # Coincidences: o11=2, o22=2, o12=o21=1, o00=2; n=8, n0=2, n1=3, n2=3.
    # D_o = 2/8; D_e = (2*3 + 2*3 + 3*3 ... ) computed: sum_{c!=k} n_c n_k / (n(n-1)) = (2*(2*3)+2*(2*3)+2*(3*3))/56
    expected = 1 - (2 / 8) / ((2 * 6 + 2 * 6 + 2 * 9) / 56)
    import numpy as np

    assert _alpha(np.array([1, 2, 1, 0]), np.array([1, 2, 2, 0])) == pytest.approx(expected)
    assert np.isnan(_alpha(np.array([0, 0]), np.array([0, 0])))


def test_a_sheet_filled_with_the_tools_own_codes_round_trips_through_evaluate(tmp_path, gold):
    """Title, evidence and coder columns, b/f/n drop-downs, and a perfect score for the
    tool against itself (so the sheet shows coders what the tool saw, title included)."""
    from openpyxl import load_workbook

    sheet = tmp_path / "sheet.xlsx"
    assert runner.invoke(app, ["sample-for-coding", str(gold), "--out", str(sheet), "--n", "4"]).exit_code == 0
    coded = tmp_path / "coded.csv"
    assert runner.invoke(app, ["code", str(gold), "--out", str(coded)]).exit_code == 0
    tool = dict(zip(pd.read_csv(coded, dtype=str, keep_default_na=False)["uid"],
                    pd.read_csv(coded, dtype=str, keep_default_na=False)["codes"], strict=True))
    book = load_workbook(sheet)
    coding = book["coding"]
    header = [c.value for c in coding[1]]
    assert {"title", "evidence", "coder"} <= set(header)
    rules = {str(rule.sqref).split(":")[0][:-1]: rule.formula1 for rule in coding.data_validations.dataValidation}
    from openpyxl.utils import get_column_letter

    assert rules[get_column_letter(header.index("technical_issues") + 1)] == '"b,f,n"'
    for row in range(2, coding.max_row + 1):
        uid = str(coding.cell(row=row, column=header.index("uid") + 1).value)
        assert coding.cell(row=row, column=header.index("title") + 1).value == (REVIEWS.set_index("uid").loc[uid, "title"] or None)
        for item in filter(None, tool[uid].split("|")):
            code, polarity = item.split(":")
            coding.cell(row=row, column=header.index(code) + 1, value=polarity[0])
        coding.cell(row=row, column=header.index("coder") + 1, value="tool")
    book.save(sheet)
    js = tmp_path / "e.json"
    result = runner.invoke(app, ["evaluate", "--gold", str(sheet), "--json", str(js), "--disagreements", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    figures = json.loads(js.read_text())
    assert figures["gold_codes"] >= 3 and figures["micro_f1"] == 1.0 and figures["exact_match_reviews"] == 1.0

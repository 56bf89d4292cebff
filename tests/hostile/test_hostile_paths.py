"""Hostile inputs to every writer: outputs over inputs, formula text, run-name traversal, error text.

Issue 11, items 1, 4, 5 and 13. Each test drives the CLI (or the writer a command goes
through) the way the hostile run did, and checks that the command refuses with exactly one
``error:`` line and exit code 2 and writes nothing, or that the text comes back intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from reviewmine.cli import app

runner = CliRunner()

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2", "@SUM(A1)", "\tfoo", "=1+1 the app is good"]
NEUTRALISED = ["'" + f for f in FORMULAS]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own key file and default data directory; run in tmp_path so relative paths stay inside it."""
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(tmp_path / "secrets" / "pseudonym.key"))
    monkeypatch.setenv("REVIEWMINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def one_error_line(result, *needles: str) -> str:
    """The command failed with exit 2 and exactly one stderr line starting with 'error: '."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, repr(result.stderr)
    line = result.stderr.rstrip("\n")
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def texts_csv(path: Path, texts: list[str]) -> Path:
    pd.DataFrame({"uid": [f"r{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, except the data directory's lock (which holds the last run's pid)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).as_posix() != "state/.lock"}


@pytest.fixture
def processed(tmp_path: Path) -> Path:
    """A data directory after 'process' of a few reviews, some of them formula-like."""
    from reviewmine.process import process

    rows = pd.DataFrame({
        "store": "google_play", "app": "calm", "rating": "4",
        "at": [f"2024-03-{d:02d} 10:00:00" for d in range(1, 13)],
        "text": [*FORMULAS, "This app helps me sleep better every night.",
                 "The subscription is too expensive for what you get.",
                 "Crashes every time I open a meditation.", "I love the daily reminders.",
                 "The breathing exercises calm me down.", "Support never answered my emails."],
    })  # fmt: skip
    rows.to_csv(tmp_path / "import.csv", index=False)
    data_dir = tmp_path / "d"
    process(data_dir, inputs=[tmp_path / "import.csv"], include_raw=False)
    return data_dir


# --------------------------------------------------------------------------- item 1: outputs over inputs
@pytest.mark.parametrize("form", ["same", "dot", "symlink", "hardlink"])
def test_code_refuses_to_write_over_its_input(tmp_path, form):
    src = texts_csv(tmp_path / "x.csv", ["The app crashes.", "Great reminders."])
    before = src.read_bytes()
    out = {"same": "x.csv", "dot": "./x.csv", "symlink": "link.csv", "hardlink": "hard.csv"}[form]
    if form == "symlink":
        os.symlink(src, tmp_path / "link.csv")
    if form == "hardlink":
        os.link(src, tmp_path / "hard.csv")
    result = runner.invoke(app, ["code", "x.csv", "--out", out, "--no-model"])
    one_error_line(result, f"--out {Path(out)}", "is the input x.csv", "choose another output path")
    assert src.read_bytes() == before


def test_code_refuses_to_write_over_its_codebook(tmp_path):
    texts_csv(tmp_path / "x.csv", ["The app crashes."])
    from reviewmine.analyze.codebook import shipped_codebook_path

    codebook = tmp_path / "cb.yaml"
    codebook.write_bytes(shipped_codebook_path().read_bytes())
    result = runner.invoke(app, ["code", "x.csv", "--out", "cb.yaml", "--codebook", "cb.yaml"])
    one_error_line(result, "--out cb.yaml", "is the input cb.yaml")
    assert codebook.read_bytes() == shipped_codebook_path().read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["--gold", "g.csv", "--disagreements", "g.csv"],
        ["--gold", "g.csv", "--pred", "p.csv", "--disagreements", "p.csv"],
        ["--gold", "g.csv", "--json", "g.csv"],
        ["--gold", "g.csv", "--pred", "p.csv", "--json", "./p.csv"],
        ["--gold", "g.csv", "--disagreements", "d.csv", "--json", "d.csv"],
    ],
)
def test_evaluate_refuses_to_write_over_gold_pred_or_its_other_output(tmp_path, args):
    gold = pd.DataFrame({"uid": ["a", "b"], "text": ["Crashes.", "Too expensive."],
                         "codes": ["technical_issues:barrier", "cost_monetization:barrier"]})
    gold.to_csv(tmp_path / "g.csv", index=False)
    gold.assign(codes="").to_csv(tmp_path / "p.csv", index=False)
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["evaluate", *args, "--no-model"])
    option = args[-2]
    one_error_line(result, f"{option} {Path(args[-1])}", "choose another output path")
    assert snapshot(tmp_path) == before


def test_export_refuses_to_replace_the_processed_reviews(processed):
    before = snapshot(processed)
    target = processed / "processed" / "reviews.parquet"
    result = runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(target), "--app", "nosuch"])
    one_error_line(result, f"--out {target}", f"inside {processed / 'processed'}", "'reviewmine process'")
    assert snapshot(processed) == before


@pytest.mark.parametrize("stage", ["raw", "state"])
def test_export_refuses_to_write_into_the_collectors_directories(processed, stage):
    (processed / stage).mkdir(exist_ok=True)
    result = runner.invoke(app, ["export", "--data-dir", str(processed), "--out", str(processed / stage / "x.csv")])
    one_error_line(result, f"inside {processed / stage}", "'reviewmine collect'")
    assert not (processed / stage / "x.csv").exists()


def test_sample_for_coding_refuses_to_write_over_its_input(processed):
    before = snapshot(processed)
    target = processed / "processed" / "reviews.parquet"
    result = runner.invoke(app, ["sample-for-coding", str(target), "--out", str(target), "--n", "5"])
    one_error_line(result, f"--out {target}: is the input {target}")
    assert snapshot(processed) == before


def test_code_refuses_to_write_into_the_default_data_directorys_stage_outputs(tmp_path, processed):
    """Without --data-dir, the default data directory ($REVIEWMINE_DATA_DIR or ./data) is protected."""
    (tmp_path / "data").symlink_to(processed)  # the default data dir of the fixture
    texts_csv(tmp_path / "x.csv", ["The app crashes."])
    before = snapshot(processed)
    result = runner.invoke(app, ["code", "x.csv", "--out", "data/processed/codes.parquet", "--no-model"])
    one_error_line(result, "--out data/processed/codes.parquet", "where only 'reviewmine process'")
    assert snapshot(processed) == before


def test_topics_refuses_an_output_directory_that_holds_its_input(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    src = texts_csv(folder / "topics.csv", ["The app crashes."] * 30)
    before = src.read_bytes()
    result = runner.invoke(app, ["topics", str(src), "--out", str(folder)])
    one_error_line(result, f"--out {folder}: holds the input {src}")
    assert snapshot(folder) == {"topics.csv": before}


def test_process_refuses_to_import_its_own_output(processed):
    before = snapshot(processed)
    own = processed / "processed" / "reviews.parquet"
    result = runner.invoke(app, ["process", "--data-dir", str(processed), "--no-raw", "--input", str(own)])
    one_error_line(result, f"--data-dir {processed / 'processed'}: holds the input {own}", "move the input")
    assert snapshot(processed) == before


def test_report_refuses_an_output_directory_inside_processed(processed):
    before = snapshot(processed)
    out = processed / "processed" / "rep"
    result = runner.invoke(app, ["report", "--data-dir", str(processed), "--out", str(out)])
    one_error_line(result, f"--out {out}: inside {processed / 'processed'}")
    assert snapshot(processed) == before and not out.exists()


def test_report_from_manifest_refuses_to_overwrite_the_manifest_it_reads(tmp_path):
    run_dir = tmp_path / "d" / "reports" / "first"
    run_dir.mkdir(parents=True)
    manifest = run_dir / "manifest.json"
    manifest.write_text(json.dumps({"parameters": {}, "inputs": [], "data_dir": str(tmp_path / "d"), "run_name": "first"}))
    before = snapshot(tmp_path / "d")
    result = runner.invoke(app, ["report", "--from-manifest", str(manifest), "--out", str(run_dir)])
    one_error_line(result, f"--out {run_dir}: holds the input {manifest}")
    assert snapshot(tmp_path / "d") == before


# --------------------------------------------------------------------------- item 4: formula injection
def xlsx_texts(path: Path, column: str, sheet: int = 0) -> dict[str, str]:
    """Values of ``column`` of a sheet, checking every non-empty cell is stored as text."""
    ws = openpyxl.load_workbook(path).worksheets[sheet]
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    cells = [row[header.index(column)] for row in rows[1:]]
    for cell in cells:
        assert cell.data_type in ("s", "inlineStr") or cell.value is None, (cell.value, cell.data_type)
    return [c.value for c in cells]


def processed_texts(data_dir: Path) -> set[str]:
    """Review texts as 'process' stored them (it redacts URLs and trims), formula-like ones included."""
    from reviewmine.process import read_reviews

    texts = set(read_reviews(data_dir)["text"])
    assert {"+1+1", "-2", "=1+1 the app is good"} <= texts
    return texts


def test_export_xlsx_keeps_formula_like_text_as_text(processed):
    result = runner.invoke(app, ["export", "--data-dir", str(processed), "--out", "e.xlsx"])
    assert result.exit_code == 0, result.output
    assert set(xlsx_texts(Path("e.xlsx"), "text")) == processed_texts(processed)
    ratings = pd.read_excel("e.xlsx")["rating"]
    assert pd.api.types.is_numeric_dtype(ratings)  # numbers stay numbers


def test_export_csv_neutralises_formulas_unless_raw_text_is_asked_for(processed):
    texts = processed_texts(processed)
    assert runner.invoke(app, ["export", "--data-dir", str(processed), "--out", "e.csv"]).exit_code == 0
    assert runner.invoke(app, ["export", "--data-dir", str(processed), "--out", "raw.csv", "--csv-raw-text"]).exit_code == 0
    safe = pd.read_csv("e.csv", dtype={"text": str}, keep_default_na=False)
    raw = pd.read_csv("raw.csv", dtype={"text": str}, keep_default_na=False)
    assert set(safe["text"]) == {"'" + t if t[:1] in "=+-@" else t for t in texts}
    assert set(raw["text"]) == texts
    assert pd.api.types.is_integer_dtype(safe["rating"])


def test_export_python_parameter_csv_raw_text(processed, tmp_path):
    from reviewmine.process import export

    export(processed, tmp_path / "raw.csv", csv_raw_text=True)
    assert set(pd.read_csv(tmp_path / "raw.csv", keep_default_na=False)["text"]) == processed_texts(processed)


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_sample_for_coding_keeps_formula_text_readable(tmp_path, suffix):
    texts_csv(tmp_path / "x.csv", FORMULAS)
    result = runner.invoke(app, ["sample-for-coding", "x.csv", "--out", f"s.{suffix}", "--n", "10"])
    assert result.exit_code == 0, result.output
    if suffix == "xlsx":
        assert sorted(xlsx_texts(Path("s.xlsx"), "text")) == sorted(FORMULAS)
    else:
        assert sorted(pd.read_csv("s.csv", keep_default_na=False)["text"]) == sorted(NEUTRALISED)


def test_coding_sheet_with_formula_text_reads_back_in_evaluate(tmp_path):
    """The hostile run saw empty text for these rows when the sheet was read back."""
    from reviewmine.io import read_table

    texts_csv(tmp_path / "x.csv", FORMULAS)
    assert runner.invoke(app, ["sample-for-coding", "x.csv", "--out", "s.xlsx", "--n", "10"]).exit_code == 0
    assert sorted(read_table("s.xlsx")["text"]) == sorted(FORMULAS)


def test_code_xlsx_keeps_text_and_code_csv_stays_raw(tmp_path):
    ids = [f"={i}" for i in range(len(FORMULAS))]  # the only free text 'code' writes is the id
    pd.DataFrame({"uid": ids, "text": FORMULAS}).to_csv(tmp_path / "x.csv", index=False)
    assert runner.invoke(app, ["code", "x.csv", "--out", "c.xlsx", "--no-model"]).exit_code == 0
    assert runner.invoke(app, ["code", "x.csv", "--out", "c.csv", "--no-model"]).exit_code == 0
    assert xlsx_texts(Path("c.xlsx"), "uid") == ids
    sentiment = [c.value for c in openpyxl.load_workbook("c.xlsx").worksheets[0]["C"][1:]]
    assert all(isinstance(v, int | float) for v in sentiment)
    # 'code' CSV is an interface other tools read: written as is (docs/cli.md says so).
    assert pd.read_csv("c.csv", dtype={"uid": str})["uid"].tolist() == ids


def test_evaluate_disagreements_csv_is_neutralised(tmp_path):
    gold = pd.DataFrame({"uid": ["a"], "text": ["=cmd|' /C calc'!A0"], "codes": ["technical_issues:barrier"]})
    gold.to_csv(tmp_path / "g.csv", index=False)
    result = runner.invoke(app, ["evaluate", "--gold", "g.csv", "--disagreements", "d.csv", "--no-model"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv("d.csv")["text"].tolist() == ["'=cmd|' /C calc'!A0"]


def test_report_workbook_and_table_csvs_keep_formula_text_inert(tmp_path):
    """The report's writers: every table as CSV (neutralised) and one workbook (text cells)."""
    from reviewmine.report.tables import write_tables, write_workbook

    quotes = pd.DataFrame({"app": ["calm"] * len(FORMULAS), "quote": FORMULAS, "rating": range(len(FORMULAS)),
                           "share": [-0.5] * len(FORMULAS)})
    written = write_tables({"quotes": quotes}, tmp_path / "tables")
    write_workbook({"quotes": tmp_path / "tables" / "quotes.parquet"}, tmp_path / "workbook.xlsx")
    assert xlsx_texts(tmp_path / "workbook.xlsx", "quote") == FORMULAS
    back = pd.read_csv(tmp_path / "tables" / "quotes.csv", keep_default_na=False)
    assert back["quote"].tolist() == NEUTRALISED
    assert back["share"].tolist() == [-0.5] * len(FORMULAS)  # negative numbers are not text
    assert pd.read_parquet(tmp_path / "tables" / "quotes.parquet")["quote"].tolist() == FORMULAS
    assert len(written) == 2


def test_topics_csvs_neutralise_formula_text(tmp_path, tmp_path_factory, monkeypatch):
    from tests.analyze.test_embeddings import distilled_model_dir

    distilled_model_dir(tmp_path_factory)
    monkeypatch.setenv("REVIEWMINE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "reviewmine-cache"))
    stems = ["the app crashes every time I open it", "the subscription is far too expensive",
             "the sleep stories help me fall asleep", "the breathing exercises calm my anxiety"]
    texts = [f"{'=+-@'[i % 4]}{stems[i % 4]} ({i})" for i in range(80)]
    texts_csv(tmp_path / "x.csv", texts)
    result = runner.invoke(app, ["topics", "x.csv", "--out", "tout", "--min-topic-size", "5"])
    assert result.exit_code == 0, result.output
    quotes = pd.read_csv("tout/topic_quotes.csv", keep_default_na=False)["quote"]
    assert len(quotes) and all(q[:1] == "'" and q[1:] in texts for q in quotes)
    assert pd.api.types.is_integer_dtype(pd.read_csv("tout/assignments.csv")["topic_id"])


# --------------------------------------------------------------------------- item 5: run names
@pytest.mark.parametrize("name", ["../../x", "a/b", "/tmp/x", ".hidden", "..", "a\\b", "a b"])
def test_report_run_must_be_a_plain_name(tmp_path, name):
    result = runner.invoke(app, ["report", "--data-dir", "d", "--run", name])
    one_error_line(result, f"--run {name!r}: not a plain name", "not starting with '.'")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("name", ["../../evil", "sub/evil", "/abs/evil", ".evil"])
def test_manifest_run_name_must_be_a_plain_name(tmp_path, name):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"parameters": {}, "inputs": [], "data_dir": str(tmp_path / "d"), "run_name": name}))
    result = runner.invoke(app, ["report", "--from-manifest", str(manifest)])
    one_error_line(result, f"{manifest}: run_name {name!r}: not a plain name")
    assert [p.name for p in tmp_path.rglob("*")] == ["manifest.json"]


# --------------------------------------------------------------------------- item 13: error text
def test_square_brackets_in_a_file_name_are_printed_literally(tmp_path):
    texts_csv(tmp_path / "data[v2].csv", ["fine"])
    result = runner.invoke(app, ["code", "data[v2].csv", "--out", "o.csv", "--text-col", "body"])
    assert one_error_line(result) == "error: data[v2].csv: no column 'body'; columns are: uid, text"


def test_markup_closing_tag_in_a_column_name_does_not_crash(tmp_path):
    texts_csv(tmp_path / "x.csv", ["fine"])
    result = runner.invoke(app, ["code", "x.csv", "--out", "o.csv", "--text-col", "stars[/5]"])
    assert one_error_line(result) == "error: x.csv: no column 'stars[/5]'; columns are: uid, text"


@pytest.mark.parametrize("name", ["a:smile:.csv", "two  spaces.csv", "[bold]x.csv", "a[b]c.csv"])
def test_error_names_the_file_exactly_as_typed(tmp_path, name):
    texts_csv(tmp_path / name, ["fine"])
    result = runner.invoke(app, ["code", name, "--out", "o.csv", "--text-col", "body"])
    assert one_error_line(result) == f"error: {name}: no column 'body'; columns are: uid, text"


def test_catalog_fix_example_survives(tmp_path):
    (tmp_path / "cat.yaml").write_text(
        "apps:\n  - slug: calm\n    name: Calm\n    google_play: com.calm.android\n    countries: us\n"
    )
    result = runner.invoke(app, ["apps", "--catalog", "cat.yaml"])
    line = one_error_line(result, "cat.yaml")
    assert line.endswith("must be a list of strings, e.g. [us, gb]")


def test_apps_table_prints_names_literally(tmp_path):
    (tmp_path / "cat.yaml").write_text(
        'apps:\n  - slug: calm\n    name: "[b]:x:"\n    google_play: com.calm.android\n    status: retired\n'
    )
    result = runner.invoke(app, ["apps", "--catalog", "cat.yaml"])
    assert result.exit_code == 0, result.output
    assert "[b]:x:" in result.stdout and "retired" in result.stdout


def test_success_messages_print_file_names_literally(tmp_path):
    texts_csv(tmp_path / "in[1].csv", ["The app crashes all the time."])
    result = runner.invoke(app, ["code", "in[1].csv", "--out", "out[bold]:smile:.csv", "--no-model"])
    assert result.exit_code == 0
    assert result.stderr.rstrip("\n").endswith("-> out[bold]:smile:.csv") and result.stderr.count("\n") == 1


def test_not_utf8_names_the_absolute_byte_offset(tmp_path):
    """pandas decodes in chunks: the offset must count from the start of the file."""
    head = b"uid,text\n" + b"".join(b"r%d,plain ascii review text number %d\n" % (i, i) for i in range(20_000))
    (tmp_path / "big.csv").write_bytes(head + b"r-bad,caf\xe9\n")
    offset = len(head) + len(b"r-bad,caf")
    assert offset > 1 << 19  # beyond the parser's first chunk
    result = runner.invoke(app, ["code", "big.csv", "--out", "o.csv"])
    assert one_error_line(result) == f"error: big.csv: not UTF-8 text (byte {offset}); re-save it as UTF-8 CSV"


def test_not_utf8_offset_in_topics_input(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"text\n" + b"ok review\n" * 60_000 + b"caf\xe9\n")
    result = runner.invoke(app, ["topics", "t.csv", "--out", "tout"])
    one_error_line(result, f"t.csv: not UTF-8 text (byte {5 + 10 * 60_000 + 3})")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["code", "folder", "--out", "o.csv"], "error: folder: is a directory; pass a CSV or Parquet file"),
        (["topics", "folder", "--out", "t"], "error: folder: is a directory; pass a CSV or Parquet file"),
        (["code", "x.csv", "--out", "o.csv", "--codebook", "folder"],
         "error: folder: is a directory; pass a codebook YAML file"),
        (["process", "--data-dir", "d", "--no-raw", "--input", "x.csv", "--mapping", "folder"],
         "error: folder: is a directory; pass a YAML mapping file"),
    ],
)
def test_a_directory_is_not_reported_as_file_not_found(tmp_path, args, expected):
    (tmp_path / "folder").mkdir()
    texts_csv(tmp_path / "x.csv", ["fine"])
    assert one_error_line(runner.invoke(app, args)) == expected


def test_codebook_yaml_syntax_error_is_not_called_utf8(tmp_path):
    texts_csv(tmp_path / "x.csv", ["fine"])
    (tmp_path / "cb.yaml").write_text("codes:\n  - id: a\n   category: [user\n")
    line = one_error_line(runner.invoke(app, ["code", "x.csv", "--out", "o.csv", "--codebook", "cb.yaml"]), "cb.yaml")
    assert "not valid YAML" in line and "UTF-8" not in line and "line 3" in line


def test_coding_sheet_without_codes_names_the_file(tmp_path):
    texts_csv(tmp_path / "sheet.csv", ["fine"])
    one_error_line(runner.invoke(app, ["evaluate", "--gold", "sheet.csv", "--no-model"]),
                   "sheet.csv: has neither a 'codes' column")


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_bad_export_date_names_the_option(processed, option):
    result = runner.invoke(app, ["export", "--data-dir", str(processed), option, "soon[1]", "--out", "e.csv"])
    assert one_error_line(result) == f"error: {option} 'soon[1]': not a date; use YYYY-MM-DD"
    assert not Path("e.csv").exists()


def test_unknown_report_app_names_the_option_and_file(processed):
    from reviewmine.analyze.pipeline import analyze

    analyze(processed, topics=False)
    result = runner.invoke(app, ["report", "--data-dir", str(processed), "--apps", "nosuch", "--run", "r"])
    one_error_line(result, "--apps: no analysed reviews for nosuch in ", "review_scores.parquet; apps are: calm")
    assert not (processed / "reports").exists()


def test_analyze_error_has_no_blank_first_line(tmp_path):
    """Progress bars printed an empty line on stderr when not on a terminal."""
    assert one_error_line(runner.invoke(app, ["analyze", "--data-dir", "nodata"])).startswith(
        "error: nodata/processed/reviews.parquet: not found"
    )


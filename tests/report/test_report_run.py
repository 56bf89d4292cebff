"""The report run: files written, self-contained HTML, no reviewer names, manifest, CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from tests.report.conftest import add_topic_outputs
from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.process import find_names_in_files, raw_reviewer_names
from reviewmine.report import report
from reviewmine.report.figures import FIGURE_NAMES
from reviewmine.report.manifest import file_sha256
from reviewmine.report.tables import TABLE_ORDER

runner = CliRunner()
SECTIONS = ("summary", "profile", "across-apps", "trends", "ratings", "topics", "quotes", "methods", "files")


def test_report_writes_tables_workbook_figures_html_and_manifest(report_dir):
    for name in TABLE_ORDER:
        assert (report_dir / "tables" / f"{name}.parquet").exists(), name
        csv = pd.read_csv(report_dir / "tables" / f"{name}.csv")
        assert list(csv.columns) == list(pd.read_parquet(report_dir / "tables" / f"{name}.parquet").columns)
    assert load_workbook(report_dir / "workbook.xlsx", read_only=True).sheetnames == list(TABLE_ORDER)
    shares = pd.read_parquet(report_dir / "tables" / "factor_shares.parquet")
    sheet = pd.read_excel(report_dir / "workbook.xlsx", sheet_name="factor_shares")
    assert sheet.shape == shares.shape and sheet["count"].sum() == shares["count"].sum()
    drawn = {p.stem for p in (report_dir / "figures").glob("*.svg")}
    assert drawn >= {"factor_heatmap", "barriers_facilitators", "monthly_trends"}
    for name in drawn:
        assert (report_dir / "figures" / f"{name}.png").stat().st_size > 10_000
    assert "topic_map" not in drawn  # no topics in this data directory
    assert (report_dir / "report.html").exists() and (report_dir / "manifest.json").exists()


def test_html_is_one_self_contained_file_with_every_section(report_dir):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}"' in html
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "@import" not in html and "<link rel=\"stylesheet\"" not in html
    assert html.count("<svg") >= 3
    assert "Topics not computed" in html
    assert "Borghouts" in html and "doi" in html.lower()
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))
    assert {"apps", "cells", "quotes", "codes"} <= set(data)
    assert any(k.startswith("calm|") for k in data["quotes"])


def test_methods_section_reports_counts_from_this_run(report_dir, analysed_dir):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    summary = json.loads((analysed_dir / "processed" / "analyze_summary.json").read_text())
    methods = html[html.index('<section id="methods"'):]
    assert f"{summary['analysed']:,}" in methods
    assert f"{summary['with_codes']:,}" in methods
    assert "Reviews after deduplication" in methods and "Not English" in methods
    assert "pandas" in methods and "matplotlib" in methods
    # Say who coded: the shipped coder's figures are agreement with AI coders, not experts.
    assert "AI research assistants" in methods and "not by human experts" in methods
    assert "self-harm or suicide are never quoted" in methods and "search engine" in methods


def test_no_reviewer_name_reaches_any_report_file(report_dir, analysed_dir):
    names = raw_reviewer_names(analysed_dir)
    assert "Sarah Kowalski" in names
    files = [p for p in report_dir.rglob("*") if p.is_file() and p.suffix in {".parquet", ".csv", ".html", ".json", ".svg"}]
    assert len(files) > 20
    assert find_names_in_files(files, names) == []


def test_quotes_show_named_reviewers_texts_redacted(report_dir):
    quotes = pd.read_parquet(report_dir / "tables" / "quotes.parquet")
    assert quotes["reviewer"].str.startswith("rv_").any()
    assert quotes["date"].str.match(r"\d{4}-\d{2}-\d{2}").all()


def test_manifest_records_input_hashes_parameters_seeds_and_versions(report_dir, analysed_dir):
    manifest = json.loads((report_dir / "manifest.json").read_text())
    inputs = {e["path"]: e["sha256"] for e in manifest["inputs"]}
    for name in ("processed/reviews.parquet", "processed/codes.parquet", "processed/review_scores.parquet"):
        assert inputs[name] == file_sha256(analysed_dir / name)
    assert manifest["parameters"]["small_n"] == 30
    assert manifest["seeds"]["analyze"] == 42  # the seed the analyze stage ran with (its default)
    assert {"python", "reviewmine", "pandas", "matplotlib"} <= set(manifest["software"])
    outputs = {e["path"] for e in manifest["outputs"]}
    assert "tables/factor_shares.parquet" in outputs and "figures/factor_heatmap.svg" in outputs


def test_from_manifest_reproduces_byte_identical_tables_and_figures(report_dir, analysed_dir):
    result = runner.invoke(app, ["report", "--from-manifest", str(report_dir / "manifest.json")])
    assert result.exit_code == 0, result.output
    again = analysed_dir / "reports" / "session-reproduced"
    assert "session-reproduced" in result.output
    check = json.loads((again / "manifest.json").read_text())["reproduction"]
    assert check["different"] == [] and len(check["identical"]) >= 2 * len(TABLE_ORDER)


def test_from_manifest_refuses_when_an_input_changed(report_dir, analysed_dir, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(analysed_dir / "processed", copy / "processed")
    codes = pd.read_parquet(copy / "processed" / "codes.parquet")
    codes.iloc[1:].to_parquet(copy / "processed" / "codes.parquet")
    result = runner.invoke(app, ["report", "--from-manifest", str(report_dir / "manifest.json"),
                                 "--data-dir", str(copy), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "processed/codes.parquet" in result.output and "changed" in result.output


def test_missing_stages_name_the_command_to_run(tmp_path, analysed_dir):
    result = runner.invoke(app, ["report", "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "reviewmine process" in result.output
    partial = tmp_path / "partial"
    (partial / "processed").mkdir(parents=True)
    shutil.copy(analysed_dir / "processed" / "reviews.parquet", partial / "processed")
    result = runner.invoke(app, ["report", "--data-dir", str(partial)])
    assert result.exit_code == 2 and "reviewmine analyze" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unknown_app_and_foreign_output_directory_are_refused(analysed_dir, tmp_path):
    result = runner.invoke(app, ["report", "--data-dir", str(analysed_dir), "--apps", "calm,nosuchapp"])
    assert result.exit_code == 2 and "nosuchapp" in result.output and "woebot" in result.output
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.docx").write_text("mine")
    result = runner.invoke(app, ["report", "--data-dir", str(analysed_dir), "--out", str(foreign)])
    assert result.exit_code == 2 and "not a reviewmine report" in result.output
    assert (foreign / "chapter1.docx").read_text() == "mine"


@pytest.fixture
def with_topics(analysed_dir, tmp_path):
    """A copy of the analysed data with a topic model's outputs (as analyze writes them)."""
    data = tmp_path / "data"
    shutil.copytree(analysed_dir / "processed", data / "processed")
    scores = pd.read_parquet(data / "processed" / "review_scores.parquet")
    info = pd.DataFrame({
        "topic_id": [-1, 0, 1, 2, 3],
        "size": [40, 120, 90, 60, 30],
        "words": ["", "subscription pay free money price trial", "sleep stories meditation calm",
                  "bot chat ai talk conversation", "crash login bug update"],
        "label": ["(outliers)", "Cost and monetization: subscription, pay", "sleep, stories, meditation",
                  "Chatbot quality: bot, chat", "crash, login, bug"],
        "factor": ["", "cost_monetization", "", "chatbot_quality", "technical_issues"],
        "category": ["", "technology", "", "program", "technology"],
        "is_emerging": [False, False, True, False, False],
    })
    topic_ids = [-1, 0, 1, 2, 3]
    topics = scores[["review_key"]].assign(topic_id=[topic_ids[i % 5] for i in range(len(scores))])
    add_topic_outputs(data, topics, info)
    return data


def test_topics_get_a_map_and_a_table_when_the_model_was_fitted(with_topics, tmp_path):
    run_dir = report(with_topics, out=tmp_path / "r", apps=["calm", "woebot"])
    assert (run_dir / "figures" / "topic_map.svg").exists()
    top = pd.read_parquet(run_dir / "tables" / "top_topics.parquet")
    assert set(top["app"]) == {"(all apps)", "calm", "woebot"}
    assert -1 not in set(top["topic_id"])
    pooled = top[top["app"] == "(all apps)"].sort_values("rank")
    assert pooled["n_reviews"].is_monotonic_decreasing
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Topics not computed" not in html and 'id="table-topics"' in html
    assert "sleep, stories, meditation" in html


def _render(analysed_dir, tmp_path) -> str:
    from reviewmine.report.html import render_report
    from reviewmine.report.inputs import load_inputs
    from reviewmine.report.quotes import representative_quotes
    from reviewmine.report.tables import build_tables

    inputs = load_inputs(analysed_dir, apps=["woebot"])
    tables = build_tables(inputs)
    figures = dict.fromkeys(FIGURE_NAMES, "not drawn in this test")
    return render_report(inputs, tables, representative_quotes(inputs), figures, {"small_n": 30},
                         tmp_path, [], "2025-01-01T00:00:00+00:00", {"reviewmine": "test"})


def test_measured_coder_accuracy_is_shown_when_present_and_said_to_be_unmeasured_otherwise(
    analysed_dir, tmp_path, monkeypatch
):
    from reviewmine.report import html as html_module

    models = tmp_path / "models"
    models.mkdir()
    (models / "coder_accuracy.json").write_text(json.dumps({
        "gold": "data/training/test.csv", "micro_f1": 0.712, "polarity_accuracy": 0.934, "cohen_kappa_pooled": 0.655,
        "per_code": [{"code": "technical_issues", "support": 40, "f1": 0.81}],
    }))
    monkeypatch.setattr(html_module, "MODELS_DIR", models)
    html = _render(analysed_dir, tmp_path)
    methods = html[html.index('<section id="methods"'):]
    assert "0.712" in methods and "0.934" in methods and "technical_issues" in methods
    assert 'id="accuracy-not-measured"' not in methods
    monkeypatch.setattr(html_module, "MODELS_DIR", tmp_path / "nothing")
    assert 'id="accuracy-not-measured"' in _render(analysed_dir, tmp_path)


def test_shipped_accuracy_is_not_quoted_for_codes_another_codebook_made(analysed_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(analysed_dir / "processed", data / "processed")
    summary_path = data / "processed" / "analyze_summary.json"
    summary = json.loads(summary_path.read_text())
    summary["options"]["codebook"] = "my_codebook.yaml"
    summary_path.write_text(json.dumps(summary))
    methods = _render(data, tmp_path)
    methods = methods[methods.index('<section id="methods"'):]
    assert 'id="accuracy-not-applicable"' in methods and 'id="table-accuracy"' not in methods


def test_manifest_hashes_imports_and_every_model_file(report_dir, analysed_dir):
    from reviewmine.analyze.pipeline import MODELS_DIR, shipped_model_hashes
    from reviewmine.io import file_sha256

    manifest = json.loads((report_dir / "manifest.json").read_text())
    upstream = manifest["upstream"]
    imports = json.loads((analysed_dir / "state" / "imports.json").read_text())["imports"]
    assert [i["sha256"] for i in upstream["imports"]] == [i["sha256"] for i in imports] and imports
    assert upstream["imports"][0]["columns"] is not None and upstream["imports"][0]["assume_tz"]
    assert upstream["models"] == shipped_model_hashes()
    assert upstream["analyze_options"]["seed"] == 42
    packaged = {Path(e["path"]).name: e["sha256"] for e in manifest["package_inputs"]}
    for weights in MODELS_DIR.glob("*.npz"):
        assert packaged[weights.name] == file_sha256(weights)

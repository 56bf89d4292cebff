"""``reviewmine explore``: the SQLite database, the Datasette server and its hostile inputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from tests.chromium import dump_dom, run_chromium
from tests.report.conftest import (  # noqa: F401
    NAMED_TEXTS,
    REVIEWERS,
    add_topic_outputs,
    analysed_dir,
    write_stage_output,
)
from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.explore import build_database, database_path
from reviewmine.explore.metadata import ANALYSIS_COLUMNS, FACETS
from reviewmine.explore.plugins.highlight_evidence import highlight
from reviewmine.process import find_names, raw_reviewer_names

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>document.title='pwned'</script> The app keeps freezing after the update, so annoying."
EVIDENCE = "The app keeps freezing after the update, so annoying."


def _add_topics_and_hostile_review(data: Path) -> None:
    """Topics for every analysed review, and one review whose text carries a <script>."""
    proc = data / "processed"
    scores = pd.read_parquet(proc / "review_scores.parquet")
    info = pd.DataFrame({
        "topic_id": [-1, 0, 1], "size": [0, 0, 0], "words": ["", "crash bug update", "sleep calm story"],
        "label": ["(outliers)", "crash, bug, update", "sleep, calm, story"],
        "factor": ["", "technical_issues", ""], "category": ["", "technology", ""],
        "is_emerging": [False, False, True],
    })  # fmt: skip
    topics = scores[["review_key", "app"]].assign(topic_id=[(-1, 0, 1)[i % 3] for i in range(len(scores))])
    add_topic_outputs(data, topics, info.assign(size=info["topic_id"].map(topics["topic_id"].value_counts())))
    reviews = pd.read_parquet(proc / "reviews.parquet")
    key = scores["review_key"].iloc[0]
    reviews.loc[reviews["review_key"] == key, "text"] = HOSTILE
    write_stage_output(reviews, proc / "reviews.parquet")
    codes = pd.read_parquet(proc / "codes.parquet")
    extra = codes.iloc[[0]].assign(review_key=key, code="technical_issues", polarity="barrier", evidence=EVIDENCE)
    codes = pd.concat([codes[~((codes["review_key"] == key) & (codes["code"] == "technical_issues"))], extra])
    write_stage_output(codes, proc / "codes.parquet")


@pytest.fixture(scope="module")
def explore_dir(analysed_dir, tmp_path_factory) -> Path:  # noqa: F811
    data = tmp_path_factory.mktemp("explore") / "data"
    shutil.copytree(analysed_dir / "processed", data / "processed")
    _add_topics_and_hostile_review(data)
    return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def server(explore_dir):
    """``reviewmine explore`` running in a subprocess on a free port; its base URL."""
    port = _free_port()
    command = [sys.executable, "-c", "from reviewmine.cli import app; app()", "explore",
               "--data-dir", str(explore_dir), "--port", str(port)]
    log = explore_dir.parent / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if _get(f"{base}/-/versions.json")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start in 60 s: " + log.read_text()[-2000:]
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _json(url: str) -> dict:
    status, body = _get(url)
    assert status == 200, body[:500]
    return json.loads(body)


def _facet(base: str, table: str, column: str) -> dict:
    data = _json(f"{base}/reviews/{table}.json?_size=0&_facet_size=max")
    return {r["value"]: r["count"] for r in data["facet_results"][column]["results"]}


# ----------------------------------------------------------------------------- server
def test_facet_counts_equal_the_parquet_tables(server, explore_dir):
    proc = explore_dir / "processed"
    codes = pd.read_parquet(proc / "codes.parquet")
    for column in ("app", "code", "polarity", "category", "rating"):
        expected = codes[column].value_counts().to_dict()
        assert _facet(server, "codes", column) == expected, column
    reviews = pd.read_parquet(proc / "reviews.parquet")
    assert _facet(server, "reviews", "app") == reviews["app"].value_counts().to_dict()
    topics = pd.read_parquet(proc / "topics.parquet").merge(pd.read_parquet(proc / "topic_info.parquet"), on="topic_id")
    assert _facet(server, "reviews", "topic") == topics["label"].value_counts().to_dict()
    assert set(_json(f"{server}/reviews/codes.json?_size=0")["facet_results"]) >= set(FACETS["codes"])


def test_full_text_search_finds_a_known_phrase(server, explore_dir):
    reviews = pd.read_parquet(explore_dir / "processed" / "reviews.parquet")
    expected = set(reviews.loc[reviews["text"].str.contains("crashing every time I open a meditation"), "review_key"])
    query = urllib.parse.quote("crashing every time meditation")
    rows = _json(f"{server}/reviews/reviews.json?_search={query}&_shape=array")
    assert expected and {r["review_key"] for r in rows} == expected


def test_canned_query_returns_the_expected_rows(server, explore_dir):
    codes = pd.read_parquet(explore_dir / "processed" / "codes.parquet")
    cell = codes[(codes["app"] == "calm") & (codes["code"] == "cost_monetization")
                 & (codes["polarity"] == "barrier") & (codes["rating"] <= 2)]
    query = "app=calm&code=cost_monetization&polarity=barrier&max_rating=2&min_major="
    rows = _json(f"{server}/reviews/reviews_of_factor.json?{query}&_shape=array")
    assert len(cell) > 3 and sorted(r["review_key"] for r in rows) == sorted(cell["review_key"])
    assert all(r["rating"] <= 2 and r["evidence"] for r in rows)


def test_writes_through_the_browser_are_refused(server):
    before = _json(f"{server}/reviews/codes.json?_size=0")["filtered_table_rows_count"]
    status, body = _get(f"{server}/reviews.json?sql=" + urllib.parse.quote("delete from codes"))
    assert status == 400 and "SELECT" in body
    request = urllib.request.Request(f"{server}/reviews/codes/-/insert", data=b'{"row": {}}', method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        status = urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status >= 400
    assert _json(f"{server}/reviews/codes.json?_size=0")["filtered_table_rows_count"] == before


def test_evidence_is_highlighted_and_a_script_in_a_review_is_escaped(server):
    status, page = _get(f"{server}/reviews/codes?evidence=" + urllib.parse.quote(EVIDENCE))
    assert status == 200
    assert f"<mark>{EVIDENCE}</mark>" in page
    assert "<script>document.title" not in page and "&lt;script&gt;document.title" in page


def test_reviewer_names_never_reach_the_database(explore_dir, analysed_dir):  # noqa: F811
    names = raw_reviewer_names(analysed_dir)
    assert set(REVIEWERS) <= set(names)
    build_database(explore_dir)
    with sqlite3.connect(database_path(explore_dir)) as conn:
        dump = "\n".join(conn.iterdump())
    assert "Kowalski" in NAMED_TEXTS[0] and "[NAME]" in dump
    assert find_names([("reviews.db", dump)], names) == []


# ----------------------------------------------------------------------------- chromium
@pytest.mark.parametrize("path", [
    "/reviews/codes?app=calm&polarity=barrier",
    "/reviews/reviews_of_factor?app=calm&code=cost_monetization&polarity=barrier&max_rating=2&min_major=",
])
def test_chromium_renders_a_facet_page_and_a_canned_query_without_console_errors(server, path, tmp_path):
    shot = tmp_path / "page.png"
    result = run_chromium(server + path, tmp_path / "profile", "--window-size=1280,1100", f"--screenshot={shot}")
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []
    assert shot.stat().st_size > 10_000
    dom, _ = dump_dom(server + path, tmp_path / "profile2", "--window-size=1280,1100")
    assert "<mark>" in dom and "calm" in dom
    if "/codes?" in path:  # the plugin folded the column descriptions
        assert "<summary>Column descriptions</summary>" in dom


# ----------------------------------------------------------------------------- building
def test_database_is_rebuilt_only_when_an_input_changed(explore_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(explore_dir / "processed", data / "processed")
    first = build_database(data)
    assert first.rebuilt and first.rows["codes"] == len(pd.read_parquet(data / "processed" / "codes.parquet"))
    assert not build_database(data).rebuilt
    codes = pd.read_parquet(data / "processed" / "codes.parquet")
    codes.iloc[1:].to_parquet(data / "processed" / "codes.parquet")
    again = build_database(data)
    assert again.rebuilt and again.rows["codes"] == first.rows["codes"] - 1
    assert sorted(p.name for p in (data / "explore").iterdir()) == ["metadata.json", "reviews.db"]


def test_a_corrupt_database_is_rebuilt_not_an_error(explore_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(explore_dir / "processed", data / "processed")
    database_path(data).parent.mkdir()
    database_path(data).write_bytes(b"not a database at all" * 100)
    result = runner.invoke(app, ["explore", "--data-dir", str(data), "--build-only"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(database_path(data)) as conn:
        assert conn.execute("select count(*) from codes").fetchone()[0] > 0


def test_build_only_prints_where_the_database_is(explore_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(explore_dir / "processed", data / "processed")
    result = runner.invoke(app, ["explore", "--data-dir", str(data), "--build-only"])
    assert result.exit_code == 0, result.output
    assert "built" in result.output and str(database_path(data)) in result.output.replace("\n", "")
    metadata = json.loads((data / "explore" / "metadata.json").read_text())
    assert set(metadata["databases"]["reviews"]["queries"]) >= {"reviews_of_factor", "topic_members"}


# ----------------------------------------------------------------------------- hostile input
def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


def test_no_processed_data_names_the_stage_to_run(tmp_path):
    line = _one_error_line(runner.invoke(app, ["explore", "--data-dir", str(tmp_path), "--build-only"]))
    assert "reviewmine process" in line


def test_processed_but_not_analysed_names_analyze(explore_dir, tmp_path):
    (tmp_path / "processed").mkdir()
    shutil.copy(explore_dir / "processed" / "reviews.parquet", tmp_path / "processed" / "reviews.parquet")
    line = _one_error_line(runner.invoke(app, ["explore", "--data-dir", str(tmp_path), "--build-only"]))
    assert "reviewmine analyze" in line and "review_scores.parquet" in line


def test_a_port_in_use_is_one_error_line(explore_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_error_line(runner.invoke(app, ["explore", "--data-dir", str(explore_dir), "--port", str(port)]))
    assert f"--port {port}" in line and "in use" in line


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_one_error_line(explore_dir, port):
    line = _one_error_line(runner.invoke(app, ["explore", "--data-dir", str(explore_dir), "--port", port]))
    assert f"--port {port}" in line


def test_missing_explore_extra_is_one_error_line(explore_dir, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasette" else real(name, *a))
    result = runner.invoke(app, ["explore", "--data-dir", str(explore_dir), "--port", str(_free_port())])
    assert "datasette is not installed" in _one_error_line(result) and "pip install datasette sqlite-utils" in result.output


def test_host_open_to_the_network_prints_a_warning(explore_dir, monkeypatch):
    import uvicorn

    served = {}
    monkeypatch.setattr("reviewmine.explore.serve.check_port", lambda host, port: None)
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: served.update(kw))
    result = runner.invoke(app, ["explore", "--data-dir", str(explore_dir), "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert served["host"] == "0.0.0.0"
    assert re.search(r"warning: --host 0\.0\.0\.0 makes the review data reachable from the\s+network", result.output)


def test_localhost_prints_no_warning(explore_dir, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: None)
    result = runner.invoke(app, ["explore", "--data-dir", str(explore_dir), "--port", str(_free_port())])
    assert result.exit_code == 0 and "warning" not in result.output


@pytest.mark.parametrize(("text", "evidence", "expected"), [
    ("Great. It crashes  all\nthe time.", "It crashes all the time.", "Great. <mark>It crashes  all\nthe time.</mark>"),
    ("a <b>bold</b> (claim)? yes", "(claim)?", "a &lt;b&gt;bold&lt;/b&gt; <mark>(claim)?</mark> yes"),
    ("<img src=x onerror=alert(1)>", "not here", "&lt;img src=x onerror=alert(1)&gt;"),
    ("text", "", "text"),
])
def test_highlight_escapes_the_review_and_marks_only_the_evidence(text, evidence, expected):
    assert str(highlight(text, evidence)) == expected


def test_analysis_column_descriptions_match_the_data_dictionary():
    doc = (ROOT / "docs" / "data-dictionary-analysis.md").read_text()
    for column, meaning in ANALYSIS_COLUMNS.items():
        assert f"| `{column}` |" in doc and f"| {meaning} |" in doc, column


# ----------------------------------------------------------------------------- report links
def _report_html(data: Path, tmp_path: Path, **options) -> str:
    from reviewmine.report import report

    return (report(data, out=tmp_path / "report", **options) / "report.html").read_text(encoding="utf-8")


def test_report_links_quotes_factor_cells_and_topics_to_the_explorer(explore_dir, server, tmp_path):
    build_database(explore_dir)
    html = _report_html(explore_dir, tmp_path, explore_url=server)
    cells = re.findall(rf'<a class="explore" href="{re.escape(server)}/reviews/codes\?([^"]+)">([\d,]+) ', html)
    topics = re.findall(rf'<a class="explore" href="{re.escape(server)}/reviews/reviews\?topic_id=', html)
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html).group(1))
    quote_urls = [q["url"] for quotes in data["quotes"].values() for q in quotes]
    assert data["explore"] == f"{server}/reviews"  # the profile bars link from it
    assert len(cells) > 10 and topics and quote_urls and all(u.startswith(f"{server}/reviews/codes?review_key=") for u in quote_urls)
    # Each factor-cell link opens exactly the reviews the cell counts.
    for query, count in cells[:6]:
        url = f"{server}/reviews/codes.json?{query.replace('&amp;', '&')}&_size=0"
        assert _json(url)["filtered_table_rows_count"] == int(count.replace(",", "")), query
    assert _json(quote_urls[0].replace("/codes?", "/codes.json?") + "&_shape=array")[0]["evidence"]


def test_report_without_an_explorer_database_has_no_links(explore_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(explore_dir / "processed", data / "processed")
    html = _report_html(data, tmp_path)
    assert 'class="explore"' not in html and "open in explorer" not in html.split("<script>")[0]
    assert '"url":null' in html and '"explore":null' in html and "explore-note" not in html


def test_report_refuses_an_explore_url_that_is_not_http(explore_dir, tmp_path):
    result = runner.invoke(app, ["report", "--data-dir", str(explore_dir), "--out", str(tmp_path / "r"),
                                 "--explore-url", "javascript:alert(1)"])
    assert "--explore-url 'javascript:alert(1)'" in _one_error_line(result)

"""Hostile runs against issue 11, items 2 and 3: re-runs must not silently change what came
before, and no stage may read outputs of another generation.

Item 2: imports are additive, recorded with their hash and kept under raw/imports, so a
second ``process --input`` never drops the first; dropping is explicit.
Item 3: every analyze run is one generation (run id + processed generation in each file);
``report`` refuses tables of another run or of older processed data.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import reviewmine
from reviewmine.cli import app
from reviewmine.config import sample_dir
from reviewmine.report.inputs import load_inputs
from reviewmine.schema import REVIEW_SCHEMA

runner = CliRunner()


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    return frame[frame["app"].isin(["calm", "woebot"])].reset_index(drop=True)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _ok(*args: str):
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _reviews(data: Path) -> pd.DataFrame:
    return pd.read_parquet(data / "processed" / "reviews.parquet")


def _state(data: Path) -> dict:
    return json.loads((data / "state" / "imports.json").read_text())


# --------------------------------------------------------------------------- item 2: imports
def test_second_import_adds_to_the_first_and_both_are_recorded(sample, tmp_path):
    data = tmp_path / "data"
    a = _csv(sample.iloc[:60], tmp_path / "a.csv")
    b = _csv(sample.iloc[60:100].rename(columns={"text": "body"}), tmp_path / "b.csv")
    _ok("process", "--data-dir", data, "--input", a)
    _ok("process", "--data-dir", data, "--input", b, "--map", "text=body", "--assume-tz", "Europe/Berlin")
    assert len(_reviews(data)) == 100
    records = {Path(r["path"]).name: r for r in _state(data)["imports"]}
    assert set(records) == {"a.csv", "b.csv"}
    assert records["b.csv"]["rows"] == 40 and records["b.csv"]["columns"] == {"text": "body"}
    assert records["b.csv"]["assume_tz"] == "Europe/Berlin" and records["a.csv"]["assume_tz"] == "UTC"
    assert records["a.csv"]["sha256"] != records["b.csv"]["sha256"]
    assert records["a.csv"]["bytes"] == a.stat().st_size and records["a.csv"]["imported_at"]
    assert all((data / r["copy"]).is_file() for r in records.values())


def test_reimporting_the_same_file_changes_nothing_and_says_so(sample, tmp_path):
    data = tmp_path / "data"
    a = _csv(sample.iloc[:50], tmp_path / "a.csv")
    _ok("process", "--data-dir", data, "--input", a)
    before = _reviews(data)
    copy = shutil.copy(a, tmp_path / "same-content.csv")
    for path in (a, copy):
        result = _ok("process", "--data-dir", data, "--input", path)
        assert "already imported" in result.output
    assert len(_state(data)["imports"]) == 1
    assert sorted(_reviews(data)["review_key"]) == sorted(before["review_key"])
    assert len(list((data / "raw" / "imports").glob("*.parquet"))) == 1


def test_a_changed_file_at_the_same_path_replaces_its_older_version(sample, tmp_path):
    data = tmp_path / "data"
    a = _csv(sample.iloc[:50], tmp_path / "a.csv")
    b = _csv(sample.iloc[50:70], tmp_path / "b.csv")
    _ok("process", "--data-dir", data, "--input", a, "--input", b)
    _csv(sample.iloc[:30], a)  # the researcher fixed the file: 20 rows removed
    result = _ok("process", "--data-dir", data, "--input", a)
    assert "replaces the earlier import of a.csv" in result.output and "50 rows" in result.output
    assert len(_reviews(data)) == 30 + 20
    state = _state(data)
    assert sorted(Path(r["path"]).name for r in state["imports"]) == ["a.csv", "b.csv"]
    assert [r["rows"] for r in state["dropped"]] == [50]


def test_rebuild_needs_no_original_file(sample, tmp_path):
    data = tmp_path / "data"
    lines = sample.iloc[:40].copy()
    a = tmp_path / "a.csv"
    _csv(lines, a)
    with open(a, "a", encoding="utf-8") as fh:
        fh.write('google_play,calm,"unclosed,5\n')  # malformed line: must stay in rejects
    _ok("process", "--data-dir", data, "--input", a)
    keys = sorted(_reviews(data)["review_key"])
    rejects = pd.read_parquet(data / "processed" / "rejects.parquet")
    a.unlink()
    _ok("process", "--data-dir", data)
    assert sorted(_reviews(data)["review_key"]) == keys
    pd.testing.assert_frame_equal(pd.read_parquet(data / "processed" / "rejects.parquet"), rejects)


def test_drop_import_is_explicit_and_says_what_it_drops(sample, tmp_path):
    data = tmp_path / "data"
    a = _csv(sample.iloc[:30], tmp_path / "a.csv")
    b = _csv(sample.iloc[30:55], tmp_path / "b.csv")
    _ok("process", "--data-dir", data, "--input", a, "--input", b)
    assert "--drop-import nope.csv" in _one_line_error(_invoke("process", "--data-dir", data, "--drop-import", "nope.csv"))
    assert len(_reviews(data)) == 55
    sha = _state(data)["imports"][1]["sha256"]
    result = _ok("process", "--data-dir", data, "--drop-import", sha[:10])
    assert "dropped import b.csv" in result.output and "25 rows" in result.output
    assert len(_reviews(data)) == 30
    assert [Path(r["path"]).name for r in _state(data)["imports"]] == ["a.csv"]


def test_no_raw_leaves_out_collected_reviews_but_keeps_imports(sample, tmp_path):
    data = tmp_path / "data"
    raw = data / "raw" / "reviews" / "run1.parquet"
    raw.parent.mkdir(parents=True)
    row = {name: None for name in REVIEW_SCHEMA.names}
    row.update(store="google_play", app="calm", review_id="collected-1", rating=4,
               text="Collected from the store, this one helps me sleep.", source="google_play")
    pq.write_table(pa.Table.from_pylist([row], schema=REVIEW_SCHEMA), raw)
    a = _csv(sample.iloc[:20], tmp_path / "a.csv")
    _ok("process", "--data-dir", data, "--input", a)
    assert len(_reviews(data)) == 21
    _ok("process", "--data-dir", data, "--no-raw")
    assert len(_reviews(data)) == 20 and "collected-1" not in set(_reviews(data)["review_id"])


def test_demo_keeps_working_on_reruns(sample, tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    _csv(sample.iloc[:80], shipped / "reviews_sample.csv")
    monkeypatch.setattr("reviewmine.config.sample_dir", lambda: shipped)
    # the report is not what a rerun changes; its own tests cover it
    monkeypatch.setattr("reviewmine.report.report", lambda data_dir: Path(data_dir) / "reports" / "stub")
    data = tmp_path / "demo"
    _ok("demo", "--data-dir", data, "--no-topics")
    again = _ok("demo", "--data-dir", data, "--no-topics")
    assert "already imported" in again.output and "Report:" in again.output
    assert len(_reviews(data)) == 80


# --------------------------------------------------------------------------- item 3: generations
@pytest.fixture
def analysed(sample, tmp_path) -> Path:
    data = tmp_path / "data"
    _ok("process", "--data-dir", data, "--input", _csv(sample.iloc[:120], tmp_path / "first.csv"))
    _ok("analyze", "--data-dir", data, "--no-topics")
    return data


def _summary(data: Path) -> dict:
    return json.loads((data / "processed" / "analyze_summary.json").read_text())


def test_no_topics_after_topics_leaves_no_old_topics_for_the_report(sample, tmp_path):
    data = tmp_path / "data"
    _ok("process", "--data-dir", data, "--input", _csv(sample.iloc[:200], tmp_path / "a.csv"))
    _ok("analyze", "--data-dir", data)
    proc = data / "processed"
    old_topics = shutil.copy(proc / "topics.parquet", tmp_path / "old-topics.parquet")
    old_info = shutil.copy(proc / "topic_info.parquet", tmp_path / "old-info.parquet")
    _ok("analyze", "--data-dir", data, "--no-topics")
    assert not (proc / "topics.parquet").exists() and not (proc / "topic_model").exists()
    assert "topics" not in _summary(data)["outputs"]
    # even old topic files put back by hand are not read: they are not of this run
    shutil.copy(old_topics, proc / "topics.parquet")
    shutil.copy(old_info, proc / "topic_info.parquet")
    _ok("report", "--data-dir", data, "--out", tmp_path / "r")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert not any("topic" in entry["path"] for entry in manifest["inputs"])
    assert not (tmp_path / "r" / "figures" / "topic_map.svg").exists()
    process_summary = json.loads((proc / "process_summary.json").read_text())
    assert manifest["upstream"]["generation"] == {
        "processed": process_summary["generation"], "analyze_run": _summary(data)["run_id"],
    }
    assert _summary(data)["generation"] == process_summary["generation"]


def test_report_after_a_new_process_refuses_and_names_analyze(analysed, sample, tmp_path):
    assert load_inputs(analysed).generation["analyze_run"] == _summary(analysed)["run_id"]
    _ok("process", "--data-dir", analysed, "--input", _csv(sample.iloc[120:160], tmp_path / "more.csv"))
    error = _one_line_error(_invoke("report", "--data-dir", analysed, "--out", tmp_path / "r"))
    assert "older processed/reviews.parquet" in error
    assert f"reviewmine analyze --data-dir {analysed}" in error


def test_report_refuses_tables_of_two_analyze_runs(analysed, tmp_path):
    proc = analysed / "processed"
    old_codes = shutil.copy(proc / "codes.parquet", tmp_path / "codes.parquet")
    _ok("analyze", "--data-dir", analysed, "--no-topics", "--include-spam")
    shutil.copy(old_codes, proc / "codes.parquet")  # as if a run died while moving files in
    error = _one_line_error(_invoke("report", "--data-dir", analysed, "--out", tmp_path / "r"))
    assert "codes.parquet" in error and "reviewmine analyze" in error


def test_a_kill_between_codes_and_topics_leaves_the_previous_generation_whole(analysed, sample, tmp_path):
    before = _summary(analysed)
    _ok("process", "--data-dir", analysed, "--input", _csv(sample.iloc[120:200], tmp_path / "more.csv"))
    script = textwrap.dedent(f"""
        import os, signal
        from reviewmine.analyze import pipeline
        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        pipeline._topics = killed
        pipeline.analyze({str(analysed)!r})
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(reviewmine.__file__).parents[1])}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    proc = analysed / "processed"
    assert _summary(analysed)["run_id"] == before["run_id"]
    for name in ("review_scores", "codes", "sentences"):
        run = pq.read_schema(proc / f"{name}.parquet").metadata[b"reviewmine.analyze_run"].decode()
        assert run == before["run_id"], name
    assert len(pd.read_parquet(proc / "review_scores.parquet")) == before["analysed"]
    assert list(proc.glob(".tmp-analyze-*"))  # what the killed run had written so far
    assert "reviewmine analyze" in _one_line_error(_invoke("report", "--data-dir", analysed))
    _ok("analyze", "--data-dir", analysed, "--no-topics")
    assert not list(proc.glob(".tmp-*"))  # the killed run's temporary files are gone
    assert load_inputs(analysed).generation["processed"] == _summary(analysed)["generation"]

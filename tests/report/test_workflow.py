"""``reviewmine.workflow``: the library behind ``reviewmine run`` and ``reviewmine demo``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from reviewmine.cli import app
from reviewmine.workflow import run


def _copy(analysed_dir: Path, tmp_path: Path, monkeypatch, name: str = "data") -> Path:
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(tmp_path / "secrets" / "key"))
    data_dir = tmp_path / name
    shutil.copytree(analysed_dir, data_dir, ignore=shutil.ignore_patterns("reports"))  # other tests' reports
    return data_dir


def test_run_calls_back_each_stage_in_order_and_limits_the_report_to_apps(analysed_dir, tmp_path, monkeypatch):
    data_dir = _copy(analysed_dir, tmp_path, monkeypatch)
    events = []
    result = run(
        data_dir, apps=["calm"], collect=False, topics=False,
        on_start=lambda stage: events.append(("start", stage)),
        on_done=lambda stage, value: events.append(("done", stage, value)),
    )
    assert [e[:2] for e in events] == [
        ("start", "process"), ("done", "process"), ("start", "analyze"), ("done", "analyze"),
        ("start", "report"), ("done", "report"),
    ]
    assert [e[2] for e in events if e[0] == "done"] == [result.process, result.analyze, result.report]
    assert result.collect is None and not result.failed
    manifest = json.loads((result.report / "manifest.json").read_text())
    assert manifest["parameters"]["apps"] == ["calm"]


def test_run_command_defaults_to_the_environments_data_dir_and_passes_apps_to_the_report(
    analysed_dir, tmp_path, monkeypatch
):
    _copy(analysed_dir, tmp_path, monkeypatch, "chosen")
    monkeypatch.setenv("REVIEWMINE_DATA_DIR", str(tmp_path / "chosen"))
    monkeypatch.chdir(tmp_path)  # without the environment, the run would use ./data here
    result = CliRunner().invoke(app, ["run", "--no-collect", "--no-topics", "--apps", "woebot"])
    assert result.exit_code == 0, result.output
    (manifest,) = (tmp_path / "chosen" / "reports").glob("*/manifest.json")
    assert json.loads(manifest.read_text())["parameters"]["apps"] == ["woebot"]
    assert "Report:" in result.output and not (tmp_path / "data").exists()

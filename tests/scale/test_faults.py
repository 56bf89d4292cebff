"""Faults of the Dask engine: a worker killed with SIGKILL mid-run (the run completes with
every review exactly once), an unreachable scheduler (one line naming it, exit 2, nothing
written), and engine options that cannot work."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pandas as pd
import pytest
from tests.scale.conftest import write_corpus
from typer.testing import CliRunner

from reviewmine.analyze import analyze
from reviewmine.analyze.coding import code
from reviewmine.cli import app
from reviewmine.process import process, read_reviews

runner = CliRunner()


class _KillAWorker:
    """An ``on_partition`` callback that, once, kills with SIGKILL a worker process that has
    tasks assigned at that moment (the scheduler must rerun them elsewhere)."""

    def __init__(self, cluster) -> None:
        from distributed import Client

        self.client = Client(cluster.scheduler_address, set_as_default=False)
        self.killed: list[int] = []

    def __call__(self, done: int, total: int) -> None:
        if self.killed:
            return
        busy = [worker for worker, keys in self.client.processing().items() if keys]
        if busy:
            pid = self.client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            self.killed.append(pid)

    def close(self) -> None:
        self.client.close()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(store=frame["store"].astype(str), app=frame["app"].astype(str))
    return frame.sort_values("review_key").reset_index(drop=True)[sorted(frame.columns)]


def test_a_worker_killed_mid_process_still_gives_every_review_exactly_once(tmp_path, cluster):
    inputs = write_corpus(tmp_path / "inputs", n_rows=480, n_files=8)  # 9 partitions per step
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    options = {"inputs": inputs, "include_raw": False, "key_file": tmp_path / "key"}
    process(data_dir, **options)
    local = _sorted(read_reviews(data_dir))
    kill = _KillAWorker(cluster)
    try:
        summary = process(data_dir, engine="dask", scheduler=cluster.scheduler_address,
                          on_partition=kill, **options)
    finally:
        kill.close()
    assert kill.killed, "no worker was busy to kill"
    reviews = data_dir / "processed" / "reviews.parquet"
    assert reviews.is_dir()  # the dask dataset replaced the local file
    assert not list(reviews.rglob(".*"))  # no half-written file of the killed task
    on_dask = _sorted(read_reviews(data_dir))
    assert on_dask["review_key"].is_unique and summary.reviews == len(local)
    pd.testing.assert_frame_equal(on_dask, local)
    process(data_dir, **options)  # and back: the local file replaces the dataset
    assert reviews.is_file()
    pd.testing.assert_frame_equal(_sorted(read_reviews(data_dir)), local)


def test_a_worker_killed_mid_code_still_codes_every_row_once(tmp_path, cluster, monkeypatch):
    monkeypatch.setattr("reviewmine.analyze.on_dask.CODE_PARTITION_ROWS", 40)  # 10 tasks
    source = write_corpus(tmp_path / "inputs", n_rows=400, n_files=1)[0]
    code(source, tmp_path / "local.csv", id_col="review_id")
    kill = _KillAWorker(cluster)
    try:
        code(source, tmp_path / "dask.csv", id_col="review_id", engine="dask",
             scheduler=cluster.scheduler_address, on_partition=kill)
    finally:
        kill.close()
    assert kill.killed, "no worker was busy to kill"
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_a_task_that_kills_every_worker_it_runs_on_is_one_line(cluster):
    from distributed import Client

    from reviewmine.engine import run_partitions
    from reviewmine.errors import ReviewmineError

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        with pytest.raises(ReviewmineError, match=r"^a Dask task \(_exit, partition 0\) was running on every worker that died"):
            run_partitions(client, os._exit, [1])  # the worker process exits at once, every time


def test_analyze_outputs_switch_between_files_and_datasets_with_the_engine(tmp_path, cluster):
    source = write_corpus(tmp_path / "inputs", n_rows=60, n_files=1)[0]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    process(data_dir, inputs=[source], include_raw=False, key_file=tmp_path / "key")
    scores = data_dir / "processed" / "review_scores.parquet"
    analysed = []
    for engine, is_folder in (("local", False), ("dask", True), ("local", False)):
        summary = analyze(data_dir, topics=False, engine=engine,
                          scheduler=cluster.scheduler_address if engine == "dask" else None)
        assert scores.is_dir() is is_folder
        keys = pd.read_parquet(scores)["review_key"]
        assert keys.is_unique and len(keys) == summary.analysed
        analysed.append(summary.analysed)
    assert analysed[0] > 50 and len(set(analysed)) == 1


def _closed_port_address() -> str:
    """A 127.0.0.1 address nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


@pytest.fixture
def quick_connect(monkeypatch):
    monkeypatch.setattr("reviewmine.engine.CONNECT_TIMEOUT", 1.0)


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.name != ".lock"}


@pytest.mark.parametrize("given", ["option", "environment"])
def test_process_with_an_unreachable_scheduler_fails_in_one_line_and_writes_nothing(
    tmp_path, quick_connect, monkeypatch, given
):
    source = write_corpus(tmp_path / "inputs", n_rows=20, n_files=1)[0]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    address = _closed_port_address()
    args = ["process", "--data-dir", str(data_dir), "--input", str(source), "--no-raw", "--engine", "dask"]
    if given == "option":
        args += ["--scheduler", address]
    else:
        monkeypatch.setenv("REVIEWMINE_DASK_SCHEDULER", address)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --scheduler ") and address in lines[0]
    assert _files(data_dir) <= {Path("state")}  # no import recorded, no key, no output


def test_code_analyze_and_run_with_an_unreachable_scheduler_write_nothing(tmp_path, quick_connect):
    source = write_corpus(tmp_path / "inputs", n_rows=60, n_files=1)[0]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    process(data_dir, inputs=[source], include_raw=False, key_file=tmp_path / "key")
    before = _files(data_dir)
    address = _closed_port_address()
    out = tmp_path / "coded.csv"
    for args in (["code", str(source), "--out", str(out), "--id-col", "review_id"],
                 ["analyze", "--data-dir", str(data_dir), "--no-topics"],
                 ["run", "--data-dir", str(data_dir)]):  # before collect writes anything
        result = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", address])
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and address in result.stderr
    assert not out.exists() and _files(data_dir) == before


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--engine", "spark"], "--engine 'spark': unknown engine; use one of local, dask"),
     (["--scheduler", "tcp://127.0.0.1:8786"], "a scheduler is only used with --engine dask")],
)
def test_engine_options_that_cannot_work_are_one_line(tmp_path, options, message):
    source = write_corpus(tmp_path / "inputs", n_rows=5, n_files=1)[0]
    result = runner.invoke(app, ["code", str(source), "--out", str(tmp_path / "c.csv"), *options])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not (tmp_path / "c.csv").exists()

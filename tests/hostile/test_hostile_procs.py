"""Hostile inputs and hostile process handling (issue 11, items 6, 7, 8, 10).

Codebooks that would hang or silently mis-code the coder, workers orphaned by SIGKILL or
SIGTERM, temporary files of killed runs, and two runs writing one data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from tests.collect.test_collect_e2e import (
    CATALOG,
    FAST_ENV,
    assert_exactly_once,
    cli_process,
    make_population,
)
from tests.fakestore.server import FakeStore
from typer.testing import CliRunner

from reviewmine.analyze import codebook as codebook_module
from reviewmine.analyze import factors
from reviewmine.analyze.codebook import cue_hazard, load_codebook
from reviewmine.analyze.factors import FactorCoder
from reviewmine.cli import app
from reviewmine.config import sample_dir
from reviewmine.errors import CodebookError

runner = CliRunner()
CLI = "import sys; from reviewmine.cli import app; sys.argv[0] = 'reviewmine'; app()"
HOSTILE_TEXT = "a" * 30 + "!"
GOOD_CODE = "{id: ok, label: OK, category: user, description: fine, cues: [fine]}"


def write_reviews(path: Path, texts: list[str]) -> Path:
    pd.DataFrame({"uid": [str(i) for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    return path


def sample_reviews(tmp_path: Path, n: int = 5) -> Path:
    """The first ``n`` rows of the shipped sample: a file ``process`` can import."""
    path = tmp_path / "sample.csv"
    pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str).head(n).to_csv(path, index=False)
    return path


def code_with(tmp_path: Path, codebook_yaml: str, texts: list[str] | None = None):
    cb = tmp_path / "mine.yaml"
    cb.write_text(codebook_yaml, encoding="utf-8")
    reviews = write_reviews(tmp_path / "in.csv", texts or [HOSTILE_TEXT, "fine app"])
    result = runner.invoke(app, ["code", str(reviews), "--out", str(tmp_path / "out.csv"), "--codebook", str(cb)])
    return cb, result


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


# --------------------------------------------------------------------------- item 6: regex


@pytest.mark.parametrize("cue", [r"(a+)+b", r"(a*)*b", r"(a|a)*b", r"(\w+\s?)+b", r"(a?a?)+b", r"x(a{1,3}){1,20}b"])
def test_a_catastrophic_cue_is_refused_at_load_not_run(tmp_path, cue):
    body = f"codes:\n  - {{id: hang, label: Hang, category: user, description: d, cues: ['{cue}']}}\n"
    started = time.perf_counter()
    cb, result = code_with(tmp_path, body)
    line = one_error_line(result)
    assert time.perf_counter() - started < 5
    assert str(cb) in line and "'hang'" in line and repr(cue) in line and "rewrite it" in line
    assert not (tmp_path / "out.csv").exists()


def test_safe_repeats_and_the_shipped_cues_pass_the_check():
    assert [cue_hazard(c) for c in ("so+", "(cat|dog)+", "(ab|ac)*", "(a|b)*x", "(a{2}){3}")] == [None] * 5
    assert all(cue_hazard(cue) is None for code in load_codebook().codes for cue in code.cues)


def test_a_slow_cue_the_check_allows_is_stopped_by_the_time_limit(tmp_path):
    # .*.*.*y has no nested repeat but is cubic: hours on 3,000 characters without the limit.
    body = "codes:\n  - {id: slow, label: Slow, category: user, description: d, cues: ['.*.*.*y']}\n"
    started = time.perf_counter()
    cb, result = code_with(tmp_path, body, ["y " + "ab " * 1000])
    line = one_error_line(result)
    assert time.perf_counter() - started < 10
    assert "'slow'" in line and "'.*.*.*y'" in line and "took over 1 s" in line
    assert not (tmp_path / "out.csv").exists()


def test_without_the_parse_tree_every_cue_runs_under_the_time_limit(tmp_path, monkeypatch):
    # Fallback for a Python whose re._parser cannot be imported: no load-time check, so the
    # time limit is what stops the catastrophic cue.
    monkeypatch.setattr(codebook_module, "parse_tree", lambda pattern: None)
    monkeypatch.setattr(factors, "parse_tree", lambda pattern: None)
    path = tmp_path / "cb.yaml"
    path.write_text("codes:\n  - {id: hang, label: Hang, category: user, description: d, cues: ['(a+)+b']}\n")
    coder = FactorCoder(load_codebook(path), use_model=False)
    started = time.perf_counter()
    with pytest.raises(CodebookError, match="took over 1 s"):
        coder.code_texts([HOSTILE_TEXT])
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------- item 10: validation

BAD_CODEBOOKS = [
    ("cues: 'a string'", "'cues' must be a list"),
    ("cues: ['fine', '']", "item 2 of 'cues' is ''"),
    ("cues: ['   ']", "item 1 of 'cues' is '   '"),
    ("cues: [fine, 3]", "item 2 of 'cues' is int"),
    ("cue: [fine]", "unknown key 'cue'; allowed keys are id, label, category, description, source"),
    ("barrier_examples: 'crashes'", "'barrier_examples' must be a list"),
    ("facilitator_examples: [null]", "item 1 of 'facilitator_examples' is NoneType"),
    ("source: 2021", "'source' must be text, not int"),
    ("cues: ['(unclosed']", "is not a valid regex here"),
]


@pytest.mark.parametrize("extra, message", BAD_CODEBOOKS)
def test_a_malformed_code_field_fails_with_one_line_naming_file_and_code(tmp_path, extra, message):
    body = f"codes:\n  - {GOOD_CODE}\n  - {{id: broken, label: Broken, category: user, description: d, {extra}}}\n"
    cb, result = code_with(tmp_path, body)
    line = one_error_line(result)
    assert str(cb) in line and "code 'broken'" in line and message in line


@pytest.mark.parametrize(
    "code, message",
    [
        ("{id: nolabel, category: user, description: d, cues: [x]}", "lacks required field(s) label; add them"),
        ("{id: nolabel, label: '', category: user, description: d}", "'label' is empty"),
        ("{id: nolabel, label: yes, category: user, description: d}", "'label' must be text, not bool; quote it"),
        ("{id: 12, label: L, category: user, description: d}", "'id' must be text, not int"),
        ("{id: ok, label: Again, category: user, description: d}", "duplicate id 'ok'"),
        ("{id: cat, label: Cat, category: users, description: d}", "category 'users' is not one of user, program, technology"),
        ("{id: desc, label: Desc, category: user, description: [a, b]}", "'description' must be text, not list"),
        ("[id, label]", "is not a mapping"),
    ],
)
def test_missing_or_mistyped_required_fields_are_refused(tmp_path, code, message):
    cb, result = code_with(tmp_path, f"codes:\n  - {GOOD_CODE}\n  - {code}\n")
    line = one_error_line(result)
    assert str(cb) in line and message in line


@pytest.mark.parametrize(
    "top, message",
    [
        ("code: []", "unknown key 'code'; allowed keys are name, version, citation, categories, coding_rules, codes"),
        ("categories: {user: Users, people: People}", "unknown category 'people'"),
        ("categories: [user]", "'categories' must map each category"),
        ("citation: [a]", "'citation' must be text"),
    ],
)
def test_bad_top_level_keys_are_refused(tmp_path, top, message):
    cb, result = code_with(tmp_path, f"{top}\ncodes:\n  - {GOOD_CODE}\n")
    line = one_error_line(result)
    assert str(cb) in line and message in line


def test_a_string_of_cues_no_longer_codes_every_review(tmp_path):
    # Was: "fine app" read as cues f, i, n, e, ' ', a, p: nearly every review got the code.
    body = "codes:\n  - {id: ok, label: OK, category: user, description: d, cues: 'fine app'}\n"
    _, result = code_with(tmp_path, body, ["crashes all the time", "no"])
    assert "'cues' must be a list" in one_error_line(result)


def test_the_shipped_codebook_is_valid_and_complete():
    codebook = load_codebook()
    assert len(codebook) == 23 and all(code.label and code.cues for code in codebook.codes)


# --------------------------------------------------------------------------- item 7: workers


def big_reviews(tmp_path: Path, copies: int = 4) -> Path:
    """Four copies of the shipped sample (~18,000 rows): four batches, so workers are used."""
    sample = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    big = pd.concat([sample] * copies, ignore_index=True)
    big["uid"] = [str(i) for i in range(len(big))]
    path = tmp_path / "big.csv"
    big[["uid", "title", "text"]].to_csv(path, index=False)
    return path


def start_code(tmp_path: Path, out: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "code", str(big_reviews(tmp_path)), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ | {"COLUMNS": "200"},
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = parent.children()
        if len(workers) >= 2:
            return proc, workers
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no coding workers started")


def assert_gone(workers: list[psutil.Process], within: float = 5.0) -> None:
    _, alive = psutil.wait_procs(workers, timeout=within)
    for p in alive:
        p.kill()
    assert alive == [], f"orphaned workers: {[p.pid for p in alive]}"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".out.csv"))


def test_sigkill_of_code_takes_its_workers_with_it(tmp_path):
    out = tmp_path / "out.csv"
    proc, workers = start_code(tmp_path, out)
    time.sleep(0.5)  # let them get busy, so results queue up unread
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert_gone(workers)
    assert not out.exists()


def test_sigterm_of_code_stops_cleanly_with_143(tmp_path):
    out = tmp_path / "out.csv"
    proc, workers = start_code(tmp_path, out)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "stopped by SIGTERM" in lines[0], err.decode()
    assert_gone(workers)
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_worker_whose_parent_died_before_prctl_exits_by_itself():
    # The watchdog half: a worker told its parent is someone else sees that at once and exits.
    child = subprocess.Popen(
        [sys.executable, "-c", "from reviewmine.analyze.factors import _init_worker; import time; "
         "_init_worker(1); time.sleep(30)"],
    )
    assert child.wait(timeout=5) == 1


def test_code_removes_the_temp_file_a_killed_run_left_and_only_that(tmp_path):
    out = tmp_path / "out.csv"
    stale = tmp_path / ".out.csv.k3x9_a1b.csv"  # write_atomic's name for out.csv
    stale.write_text("half a file")
    other_target = tmp_path / ".other.csv.k3x9_a1b.csv"
    user_files = [tmp_path / ".out.csv.notes", tmp_path / "out.csv.bak", other_target]
    for path in [stale, *user_files]:
        path.write_text("x")
        os.utime(path, (time.time() - 3600,) * 2)
    fresh = tmp_path / ".out.csv.zz9_zz9z.csv"  # newer than this process: maybe a live run's
    fresh.write_text("x")
    os.utime(fresh, (time.time() + 3600,) * 2)
    reviews = write_reviews(tmp_path / "in.csv", ["crashes all the time"])
    result = runner.invoke(app, ["code", str(reviews), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not stale.exists() and fresh.exists() and all(p.exists() for p in user_files)


def test_the_next_data_dir_run_removes_what_killed_runs_left(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(tmp_path / "key"))
    data = tmp_path / "data"
    processed = data / "processed"
    scratch = processed / ".tmp-process-ab12cd34"
    scratch.mkdir(parents=True)
    (scratch / "staging.parquet").write_text("x")
    stale = [processed / ".codes.parquet.tmp", processed / ".reviews.parquet.x1y2z3_4.parquet",
             data / "raw" / "reviews" / "run1" / ".google_play__calm__us.parquet.4242.tmp", scratch]
    kept = [processed / "notes.tmp", processed / "codes.parquet.tmp.keep", data / "my.parquet",
            data / "mine" / ".notes.json.tmp"]  # outside the stages' directories
    for path in stale + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text("x")
        os.utime(path, (time.time() - 3600,) * 2)
    result = runner.invoke(app, ["process", "--data-dir", str(data), "--input", str(sample_reviews(tmp_path))])
    assert result.exit_code == 0, result.output
    assert [p for p in stale if p.exists()] == [] and all(p.exists() for p in kept)


# --------------------------------------------------------------------------- item 8: lock

HOLD = (
    "import os, sys, time; from reviewmine.lock import data_dir_lock\n"
    "with data_dir_lock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    os.kill(os.getpid(), 9) if sys.argv[2] == 'die' else time.sleep(60)\n"
)


def hold_lock(data: Path, then: str = "sleep") -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data), then], stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"locked\n"
    return holder


@pytest.mark.parametrize(
    "args",
    [
        ["collect", "--catalog", "{catalog}"],
        ["process", "--input", "{reviews}"],
        ["analyze", "--no-topics"],
        ["report"],
        ["run", "--no-collect", "--no-topics"],
        ["demo", "--no-topics"],
    ],
)
def test_every_writing_command_refuses_a_data_dir_another_run_holds(tmp_path, args):
    data = tmp_path / "data"
    holder = hold_lock(data)
    try:
        (tmp_path / "catalog.yaml").write_text(CATALOG)
        reviews = write_reviews(tmp_path / "in.csv", ["crashes"])
        args = [a.format(catalog=tmp_path / "catalog.yaml", reviews=reviews) for a in args]
        result = runner.invoke(app, [*args, "--data-dir", str(data)])
        line = one_error_line(result)
        assert f"another reviewmine run (pid {holder.pid})" in line and str(data) in line
        assert sorted(p.name for p in data.iterdir()) == ["state"]  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(tmp_path / "key"))
    data = tmp_path / "data"
    dead = hold_lock(data, then="die")
    assert dead.wait(timeout=10) == -signal.SIGKILL
    assert (data / "state" / ".lock").read_text().strip() == str(dead.pid)
    result = runner.invoke(app, ["process", "--data-dir", str(data), "--input", str(sample_reviews(tmp_path))])
    assert result.exit_code == 0, result.output


def test_two_collects_on_one_data_dir_the_second_exits_and_nothing_is_written_twice(tmp_path):
    pop = make_population()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    data = tmp_path / "data"
    gate = threading.Event()
    with FakeStore(pop) as fs:
        fs.on_request = lambda n: gate.wait(30)  # the first run stalls on its first request
        env = {"REVIEWMINE_GOOGLE_PLAY_URL": fs.url, "REVIEWMINE_ITUNES_URL": fs.url} | FAST_ENV
        env["REVIEWMINE_READ_TIMEOUT"] = "30"
        first = cli_process(env, catalog, data)
        deadline = time.monotonic() + 30
        while fs.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fs.requests > 0, "the first collect never reached the store"
        requests_before = fs.requests
        second = cli_process(env, catalog, data)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err.decode()
        assert f"another reviewmine run (pid {first.pid})" in err.decode()
        assert len(err.decode().strip().splitlines()) == 1
        assert fs.requests == requests_before  # the second run never talked to the store
        gate.set()
        fs.on_request = None
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err.decode()
        assert b"interrupted" not in err
    assert_exactly_once(data, pop)

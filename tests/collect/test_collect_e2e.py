"""End-to-end: ``reviewmine collect`` against the fake store on 127.0.0.1 with faults injected,
killed mid-run (SIGKILL), resumed; every review version must be on disk exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.fakestore.population import Population
from tests.fakestore.server import FakeStore
from typer.testing import CliRunner

from reviewmine.cli import app as cli_app
from reviewmine.collect import collect
from reviewmine.collect.http import HttpSettings, StoreClient, read_raw_log
from reviewmine.collect.state import CollectState

PLAY_ID, APPLE_ID = "org.example.calmmind", "1234567890"
FAST_ENV = {
    "REVIEWMINE_CONNECT_TIMEOUT": "1",
    "REVIEWMINE_READ_TIMEOUT": "0.25",
    "REVIEWMINE_MAX_ATTEMPTS": "6",
    "REVIEWMINE_BACKOFF_BASE": "0.001",
    "REVIEWMINE_BACKOFF_MAX": "0.01",
    "REVIEWMINE_RATE_GOOGLE_PLAY": "0",
    "REVIEWMINE_RATE_APP_STORE": "0",
    "REVIEWMINE_RATE_LOOKUP": "0",
}
CATALOG = f"""apps:
  - slug: calm-mind
    name: Calm Mind
    google_play: {PLAY_ID}
    app_store: {APPLE_ID}
    countries: [us, gb, ca]
    languages: [en]
"""
SLUG_TO_ID = {("google_play", "calm-mind"): PLAY_ID, ("app_store", "calm-mind"): APPLE_ID}


def make_population(seed=11) -> Population:
    pop = Population(seed=seed)
    pop.add_play(PLAY_ID, 260)
    pop.add_apple(APPLE_ID, ["us", "gb", "ca"], 700, shared=0.25)
    return pop


@pytest.fixture
def env(monkeypatch, tmp_path):
    for k, v in FAST_ENV.items():
        monkeypatch.setenv(k, v)
    cat = tmp_path / "catalog.yaml"
    cat.write_text(CATALOG)
    return {"catalog": cat, "data": tmp_path / "data"}


def point_at(monkeypatch, fs: FakeStore) -> None:
    monkeypatch.setenv("REVIEWMINE_GOOGLE_PLAY_URL", fs.url)
    monkeypatch.setenv("REVIEWMINE_ITUNES_URL", fs.url)


def written_rows(data: Path) -> list[dict]:
    rows = []
    for f in sorted((data / "raw" / "reviews").glob("*/*.parquet")):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def version_keys(rows: list[dict]) -> list[tuple]:
    return [
        (r["store"], SLUG_TO_ID[(r["store"], r["app"])], r["review_id"],
         json.dumps([r["rating"], r["title"], r["text"], r["developer_reply"]]))
        for r in rows
    ]


def assert_exactly_once(data: Path, pop: Population, earlier: set | None = None) -> None:
    keys = version_keys(written_rows(data))
    assert len(keys) == len(set(keys)), "a review version was written twice"
    assert set(keys) == pop.expected() | (earlier or set()), "reviews lost or invented"
    st = CollectState(data / "state" / "collect.sqlite")
    try:
        counts = st.counts()
        running = st.unfinished_runs()
    finally:
        st.close()
    assert counts["review_versions"] == len(keys)
    assert counts["reviews"] == len({k[:3] for k in keys})
    assert running == []
    assert not any((data / "state" / "pending").glob("*/*/*.parquet"))


def test_collect_with_faults_gets_every_review_exactly_once(env, monkeypatch):
    pop = make_population()
    with FakeStore(pop, fault_rate=0.35, timeout_sleep=0.5, seed=5) as fs:
        point_at(monkeypatch, fs)
        result = collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
        kinds = set(fs.faults)
        assert fs.violations == []  # no page 11, cookie sent with every token, NEWEST sort
    assert not result.failed, result.messages
    assert_exactly_once(env["data"], pop)
    assert {"429", "503", "timeout"} <= kinds and len(kinds) >= 7
    assert {"false_empty", "403", "gateway", "dataerror"} & kinds
    assert all(
        sum(p.retries for p in result.partitions if p.store == s) > 0 for s in ("google_play", "app_store")
    )
    # metadata of both stores, stored per run
    meta = pq.read_table(result.metadata_file).to_pylist()
    assert {m["store"] for m in meta} == {"google_play", "app_store"}
    assert all(m["title"] and m["run_id"] == result.run_id for m in meta)


def test_no_avatar_account_id_or_profile_url_is_stored(env, monkeypatch):
    pop = Population(seed=2)
    pop.add_play(PLAY_ID, 50)
    pop.add_apple(APPLE_ID, ["us"], 30)
    with FakeStore(pop) as fs:
        point_at(monkeypatch, fs)
        collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
    rows = written_rows(env["data"])
    text = json.dumps(rows, default=str)
    assert rows and "avatar" not in text and "ACCOUNT-" not in text and "/reviews/id9" not in text
    assert {r["source"] for r in rows} == {"google_play_rpc", "app_store_rss"}
    assert all(str(r["at"].tzinfo) == "UTC" for r in rows)
    assert {r["reviewer_name"] for r in rows} >= {"synthetic_user_1"}


def test_rerun_fetches_only_new_and_keeps_edits_as_versions(env, monkeypatch):
    pop = make_population()
    with FakeStore(pop) as fs:
        point_at(monkeypatch, fs)
        collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
        first_requests = fs.requests
        before_edits = pop.expected()
        edited = pop.edit_play(PLAY_ID, 4)
        pop.add_play(PLAY_ID, 30)
        pop.add_apple(APPLE_ID, ["us", "gb", "ca"], 20, shared=0.0)
        second = collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
        second_requests = fs.requests - first_requests
        third = collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
    assert second.new == 30 + 20 and second.updated == 4
    assert second_requests < first_requests / 2
    assert third.new == 0 and third.updated == 0
    assert {p.stop_reason for p in third.partitions} == {"caught_up"}
    assert_exactly_once(env["data"], pop, before_edits)
    rows = [r for r in written_rows(env["data"]) if r["review_id"] in edited]
    assert len(rows) == 8 and sum(r["text"].startswith("EDITED") for r in rows) == 4


def test_max_pages_then_resume_continues_from_the_saved_token(env, monkeypatch):
    pop = make_population()
    with FakeStore(pop) as fs:
        point_at(monkeypatch, fs)
        r1 = collect(catalog=env["catalog"], data_dir=env["data"], stores=["google_play"],
                     countries=["us"], max_pages=2, progress=False)
        assert r1.partitions[0].stop_reason == "max_pages" and r1.new == 80
        while True:
            r = collect(catalog=env["catalog"], data_dir=env["data"], stores=["google_play"],
                        countries=["us"], max_pages=3, progress=False)
            if r.partitions[0].stop_reason != "max_pages":
                break
        assert fs.violations == []  # the saved session cookie went with the saved token
    keys = version_keys(written_rows(env["data"]))
    assert len(keys) == len(set(keys)) == 260


class Crash(BaseException):
    pass


def test_crash_between_disk_write_and_state_commit_loses_and_duplicates_nothing(env, monkeypatch):
    pop = make_population()
    real = CollectState.commit_page
    calls = {"n": 0}

    def crashing(self, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash()  # the page's parquet part is on disk, its commit never happens
        return real(self, **kw)

    with FakeStore(pop) as fs:
        point_at(monkeypatch, fs)
        monkeypatch.setattr(CollectState, "commit_page", crashing)
        with pytest.raises(Crash):
            collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
        monkeypatch.setattr(CollectState, "commit_page", real)
        result = collect(catalog=env["catalog"], data_dir=env["data"], progress=False)
    assert any("interrupted" in m and "registered" in m for m in result.messages)
    assert_exactly_once(env["data"], pop)


def cli_process(env_vars: dict, catalog: Path, data: Path) -> subprocess.Popen:
    code = "import sys; from reviewmine.cli import app; sys.argv[0] = 'reviewmine'; app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "collect", "--catalog", str(catalog), "--data-dir", str(data)],
        env=os.environ | env_vars | {"COLUMNS": "120"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_sigkill_mid_run_and_resume_gives_every_review_exactly_once(env, monkeypatch):
    pop = make_population()
    with FakeStore(pop, fault_rate=0.2, timeout_sleep=0.5, seed=9) as fs:
        urls = {"REVIEWMINE_GOOGLE_PLAY_URL": fs.url, "REVIEWMINE_ITUNES_URL": fs.url} | FAST_ENV
        for kill_at in (9, 26):  # once inside the Play walk, once inside the App Store walks
            holder: dict = {}
            start = fs.requests

            def hook(n, holder=holder, start=start, kill_at=kill_at):
                if n == start + kill_at and "proc" in holder:
                    holder["proc"].send_signal(signal.SIGKILL)

            fs.on_request = hook
            holder["proc"] = proc = cli_process(urls, env["catalog"], env["data"])
            proc.communicate(timeout=120)
            assert proc.returncode == -signal.SIGKILL
        fs.on_request = None
        proc = cli_process(urls, env["catalog"], env["data"])
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert b"interrupted" in err
        assert fs.violations == []
    assert_exactly_once(env["data"], pop)
    raw = list((env["data"] / "raw" / "http").glob("*/*.jsonl.gz"))
    records = [r for f in raw for r in read_raw_log(f)]
    assert records and all({"url", "status", "run_id", "fetched_at", "tool_version"} <= set(r) for r in records)


def test_cli_reports_unknown_apps_and_missing_storefronts_and_goes_on(env, monkeypatch, tmp_path):
    pop = Population(seed=4)
    pop.add_play(PLAY_ID, 45)
    pop.add_apple(APPLE_ID, ["us"], 60)
    cat = tmp_path / "mixed.yaml"
    cat.write_text(f"""apps:
  - {{slug: ghost-play, name: Ghost, google_play: org.example.ghost, countries: [us]}}
  - {{slug: ghost-ios, name: Ghost iOS, app_store: 55555, countries: [us, gb]}}
  - {{slug: calm-mind, name: Calm Mind, google_play: {PLAY_ID}, app_store: {APPLE_ID}, countries: [us, fr]}}
""")
    with FakeStore(pop) as fs:
        point_at(monkeypatch, fs)
        res = CliRunner().invoke(cli_app, ["collect", "--catalog", str(cat), "--data-dir", str(env["data"])])
    assert res.exit_code == 1
    out = res.output
    assert "org.example.ghost" in out and "not found" in out
    assert "55555" in out and "unknown in every storefront" in out
    assert "not in storefront 'fr'" in out
    rows = written_rows(env["data"])
    assert {r["app"] for r in rows} == {"calm-mind"} and len(rows) == 45 + 60


def test_cli_bad_inputs_exit_2_with_one_line(env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apps:\n  - slug: Calm App\n    name: Calm\n")
    runner = CliRunner()
    res = runner.invoke(cli_app, ["collect", "--catalog", str(bad), "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2 and "slug" in res.output and len(res.output.strip().splitlines()) == 1
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    res = runner.invoke(cli_app, ["collect", "--catalog", str(env["catalog"]), "--data-dir", str(blocker / "d")])
    assert res.exit_code == 2 and "cannot write" in res.output
    res = runner.invoke(cli_app, ["collect", "--catalog", str(env["catalog"]), "--data-dir",
                                  str(tmp_path / "d"), "--stores", "play"])
    assert res.exit_code == 2 and "unknown store 'play'" in res.output
    res = runner.invoke(cli_app, ["collect", "--catalog", str(env["catalog"]), "--data-dir",
                                  str(tmp_path / "d"), "--apps", "nope"])
    assert res.exit_code == 2 and "'nope' is not in the catalog" in res.output


def test_tls_verification_stays_on_in_the_process():
    import reviewmine.collect  # noqa: F401

    assert ssl._create_default_https_context is ssl.create_default_context
    assert "google_play_scraper" not in sys.modules
    client = StoreClient("google_play", "https://play.google.com", settings=HttpSettings(), raw=None, rate=0)
    ctx = client.client._transport._pool._ssl_context
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    client.close()


def test_state_db_uses_wal(env):
    st = CollectState(env["data"] / "state" / "collect.sqlite")
    st.close()
    conn = sqlite3.connect(env["data"] / "state" / "collect.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

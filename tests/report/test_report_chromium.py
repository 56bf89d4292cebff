"""The HTML report rendered in headless Chromium: loads offline, no console errors, sections shown."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); .ci/run installs it"
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
]  # fmt: skip


def _dump_dom(page, profile) -> tuple[str, str]:
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def test_console_errors_are_caught_by_this_harness(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>null.x();</script></body></html>")
    _, log = _dump_dom(page, tmp_path / "profile")
    assert "Uncaught" in log


def test_report_renders_without_console_errors_and_shows_every_section(report_dir, tmp_path):
    dom, log = _dump_dom(report_dir / "report.html", tmp_path / "profile")
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == []
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-ready="1"' in body and "data-js-error" not in body
    for section in ("summary", "profile", "across-apps", "trends", "ratings", "topics", "quotes", "methods"):
        assert re.search(rf'<section id="{section}"', dom), section
    # The script built the app profile (one barrier and one facilitator bar per factor row),
    # the app selector and the quote list.
    assert dom.count('class="bar barrier"') >= 5 and dom.count('class="bar facilitator"') >= 5
    assert len(re.findall(r'<option value="[^"]+">', dom)) > 5
    assert dom.count("<blockquote") >= 5

"""The HTML report rendered in headless Chromium: loads offline, no console errors, sections shown."""

from __future__ import annotations

import re

from tests.chromium import dump_dom


def _dump_dom(page, profile) -> tuple[str, str]:
    return dump_dom(page.as_uri(), profile)


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

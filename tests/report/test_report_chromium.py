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


PROBE = """<script>
window.addEventListener("load", function () {
  var table = document.getElementById("table-net-by-factor");
  var wrap = table.parentNode;
  var search = wrap.previousElementSibling;
  var rows = function () { return Array.prototype.slice.call(table.tBodies[0].rows); };
  var visible = function () { return rows().filter(function (r) { return !r.hidden; }); };
  var result = {maxHeight: getComputedStyle(wrap).maxHeight, all: rows().length, shownBefore: visible().length,
                searchBox: search.classList.contains("table-search")};
  search.value = "cost";
  search.dispatchEvent(new Event("input"));
  result.shownAfterSearch = visible().length;
  result.searchHits = visible().every(function (r) { return r.textContent.toLowerCase().indexOf("cost") >= 0; });
  search.value = "";
  search.dispatchEvent(new Event("input"));
  var header = table.tHead.rows[0].cells[3];  // reviews (numeric)
  header.click();
  result.ascending = rows().map(function (r) { return parseFloat(r.cells[3].textContent.replace(/,/g, "")); });
  header.click();
  result.descending = rows().map(function (r) { return parseFloat(r.cells[3].textContent.replace(/,/g, "")); });
  result.sortMark = header.getAttribute("aria-sort");
  document.body.setAttribute("data-probe", JSON.stringify(result));
});
</script></body>"""


def test_tables_show_every_row_and_can_be_searched_and_sorted(report_dir, tmp_path):
    import html
    import json

    page = tmp_path / "report.html"
    page.write_text((report_dir / "report.html").read_text(encoding="utf-8").replace("</body>", PROBE))
    dom, _ = _dump_dom(page, tmp_path / "profile")
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert probe["maxHeight"] == "none" and probe["searchBox"]
    assert probe["shownBefore"] == probe["all"] > 5  # no scroll box hiding rows
    assert 0 < probe["shownAfterSearch"] < probe["all"] and probe["searchHits"]
    assert probe["ascending"] == sorted(probe["ascending"])
    assert probe["descending"] == sorted(probe["descending"], reverse=True)
    assert probe["sortMark"] == "descending"

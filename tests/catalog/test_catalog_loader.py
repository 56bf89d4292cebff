"""The shipped catalog and the validation of users' catalog files."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from reviewmine.catalog import filter_apps, load_catalog
from reviewmine.cli import app as cli_app
from reviewmine.errors import CatalogError

CATEGORIES = {"meditation", "cbt", "chatbot", "therapy_platform", "mood_tracking", "peer_support"}


def test_shipped_catalog_covers_the_categories_with_both_ids():
    cat = load_catalog()
    assert len(cat) >= 30
    both = [a for a in cat if a.google_play and a.app_store]
    assert len(both) >= 30
    tags = {t for a in cat for t in a.tags}
    assert CATEGORIES <= tags
    assert cat.get("calm").google_play == "com.calm.android" and cat.get("calm").app_store == "571800810"


def test_shipped_catalog_carries_status_and_never_invents_missing_ids():
    cat = load_catalog()
    assert cat.get("woebot").status == "retired"
    assert cat.get("sanvello").status == "removed"
    assert cat.get("youper").status == "shutdown_announced"
    for a in cat:
        if a.google_play is None:
            assert "no verified Google Play id" in a.notes, a.slug
        if a.app_store is None:
            assert "no verified App Store id" in a.notes, a.slug
    # an id seen only in a weak source is left empty, not guessed
    assert cat.get("breethe").google_play is None and "com.breethe.android" in cat.get("breethe").notes


def test_filter_by_tag_search_and_store():
    cat = load_catalog()
    assert {a.slug for a in filter_apps(cat, tag="peer_support")} >= {"7-cups", "talklife"}
    assert [a.slug for a in filter_apps(cat, search="wysa")] == ["wysa"]
    ios_only = {a.slug for a in filter_apps(cat, store="app_store")} - {
        a.slug for a in filter_apps(cat, store="google_play")
    }
    assert "oak" in ios_only
    with pytest.raises(CatalogError, match="unknown store"):
        filter_apps(cat, store="play")


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        ("apps: [", "not valid YAML at line"),
        ("- slug: a", "top-level `apps:` list"),
        ("apps: []", "empty `apps:` list"),
        ("apps:\n  - just-a-string", "entry 1 is not a mapping"),
        ("apps:\n  - {name: X}", "`slug` must be lowercase"),
        ("apps:\n  - {slug: x}", "`name` is missing"),
        ("apps:\n  - {slug: x, name: X, app_store: abc}", "numeric App Store id"),
        ("apps:\n  - {slug: x, name: X, google_play: 'not a package'}", "package name"),
        ("apps:\n  - {slug: x, name: X, countries: [uk]}", "use 'gb'"),
        ("apps:\n  - {slug: x, name: X, countries: [usa]}", "two-letter code"),
        ("apps:\n  - {slug: x, name: X, countries: us}", "`countries` must be a list"),
        ("apps:\n  - {slug: x, name: X, status: dead}", "`status` must be one of"),
        ("apps:\n  - {slug: x, name: X, googleplay: a.b}", "unknown key 'googleplay'"),
        ("apps:\n  - {slug: x, name: X}\n  - {slug: x, name: Y}", "appears twice"),
    ],
)
def test_malformed_catalogs_give_one_clear_line(tmp_path, text, message):
    with pytest.raises(CatalogError, match=message) as exc:
        load_catalog(write(tmp_path, text))
    assert "\n" not in str(exc.value)


def test_user_catalog_defaults_and_normalises(tmp_path):
    cat = load_catalog(write(tmp_path, "apps:\n  - {slug: mine, name: Mine, app_store: 12345, countries: [US, gb]}"))
    (a,) = cat.apps
    assert a.app_store == "12345" and a.countries == ("us", "gb") and a.languages == ("en",)
    assert a.google_play is None and a.status == "active"


def test_cli_apps_lists_and_filters():
    runner = CliRunner()
    res = runner.invoke(cli_app, ["apps", "--tag", "chatbot"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "wysa" in res.output and "bot.touchkin" in res.output and "calm " not in res.output
    res = runner.invoke(cli_app, ["apps", "--search", "headspace", "--store", "google_play"], env={"COLUMNS": "200"})
    assert "com.getsomeheadspace.android" in res.output and "headspace-care" not in res.output


def test_cli_apps_with_a_broken_catalog_exits_2(tmp_path):
    res = CliRunner().invoke(cli_app, ["apps", "--catalog", str(write(tmp_path, "apps: 3"))])
    assert res.exit_code == 2 and "top-level `apps:` list" in res.output

"""App Store: reviews from the public customer-reviews RSS feed, metadata from the Lookup API.

The feed serves at most 10 pages of 50 reviews per storefront, newest first. Quirks handled:
a single review sent as an object, no ``entry`` key, unknown apps (no ``self`` link), Apple's
403 throttling (retried), and falsely empty JSON pages (the XML twin is read before believing
an empty page). Page 11 is never requested.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from reviewmine.collect.errors import AppNotInStorefrontError, MalformedResponseError
from reviewmine.collect.http import RateLimiter, StoreClient
from reviewmine.schema import Review

MAX_PAGE = 10
PAGE_SIZE = 50
SOURCE = "app_store_rss"
LOOKUP_PATH = "/lookup"
_ATOM = "{http://www.w3.org/2005/Atom}"
_IM = "{http://itunes.apple.com/rss}"


def feed_path(country: str, app_id: str, page: int, fmt: str = "json") -> str:
    """The store's own path of one feed page; refuses pages outside 1..10."""
    if not 1 <= page <= MAX_PAGE:
        raise ValueError(f"the App Store feed only has pages 1..{MAX_PAGE}, not {page}")
    return f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/{fmt}"


@dataclass(frozen=True)
class RssPage:
    reviews: list[Review]
    page: int
    is_last: bool


def _label(obj, *keys):
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    if isinstance(obj, dict):
        obj = obj.get("label")
    return obj if isinstance(obj, str) else None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt.astimezone(UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_feed_json(text: str) -> tuple[list[dict], bool]:
    """Review entries (``im:rating`` present) and whether the feed has a ``self`` link."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise MalformedResponseError("app_store: feed body is not complete JSON") from None
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, dict):
        raise MalformedResponseError("app_store: feed body has no `feed` object")
    links = feed.get("link") or []
    if isinstance(links, dict):
        links = [links]
    has_self = any(
        isinstance(li, dict) and (li.get("attributes") or {}).get("rel") == "self" for li in links
    )
    entries = feed.get("entry")
    if entries is None:
        entries = []
    elif isinstance(entries, dict):
        entries = [entries]
    # Old feeds put an app-info entry first; keep only entries that carry a rating.
    return [e for e in entries if isinstance(e, dict) and "im:rating" in e], has_self


def _entry_to_review(e: dict, *, app: str, country: str, run_id: str, fetched_at: datetime) -> Review:
    rid = _label(e, "id")
    if not rid:
        raise MalformedResponseError("app_store: review entry without an id")
    return Review(
        store="app_store",
        app=app,
        review_id=rid,
        rating=_int(_label(e, "im:rating")),
        text=_label(e, "content") or "",
        at=_time(_label(e, "updated")),
        title=_label(e, "title"),
        app_version=_label(e, "im:version"),
        language=None,
        country=country,
        thumbs_up=_int(_label(e, "im:voteSum")),
        reviewer_name=_label(e, "author", "name"),
        source=SOURCE,
        run_id=run_id,
        fetched_at=fetched_at,
    )


def parse_feed_xml(text: str) -> list[dict]:
    """Entries of the Atom twin, in the JSON feed's shape, so both go through one converter."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise MalformedResponseError("app_store: XML feed is not well-formed") from None
    out = []
    for e in root.iter(f"{_ATOM}entry"):
        rating = e.findtext(f"{_IM}rating")
        if rating is None:
            continue
        content = next(
            (c.text for c in e.findall(f"{_ATOM}content") if c.get("type") == "text"), None
        )
        out.append(
            {
                "id": {"label": e.findtext(f"{_ATOM}id")},
                "updated": {"label": e.findtext(f"{_ATOM}updated")},
                "title": {"label": e.findtext(f"{_ATOM}title")},
                "content": {"label": content or ""},
                "im:rating": {"label": rating},
                "im:version": {"label": e.findtext(f"{_IM}version")},
                "im:voteSum": {"label": e.findtext(f"{_IM}voteSum")},
                "author": {"name": {"label": e.findtext(f"{_ATOM}author/{_ATOM}name")}},
            }
        )
    return out


def fetch_feed_page(
    client: StoreClient,
    *,
    app: str,
    app_id: str,
    country: str,
    page: int,
    run_id: str,
    empty_retries: int = 2,
) -> RssPage:
    """One feed page as reviews. An empty JSON page is checked against the XML twin, and an
    empty first page is re-asked ``empty_retries`` times before it is believed."""
    attempts = 0
    while True:
        resp = client.request("GET", feed_path(country, app_id, page), app=app, check=_check_json)
        entries, has_self = parse_feed_json(resp.text)
        if not has_self:
            raise AppNotInStorefrontError(
                f"app_store: app {app_id} is not in the {country!r} storefront (feed has no self link)"
            )
        if not entries:
            xml = client.request("GET", feed_path(country, app_id, page, "xml"), app=app)
            entries = parse_feed_xml(xml.text)
        if entries or page > 1 or attempts >= empty_retries:
            break
        attempts += 1
        client.retries += 1
        client._sleep(client.backoff(attempts, None))
    fetched_at = datetime.now(UTC)
    reviews = [
        _entry_to_review(e, app=app, country=country, run_id=run_id, fetched_at=fetched_at)
        for e in entries
    ]
    return RssPage(reviews=reviews, page=page, is_last=len(entries) < PAGE_SIZE or page >= MAX_PAGE)


def _check_json(resp) -> None:
    parse_feed_json(resp.text)


def fetch_lookup(
    client: StoreClient, *, app: str, app_id: str, country: str, limiter: RateLimiter
) -> dict | None:
    """iTunes Lookup metadata of one app in one storefront; ``None`` if not in that storefront."""
    resp = client.request(
        "GET",
        LOOKUP_PATH,
        app=app,
        params={"id": app_id, "country": country},
        retry_404=True,
        limiter=limiter,
        check=_check_lookup,
    )
    data = resp.json()
    if not data.get("resultCount"):
        return None
    r = data["results"][0]
    return {
        "title": r.get("trackName"),
        "developer": r.get("artistName") or r.get("sellerName"),
        "rating": r.get("averageUserRating"),
        "ratings_count": r.get("userRatingCount"),
        "reviews_count": None,
        "installs": None,
        "min_installs": None,
        "genre": r.get("primaryGenreName"),
        "genre_id": str(r["primaryGenreId"]) if r.get("primaryGenreId") is not None else None,
        "version": r.get("version"),
        "updated": _time(r.get("currentVersionReleaseDate")),
    }


def _check_lookup(resp) -> None:
    try:
        data = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResponseError("app_store: Lookup body is not complete JSON") from None
    if not isinstance(data, dict) or "resultCount" not in data:
        raise MalformedResponseError("app_store: Lookup body has no resultCount")


"""Google Play: reviews through the web RPC ``batchexecute`` (rpc ``oCPfdb``) and the details page.

Field positions follow google-play-scraper 1.2.7 (the table "the positions we read" in
docs/collect.md); our own client keeps TLS verification on, keeps cookies, times out, and
never reads an error as the end of data.
Avatars and the reviewer account id (entry ``[9]``) are never read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from reviewmine.collect.errors import (
    MalformedResponseError,
    NotFoundError,
    PlayDataError,
    PlayGatewayError,
)
from reviewmine.collect.http import StoreClient
from reviewmine.schema import Review

BATCHEXECUTE_PATH = "/_/PlayStoreUi/data/batchexecute"
DETAILS_PATH = "/store/apps/details"
RPC_ID = "oCPfdb"
SORT_NEWEST = 2
SOURCE = "google_play_rpc"
XSSI_PREFIX = ")]}'"
DEFAULT_PAGE_COUNT = 200


@dataclass(frozen=True)
class PlayPage:
    """One page of reviews and the token of the next page (``None`` at the real end)."""

    reviews: list[Review]
    next_token: str | None


def reviews_request_body(app_id: str, count: int, token: str | None = None) -> dict[str, str]:
    """The form body of one ``oCPfdb`` call, newest first; the token is JSON-encoded, not pasted."""
    paging: list = [count] if token is None else [count, None, token]
    inner = [None, [2, SORT_NEWEST, paging, None, [None, None] + [None] * 6 + [None]], [app_id, 7]]
    outer = [[[RPC_ID, json.dumps(inner, separators=(",", ":")), None, "generic"]]]
    return {"f.req": json.dumps(outer, separators=(",", ":"))}


def _rpc_rows(text: str) -> list:
    if "PlayGatewayError" in text:
        raise PlayGatewayError("google_play: PlayGatewayError in a 200 (throttled)")
    if not text.startswith(XSSI_PREFIX):
        raise MalformedResponseError("google_play: response lacks the )]}' prefix (garbage or cut off)")
    try:
        rows = json.loads(text[len(XSSI_PREFIX) :].strip())
    except json.JSONDecodeError:
        raise MalformedResponseError("google_play: response body is not complete JSON") from None
    if not isinstance(rows, list):
        raise MalformedResponseError("google_play: response is not a list of envelope rows")
    return rows


def check_reviews_response(resp: httpx.Response) -> None:
    """Raise the typed error hidden in a 200 (used by the client to decide on a retry)."""
    parse_reviews_payload(resp.text)


def parse_reviews_payload(text: str) -> tuple[list, str | None]:
    """Review entries and next token from a batchexecute body.

    A ``null`` payload with no error is the genuine end (no (more) reviews); an error slot
    (``PlayDataError``) raises, so it is never taken for the end.
    """
    rows = _rpc_rows(text)
    rpc = [r for r in rows if isinstance(r, list) and len(r) > 2 and r[0] == "wrb.fr"]
    if not rpc:
        raise MalformedResponseError("google_play: no wrb.fr row in the response")
    row = rpc[0]
    error_slot = row[5] if len(row) > 5 else None
    if error_slot is not None:
        kind = "PlayDataError" if "PlayDataError" in json.dumps(error_slot) else "RPC error"
        raise PlayDataError(f"google_play: {kind} in a 200 ({json.dumps(error_slot)[:120]})")
    if row[2] is None:
        return [], None
    try:
        payload = json.loads(row[2])
    except (TypeError, json.JSONDecodeError):
        raise MalformedResponseError("google_play: RPC payload is not JSON") from None
    if payload is None:
        return [], None
    if not isinstance(payload, list) or not payload:
        raise MalformedResponseError("google_play: unexpected RPC payload shape")
    entries = payload[0] or []
    token = None
    if len(payload) > 1 and isinstance(payload[1], list) and payload[1]:
        last = payload[1][-1]
        token = last if isinstance(last, str) and last else None
    return entries, token


def _ts(value) -> datetime | None:
    if isinstance(value, list) and value and isinstance(value[0], int | float):
        nanos = value[1] if len(value) > 1 and isinstance(value[1], int) else 0
        return datetime.fromtimestamp(value[0] + nanos / 1e9, tz=UTC)
    return None


def _at(entry: list, i: int):
    return entry[i] if len(entry) > i else None


def parse_review_entry(
    entry: list, *, app: str, language: str, country: str, run_id: str, fetched_at: datetime
) -> Review:
    """One positional review entry as a ``Review`` (no avatar, no account id)."""
    if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
        raise MalformedResponseError("google_play: review entry without a string id")
    user = _at(entry, 1)
    name = user[0] if isinstance(user, list) and user and isinstance(user[0], str) else None
    rating = _at(entry, 2)
    reply = _at(entry, 7)
    reply_text = reply[1] if isinstance(reply, list) and len(reply) > 1 else None
    reply_at = _ts(reply[2]) if isinstance(reply, list) and len(reply) > 2 else None
    thumbs = _at(entry, 6)
    version = _at(entry, 10)
    return Review(
        store="google_play",
        app=app,
        review_id=entry[0],
        rating=rating if isinstance(rating, int) else None,
        text=_at(entry, 4) or "",
        at=_ts(_at(entry, 5)),
        title=None,
        app_version=version if isinstance(version, str) else None,
        language=language,
        country=country,
        thumbs_up=thumbs if isinstance(thumbs, int) else None,
        reviewer_name=name,
        developer_reply=reply_text if isinstance(reply_text, str) else None,
        developer_reply_at=reply_at,
        source=SOURCE,
        run_id=run_id,
        fetched_at=fetched_at,
    )


def fetch_reviews_page(
    client: StoreClient,
    *,
    app: str,
    app_id: str,
    language: str,
    country: str,
    token: str | None,
    run_id: str,
    count: int = DEFAULT_PAGE_COUNT,
) -> PlayPage:
    """Fetch one newest-first page; raises a ``StoreError`` (after retries) on any failure."""
    resp = client.request(
        "POST",
        BATCHEXECUTE_PATH,
        app=app,
        params={"hl": language, "gl": country},
        data=reviews_request_body(app_id, count, token),
        check=check_reviews_response,
    )
    fetched_at = datetime.now(UTC)
    entries, next_token = parse_reviews_payload(resp.text)
    reviews = [
        parse_review_entry(
            e, app=app, language=language, country=country, run_id=run_id, fetched_at=fetched_at
        )
        for e in entries
    ]
    return PlayPage(reviews=reviews, next_token=next_token)


_CALLBACK = re.compile(
    r"AF_initDataCallback\(\{key: 'ds:5', hash: '[^']*', data:([\s\S]*?), sideChannel: \{\}\}\);</script"
)

DETAILS_FIELDS = {
    "title": (1, 2, 0, 0),
    "developer": (1, 2, 68, 0),
    "rating": (1, 2, 51, 0, 1),
    "ratings_count": (1, 2, 51, 2, 1),
    "reviews_count": (1, 2, 51, 3, 1),
    "installs": (1, 2, 13, 0),
    "min_installs": (1, 2, 13, 1),
    "genre": (1, 2, 79, 0, 0, 0),
    "genre_id": (1, 2, 79, 0, 0, 2),
    "version": (1, 2, 140, 0, 0, 0),
    "updated": (1, 2, 145, 0, 1, 0),
}


def _path(data, path: tuple[int, ...]):
    for i in path:
        if not isinstance(data, list) or len(data) <= i:
            return None
        data = data[i]
    return data


def parse_details_html(html: str) -> dict:
    """App metadata from the ``ds:5`` block of a details page; missing fields become ``None``."""
    m = _CALLBACK.search(html)
    if not m:
        raise MalformedResponseError("google_play: details page has no ds:5 data block")
    try:
        data = json.loads(m.group(1))
    except json.JSONDecodeError:
        raise MalformedResponseError("google_play: ds:5 data block is not JSON") from None
    out = {k: _path(data, p) for k, p in DETAILS_FIELDS.items()}
    if isinstance(out["updated"], int | float):
        out["updated"] = datetime.fromtimestamp(out["updated"], tz=UTC)
    else:
        out["updated"] = None
    for k in ("ratings_count", "reviews_count", "min_installs"):
        out[k] = out[k] if isinstance(out[k], int) else None
    out["rating"] = float(out["rating"]) if isinstance(out["rating"], int | float) else None
    for k in ("title", "developer", "installs", "genre", "genre_id", "version"):
        out[k] = out[k] if isinstance(out[k], str) else None
    return out


def fetch_details(client: StoreClient, *, app: str, app_id: str, language: str, country: str) -> dict:
    """Metadata of one app from its details page (retried without ``gl`` on a 404, like Play's web)."""
    try:
        resp = client.request(
            "GET", DETAILS_PATH, app=app, params={"id": app_id, "hl": language, "gl": country}
        )
    except NotFoundError:
        resp = client.request("GET", DETAILS_PATH, app=app, params={"id": app_id, "hl": language})
    return parse_details_html(resp.text)

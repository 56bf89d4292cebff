"""A generated, synthetic review population (no real reviewer data) and the store formats built from it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

_OPENERS = ["This app", "The new update", "Honestly it", "The breathing module", "The sleep stories"]
_MIDDLES = [
    "helps with my anxiety", "keeps crashing when I log in", "reminds me to check in daily",
    "locks everything behind a paywall", "made my evenings calmer", "syncs badly between devices",
    "has a kind chatbot", "asks for a subscription too often",
]
_ENDS = ["and I use it every day.", "so I stopped using it.", "but support answered fast.", "!", "."]
BASE_TIME = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FakeReview:
    review_id: str
    rating: int
    text: str | None
    at: datetime
    title: str
    author: str
    version: str
    thumbs: int
    reply: str | None = None
    reply_at: datetime | None = None


def _text(rng: random.Random) -> str:
    return f"{rng.choice(_OPENERS)} {rng.choice(_MIDDLES)} {rng.choice(_ENDS)}"


class Population:
    """Reviews per Play app (one corpus served for every hl/gl) and per App Store storefront.

    Storefront lists of one app share some reviews (same id), to test cross-storefront dedupe.
    """

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.play: dict[str, list[FakeReview]] = {}
        self.apple: dict[tuple[str, str], list[FakeReview]] = {}
        self._n = 0
        self.clock = BASE_TIME

    def _make(self, store: str, at: datetime) -> FakeReview:
        self._n += 1
        rng = self.rng
        rid = f"{self._n:08x}-1111-2222-3333-{rng.getrandbits(48):012x}" if store == "play" else str(
            14000000000 + self._n
        )
        reply = "Thanks for the feedback, fixed in the next version." if rng.random() < 0.2 else None
        return FakeReview(
            review_id=rid,
            rating=rng.randint(1, 5),
            text=None if rng.random() < 0.03 else _text(rng),
            at=at,
            title=f"Title {self._n}",
            author=f"synthetic_user_{self._n}",
            version=f"3.{rng.randint(0, 9)}.0",
            thumbs=rng.randint(0, 40),
            reply=reply,
            reply_at=at + timedelta(hours=5) if reply else None,
        )

    def add_play(self, app_id: str, n: int) -> list[FakeReview]:
        new = []
        for _ in range(n):
            self.clock += timedelta(minutes=37)
            new.append(self._make("play", self.clock))
        self.play[app_id] = sorted(self.play.get(app_id, []) + new, key=lambda r: r.at, reverse=True)
        return new

    def add_apple(self, app_id: str, countries: list[str], n: int, shared: float = 0.2) -> None:
        for _ in range(n):
            self.clock += timedelta(minutes=41)
            r = self._make("apple", self.clock)
            home = self.rng.choice(countries)
            targets = {home} | ({c for c in countries if self.rng.random() < shared})
            for c in targets:
                key = (app_id, c)
                self.apple[key] = [r] + self.apple.get(key, [])
        for key in self.apple:
            self.apple[key].sort(key=lambda r: r.at, reverse=True)

    def edit_play(self, app_id: str, k: int) -> list[str]:
        """Edit ``k`` reviews: new text and a new time, so they move to the top (like Play)."""
        lst = self.play[app_id]
        ids = []
        for i in self.rng.sample(range(len(lst)), k):
            self.clock += timedelta(minutes=13)
            lst[i] = replace(lst[i], text=f"EDITED: {_text(self.rng)}", at=self.clock)
            ids.append(lst[i].review_id)
        lst.sort(key=lambda r: r.at, reverse=True)
        return ids

    def expected(self) -> set[tuple[str, str, str, str]]:
        """(store, app_id, review_id, content) of every review version the stores expose now."""
        out = set()
        for app_id, lst in self.play.items():
            for r in lst:
                out.add(("google_play", app_id, r.review_id, _content(r, play=True)))
        for (app_id, _c), lst in self.apple.items():
            for r in lst[:500]:
                out.add(("app_store", app_id, r.review_id, _content(r, play=False)))
        return out


def _content(r: FakeReview, *, play: bool) -> str:
    return json.dumps([r.rating, None if play else r.title, r.text or "", r.reply if play else None])


# ---- wire formats ---------------------------------------------------------------------------


def play_entry(r: FakeReview) -> list:
    reply = None
    if r.reply:
        reply = [None, r.reply, [int(r.reply_at.timestamp()), 0]]
    ts = r.at.timestamp()
    return [
        r.review_id,
        [r.author, [None, 2, None, [None, None, f"https://play-lh.example/avatar/{r.review_id}"]]],
        r.rating,
        None,
        r.text,
        [int(ts), int(round((ts - int(ts)) * 1e9))],
        r.thumbs,
        reply,
        None,
        [f"ACCOUNT-{r.review_id}", r.author, None, [[None, 2], True]],
        r.version,
    ]


def play_body(entries: list | None, token: str | None) -> str:
    if entries is None:
        inner = None
    else:
        inner = json.dumps([entries, [None, token] if token else None, [None]])
    rows = [["wrb.fr", "oCPfdb", inner, None, None, None, "generic"], ["di", 52],
            ["af.httprm", 51, "-4242424242424242424", 2]]
    return ")]}'\n\n" + json.dumps(rows)


PLAY_DATA_ERROR = (
    ")]}'\n\n" + json.dumps([["wrb.fr", "oCPfdb", None, None, None, [5, None, [[
        "type.googleapis.com/wireless.android.finsky.boq.web.data.store.error.PlayDataError", [1]]]],
        "generic"], ["di", 45], ["af.httprm", 45, "-6355766929392607683", 2]])
)
PLAY_GATEWAY_ERROR = (
    ")]}'\n\n" + json.dumps([["er", None, None, None, None, 429, None, None, None, 12,
                              "com.google.play.gateway.proto.PlayGatewayError"]])
)


def details_html(title: str, developer: str, updated: datetime) -> str:
    d: list = [None] * 146
    d[0] = [title]
    d[13] = ["1,000,000+", 1000000, 1534211]
    d[51] = [[None, 4.61], [None, 1200, 400, 900, 5100, 40611], [None, 48211], [None, 9120]]
    d[68] = [developer, [[None, None, "https://example.org"]]]
    d[79] = [[["Health & Fitness", None, "HEALTH_AND_FITNESS"]]]
    d[140] = [[["5.2.1"]]]
    d[145] = [[None, [int(updated.timestamp()), 0]]]
    data = [None, [None, None, d]]
    return (
        "<!doctype html><html><head><script nonce=\"n\">AF_initDataCallback({key: 'ds:4', hash: '1', "
        "data:[1], sideChannel: {}});</script><script nonce=\"n\">AF_initDataCallback({key: 'ds:5', "
        f"hash: '7', data:{json.dumps(data)}, sideChannel: {{}}}});</script></head><body></body></html>"
    )


def _feed_links(cc: str, app_id: str, page: int, self_link: bool) -> list:
    links = [{"attributes": {"rel": "alternate", "type": "text/html",
                             "href": f"https://music.apple.com/WebObjects/MZStore.woa/wa/viewGrouping?cc={cc}&id=1"}}]
    if self_link:
        links.append({"attributes": {"rel": "self", "href": (
            f"https://itunes.apple.com/{cc}/rss/customerreviews/id={app_id}/sortBy=mostRecent/page={page}/json")}})
    return links


def rss_entry(r: FakeReview, cc: str) -> dict:
    return {
        "author": {"uri": {"label": f"https://itunes.apple.com/{cc}/reviews/id9{r.review_id}"},
                   "name": {"label": r.author}, "label": ""},
        "updated": {"label": r.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")},
        "im:rating": {"label": str(r.rating)},
        "im:version": {"label": r.version},
        "id": {"label": r.review_id},
        "title": {"label": r.title},
        "content": {"label": r.text or "", "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/{cc}/review?id=1"}},
        "im:voteSum": {"label": str(r.thumbs)},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": {"label": str(r.thumbs + 1)},
    }


def rss_body(cc: str, app_id: str, page: int, entries: list | dict | None, *, self_link: bool = True) -> str:
    feed: dict = {
        "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/itunes/"}},
        "updated": {"label": "2026-09-27T21:29:45-07:00"},
        "rights": {"label": "Copyright 2008 Apple Inc."},
        "title": {"label": "iTunes Store: Customer Reviews"},
        "icon": {"label": "http://itunes.apple.com/favicon.ico"},
        "link": _feed_links(cc, app_id, page, self_link),
        "id": {"label": f"https://itunes.apple.com/{cc}/rss/customerreviews/id={app_id}/sortBy=mostRecent/page={page}/json"},
    }
    if entries is not None:
        feed["entry"] = entries
    return json.dumps({"feed": feed})


def rss_xml(cc: str, app_id: str, reviews: list[FakeReview]) -> str:
    from xml.sax.saxutils import escape

    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<feed xmlns:im="http://itunes.apple.com/rss" xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
             f"<id>https://itunes.apple.com/{cc}/rss/customerreviews/id={app_id}/xml</id>",
             "<title>iTunes Store: Customer Reviews</title>"]
    for r in reviews:
        parts.append(
            "<entry>"
            f"<updated>{r.at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S-00:00')}</updated>"
            f"<id>{r.review_id}</id><title>{escape(r.title)}</title>"
            f'<content type="text">{escape(r.text or "")}</content>'
            f'<content type="html">&lt;p&gt;{escape(r.text or "")}&lt;/p&gt;</content>'
            f"<im:voteSum>{r.thumbs}</im:voteSum><im:voteCount>{r.thumbs + 1}</im:voteCount>"
            f"<im:rating>{r.rating}</im:rating><im:version>{r.version}</im:version>"
            f"<author><name>{escape(r.author)}</name><uri>https://itunes.apple.com/{cc}/reviews/id9</uri></author>"
            "</entry>"
        )
    parts.append("</feed>")
    return "\n".join(parts)


def lookup_body(app_id: str | None, title: str = "Calm Mind") -> str:
    if app_id is None:
        return json.dumps({"resultCount": 0, "results": []})
    return json.dumps({"resultCount": 1, "results": [{
        "wrapperType": "software", "kind": "software", "trackId": int(app_id), "trackName": title,
        "bundleId": "org.example.calmmind", "artistId": 987654321, "artistName": "Calm Co",
        "sellerName": "Calm Co Ltd", "primaryGenreName": "Health & Fitness", "primaryGenreId": 6013,
        "genres": ["Health & Fitness", "Medical"], "averageUserRating": 4.7, "userRatingCount": 52341,
        "version": "4.12.0", "currentVersionReleaseDate": "2026-09-20T07:00:00Z",
        "releaseDate": "2019-03-03T08:00:00Z", "price": 0.0, "currency": "USD",
    }]})

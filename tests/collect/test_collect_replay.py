"""Replay of recorded-shape store responses (tests/fixtures/store, synthetic reviewers) through
the real clients with ``httpx.MockTransport``: every case of the reference's replay plan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reviewmine.collect import app_store, google_play
from reviewmine.collect.errors import (
    AppNotInStorefrontError,
    MalformedResponseError,
    NotFoundError,
    PlayDataError,
    PlayGatewayError,
    ServerError,
    StoreTransportError,
    ThrottledError,
)
from reviewmine.collect.http import HttpSettings, RateLimiter, RawHttpLog, StoreClient, read_raw_log

FIX = Path(__file__).parents[1] / "fixtures" / "store"
SETTINGS = HttpSettings(max_attempts=3, backoff_base=1.0, backoff_max=60.0)


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def client_for(responses, *, store="google_play", throttle=(429,), raw=None):
    """A client whose transport answers from ``responses`` in order; records the sleeps."""
    queue = list(responses)
    sent: list[httpx.Request] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    c = StoreClient(store, "https://store.test", settings=SETTINGS, raw=raw, rate=0,
                    throttle_statuses=throttle, transport=httpx.MockTransport(handler),
                    sleep=sleeps.append)
    return c, sent, sleeps


def ok(body: str, **kw) -> httpx.Response:
    return httpx.Response(200, text=body, **kw)


def play_page(c, token=None):
    return google_play.fetch_reviews_page(c, app="calm-mind", app_id="org.example.calm",
                                          language="en", country="us", token=token, run_id="r1")


# ---- Google Play ---------------------------------------------------------------------------


def test_play_first_page_parses_reviews_reply_null_text_old_id_and_token():
    c, sent, _ = client_for([ok(fixture("play_first_page.txt"))])
    page = play_page(c)
    assert page.next_token == "CpEBCo4BKoUBsynthetictoken"
    ids = [r.review_id for r in page.reviews]
    assert ids[2].startswith("gp:AOqpTO")
    first, null_text = page.reviews[0], page.reviews[1]
    assert first.developer_reply == "Thanks, fixed in 3.2"
    assert first.developer_reply_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert first.at.tzinfo is not None and first.source == "google_play_rpc"
    assert null_text.text == ""
    req = sent[0]
    assert req.url.path == "/_/PlayStoreUi/data/batchexecute"
    assert req.url.params["hl"] == "en" and req.url.params["gl"] == "us"
    assert "oCPfdb" in httpx.QueryParams(req.content.decode())["f.req"]


def test_play_reference_shape_and_no_personal_fields():
    c, _, _ = client_for([ok(fixture("play_reference_minimal.txt"))])
    page = play_page(c)
    (r,) = page.reviews
    assert (r.rating, r.thumbs_up, r.app_version) == (4, 12, "3.1.0")
    assert r.at == datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert "googleusercontent" not in repr(r.as_dict())


def test_play_next_page_sends_token_json_encoded():
    c, sent, _ = client_for([ok(fixture("play_last_page.txt"))])
    page = play_page(c, token='tok"en')
    assert page.next_token is None and len(page.reviews) == 1
    freq = httpx.QueryParams(sent[0].content.decode())["f.req"]
    assert 'tok\\\\\\"en' in freq  # escaped twice: inside the inner and the outer JSON string


def test_play_null_payload_is_the_end_not_an_error():
    c, _, _ = client_for([ok(fixture("play_null_payload.txt"))])
    page = play_page(c)
    assert page.reviews == [] and page.next_token is None


@pytest.mark.parametrize(
    "body, error",
    [
        ("play_data_error.txt", PlayDataError),
        ("play_gateway_error.txt", PlayGatewayError),
        ("play_truncated.txt", MalformedResponseError),
        ("play_garbage.html", MalformedResponseError),
    ],
)
def test_play_error_in_200_is_retried_then_raised_never_end_of_data(body, error):
    c, sent, sleeps = client_for([ok(fixture(body))])
    with pytest.raises(error):
        play_page(c)
    assert len(sent) == SETTINGS.max_attempts and len(sleeps) == SETTINGS.max_attempts - 1


def test_play_error_in_200_then_success_recovers():
    c, sent, _ = client_for([ok(fixture("play_gateway_error.txt")), ok(fixture("play_first_page.txt"))])
    assert len(play_page(c).reviews) == 3 and len(sent) == 2


def test_429_retry_after_is_honoured():
    c, sent, sleeps = client_for([
        httpx.Response(429, headers={"Retry-After": "7"}), ok(fixture("play_first_page.txt"))])
    play_page(c)
    assert sleeps == [7.0] and c.retries == 1


def test_503_and_transport_errors_are_retried_with_capped_backoff():
    c, sent, sleeps = client_for([
        httpx.Response(503), httpx.ConnectError("refused"), ok(fixture("play_first_page.txt"))])
    play_page(c)
    assert len(sent) == 3 and all(0 <= s <= SETTINGS.backoff_base * 2 for s in sleeps)


def test_timeouts_exhaust_attempts_as_a_transport_error():
    c, sent, _ = client_for([httpx.ReadTimeout("slow")])
    with pytest.raises(StoreTransportError, match="gave up after 3 attempts"):
        play_page(c)


def test_persistent_429_raises_throttled():
    c, _, _ = client_for([httpx.Response(429)])
    with pytest.raises(ThrottledError):
        play_page(c)


def test_play_details_page_fields():
    c, _, _ = client_for([ok(fixture("play_details.html"))])
    d = google_play.fetch_details(c, app="calm-mind", app_id="org.example.calm", language="en", country="us")
    assert d["title"] == "Calm Mind" and d["developer"] == "Calm Co"
    assert d["rating"] == pytest.approx(4.61) and d["ratings_count"] == 48211
    assert d["installs"] == "1,000,000+" and d["genre_id"] == "HEALTH_AND_FITNESS"
    assert d["version"] == "5.2.1" and d["updated"] == datetime(2026, 1, 1, tzinfo=UTC)


def test_play_details_404_retries_without_gl_then_raises_not_found():
    c, sent, _ = client_for([httpx.Response(404)])
    with pytest.raises(NotFoundError):
        google_play.fetch_details(c, app="x", app_id="org.example.nope", language="en", country="us")
    assert "gl" in sent[0].url.params and "gl" not in sent[-1].url.params


def test_raw_log_keeps_every_exchange_verbatim(tmp_path):
    raw = RawHttpLog(tmp_path, "run-1")
    c, _, _ = client_for([httpx.Response(503), ok(fixture("play_first_page.txt"))], raw=raw)
    play_page(c)
    records = read_raw_log(raw.path("google_play", "calm-mind"))
    assert [r["status"] for r in records] == [503, 200]
    assert records[1]["body"] == fixture("play_first_page.txt")
    assert records[1]["run_id"] == "run-1" and records[1]["tool_version"]
    assert records[1]["params"] == {"hl": "en", "gl": "us"} and "f.req" in records[1]["request_body"]
    assert records[1]["fetched_at"].endswith("+00:00")


# ---- App Store -----------------------------------------------------------------------------


def apple_client(responses):
    return client_for(responses, store="app_store", throttle=(429, 403))


def feed(c, page=1):
    return app_store.fetch_feed_page(c, app="calm-mind", app_id="1234567890", country="us",
                                     page=page, run_id="r1")


def test_rss_full_page_is_not_last():
    c, sent, _ = apple_client([ok(fixture("rss_full_page.json"))])
    p = feed(c)
    assert len(p.reviews) == 50 and not p.is_last
    assert sent[0].url.path == "/us/rss/customerreviews/page=1/id=1234567890/sortby=mostrecent/json"
    r = p.reviews[0]
    assert r.store == "app_store" and r.title and r.rating in range(1, 6) and r.at.tzinfo is not None
    assert "reviews/id" not in repr(r.as_dict())  # author profile URL is not kept


def test_rss_short_last_page():
    c, _, _ = apple_client([ok(fixture("rss_short_last_page.json"))])
    p = feed(c, page=2)
    assert len(p.reviews) == 10 and p.is_last


def test_rss_single_entry_object():
    c, _, _ = apple_client([ok(fixture("rss_single_entry.json"))])
    assert len(feed(c).reviews) == 1


def test_rss_legacy_app_info_entry_is_skipped_not_the_first_review():
    c, _, _ = apple_client([ok(fixture("rss_legacy_app_info.json"))])
    ids = [r.review_id for r in feed(c).reviews]
    assert ids == ["14597479001", "14597479002", "14597479003"]


def test_rss_no_entry_on_a_later_page_is_the_end_after_checking_xml():
    c, sent, _ = apple_client([ok(fixture("rss_no_entry.json")), ok("<feed xmlns='http://www.w3.org/2005/Atom'/>")])
    p = feed(c, page=3)
    assert p.reviews == [] and p.is_last and sent[1].url.path.endswith("/xml")


def test_rss_false_empty_json_page_is_read_from_xml_twin():
    c, _, _ = apple_client([ok(fixture("rss_false_empty.json")), ok(fixture("rss_false_empty_twin.xml"))])
    p = feed(c)
    assert len(p.reviews) == 12 and p.reviews[0].review_id == "14597479001"


def test_rss_empty_first_page_is_asked_again_before_being_believed():
    empty_xml = ok("<feed xmlns='http://www.w3.org/2005/Atom'/>")
    c, sent, _ = apple_client([ok(fixture("rss_no_entry.json")), empty_xml,
                               ok(fixture("rss_no_entry.json")), empty_xml,
                               ok(fixture("rss_full_page.json"))])
    assert len(feed(c).reviews) == 50 and len(sent) == 5


def test_rss_unknown_app_has_no_self_link():
    c, _, _ = apple_client([ok(fixture("rss_unknown_app.json"))])
    with pytest.raises(AppNotInStorefrontError):
        feed(c)


def test_rss_403_is_throttling_and_retried():
    c, sent, _ = apple_client([httpx.Response(403), ok(fixture("rss_full_page.json"))])
    assert len(feed(c).reviews) == 50 and c.retries == 1


def test_rss_page_11_is_never_requested():
    c, sent, _ = apple_client([ok(fixture("rss_full_page.json"))])
    with pytest.raises(ValueError, match="1..10"):
        feed(c, page=11)
    assert sent == []


def lookup(c):
    return app_store.fetch_lookup(c, app="calm-mind", app_id="1234567890", country="us",
                                  limiter=RateLimiter(0))


def test_lookup_hit_and_not_in_storefront():
    c, _, _ = apple_client([ok(fixture("lookup_hit.json"))])
    info = lookup(c)
    assert info["title"] == "Calm Mind" and info["ratings_count"] == 52341
    assert info["updated"] == datetime(2026, 9, 20, 7, tzinfo=UTC)
    c, _, _ = apple_client([ok(fixture("lookup_empty.json"))])
    assert lookup(c) is None


def test_lookup_sporadic_404_and_403_are_retried():
    c, sent, _ = apple_client([httpx.Response(404), httpx.Response(403), ok(fixture("lookup_hit.json"))])
    assert lookup(c)["title"] == "Calm Mind" and len(sent) == 3


def test_lookup_persistent_503_raises():
    c, _, _ = apple_client([httpx.Response(503)])
    with pytest.raises(ServerError):
        lookup(c)

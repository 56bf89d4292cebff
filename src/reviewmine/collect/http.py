"""The HTTP layer every collector goes through.

One ``StoreClient`` per store: an ``httpx.Client`` with TLS verification on, explicit
connect/read timeouts and a cookie jar kept across pages (Google Play routes page N+1 by its
``NID`` cookie); a per-store rate limit; retries with exponential backoff and full jitter that
honour ``Retry-After``; typed errors; and every exchange appended verbatim to the raw layer
by a :class:`~reviewmine.collect.capture.CaptureTransport` wrapped around the real transport.
Tests swap the transport (``httpx.MockTransport``) or point the base URL at a local fake store.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from httpx._utils import get_environment_proxies  # the proxy rules httpx applies itself

from reviewmine import __version__
from reviewmine.collect.capture import CAPTURE, CaptureTransport, RawHttpLog
from reviewmine.collect.capture import read_raw_log as read_raw_log  # tests read logs from here
from reviewmine.collect.errors import (
    NotFoundError,
    ServerError,
    StoreError,
    StoreTransportError,
    ThrottledError,
)

USER_AGENT = f"reviewmine/{__version__} (research; +https://github.com/reviewmine)"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        from reviewmine.errors import InputError

        raise InputError(f"environment variable {name}={raw!r} is not a number") from None
    return value


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retry policy and rate limits; every value can be set by an environment variable.

    ``rate_*`` are requests per second per store (0 = no limit). Tests set tiny values.
    """

    connect_timeout: float = 5.0  # REVIEWMINE_CONNECT_TIMEOUT
    read_timeout: float = 30.0  # REVIEWMINE_READ_TIMEOUT
    max_attempts: int = 6  # REVIEWMINE_MAX_ATTEMPTS
    backoff_base: float = 5.0  # REVIEWMINE_BACKOFF_BASE (seconds, doubled per attempt)
    backoff_max: float = 300.0  # REVIEWMINE_BACKOFF_MAX (also caps Retry-After)
    rate_google_play: float = 1.0  # REVIEWMINE_RATE_GOOGLE_PLAY
    rate_app_store: float = 1.0  # REVIEWMINE_RATE_APP_STORE (RSS feed)
    rate_lookup: float = 1 / 3  # REVIEWMINE_RATE_LOOKUP (Apple asks for ~20 calls a minute)

    @classmethod
    def from_env(cls) -> HttpSettings:
        d = cls()
        return replace(
            d,
            connect_timeout=_env_float("REVIEWMINE_CONNECT_TIMEOUT", d.connect_timeout),
            read_timeout=_env_float("REVIEWMINE_READ_TIMEOUT", d.read_timeout),
            max_attempts=max(1, int(_env_float("REVIEWMINE_MAX_ATTEMPTS", d.max_attempts))),
            backoff_base=_env_float("REVIEWMINE_BACKOFF_BASE", d.backoff_base),
            backoff_max=_env_float("REVIEWMINE_BACKOFF_MAX", d.backoff_max),
            rate_google_play=_env_float("REVIEWMINE_RATE_GOOGLE_PLAY", d.rate_google_play),
            rate_app_store=_env_float("REVIEWMINE_RATE_APP_STORE", d.rate_app_store),
            rate_lookup=_env_float("REVIEWMINE_RATE_LOOKUP", d.rate_lookup),
        )


class RateLimiter:
    """At most ``rate`` requests per second (0 or less: unlimited), spaced evenly."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._sleep = sleep

    def wait(self) -> None:
        if self.interval <= 0:
            return
        now = time.monotonic()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP-date); ``None`` if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


class StoreClient:
    """Polite, retrying HTTP client for one store, recording every exchange.

    ``check`` (optional) inspects a 200 response and raises a ``StoreError`` for bodies that are
    errors in disguise (Play's error-in-200, a truncated body); retryable ones are retried.
    """

    def __init__(
        self,
        store: str,
        base_url: str,
        *,
        settings: HttpSettings,
        raw: RawHttpLog | None,
        rate: float,
        throttle_statuses: tuple[int, ...] = (429,),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.raw = raw
        self.limiter = RateLimiter(rate, sleep)
        self.throttle_statuses = throttle_statuses
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.requests = 0
        self.retries = 0
        self.client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(
                settings.read_timeout, connect=settings.connect_timeout, pool=settings.connect_timeout
            ),
            headers={"User-Agent": USER_AGENT},
            verify=True,
            follow_redirects=True,
            **_transports(store, raw, transport),
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: Retry-After if given, else full jitter."""
        cap = self.settings.backoff_max
        if retry_after is not None:
            return min(retry_after, cap)
        return self._rng.uniform(0, min(cap, self.settings.backoff_base * 2 ** (attempt - 1)))

    def request(
        self,
        method: str,
        path: str,
        *,
        app: str,
        params: dict | None = None,
        data: dict | None = None,
        check: Callable[[httpx.Response], None] | None = None,
        retry_404: bool = False,
        limiter: RateLimiter | None = None,
    ) -> httpx.Response:
        """Send a request with retries; return the 200 response or raise the last ``StoreError``."""
        last: StoreError | None = None
        for attempt in range(1, self.settings.max_attempts + 1):
            (limiter or self.limiter).wait()
            self.requests += 1
            try:
                resp = self._send_once(method, path, app=app, params=params, data=data, attempt=attempt)
                self._classify(resp, retry_404)
                if check is not None:
                    check(resp)
                return resp
            except StoreError as exc:
                last = exc
                if not exc.retryable or attempt == self.settings.max_attempts:
                    break
                self.retries += 1
                self._sleep(self.backoff(attempt, exc.retry_after))
        assert last is not None
        if last.retryable:
            last.args = (f"{last.args[0]} (gave up after {self.settings.max_attempts} attempts)",)
        raise last

    def _send_once(self, method, path, *, app, params, data, attempt) -> httpx.Response:
        capture = {"app": app, "params": params, "attempt": attempt}
        try:
            return self.client.request(method, path, params=params, data=data,
                                       extensions={CAPTURE: capture})
        except httpx.TimeoutException as exc:
            raise StoreTransportError(f"{self.store}: timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise StoreTransportError(f"{self.store}: transport error {type(exc).__name__}") from None

    def _classify(self, resp: httpx.Response, retry_404: bool) -> None:
        status = resp.status_code
        if status == 200:
            return
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        where = f"{self.store}: HTTP {status} for {resp.request.url.path}"
        if status in self.throttle_statuses:
            raise ThrottledError(f"{where} (throttled)", retry_after=retry_after)
        if status >= 500:
            raise ServerError(where, retry_after=retry_after)
        if status == 404:
            err = NotFoundError(where, retry_after=retry_after)
            err.retryable = retry_404
            raise err
        raise StoreError(where)


def _transports(store: str, raw: RawHttpLog | None,
                transport: httpx.BaseTransport | None) -> dict[str, object]:
    """``httpx.Client`` transport arguments that route every request through raw capture.

    Without a given transport httpx would build its own and honour the proxy variables of
    the environment (``HTTPS_PROXY``, ``NO_PROXY`` ...); a given transport turns that off,
    so the same proxy mounts are built here, each wrapped.
    """
    if raw is None:
        return {"transport": transport}
    if transport is not None:
        return {"transport": CaptureTransport(transport, raw, store)}
    mounts = {
        pattern: None if url is None
        else CaptureTransport(httpx.HTTPTransport(verify=True, proxy=url), raw, store)
        for pattern, url in get_environment_proxies().items()
    }
    return {"transport": CaptureTransport(httpx.HTTPTransport(verify=True), raw, store),
            "mounts": mounts}

"""A fake Google Play + App Store on 127.0.0.1 serving a ``Population``, with injected faults.

Paths are the stores' own. Faults are drawn per request from a seeded RNG, at most
``max_consecutive`` times in a row for the same request, so a client that retries enough
collects everything; a client that takes an error for the end of data loses reviews.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.fakestore.population import (
    PLAY_DATA_ERROR,
    PLAY_GATEWAY_ERROR,
    Population,
    details_html,
    lookup_body,
    play_body,
    play_entry,
    rss_body,
    rss_entry,
    rss_xml,
)

PLAY_FAULTS = ("429", "503", "timeout", "truncated", "cut", "gateway", "dataerror", "garbage")
APPLE_FAULTS = ("429", "403", "503", "timeout", "truncated", "cut", "false_empty")
_RSS = re.compile(r"^/(?P<cc>[a-z]{2})/rss/customerreviews/page=(?P<page>\d+)/id=(?P<id>\d+)/sortby=mostrecent/(?P<fmt>json|xml)$")


class FakeStore:
    """Start with ``with FakeStore(pop) as fs:``; ``fs.url`` is the base URL for both stores."""

    def __init__(
        self,
        population: Population,
        *,
        fault_rate: float = 0.0,
        seed: int = 1,
        max_consecutive: int = 2,
        play_page_size: int = 40,
        timeout_sleep: float = 0.6,
        retry_after: str = "1",
    ) -> None:
        self.pop = population
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.max_consecutive = max_consecutive
        self.play_page_size = play_page_size
        self.timeout_sleep = timeout_sleep
        self.retry_after = retry_after
        self.requests = 0
        self.faults: Counter = Counter()
        self.violations: list[str] = []
        self.on_request: Callable[[int], None] | None = None
        self.forced: dict[str, list[str]] = {}
        self._streak: Counter = Counter()
        self._lock = threading.Lock()
        self.unknown_play: set[str] = set()
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                store._handle(self, b"")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                store._handle(self, self.rfile.read(n))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A client killed or timing out mid-request resets its socket; that is expected here.
        self.httpd.handle_error = lambda request, client_address: None
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeStore:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- fault choice ----------------------------------------------------------------------
    def _fault(self, key: str, kinds: tuple[str, ...]) -> str | None:
        with self._lock:
            if self.forced.get(key):
                return self.forced[key].pop(0)
            if self.fault_rate <= 0 or self._streak[key] >= self.max_consecutive:
                self._streak[key] = 0
                return None
            if self.rng.random() < self.fault_rate:
                self._streak[key] += 1
                kind = self.rng.choice(kinds)
                return kind
            self._streak[key] = 0
            return None

    # ---- responses -------------------------------------------------------------------------
    def _send(self, h, status: int, body: str, ctype: str = "application/json", headers=None, fault=None):
        data = body.encode("utf-8")
        try:
            if fault == "timeout":
                time.sleep(self.timeout_sleep)
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            if fault == "truncated":
                data = data[: len(data) // 2]
            h.send_header("Content-Length", str(len(data)))
            if fault == "cut":
                h.send_header("Connection", "close")
            h.end_headers()
            if fault == "cut":
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _fault_response(self, h, kind: str) -> bool:
        """Send a status-level fault; return True if the response is done."""
        self.faults[kind] += 1
        if kind == "429":
            self._send(h, 429, "", headers={"Retry-After": self.retry_after})
        elif kind == "503":
            self._send(h, 503, "<html>Service Unavailable</html>", "text/html")
        elif kind == "403":
            self._send(h, 403, "")
        elif kind == "404":
            self._send(h, 404, "")
        elif kind == "gateway":
            self._send(h, 200, PLAY_GATEWAY_ERROR)
        elif kind == "dataerror":
            self._send(h, 200, PLAY_DATA_ERROR)
        elif kind == "garbage":
            self._send(h, 200, "<html><body>Sorry, something went wrong</body></html>", "text/html")
        else:
            return False
        return True

    def _handle(self, h, body: bytes) -> None:
        with self._lock:
            self.requests += 1
            n = self.requests
        if self.on_request is not None:
            self.on_request(n)
        url = urlsplit(h.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if h.command == "POST" and url.path == "/_/PlayStoreUi/data/batchexecute":
            return self._play_reviews(h, q, body)
        if url.path == "/store/apps/details":
            return self._play_details(h, q)
        if url.path == "/lookup":
            return self._lookup(h, q)
        m = _RSS.match(url.path)
        if m:
            return self._rss(h, m.group("cc"), int(m.group("page")), m.group("id"), m.group("fmt"))
        if "customerreviews" in url.path:
            self.violations.append(url.path)
        self._send(h, 404, "not found", "text/plain")

    def _play_reviews(self, h, q, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8"))
        outer = json.loads(form["f.req"][0])
        inner = json.loads(outer[0][0][1])
        app_id, paging = inner[2][0], inner[1][2]
        token = paging[2] if len(paging) > 2 else None
        if inner[1][1] != 2:
            self.violations.append(f"sort {inner[1][1]} is not NEWEST")
        key = f"play|{q.get('hl')}|{q.get('gl')}|{app_id}|{token}"
        fault = self._fault(key, PLAY_FAULTS)
        if fault and self._fault_response(h, fault):
            return
        if fault:
            self.faults[fault] += 1
        headers = {}
        if token is None:
            headers["Set-Cookie"] = "NID=511=fake-routing-cookie; Path=/; HttpOnly"
        elif "NID=" not in (h.headers.get("Cookie") or ""):
            # Google routes page N+1 by the NID cookie; without it pagination breaks.
            self.violations.append("token page without NID cookie")
            return self._send(h, 400, "missing routing cookie", "text/plain")
        reviews = self.pop.play.get(app_id)
        if reviews is None or app_id in self.unknown_play:
            return self._send(h, 200, play_body(None, None), headers=headers, fault=fault)
        offset = 0
        if token:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().split("|")[1])
        chunk = reviews[offset : offset + self.play_page_size]
        nxt_off = offset + len(chunk)
        nxt = base64.urlsafe_b64encode(f"{app_id}|{nxt_off}".encode()).decode() if nxt_off < len(reviews) else None
        self._send(h, 200, play_body([play_entry(r) for r in chunk], nxt), headers=headers, fault=fault)

    def _play_details(self, h, q) -> None:
        app_id = q.get("id", "")
        fault = self._fault(f"details|{app_id}", ("429", "503"))
        if fault and self._fault_response(h, fault):
            return
        if app_id not in self.pop.play or app_id in self.unknown_play:
            return self._send(h, 404, "<html>Not Found</html>", "text/html")
        self._send(h, 200, details_html(f"App {app_id}", "Example Health Ltd", self.pop.clock), "text/html")

    def _lookup(self, h, q) -> None:
        app_id, cc = q.get("id", ""), q.get("country", "us")
        fault = self._fault(f"lookup|{app_id}|{cc}", ("403", "404", "503"))
        if fault and self._fault_response(h, fault):
            return
        known = (app_id, cc) in self.pop.apple
        self._send(h, 200, lookup_body(app_id if known else None))

    def _rss(self, h, cc: str, page: int, app_id: str, fmt: str) -> None:
        if not 1 <= page <= 10:
            self.violations.append(f"page {page} requested")
            return self._send(h, 400, "", "text/plain")
        key = f"rss|{cc}|{app_id}|{page}|{fmt}"
        fault = self._fault(key, APPLE_FAULTS if fmt == "json" else ("403", "503"))
        if fault and self._fault_response(h, fault):
            return
        if fault:
            self.faults[fault] += 1
        reviews = self.pop.apple.get((app_id, cc))
        if reviews is None:
            return self._send(h, 200, rss_body(cc, app_id, page, None, self_link=False), fault=fault)
        chunk = reviews[:500][(page - 1) * 50 : page * 50]
        if fmt == "xml":
            return self._send(h, 200, rss_xml(cc, app_id, chunk), "application/xml", fault=fault)
        if fault == "false_empty":
            return self._send(h, 200, rss_body(cc, app_id, page, None))
        entries = [rss_entry(r, cc) for r in chunk]
        payload = entries[0] if len(entries) == 1 else (entries or None)
        self._send(h, 200, rss_body(cc, app_id, page, payload), fault=fault)

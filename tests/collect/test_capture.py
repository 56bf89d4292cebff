"""The raw-capture transport: every exchange written verbatim, errors included, and the
caller's response unchanged."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from reviewmine.collect.capture import CAPTURE, CaptureTransport, RawHttpLog, read_raw_log
from reviewmine.collect.http import HttpSettings, StoreClient


def capturing(tmp_path, handler):
    log = RawHttpLog(tmp_path / "http", "run-1")
    transport = CaptureTransport(httpx.MockTransport(handler), log, "app_store")
    return httpx.Client(base_url="https://store.test", transport=transport), log


def records(log: RawHttpLog, app: str = "calm") -> list[dict]:
    path = log.path("app_store", app)
    return read_raw_log(path) if path.exists() else []


def test_a_tagged_exchange_is_recorded_verbatim(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text='{"ok": "é"}', headers={"Retry-After": "3", "X-Other": "no"})

    client, log = capturing(tmp_path, handler)
    tag = {"app": "calm", "params": {"id": "1"}, "attempt": 2}
    resp = client.post("/lookup", params={"id": "1"}, data={"q": "a b"}, extensions={CAPTURE: tag})

    assert resp.json() == {"ok": "é"}
    [rec] = records(log)
    assert rec["run_id"] == "run-1" and rec["store"] == "app_store" and rec["app"] == "calm"
    assert rec["method"] == "POST" and rec["url"] == "https://store.test/lookup?id=1"
    assert rec["params"] == {"id": "1"} and rec["request_body"] == "q=a+b" and rec["attempt"] == 2
    assert rec["status"] == 200 and rec["body"] == '{"ok": "é"}'
    assert rec["headers"] == {"content-type": "text/plain; charset=utf-8", "content-length": "12",
                              "retry-after": "3"}
    assert rec["elapsed_s"] >= 0


def test_a_gzip_body_is_recorded_decoded_and_still_readable(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=gzip.compress(b"page"), headers={"Content-Encoding": "gzip"})

    client, log = capturing(tmp_path, handler)
    resp = client.get("/feed", extensions={CAPTURE: {"app": "calm", "attempt": 1}})

    assert resp.text == "page"
    assert [r["body"] for r in records(log)] == ["page"]
    assert records(log)[0]["request_body"] is None


def test_an_untagged_request_is_not_recorded(tmp_path):
    client, log = capturing(tmp_path, lambda request: httpx.Response(200, text="x"))
    assert client.get("/x").text == "x"
    assert not (tmp_path / "http").exists()


@pytest.mark.parametrize(
    ("error", "recorded"),
    [(httpx.ReadTimeout("slow"), "timeout: ReadTimeout"),
     (httpx.ConnectError("refused"), "ConnectError: refused")],
)
def test_a_transport_error_is_recorded_and_raised(tmp_path, error, recorded):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    client, log = capturing(tmp_path, handler)
    with pytest.raises(type(error)):
        client.get("/x", extensions={CAPTURE: {"app": "calm", "attempt": 1}})
    [rec] = records(log)
    assert rec["status"] is None and rec["error"] == recorded and "body" not in rec


def test_store_client_records_every_attempt(tmp_path):
    answers = iter([httpx.Response(503, text="busy"), httpx.Response(200, text="ok")])
    log = RawHttpLog(tmp_path / "http", "run-1")
    client = StoreClient("app_store", "https://store.test", settings=HttpSettings(max_attempts=2),
                         raw=log, rate=0, transport=httpx.MockTransport(lambda r: next(answers)),
                         sleep=lambda s: None)
    with client:
        assert client.request("GET", "/feed", app="calm", params={"cc": "us"}).text == "ok"
    assert [(r["attempt"], r["status"], r["body"], r["params"]) for r in records(log)] == [
        (1, 503, "busy", {"cc": "us"}), (2, 200, "ok", {"cc": "us"}),
    ]


class _Proxy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = f"proxied {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_capture_keeps_the_proxy_of_the_environment(tmp_path, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
    log = RawHttpLog(tmp_path / "http", "run-1")
    try:
        with StoreClient("app_store", "http://store.invalid", settings=HttpSettings(max_attempts=1),
                         raw=log, rate=0) as client:
            resp = client.request("GET", "/feed", app="calm")
    finally:
        server.shutdown()
    assert resp.text == "proxied http://store.invalid/feed"
    assert [r["body"] for r in records(log)] == ["proxied http://store.invalid/feed"]

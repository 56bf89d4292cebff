"""Raw capture: every HTTP exchange with a store, written verbatim to the raw layer.

:class:`CaptureTransport` is an ``httpx.BaseTransport`` that wraps the real transport, the
way httpx layers its own transports: it passes each request on, reads the response and
appends one record per exchange (or per transport error) to a :class:`RawHttpLog`. The
caller tags a request with :data:`CAPTURE` in its extensions (app, query parameters,
attempt number); untagged requests pass through unrecorded.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import httpx

from reviewmine import __version__

CAPTURE = "reviewmine.capture"  # request extension: {"app": ..., "params": ..., "attempt": ...}
KEPT_HEADERS = ("content-type", "content-length", "retry-after", "date")


class RawHttpLog:
    """Appends every HTTP exchange, verbatim, to ``<root>/<store>__<app>.jsonl.gz``.

    Each record is its own gzip member, written and flushed at once, so a killed process leaves
    at most one incomplete trailing record (``read_raw_log`` skips it).
    """

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.run_id = run_id

    def path(self, store: str, app: str) -> Path:
        return self.root / f"{store}__{app}.jsonl.gz"

    def append(self, store: str, app: str, record: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"run_id": self.run_id, "tool_version": __version__, "store": store, "app": app}
            | record,
            ensure_ascii=False,
        )
        with open(self.path(store, app), "ab") as fh:
            fh.write(gzip.compress(line.encode("utf-8") + b"\n"))
            fh.flush()


def read_raw_log(path: Path) -> list[dict]:
    """The records of one raw HTTP log file (a cut-off last record is skipped)."""
    records: list[dict] = []
    data = path.read_bytes()
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (EOFError, gzip.BadGzipFile, OSError):
        text = _decompress_members(data)
    for line in text.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def _decompress_members(data: bytes) -> str:
    out: list[bytes] = []
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(d.decompress(data))
        except zlib.error:
            break
        if not d.eof:
            break
        data = d.unused_data
    return b"".join(out).decode("utf-8", errors="replace")


class CaptureTransport(httpx.BaseTransport):
    """Sends requests through ``transport`` and records each tagged exchange in ``log``.

    The response body is read here, so the record holds it exactly as the store sent it
    (decoded from gzip, as text); the caller gets the same, already-read response.
    """

    def __init__(self, transport: httpx.BaseTransport, log: RawHttpLog, store: str) -> None:
        self.transport = transport
        self.log = log
        self.store = store

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        tag = request.extensions.get(CAPTURE)
        if tag is None:
            return self.transport.handle_request(request)
        started = datetime.now(UTC)
        t0 = time.monotonic()
        record = {
            "method": request.method,
            "url": str(request.url),
            "params": tag.get("params"),
            "request_body": request.content.decode("utf-8") or None,
            "attempt": tag.get("attempt"),
            "fetched_at": started.isoformat(),
        }
        try:
            response = self._exchange(request)
        except httpx.TimeoutException as exc:
            self._write(tag, record | {"status": None, "error": f"timeout: {type(exc).__name__}"}, t0)
            raise
        except httpx.HTTPError as exc:
            self._write(tag, record | {"status": None, "error": f"{type(exc).__name__}: {exc}"}, t0)
            raise
        headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
        self._write(tag, record | {"status": response.status_code, "headers": headers,
                                   "body": response.text}, t0)
        return response

    def close(self) -> None:
        self.transport.close()

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """The response of the wrapped transport, body read."""
        response = self.transport.handle_request(request)
        try:
            response.read()
        except BaseException:
            response.close()  # a body cut off: give the connection back
            raise
        return response

    def _write(self, tag: dict, record: dict, t0: float) -> None:
        record["elapsed_s"] = round(time.monotonic() - t0, 4)
        self.log.append(self.store, tag["app"], record)

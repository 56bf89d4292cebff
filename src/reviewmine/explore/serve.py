"""Serve the explorer database with Datasette: read-only, on localhost unless told otherwise."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable
from pathlib import Path

from reviewmine.errors import InputError

PLUGINS_DIR = Path(__file__).resolve().parent / "plugins"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SETTINGS = {
    "allow_download": False,  # the data stays where it is; --build-only is for taking it elsewhere
    "default_page_size": 50,
    "sql_time_limit_ms": 5000,
    "facet_time_limit_ms": 1000,
    "truncate_cells_html": 0,  # whole reviews, so the highlighted evidence is never cut off
}


def check_port(host: str, port: int) -> None:
    """One error line if ``host:port`` cannot be listened on (in use, or not an address here)."""
    if not 1 <= port <= 65535:
        raise InputError(f"--port {port}: not a port number; use 1-65535")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"--port {port}: already in use on {host}; choose another, e.g. --port {port + 1}") from None
        reason = exc.strerror or str(exc)
        raise InputError(f"--host {host} --port {port}: cannot listen there ({reason}); use --host 127.0.0.1") from None


def serve(db: Path, metadata: Path, host: str = "127.0.0.1", port: int = 8001,
          on_message: Callable[[str], None] | None = None) -> None:
    """Serve ``db`` with Datasette in this process until stopped (Ctrl-C or SIGTERM).

    The database is opened immutable (read-only, no writes through any URL), with the
    metadata file's facets, descriptions and canned queries and the evidence highlighter.
    """
    from reviewmine.explore.build import require_extra

    say = on_message or (lambda _: None)
    require_extra("datasette")
    import asyncio

    import uvicorn
    from datasette.app import Datasette

    check_port(host, port)
    if host not in LOCAL_HOSTS:
        say(f"warning: --host {host} makes the review data reachable from the network; "
            "use --host 127.0.0.1 to keep it on this machine")
    datasette = Datasette(
        immutables=[str(db)], metadata=json.loads(metadata.read_text(encoding="utf-8")),
        plugins_dir=str(PLUGINS_DIR), settings=SETTINGS,
    )
    asyncio.run(datasette.invoke_startup())
    shown = f"[{host}]" if ":" in host else host
    say(f"serving {db} read-only at http://{shown}:{port}/reviews (Ctrl-C to stop)")
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning", lifespan="on")

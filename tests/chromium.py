"""Headless Chromium for page tests: where it is, how it is started, and what a missing one means.

On a developer's machine without Chromium the page tests are skipped with a hint; in CI
(``CI`` set, as `.ci/run` runs) a missing Chromium fails them, so a page test can never pass
by not running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
]  # fmt: skip


def require_chromium() -> str:
    """The Chromium executable; skip (developer machine) or fail (CI) when there is none."""
    if CHROMIUM:
        return CHROMIUM
    message = "chromium is not installed (Debian: apt-get install chromium); .ci/run installs it"
    if os.environ.get("CI"):
        pytest.fail(f"CI run without a browser: {message}", pytrace=False)
    pytest.skip(message)


def run_chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    """Load ``url`` headless (``extra``: e.g. ``--dump-dom`` or ``--screenshot=FILE``)."""
    result = subprocess.run(
        [require_chromium(), *FLAGS, *extra, f"--user-data-dir={profile}", url],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def dump_dom(url: str, profile: Path, *extra: str) -> tuple[str, str]:
    """The DOM after scripts ran, and Chromium's log (console messages appear as ``:CONSOLE``)."""
    result = run_chromium(url, profile, *extra, "--dump-dom")
    return result.stdout, result.stderr

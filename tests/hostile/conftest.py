"""Shared by the hostile-input tests: every test gets a private pseudonymisation key."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private pseudonymisation key per test, outside its data directory."""
    path = tmp_path / "secrets" / "pseudonym.key"
    monkeypatch.setenv("REVIEWMINE_KEY_FILE", str(path))
    return path

"""Paths, base URLs and defaults, read from the environment where a user may override them."""

from __future__ import annotations

import os
from pathlib import Path

GOOGLE_PLAY_URL_ENV = "REVIEWMINE_GOOGLE_PLAY_URL"
ITUNES_URL_ENV = "REVIEWMINE_ITUNES_URL"
DEFAULT_GOOGLE_PLAY_URL = "https://play.google.com"
DEFAULT_ITUNES_URL = "https://itunes.apple.com"
DATA_DIR_ENV = "REVIEWMINE_DATA_DIR"
MODELS_DIR = Path(__file__).resolve().parent / "analyze" / "models"
"""The shipped models (coder, sentiment) and the figures measured on them."""


def google_play_url() -> str:
    """Base URL of Google Play (a mirror, proxy or local fake store in tests)."""
    return os.environ.get(GOOGLE_PLAY_URL_ENV, DEFAULT_GOOGLE_PLAY_URL).rstrip("/")


def itunes_url() -> str:
    """Base URL of the iTunes / App Store endpoints."""
    return os.environ.get(ITUNES_URL_ENV, DEFAULT_ITUNES_URL).rstrip("/")


def default_data_dir() -> Path:
    """The project data directory: ``$REVIEWMINE_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV, "data"))


def cache_dir() -> Path:
    """Where derived models (distilled embeddings, embedding cache) are kept between runs."""
    default = Path.home() / ".cache" / "reviewmine"
    return Path(os.environ.get("REVIEWMINE_CACHE_DIR", default))


def secret_key_path() -> Path:
    """The pseudonymisation key lives outside the data directory and outside git."""
    default = Path.home() / ".config" / "reviewmine" / "pseudonym.key"
    return Path(os.environ.get("REVIEWMINE_KEY_FILE", default))


def sample_dir() -> Path:
    """The shipped real sample (``data/sample`` in the repository)."""
    return Path(__file__).resolve().parents[2] / "data" / "sample"

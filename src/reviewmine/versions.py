"""Versions of Python, reviewmine and the packages that shape results (for manifests)."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

from reviewmine import __version__

RESULT_PACKAGES = (
    "vaderSentiment", "scikit-learn", "numpy", "scipy", "pandas", "pyarrow", "bertopic",
    "model2vec", "matplotlib", "py3langid", "ftfy", "jinja2", "openpyxl", "onnxruntime", "tokenizers",
)  # fmt: skip
"""Every package whose version can change a figure, a table or a report (analysis and report)."""


def software_versions(packages: Iterable[str] = RESULT_PACKAGES) -> dict[str, str]:
    """``{"python": ..., "reviewmine": ..., package: version}`` for the installed ``packages``."""
    found = {"python": platform.python_version(), "reviewmine": __version__}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found

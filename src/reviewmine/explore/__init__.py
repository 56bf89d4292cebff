"""Explore stage: the analysed reviews as a SQLite database served with Datasette.

Public entry points:

* :func:`explore` (CLI ``reviewmine explore``) builds ``DATA_DIR/explore/reviews.db`` when
  the analysis changed and serves it read-only;
* :func:`build_database` only builds it (``--build-only``);
* :func:`database_path` says where it is (the report links to it when it exists).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reviewmine.explore.build import BuildResult, build_database, database_path


def explore(
    data_dir: str | Path,
    port: int = 8001,
    host: str = "127.0.0.1",
    build_only: bool = False,
    on_message: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build (or refresh) the explorer database of ``data_dir`` and, unless ``build_only``,
    serve it with Datasette at ``http://host:port/reviews`` until stopped.

    >>> explore("data", build_only=True).path  # doctest: +SKIP
    PosixPath('data/explore/reviews.db')
    """
    from reviewmine.explore.build import require_extra
    from reviewmine.explore.serve import check_port, serve

    say = on_message or (lambda _: None)
    if not build_only:  # fail before a long build, not after
        require_extra("datasette")
        check_port(host, port)
    result = build_database(data_dir)
    counts = ", ".join(f"{n:,} {name}" for name, n in result.rows.items())
    if result.rebuilt:
        say(f"built {result.path} in {result.seconds:.1f} s ({counts})")
    else:
        say(f"{result.path} is up to date ({counts})")
    if not build_only:
        serve(result.path, result.metadata, host=host, port=port, on_message=say)
    return result


__all__ = ["BuildResult", "build_database", "database_path", "explore"]

"""Where the work runs: ``local`` (this process and its forked coding workers) or ``dask``
(a Dask cluster: a ``distributed.LocalCluster`` sized to this machine, or the scheduler at
``--scheduler ADDRESS`` / ``$REVIEWMINE_DASK_SCHEDULER``).

The Dask paths (:mod:`reviewmine.process.on_dask`, :mod:`reviewmine.analyze.on_dask`) use
this module to connect and to run one task per partition with progress. Dask is imported
only here and there, when ``engine="dask"``: the local engine does not need the extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reviewmine.errors import InputError, ReviewmineError

if TYPE_CHECKING:
    from distributed import Client

ENGINES = ("local", "dask")
SCHEDULER_ENV = "REVIEWMINE_DASK_SCHEDULER"
CONNECT_TIMEOUT = 5.0
"""Seconds to reach a scheduler: a live one answers in well under a second, and a wrong
address should fail before the user wonders whether anything is happening."""


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def check_engine(engine: str, scheduler: str | None = None) -> None:
    """One ``InputError`` line for an unknown engine, or a scheduler given to ``local``."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r}: unknown engine; use one of {', '.join(ENGINES)}")
    if scheduler and engine != "dask":
        raise InputError(f"--scheduler {scheduler}: a scheduler is only used with --engine dask")


def _require_dask() -> None:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise InputError(
            "--engine dask: Dask is not installed; install it with pip install \"reviewmine[dask]\""
        ) from exc


@contextmanager
def dask_client(
    scheduler: str | None = None, on_message: Callable[[str], None] | None = None
) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler`` (or ``$REVIEWMINE_DASK_SCHEDULER``), or of a
    new ``LocalCluster`` with one single-threaded worker process per core (the coder is pure
    Python: threads would share one GIL). The dashboard link goes to ``on_message``.

    An unreachable address is one ``InputError`` line naming it, raised before anything is
    written.
    """
    _require_dask()
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address:
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise InputError(
                f"--scheduler {address}: cannot reach the Dask scheduler ({reason}); check the "
                f"address and that the scheduler runs, or leave out --scheduler and "
                f"${SCHEDULER_ENV} to use a local cluster"
            ) from exc
        cluster = None
    else:
        cluster = LocalCluster(n_workers=available_cores(), threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:8787")  # another free port if taken
        client = Client(cluster, set_as_default=False)
    try:
        if on_message and client.dashboard_link:
            on_message(f"Dask dashboard: {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_partitions(
    client: Client,
    func: Callable[..., Any],
    partitions: Sequence[Any],
    *args: Any,
    on_partition: Callable[[int, int], None] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """``func(partition, *args, **kwargs)`` for every partition on the cluster, results in
    partition order; ``on_partition(done, total)`` after each finishes.

    A worker that dies mid-task (killed, out of memory) has its tasks rerun elsewhere by the
    scheduler; each task writes only its own files under names of its partition, so a rerun
    overwrites rather than duplicates.
    """
    from distributed import KilledWorker, as_completed

    if not partitions:
        return []
    # pure=False: two partitions with equal arguments are still two tasks
    futures = [client.submit(func, part, *args, pure=False, **kwargs) for part in partitions]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        for done, future in enumerate(as_completed(futures, loop=client.loop), start=1):
            try:
                results[index[future.key]] = future.result()
            except KilledWorker as exc:
                raise ReviewmineError(
                    f"a Dask task ({func.__name__}, partition {index[future.key]}) was running on "
                    "every worker that died under it (often: out of memory); nothing was written - "
                    "give the workers more memory or split the input into smaller files"
                ) from exc
            if on_partition:
                on_partition(done, len(futures))
    finally:
        client.cancel(futures)
    return results


@dataclass(frozen=True)
class CoderFactory:
    """How to build the caller's coder on a worker: ``build(**kwargs)``, e.g.
    ``CoderFactory(FactorCoder, {"codebook": cb, "use_model": True})``. Picklable and small
    (a built coder pickles to ~100 MB)."""

    build: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)

    def __call__(self) -> Any:
        return self.build(**self.kwargs)

"""Back-ends of an ensemble: in this process, a pool of local worker processes, or a Dask scheduler.

Local workers are spawned (not forked) and stop with their parent; a script that would re-run its
own top level in every spawned worker runs in one process instead, with a warning.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import signal
import socket
import sys
import tokenize
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

from simulator.errors import EnvironmentFaultError, InputError
from simulator.experiments.replicates import ChunkResult, run_chunk

_WARNED_UNGUARDED: set[tuple[str, int]] = set()


def _main_guard(node: ast.stmt) -> bool:
    """Whether ``node`` is ``if __name__ == "__main__":`` (either operand order)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1:
        return False
    sides = [node.test.left, *node.test.comparators]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    strings = [s.value for s in sides if isinstance(s, ast.Constant)]
    return isinstance(node.test.ops[0], ast.Eq) and names == ["__name__"] and strings == ["__main__"]


def _guarded(body: list[ast.stmt], line: int) -> bool:
    """Whether ``line`` lies inside an ``if __name__ == "__main__":`` block of ``body``."""
    for node in body:
        if not node.lineno <= line <= (node.end_lineno or node.lineno):
            continue
        if _main_guard(node) and any(s.lineno <= line <= (s.end_lineno or s.lineno) for s in node.body):
            return True
        children = [getattr(node, name, None) for name in ("body", "orelse", "finalbody", "handlers")]
        inner = [stmt for block in children if isinstance(block, list) for stmt in block]
        return _guarded([s for s in inner if isinstance(s, ast.stmt | ast.excepthandler)], line)
    return False


def unguarded_main_call() -> tuple[str, int] | None:
    """File and line of the main script's top-level code that is running now, if spawned workers
    would run it again; ``None`` when workers can start safely.

    A spawned worker imports the main script (as ``__mp_main__``) before it runs anything, so code
    at the script's top level that is not under ``if __name__ == "__main__":`` runs again in every
    worker: there it starts workers of its own, which Python forbids, and the pool breaks
    (``BrokenProcessPool``). Interactive sessions, notebooks and ``python -c`` have no main file and
    are safe; so is a script whose call sits under the guard. A script whose source cannot be read
    is given the benefit of the doubt.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:   # not called while the main script's top level runs (e.g. from a callback later)
        return None
    line = frame.f_lineno
    try:
        with tokenize.open(path) as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    return None if _guarded(tree.body, line) else (str(path), line)


def spawn_is_safe(jobs: int) -> bool:
    """Whether ``jobs`` (> 1) worker processes can be spawned from here; if not, warn once (per script
    line) that the work runs in this process instead. See :func:`unguarded_main_call`."""
    where = unguarded_main_call()
    if where is None:
        return True
    if where not in _WARNED_UNGUARDED:
        _WARNED_UNGUARDED.add(where)
        warnings.warn_explicit(
            f"innosim: jobs={jobs} needs worker processes, which re-run every line of {Path(where[0]).name} "
            "that is not under `if __name__ == \"__main__\":`; running in this process instead (put the call "
            "under that guard to use the workers)", RuntimeWarning, where[0], where[1])
    return False


@contextmanager
def local_pool(jobs: int) -> Iterator[Executor | None]:
    """``jobs`` local worker processes to share between an ensemble and what follows it
    (the report charts), so workers start once; ``None`` when ``jobs`` is 1, or when workers
    cannot be spawned safely from the calling script (:func:`spawn_is_safe`: it warns).

    Workers are spawned, not forked (no fork of a threaded parent; the same on every OS).
    """
    if jobs <= 1 or not spawn_is_safe(jobs):
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        # interrupted or failed: stop the workers now. Waiting for them (the executor's default)
        # can hang for ever when a worker is blocked handing back a result nobody reads any more.
        workers = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.join(timeout=10)
        raise
    pool.shutdown(wait=True)


def _worker_start(parent: int) -> None:
    """Start of a local worker: it stops when its parent does, however the parent ends.

    The parent terminates its workers when it is interrupted or fails (:func:`local_pool`), but a
    parent killed outright (``kill -9``, the OOM killer) cannot; on Linux the kernel then sends the
    worker SIGTERM (``PR_SET_PDEATHSIG``), so no worker runs on as an orphan.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:   # the parent died before the line above took effect
        os._exit(1)


def usable_jobs(jobs: int, echo=None) -> int:
    """``--jobs`` checked: at least 1 (else InputError); more than the CPUs this process may use is
    clamped to them, with a note through ``echo`` (extra processes would only compete for the same
    cores; results do not depend on the number of jobs)."""
    cpus = available_cpus()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError("--jobs", "jobs", "must be a whole number of at least 1", value=jobs,
                         allowed=f"1 to {cpus} (the CPUs available here)")
    if jobs > cpus:
        if echo is not None:
            echo(f"--jobs {jobs} is more than the {cpus} CPUs available here; using {cpus} "
                 "(the results are the same whatever --jobs)")
        return cpus
    return jobs


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. in a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Refuse an unusable ``--scheduler`` before anything runs: distributed not installed, an address
    that is not ``tcp://host:port``, or no scheduler answering there within ``timeout`` seconds
    (:class:`~simulator.errors.EnvironmentFaultError`; the Dask client would otherwise retry for a long time
    and end in a traceback)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise EnvironmentFaultError("--scheduler", "the Dask back-end is not installed",
                               'pip install -e ".[dask]", or run without --scheduler (local processes)') from None
    scheme, _, rest = address.partition("://")
    if scheme == "inproc" and rest:   # a scheduler in this process (tests, notebooks): nothing to reach
        return
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "ws", "wss") or not host or not port.isdigit():
        raise InputError("--scheduler", "scheduler", "not a Dask scheduler address", value=address,
                         allowed="tcp://host:port, e.g. tcp://127.0.0.1:8786 (or tls://, ws://, wss://)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise EnvironmentFaultError(address, f"no Dask scheduler answers there ({reason})",
                               "start one (dask scheduler) or check --scheduler; without --scheduler the run "
                               "uses local processes") from None


def execute(tasks: list[tuple[dict, list[int]]], workers: int, scheduler: str | None, bar,
             weight=lambda task: len(task[1]), pool: Executor | None = None) -> Iterator[ChunkResult]:
    """Run each task ``(variants, replicates)`` with :func:`run_chunk` on the chosen back-end; yield the
    results as they finish (callers order them by replicate)."""
    if not tasks:
        return
    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = client.map(run_chunk, [t[0] for t in tasks], [t[1] for t in tasks], pure=False)
            weights = {future.key: weight(task) for future, task in zip(futures, tasks, strict=True)}
            for future in dask_completed(futures):
                yield future.result()
                bar.update(weights[future.key])
        return
    if pool is None and (workers == 1 or not spawn_is_safe(workers)):
        for task in tasks:
            yield run_chunk(*task)
            bar.update(weight(task))
        return
    with local_pool(workers) if pool is None else _borrowed(pool) as executor:
        futures = {executor.submit(run_chunk, *task): weight(task) for task in tasks}
        try:
            for future in as_completed(futures):   # as they finish, so a checkpoint saves each at once
                yield future.result()
                bar.update(futures[future])
        finally:
            for future in futures:   # interrupted or failed: do not leave the rest queued on a shared pool
                future.cancel()


@contextmanager
def _borrowed(pool: Executor) -> Iterator[Executor]:
    yield pool   # the caller's pool: left open for the caller

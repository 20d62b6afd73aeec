"""Running many replicates of several variants: sequentially, on local processes, or on Dask.

Work is cut into chunks of replicates; each chunk runs every variant for its
replicates and returns only aggregates (indicator values and payment totals),
so memory does not grow with agent detail. Chunks are put back in replicate
order, and replicate k always uses the same seed, so the result is identical
whatever the number of jobs or the back-end.

A replicate that raises is recorded as a :class:`Failure` (variant, replicate, seed,
parameters, year, error) and the others go on. With a ``checkpoint`` folder every
finished chunk is saved there as it arrives, and a later call with the same folder runs
only the replicates not yet saved: an ensemble killed at any point resumes to the result
an uninterrupted run gives.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import tokenize
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from simulator.errors import EnvironmentFaultError, InputError
from simulator.inputs.parameters import Parameters
from simulator.model.region_model import RegionModel
from simulator.policy.instruments import active_terms

PAYMENT_COLUMNS = ["variant", "replicate", "year", "instrument", "payer", "recipients", "amount"]
TABLE_COLUMNS = ["variant", "replicate", "year", "indicator", "value"]
FAILURE_COLUMNS = ["variant", "replicate", "seed", "year", "error", "message", "parameters"]


@dataclass(frozen=True)
class Failure:
    """A replicate of a variant that raised instead of finishing.

    ``seed`` is the replicate's random seed as ``numpy.random.SeedSequence`` arguments,
    ``parameters`` the values that differ from the defaults (scenario overrides and any
    calibrated draw), ``year`` the year being simulated when it failed (empty if the model
    could not be built).
    """

    variant: str
    replicate: int
    seed: str
    year: int | None
    error: str
    message: str
    parameters: str

    def __str__(self) -> str:
        when = f" in {self.year}" if self.year is not None else " while building the model"
        return (f"variant {self.variant} replicate {self.replicate} ({self.seed}) failed{when}: "
                f"{self.error}: {self.message}; parameters {self.parameters}")


@dataclass
class EnsembleResult:
    """Aggregates of an ensemble: the tidy indicator table, the payment totals and any failed replicates."""

    table: pd.DataFrame
    payments: pd.DataFrame
    failures: list[Failure] = field(default_factory=list)

    def failures_frame(self) -> pd.DataFrame:
        """The failures as a table (``FAILURE_COLUMNS``), one row per failed replicate and variant."""
        return pd.DataFrame([asdict(f) for f in self.failures], columns=FAILURE_COLUMNS)


@dataclass
class ChunkResult:
    """What one task returns: per variant its indicator rows (replicate, year, indicator order),
    the payment totals and the failures of its replicates."""

    replicates: list[int]
    variants: list[str]
    tables: dict[str, pd.DataFrame]
    payments: pd.DataFrame
    failures: list[Failure]


def run_chunk(variants: dict, replicates: list[int]) -> ChunkResult:
    """Run every variant (name -> Prepared) for each replicate; return indicator rows and payment totals.

    Rows are built from numpy blocks (one per model: years x indicators), so an
    ensemble's memory is a few bytes per value, not a Python object per value. A
    replicate that raises (an ``Exception``, e.g. a :class:`~simulator.model.guards.NumericalError`)
    becomes a :class:`Failure`; an interrupt is not caught, and neither is an
    :class:`~simulator.errors.InputError` (bad input stops the run with its message).
    """
    blocks: dict[str, list] = {name: [] for name in variants}
    pays, failures = [], []
    for k in replicates:
        for variant, model in replicate_models(variants, k):
            if isinstance(model, Failure):
                failures.append(model)
                continue
            try:
                model.run()
            except InputError:         # bad input, not a failing replicate: the run stops with the clear message
                raise
            except Exception as exc:   # reported, the other replicates go on
                failures.append(_failure(variants[variant], variant, k, exc, model.year))
                continue
            finally:
                model.release()
            # the indicators in their order, then target series (simulator/targets.py); a growth has no value
            # in the base year (no year before), which stays NaN
            names = list(dict.fromkeys(n for rec in model.records for n in rec if n != "year"))
            values = np.array([[rec.get(n, np.nan) for n in names] for rec in model.records], dtype=float)
            years = np.array([rec["year"] for rec in model.records], dtype=np.int64)
            blocks[variant].append((k, values, years, names))
            pays.extend((variant, k, *row) for row in model.government.payment_totals())
    tables = {}
    for variant, rows in blocks.items():
        parts = []
        for k, values, years, names in rows:
            n_years, n_ind = values.shape
            parts.append(pd.DataFrame({
                "variant": np.repeat(variant, n_years * n_ind).astype(object),
                "replicate": np.full(n_years * n_ind, k, dtype=np.int64),
                "year": np.repeat(years, n_ind),
                "indicator": np.tile(np.array(names, dtype=object), n_years),
                "value": values.ravel()}))
        if parts:
            tables[variant] = pd.concat(parts, ignore_index=True)
    return ChunkResult(list(replicates), list(variants), tables, pd.DataFrame(pays, columns=PAYMENT_COLUMNS),
                       failures)


def _failure(prepared, variant: str, replicate: int, exc: BaseException, year: int | None) -> Failure:
    from simulator.experiments.runner import replicate_seed

    seed = replicate_seed(prepared.scenario.seed, replicate)
    try:
        params = prepared.replicate_params(replicate).to_dict()
    except Exception:  # the draw itself failed; report the scenario's parameters
        params = prepared.params.to_dict()
    defaults = Parameters.defaults().to_dict()
    changed = {k: v for k, v in params.items() if defaults.get(k) != v}
    return Failure(variant, replicate, f"SeedSequence(entropy={seed.entropy}, spawn_key={seed.spawn_key})",
                   year, type(exc).__name__, str(exc), repr(changed) if changed else "defaults")


def replicate_models(variants: dict, replicate: int) -> Iterator[tuple[str, RegionModel | Failure]]:
    """Replicate ``replicate``'s model of every variant (name -> Prepared), in order, ready to run
    (or the :class:`Failure` of building it).

    Each is exactly the model ``prepared.model(replicate)`` would build, but variants that share
    region, seed, horizon and parameters, and differ only in instruments, also share every year
    before the first in which any of their instruments pays: the policies of a plan typically start
    a year or two after its baseline, so those years are simulated once per replicate and the
    model is copied from there (:meth:`RegionModel.snapshot`). Copies continue exactly as fresh
    models would (tested); the saving is the build and the shared years of every variant but one.
    """
    groups: list[tuple[tuple, list[tuple[str, list, Parameters]]]] = []
    models: dict[str, RegionModel | Failure] = {}
    for name, prepared in variants.items():
        try:
            params = prepared.replicate_params(replicate)
            member = (name, prepared.instruments(), params)
        except InputError:
            raise
        except Exception as exc:  # reported as this variant's failure
            models[name] = _failure(prepared, name, replicate, exc, None)
            continue
        key = (id(prepared.region), str(prepared.region_path), prepared.scenario.seed, prepared.scenario.horizon)
        for gkey, members in groups:
            if gkey == key and members[0][2] == params:
                members.append(member)
                break
        else:
            groups.append((key, [member]))
    for _key, group in groups:
        # variants that pay alike in the base year (e.g. all but no_policy, where a provincial award is
        # in force) share every year up to the one before their payments first differ
        clusters: dict[frozenset, list] = {}
        base_year = variants[group[0][0]].region.base_year
        for member in group:
            clusters.setdefault(active_terms(member[1], base_year), []).append(member)
        for members in clusters.values():
            if len(members) == 1:
                models[members[0][0]] = _build(variants[members[0][0]], members[0][0], replicate)
                continue
            _share_years(variants, members, replicate, models)
    for name in variants:
        yield name, models.pop(name)


def _share_years(variants: dict, members: list, replicate: int, models: dict) -> None:
    """Build the first member, run it to the year before the members' payments first differ, and copy it."""
    first = variants[members[0][0]]
    fork = _first_difference_year(first, [insts for _, insts, _ in members]) - 1
    built = _build(first, members[0][0], replicate)
    failed = built if isinstance(built, Failure) else None
    if failed is None:
        try:
            built.run(fork)
            snap = built.snapshot()
        except InputError:
            raise
        except Exception as exc:  # the shared years failed: every member fails there
            failed = _failure(first, members[0][0], replicate, exc, built.year)
        finally:
            built.release()
    for name, insts, _params in members:   # a failure in the shared years is every member's
        models[name] = replace(failed, variant=name) if failed else RegionModel.from_snapshot(snap, insts)


def _build(prepared, name: str, replicate: int) -> RegionModel | Failure:
    try:
        return prepared.model(replicate)
    except InputError:   # e.g. a region file whose baseline the population cannot reproduce: bad input
        raise
    except Exception as exc:  # reported as this replicate's failure
        return _failure(prepared, name, replicate, exc, None)


def _first_difference_year(prepared, instrument_sets: list[list]) -> int:
    """First year from the base year on in which the sets of ``instrument_sets`` do not all pay alike
    (:func:`~simulator.policy.instruments.active_terms`); horizon + 1 if they never differ."""
    first, last = prepared.region.base_year, prepared.scenario.horizon
    for year in range(first, last + 1):
        if len({active_terms(insts, year) for insts in instrument_sets}) > 1:
            return year
    return last + 1


def _chunks(todo: list[int], workers: int, size: int | None = None, most: int = 25) -> list[list[int]]:
    """Cut the replicates ``todo`` into tasks: ``size`` each if given, else "guided" - chunks of up to
    ``most`` replicates that shrink towards the end (what is left / (2 x workers)), so the workers
    finish together instead of one waiting for the other's last large chunk. Results do not depend
    on the cut."""
    if size:
        out = [todo[i:i + size] for i in range(0, len(todo), size)]
    else:
        out, i = [], 0
        while i < len(todo):
            step = max(1, min(most, (len(todo) - i) // (2 * workers)))
            out.append(todo[i:i + step])
            i += step
    # a chunk never spans replicates done earlier (a resumed run's todo has gaps): each is a range
    return [[int(k) for k in run] for chunk in out
            for run in np.split(np.asarray(chunk), np.flatnonzero(np.diff(chunk) != 1) + 1) if len(run)]


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


def run_ensemble(variants: dict, replicates: int, *, jobs: int = 1, scheduler: str | None = None,
                 progress: bool = False, chunk_size: int | None = None, pool: Executor | None = None,
                 checkpoint: str | Path | None = None) -> EnsembleResult:
    """Run ``replicates`` replicates of every variant.

    Args:
        variants: variant name -> :class:`~simulator.experiments.runner.Prepared`.
        replicates: number of replicates per variant.
        jobs: local worker processes (1 = in this process).
        scheduler: address of a Dask distributed scheduler (``tcp://host:port``); overrides ``jobs``.
        progress: show a progress bar.
        chunk_size: replicates per task (default: guided, see :func:`_chunks`).
        pool: an open :func:`local_pool` to run on (instead of starting ``jobs`` processes).
        checkpoint: folder where each finished chunk is saved as it arrives; replicates already
            saved there (by an earlier, interrupted call with the same variants) are not run again.
            The caller makes sure the folder belongs to the same scenario and options
            (:func:`simulator.experiments.runner.write_run` checks a fingerprint).
    """
    workers = max(jobs, 1)
    saved = load_checkpoint(checkpoint) if checkpoint is not None else []
    done = {k for part in saved for k in part.replicates}
    todo = [k for k in range(replicates) if k not in done]
    chunks = _chunks(todo, workers, chunk_size)
    bar = tqdm(total=replicates, initial=replicates - len(todo), disable=not progress, unit="replicate",
               desc="ensemble")
    parts = list(saved)
    # closing(): an error here (a full disk saving a chunk) or an interrupt stops the workers or the Dask
    # client at once, not whenever the generator is garbage-collected
    with closing(_execute([(variants, chunk) for chunk in chunks], workers, scheduler, bar, pool=pool)) as results:
        try:
            for part in results:
                if checkpoint is not None:
                    save_chunk(checkpoint, part)
                parts.append(part)
        finally:
            bar.close()
    return _collect([p for p in parts if p.replicates[0] < replicates], list(variants))


def save_chunk(folder: str | Path, part: ChunkResult) -> Path:
    """Save one finished chunk in ``folder`` atomically (written under a temporary name, then renamed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chunk_{part.replicates[0]:06d}_{part.replicates[-1]:06d}.pkl"
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as fh:
            pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:   # a full disk or a file-size limit: no part-written chunk is left behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def saved_replicates(folder: str | Path) -> set[int]:
    """Replicates the chunks in ``folder`` hold, read from their names (``chunk_<first>_<last>.pkl``, which a
    chunk gets only once written whole: :func:`save_chunk`), without loading them."""
    folder = Path(folder)
    spans = [path.stem.split("_")[1:] for path in folder.glob("chunk_*.pkl")] if folder.is_dir() else []
    return {k for first, last in spans for k in range(int(first), int(last) + 1)}


def load_checkpoint(folder: str | Path) -> list[ChunkResult]:
    """The chunks saved in ``folder`` (none if it does not exist); a file cut short by a kill is ignored."""
    folder = Path(folder)
    parts = []
    for path in sorted(folder.glob("chunk_*.pkl")) if folder.is_dir() else []:
        try:
            with open(path, "rb") as fh:
                part = pickle.load(fh)
        except (EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            continue
        if isinstance(part, ChunkResult) and part.replicates:
            parts.append(part)
    return parts


def run_variants(variants: dict, replicates: int, *, jobs: int = 1, scheduler: str | None = None,
                 progress: bool = False, group_size: int | None = None) -> EnsembleResult:
    """Run many variants (e.g. the sample points of a sensitivity analysis or an optimiser's
    candidate mixes) with a few replicates each, spreading the *variants* over the workers.

    :func:`run_ensemble` cuts work by replicate, which leaves one task when there are
    thousands of variants and one replicate; this cuts it by variant. Replicate k of every
    variant still uses the same seed (common random numbers), and the result is identical
    whatever ``jobs``, ``group_size`` or back-end. An analysis needs every point, so a
    failed replicate raises :class:`ReplicateError` once all have run.

    Args:
        variants: name -> :class:`~simulator.experiments.runner.Prepared`.
        replicates: replicates per variant (0 .. replicates-1).
        jobs, scheduler, progress: as :func:`run_ensemble`.
        group_size: variants per task (default: about four tasks per worker, at most 50 variants).
    """
    names = list(variants)
    workers = max(jobs, 1)
    size = group_size or max(1, min(50, -(-len(names) // (4 * workers))))
    reps = list(range(replicates))
    tasks = [({n: variants[n] for n in names[i:i + size]}, reps) for i in range(0, len(names), size)]
    bar = tqdm(total=len(names) * replicates, disable=not progress, unit="run", desc="runs")
    try:
        with closing(_execute(tasks, workers, scheduler, bar, weight=lambda task: len(task[0]) * len(task[1]))) as res:
            parts = list(res)
    finally:
        bar.close()
    result = _collect(parts, names)
    if result.failures:
        raise ReplicateError(result.failures)
    return result


class ReplicateError(RuntimeError):
    """Replicates failed where every one is needed (sensitivity points, optimiser mixes)."""

    def __init__(self, failures: list[Failure]) -> None:
        self.failures = failures
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"{len(failures)} replicate(s) failed; first: {failures[0]}{more}")


def _collect(parts: list[ChunkResult], names: list[str]) -> EnsembleResult:
    """Put chunks together: rows by variant (declared order), then replicate, year, indicator; payments
    and failures in the same order, whatever order the chunks finished in."""
    rank = {name: i for i, name in enumerate(names)}
    parts = sorted(parts, key=lambda p: (min(rank.get(v, len(rank)) for v in p.variants), p.replicates[0]))
    tables = [p.tables[v] for v in names for p in parts if v in p.tables]
    table = (pd.concat(tables, ignore_index=True) if tables
             else pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS}))
    if not _ranges(parts, names):
        # chunks that are not replicate ranges in order (a caller's own chunking): sort the blocks
        var = table["variant"].map(rank).to_numpy()
        table = table.iloc[np.lexsort((table["replicate"].to_numpy(), var))].reset_index(drop=True)   # stable
    pays = [p.payments for p in parts if len(p.payments)]
    payments = pd.concat(pays, ignore_index=True) if pays else pd.DataFrame(columns=PAYMENT_COLUMNS)
    failures = sorted((f for p in parts for f in p.failures), key=lambda f: (rank.get(f.variant, 0), f.replicate))
    return EnsembleResult(table, payments, failures)


def _ranges(parts: list[ChunkResult], names: list[str]) -> bool:
    """Whether, variant by variant, the sorted parts hold increasing replicates (rows then need no sort)."""
    for v in names:
        reps = [k for p in parts if v in p.tables for k in p.replicates]
        if any(b <= a for a, b in zip(reps, reps[1:], strict=False)):
            return False
    return True


def _execute(tasks: list[tuple[dict, list[int]]], workers: int, scheduler: str | None, bar,
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

"""Running many replicates of several variants: sequentially, on local processes, or on Dask.

Work is cut into chunks of replicates; each chunk runs every variant for its
replicates and returns only aggregates (indicator values and payment totals),
so memory does not grow with agent detail. Chunks are put back in replicate
order, and replicate k always uses the same seed, so the result is identical
whatever the number of jobs or the back-end.

A replicate that raises is recorded as a :class:`~simulator.experiments.replicates.Failure`
(variant, replicate, seed, parameters, year, error) and the others go on. With a ``checkpoint`` folder every
finished chunk is saved there as it arrives, and a later call with the same folder runs
only the replicates not yet saved: an ensemble killed at any point resumes to the result
an uninterrupted run gives.
"""

from __future__ import annotations

from concurrent.futures import Executor
from contextlib import closing
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from simulator.experiments.backends import execute
from simulator.experiments.checkpoints import load_checkpoint, save_chunk
from simulator.experiments.replicates import EnsembleResult, ReplicateError, collect


def run_ensemble(variants: dict, replicates: int, *, jobs: int = 1, scheduler: str | None = None,
                 progress: bool = False, chunk_size: int | None = None, pool: Executor | None = None,
                 checkpoint: str | Path | None = None) -> EnsembleResult:
    """Run ``replicates`` replicates of every variant.

    Args:
        variants: variant name -> :class:`~simulator.experiments.prepared.Prepared`.
        replicates: number of replicates per variant.
        jobs: local worker processes (1 = in this process).
        scheduler: address of a Dask distributed scheduler (``tcp://host:port``); overrides ``jobs``.
        progress: show a progress bar.
        chunk_size: replicates per task (default: guided, see :func:`_chunks`).
        pool: an open :func:`~simulator.experiments.backends.local_pool` to run on (instead of starting
            ``jobs`` processes).
        checkpoint: folder where each finished chunk is saved as it arrives; replicates already
            saved there (by an earlier, interrupted call with the same variants) are not run again.
            The caller makes sure the folder belongs to the same scenario and options
            (:func:`simulator.jobs.write_run` checks a fingerprint).
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
    with closing(execute([(variants, chunk) for chunk in chunks], workers, scheduler, bar, pool=pool)) as results:
        try:
            for part in results:
                if checkpoint is not None:
                    save_chunk(checkpoint, part)
                parts.append(part)
        finally:
            bar.close()
    return collect([p for p in parts if p.replicates[0] < replicates], list(variants))


def run_variants(variants: dict, replicates: int, *, jobs: int = 1, scheduler: str | None = None,
                 progress: bool = False, group_size: int | None = None) -> EnsembleResult:
    """Run many variants (e.g. the sample points of a sensitivity analysis or an optimiser's
    candidate mixes) with a few replicates each, spreading the *variants* over the workers.

    :func:`run_ensemble` cuts work by replicate, which leaves one task when there are
    thousands of variants and one replicate; this cuts it by variant. Replicate k of every
    variant still uses the same seed (common random numbers), and the result is identical
    whatever ``jobs``, ``group_size`` or back-end. An analysis needs every point, so a
    failed replicate raises :class:`~simulator.experiments.replicates.ReplicateError` once all have run.

    Args:
        variants: name -> :class:`~simulator.experiments.prepared.Prepared`.
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
        with closing(execute(tasks, workers, scheduler, bar, weight=lambda task: len(task[0]) * len(task[1]))) as res:
            parts = list(res)
    finally:
        bar.close()
    result = collect(parts, names)
    if result.failures:
        raise ReplicateError(result.failures)
    return result


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

"""Running many replicates of several variants: sequentially, on local processes, or on Dask.

Work is cut into chunks of replicates; each chunk runs every variant for its
replicates and returns only aggregates (indicator values and payment totals),
so memory does not grow with agent detail. Chunks are put back in replicate
order, and replicate k always uses the same seed, so the result is identical
whatever the number of jobs or the back-end.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .indicators import INDICATORS

PAYMENT_COLUMNS = ["variant", "replicate", "year", "instrument", "payer", "recipients", "amount"]


@dataclass
class EnsembleResult:
    """Aggregates of an ensemble: the tidy indicator table and the payment totals."""

    table: pd.DataFrame
    payments: pd.DataFrame


def run_chunk(variants: dict, replicates: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every variant (name -> Prepared) for each replicate; return indicator rows and payment totals.

    Rows are built from numpy blocks (one per model: years x indicators), so an
    ensemble's memory is a few bytes per value, not a Python object per value.
    """
    blocks, keys, pays = [], [], []
    for k in replicates:
        for variant, prepared in variants.items():
            model = prepared.model(k).run()
            names = [n for n in INDICATORS if n in model.records[0]]
            values = np.array([[rec[n] for n in names] for rec in model.records], dtype=float)
            years = np.array([rec["year"] for rec in model.records], dtype=np.int64)
            blocks.append((values, years, names))
            keys.append((variant, k))
            pays.extend((variant, k, *row) for row in model.government.payment_totals())
            model.release()
    parts = []
    for (variant, k), (values, years, names) in zip(keys, blocks, strict=True):
        n_years, n_ind = values.shape
        parts.append(pd.DataFrame({
            "variant": np.repeat(variant, n_years * n_ind).astype(object),
            "replicate": np.full(n_years * n_ind, k, dtype=np.int64),
            "year": np.repeat(years, n_ind),
            "indicator": np.tile(np.array(names, dtype=object), n_years),
            "value": values.ravel()}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["variant", "replicate", "year", "indicator", "value"])
    return table, pd.DataFrame(pays, columns=PAYMENT_COLUMNS)


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


def run_ensemble(variants: dict, replicates: int, *, jobs: int = 1, scheduler: str | None = None,
                 progress: bool = False, chunk_size: int | None = None) -> EnsembleResult:
    """Run ``replicates`` replicates of every variant.

    Args:
        variants: variant name -> :class:`~simulator.runner.Prepared`.
        replicates: number of replicates per variant.
        jobs: local worker processes (1 = in this process).
        scheduler: address of a Dask distributed scheduler (``tcp://host:port``); overrides ``jobs``.
        progress: show a progress bar.
        chunk_size: replicates per task (default: about four tasks per worker).
    """
    workers = max(jobs, 1)
    size = chunk_size or max(1, min(25, -(-replicates // (4 * workers))))
    chunks = _chunks(replicates, size)
    bar = tqdm(total=replicates, disable=not progress, unit="replicate", desc="ensemble")
    try:
        parts = list(_execute([(variants, chunk) for chunk in chunks], workers, scheduler, bar))
    finally:
        bar.close()
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    payments = pd.concat([p[1] for p in parts], ignore_index=True)
    return EnsembleResult(_order(table, list(variants)), payments)


def run_variants(variants: dict, replicates: int, *, jobs: int = 1, scheduler: str | None = None,
                 progress: bool = False, group_size: int | None = None) -> EnsembleResult:
    """Run many variants (e.g. the sample points of a sensitivity analysis or an optimiser's
    candidate mixes) with a few replicates each, spreading the *variants* over the workers.

    :func:`run_ensemble` cuts work by replicate, which leaves one task when there are
    thousands of variants and one replicate; this cuts it by variant. Replicate k of every
    variant still uses the same seed (common random numbers), and the result is identical
    whatever ``jobs``, ``group_size`` or back-end.

    Args:
        variants: name -> :class:`~simulator.runner.Prepared`.
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
        parts = list(_execute(tasks, workers, scheduler, bar, weight=lambda task: len(task[0]) * len(task[1])))
    finally:
        bar.close()
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    payments = pd.concat([p[1] for p in parts], ignore_index=True)
    return EnsembleResult(_order(table, names), payments)


def _execute(tasks: list[tuple[dict, list[int]]], workers: int, scheduler: str | None, bar,
             weight=lambda task: len(task[1])) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Run each task ``(variants, replicates)`` with :func:`run_chunk`, in order, on the chosen back-end."""
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            futures = client.map(run_chunk, [t[0] for t in tasks], [t[1] for t in tasks], pure=False)
            for future, task in zip(futures, tasks, strict=True):
                yield future.result()
                bar.update(weight(task))
        return
    if workers == 1:
        for task in tasks:
            yield run_chunk(*task)
            bar.update(weight(task))
        return
    context = multiprocessing.get_context("spawn")   # no fork of a threaded parent; same on every OS
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_chunk, *task) for task in tasks]
        for future, task in zip(futures, tasks, strict=True):
            yield future.result()
            bar.update(weight(task))


def _order(table: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    """Sort rows by variant (declared order), replicate, year, indicator (registry order)."""
    v = table["variant"].map({name: i for i, name in enumerate(variants)}).to_numpy()
    ind = table["indicator"].map({name: i for i, name in enumerate(INDICATORS)}).to_numpy()
    order = np.lexsort((ind, table["year"].to_numpy(), table["replicate"].to_numpy(), v))
    return table.iloc[order].reset_index(drop=True)

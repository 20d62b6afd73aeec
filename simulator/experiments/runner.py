"""Running a scenario: its tidy indicator table (run_scenario), and an ensemble's result tables and their files.

``run_scenario(path)`` returns the indicator table; :func:`simulator.jobs.write_run` writes the
whole output folder, with these tables, the manifest, charts, workbook and report.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from simulator.experiments import flows, results
from simulator.experiments.ensemble import run_ensemble
from simulator.experiments.outputs import manifest
from simulator.experiments.prepared import Prepared, prepare
from simulator.experiments.replicates import EnsembleResult
from simulator.experiments.results import NOTHING_PAID, nothing_paid


def run_scenario(path: str | Path, *, seed: int | None = None, replicates: int | None = None,
                 horizon: int | None = None, jobs: int = 1, scheduler: str | None = None) -> pd.DataFrame:
    """Run a scenario file (base, no_policy and its variants); return the tidy indicator table.

    Args:
        path: scenario YAML file (e.g. ``scenarios/qiqihar.yaml``).
        seed: overrides the file's seed.
        replicates: overrides the file's number of replicates.
        horizon: overrides the file's last year.
        jobs: local worker processes.
        scheduler: Dask scheduler address, instead of local processes.

    Returns:
        Columns ``variant, replicate, year, indicator, value``.

    Example:
        >>> df = run_scenario("scenarios/qiqihar.yaml", replicates=2)      # doctest: +SKIP
        >>> df.query("indicator == 'hte_count' and year == 2025")            # doctest: +SKIP
    """
    prepared = prepare(path, seed=seed, replicates=replicates, horizon=horizon)
    ens = run_ensemble(prepared.variants(), prepared.scenario.replicates, jobs=jobs, scheduler=scheduler)
    if ens.failures:
        warnings.warn(f"{len(ens.failures)} runs failed and are missing from the table; first: {ens.failures[0]} "
                      "(run_ensemble returns them all)", RuntimeWarning, stacklevel=2)
    return ens.table


def result_tables(prepared: Prepared, variants: dict[str, Prepared],
                  ens: EnsembleResult) -> dict[str, pd.DataFrame]:
    """The result tables of an ensemble of ``variants`` (``prepared.variants()``), by file name: targets,
    additionality, summary, payments, instruments, failures and the stock-flow decompositions."""
    table = ens.table
    return {"targets": results.targets(table, prepared.region),
            "additionality": results.additionality(table, prepared.region),
            "summary": results.summary(table),
            "payments": ens.payments,
            "instruments": results.instrument_status(variants, ens.payments, table),
            "failures": ens.failures_frame(),
            "hte_flows": flows.hte_flows(table),
            "stock_flows": flows.stock_flows(table)}


def write_tables(folder: Path, table: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    """indicators.csv/.parquet and the result tables as CSV (the planners' workbook: :mod:`simulator.report.workbook`).

    The indicator table (a million rows for 1 000 replicates) is written by pyarrow, ten times
    faster than pandas; its strings are variant and indicator names (letters, digits, ``_``,
    ``-``), so nothing needs quoting, and floats are written in their shortest exact form.
    """
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    with open(folder / "indicators.csv", "wb") as fh:   # the header as pandas writes it (pyarrow quotes names)
        fh.write((",".join(table.columns) + "\n").encode())
        pa_csv.write_csv(arrow, fh, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    pq.write_table(arrow, folder / "indicators.parquet")
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


def run_manifest(prepared: Prepared, options: dict, ens: EnsembleResult, n_runs: int,
                 tables: dict[str, pd.DataFrame]) -> dict:
    """The manifest of a written run: :func:`~simulator.experiments.outputs.manifest`, with the number of
    runs, how many failed and the payments note."""
    meta = manifest(prepared, options)
    meta["failed_runs"] = len(ens.failures)
    meta["runs"] = n_runs
    meta["payments"] = payment_note(tables["instruments"])
    return meta


def payment_note(status: pd.DataFrame) -> dict:
    """The manifest's ``payments`` entry: whether any instrument paid, and why each one that did not."""
    unpaid = status[status["status"] != "paid"]
    return {"nothing_paid": nothing_paid(status), "message": NOTHING_PAID if nothing_paid(status) else "",
            "not_paid": [{k: r[k] for k in ("variant", "instrument", "clause", "status", "reason")}
                         for r in unpaid.to_dict("records")]}

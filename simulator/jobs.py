"""The jobs the interface runs: write a scenario run's output folder (tables, charts, workbook, report) and rerun one.

``write_run`` is what ``innosim run`` and the dashboard call; ``rerun`` what ``innosim rerun`` calls.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import InputError, os_fault
from simulator.experiments.backends import check_scheduler, local_pool
from simulator.experiments.checkpoints import destination, record_run, resume_hint, run_fingerprint
from simulator.experiments.ensemble import run_ensemble
from simulator.experiments.locks import output_lock
from simulator.experiments.outputs import MANIFEST, REPRODUCIBLE, replace_folder, rerun_inputs
from simulator.experiments.prepared import Prepared, prepare
from simulator.experiments.runner import result_tables, run_manifest, write_tables
from simulator.report.workbook import write_workbook


class RunFailedError(RuntimeError):
    """No replicate of a run finished (every one raised); nothing was written."""


@dataclass(frozen=True)
class RunOutcome:
    """Where :func:`write_run` wrote, and what went wrong in it."""

    folder: Path
    failures: int
    runs: int


def write_run(path: str | Path, *, out: str | Path | None = None, seed: int | None = None,
              replicates: int | None = None, horizon: int | None = None, lang: str = "zh",
              jobs: int = 1, scheduler: str | None = None, progress: bool = False, force: bool = False,
              resume: bool = False, report: bool = True) -> RunOutcome:
    """Run a scenario ensemble and write its output folder; return where (and how many runs failed).

    Everything is validated before anything is written.

    * **Never overwritten**: when the folder (``out``, default ``outputs/<scenario name>``)
      exists, the results go to ``<folder>-2`` (``-3``, …) instead; ``force`` replaces it (only
      an innosim output folder is ever replaced).
    * **Atomic**: results are assembled in ``.<folder>.partial`` beside it and renamed into place
      when complete, so a failed or interrupted run leaves nothing that looks finished.
    * **Resumable**: every finished chunk of replicates is saved at once in ``.<folder>.run``
      (with a fingerprint of the scenario, inputs, options and code). After a crash, Ctrl-C or
      ``kill -9``, ``resume`` runs only the replicates not saved and gives exactly the
      uninterrupted result; without ``resume`` (or ``force``, which starts over) a run refuses to
      start beside an interrupted one.
    * **Locked**: a second run into the same folder while this one runs is refused
      (:func:`simulator.experiments.locks.output_lock`); ``resume`` with ``force`` is refused.
    * **Faults of the machine** (unwritable, read-only or full disk, a file-size limit) raise
      :class:`~simulator.errors.EnvironmentFaultError` naming the path and what to do; replicates
      saved before it stay for ``resume``.
    * **Failing replicates**: a replicate that raises is reported (``failures.csv``: variant,
      replicate, seed, year, error, parameters) and left out of the tables; the others finish.
      If every replicate fails, :class:`RunFailedError` is raised and nothing is written.
    * **Report**: ``report.html`` (``simulator.report.document``) is written into the folder unless ``report`` is false.
    """
    if resume and force:
        raise InputError("--resume", "resume", "cannot be combined with --force (--force discards the "
                         "interrupted run that --resume would continue)", allowed="one of --resume, --force")
    prepared = prepare(path, seed=seed, replicates=replicates, horizon=horizon)
    if scheduler:
        check_scheduler(scheduler)
    requested = Path(out) if out is not None else Path("outputs") / prepared.scenario.name
    options = {"seed": seed, "replicates": replicates, "horizon": horizon, "lang": lang}
    state: dict = {}
    try:   # one lock per output folder: a second run into it at the same time is refused
        with ExitStack() as locks:
            locks.enter_context(output_lock(requested))
            return _write_locked(prepared, requested, options, state, locks, lang=lang, jobs=jobs,
                                 scheduler=scheduler, progress=progress, force=force, resume=resume, report=report)
    except OSError as exc:   # the disk, the file system or permissions: one line, the saved replicates kept
        raise os_fault(exc, requested, resume_hint(state.get("run_dir"), prepared)) from None


def _write_locked(prepared: Prepared, requested: Path, options: dict, state: dict, locks: ExitStack, *, lang: str,
                  jobs: int, scheduler: str | None, progress: bool, force: bool, resume: bool,
                  report: bool = True) -> RunOutcome:
    """:func:`write_run` once ``requested`` is locked (``state`` gets the checkpoint folder; the lock of the
    folder actually written, if another, joins ``locks``)."""
    from simulator.report.charts import indicator_chart_tasks, summary_chart_tasks
    from simulator.report.flows_chart import family_chart_tasks, flows_chart
    from simulator.report.variants import variant_labels

    fingerprint = run_fingerprint(prepared, options)
    dest, run_dir = destination(requested, fingerprint, force=force, resume=resume, echo=stderr_echo(progress))
    if dest != requested:   # <folder>-2 may be another run's --out
        locks.enter_context(output_lock(dest))
    state["run_dir"] = run_dir
    record_run(run_dir, dest, fingerprint)
    variants = prepared.variants()
    n_runs = prepared.scenario.replicates * len(variants)
    # one set of local workers for the ensemble and then the charts (started once); with a Dask
    # scheduler the ensemble runs there and the charts here
    with local_pool(1 if scheduler else jobs) as pool:
        try:
            ens = run_ensemble(variants, prepared.scenario.replicates, jobs=jobs, scheduler=scheduler,
                               progress=progress, pool=pool, checkpoint=run_dir / "chunks")
        except InputError:   # bad input found while building models: nothing of this run is worth keeping
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if len(ens.failures) == n_runs:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise RunFailedError(f"every one of the {n_runs} runs failed; first: {ens.failures[0]}")
        table = ens.table
        partial = dest.with_name(f".{dest.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)   # what an interrupted assembly left
        partial.mkdir(parents=True)
        partial.chmod(0o755)
        pending: list = []

        def draw(tasks) -> None:
            """Charts on the workers while this process computes and writes the tables, or here, now."""
            if pool is None:
                for func, args in tasks:
                    func(*args)
            else:
                pending.extend(pool.submit(func, *args) for func, args in tasks)

        try:
            names = variant_labels(prepared.scenario)     # chart names of the variants, from their descriptions
            draw(indicator_chart_tasks(table, prepared.region, partial, lang, names))
            tables = result_tables(prepared, variants, ens)
            draw([(flows_chart, (tables["hte_flows"], "base", partial / "flows_hte", lang))])
            draw(family_chart_tasks(tables["stock_flows"], "base", partial, lang))
            draw(summary_chart_tasks(tables["targets"], tables["additionality"], prepared.region, partial, lang,
                                     names))
            write_tables(partial, table, tables)
            for future in pending:
                future.result()
            meta = run_manifest(prepared, options, ens, n_runs, tables)
            write_workbook(partial / "results.xlsx", tables, prepared, meta,
                           table.groupby("variant")["replicate"].nunique().to_dict())
            (partial / MANIFEST).write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
            if report:
                _write_report(partial, dest, lang, stderr_echo(progress))
            replace_folder(dest, partial)
        except BaseException:
            for future in pending:
                future.cancel()
            shutil.rmtree(partial, ignore_errors=True)
            raise
    shutil.rmtree(run_dir, ignore_errors=True)   # the finished folder is in place: the checkpoint is done
    return RunOutcome(dest, len(ens.failures), n_runs)


def _write_report(partial: Path, dest: Path, lang: str, echo) -> None:
    """report.html of the assembled folder; a report that fails does not cost the run its results."""
    from simulator.report.document import write_report

    try:
        write_report(partial, lang, shown_as=dest)
    except Exception as exc:  # noqa: BLE001 (any bug in the report must not lose an ensemble's tables)
        echo(f"innosim: report.html not written ({type(exc).__name__}: {exc}); the tables and charts are "
             f"complete: try `innosim report {dest}` after fixing the cause")


def stderr_echo(enabled: bool = True) -> Callable[[str], None]:
    """Notes to the user, on stderr so tables on stdout stay clean; a no-op when not ``enabled`` (--quiet)."""
    if not enabled:
        return lambda message: None
    return lambda message: print(f"innosim: {message}", file=sys.stderr)


def rerun(folder: str | Path, out: str | Path | None = None, jobs: int = 1) -> tuple[Path, list[str]]:
    """Regenerate an output folder from its manifest; return the new folder and the files that differ.

    Refuses (InputError) when an input file changed since the run (its SHA-256 differs).
    """
    folder = Path(folder)
    scenario, opts = rerun_inputs(folder)
    dest = Path(out) if out else folder.with_name(folder.name + "-rerun")
    dest = write_run(scenario, out=dest, seed=opts["seed"], replicates=opts["replicates"],
                     horizon=opts["horizon"], lang=opts["lang"], jobs=jobs).folder
    differ = [f for f in REPRODUCIBLE if (folder / f).is_file()   # (folders older than failures.csv lack it)
              and (not (dest / f).is_file() or (folder / f).read_bytes() != (dest / f).read_bytes())]
    return dest, differ

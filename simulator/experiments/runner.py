"""From a scenario file to results: validate, build models, run replicates, write outputs.

``run_scenario(path)`` returns the tidy indicator table; ``write_run`` also
writes the output folder (indicators, manifest, charts) atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from simulator.errors import InputError, closest, os_fault
from simulator.experiments.ensemble import check_scheduler, local_pool, run_ensemble, saved_replicates
from simulator.experiments.locks import output_lock
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.parameters import Parameters, calibrated_draw, calibrated_path
from simulator.inputs.reading import file_problem
from simulator.inputs.region_file import Region, load_region
from simulator.inputs.scenario_file import NO_POLICY, Scenario, apply_options, load_scenario
from simulator.inputs.validation import validate
from simulator.model.region_model import RegionModel
from simulator.policy.instruments import Instrument, build_instrument
from simulator.report.workbook import write_workbook

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Prepared:
    """A validated scenario with everything needed to build its models."""

    scenario: Scenario
    scenario_path: Path
    region: Region
    region_path: Path
    params: Parameters
    policy_files: tuple[Path, ...]

    def instruments(self) -> list[Instrument]:
        return build_instruments(self.region, self.scenario, self.region_path.parent.parent / "policies",
                                 str(self.scenario_path))

    def variants(self) -> dict[str, Prepared]:
        """``base``, ``no_policy`` (every instrument off) and each named variant, as runnable scenarios."""
        out = {"base": self}
        known = [spec_id for spec_id in self.instrument_ids()]
        off = {i: {"enabled": False} for i in known}
        out[NO_POLICY] = self._with(off, {})
        for name, variant in self.scenario.variants.items():
            policies = {k: v.model_dump(exclude_unset=True) for k, v in variant.policies.items()}
            out[name] = self._with(policies, variant.parameters, where=f"variants.{name}")
        return out

    def instrument_ids(self) -> list[str]:
        """Ids of every instrument in the region's catalogues (modelled or not)."""
        return [spec.id for path in self.policy_files for spec in load_catalogue(path).instruments]

    def variant(self, policies: dict | None = None, parameters: dict | None = None) -> Prepared:
        """This scenario with some instrument settings and parameters changed, as a scenario file's
        ``variants`` entry would (validated the same way).

        Example:
            >>> doubled = prepared.variant({"q000_m4_hte_award": {"scale": 2.0}},     # doctest: +SKIP
            ...                            {"rd_price_elasticity": -1.0})
        """
        return self._with(policies or {}, parameters or {})

    def _with(self, policies: dict, parameters: dict, where: str = "") -> Prepared:
        data = self.scenario.model_dump(exclude_unset=True)
        merged = {k: v.model_dump(exclude_unset=True) for k, v in self.scenario.policies.items()}
        for key, setting in policies.items():
            merged[key] = {**merged.get(key, {}), **setting}
        data["policies"] = merged
        data["parameters"] = {**self.scenario.parameters, **parameters}
        data["variants"] = {}
        scenario = validate(Scenario, data, self.scenario_path)
        try:   # a variant's bad parameter or instrument setting is named under variants.<name>
            params = Parameters.defaults().with_overrides(scenario.parameters, str(self.scenario_path))
            prepared = replace(self, scenario=scenario, params=params)
            prepared.instruments()
        except InputError as exc:
            raise InputError(exc.file, f"{where}.{exc.field}" if where else exc.field, exc.problem,
                             value=exc.value, allowed=exc.allowed) from None
        return prepared

    def model(self, replicate: int = 0) -> RegionModel:
        """A fresh model for ``replicate`` (its seed derives from the scenario seed).

        With ``parameter_uncertainty: true`` the replicate's calibrated parameters are a draw
        from calibration/calibrated.yaml (the same in every variant); parameters the
        scenario or variant sets explicitly keep their set values.
        """
        return RegionModel(self.region, self.replicate_params(replicate), self.instruments(),
                           seed=replicate_seed(self.scenario.seed, replicate),
                           horizon=self.scenario.horizon, region_path=self.region_path,
                           past_instruments=self.catalogue_instruments())

    def catalogue_instruments(self) -> list[Instrument]:
        """The region's instruments as the catalogues write them (no scenario or variant settings): the
        policy in force before the base year, which shaped the base-year state of every variant."""
        return build_instruments(self.region, self.scenario.model_copy(update={"policies": {}}),
                                 self.region_path.parent.parent / "policies", str(self.scenario_path))

    def replicate_params(self, replicate: int = 0) -> Parameters:
        """The parameters of ``replicate``'s model (see :meth:`model`)."""
        if not self.scenario.parameter_uncertainty:
            return self.params
        draw = calibrated_draw(self.scenario.seed, replicate)
        return self.params.with_overrides({k: v for k, v in draw.items() if k not in self.scenario.parameters},
                                          "calibration/calibrated.yaml")


def replicate_seed(seed: int, replicate: int) -> np.random.SeedSequence:
    """Seed of replicate ``k``: the same for every variant of a scenario (common random numbers)."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(replicate,))


def build_instruments(region: Region, scenario: Scenario, policies_dir: Path, origin: str) -> list[Instrument]:
    """Instruments of the region's catalogues, with the scenario's settings applied."""
    instruments, known = [], []
    for name in region.policy_catalogues:
        path = policies_dir / f"{name}.yaml"
        catalogue = load_catalogue(path)
        for spec in catalogue.instruments:
            known.append(spec.id)
            if not spec.modelled:
                continue
            instruments.append(build_instrument(spec, scenario.policies.get(spec.id), origin, str(path),
                                                spec.payer or catalogue.payer))
    for key in scenario.policies:
        if key not in known:
            raise InputError(origin, f"policies.{key}", "unknown instrument" + closest(key, known),
                             allowed=", ".join(known) or "none (the region has no catalogue)")
    return instruments


def prepare(path: str | Path, *, seed: int | None = None, replicates: int | None = None,
            horizon: int | None = None) -> Prepared:
    """Validate a scenario file and everything it refers to. Raises InputError on any problem."""
    path = Path(path)
    scenario = load_scenario(path)
    scenario = apply_options(scenario, seed=seed, replicates=replicates, horizon=horizon)   # named --seed, …
    library = path.parent / scenario.scenario_dir if scenario.scenario_dir else path.parent
    if scenario.scenario_dir and not (library / "regions").is_dir():
        raise InputError(path, "scenario_dir", f"no regions/ folder in {library}", value=scenario.scenario_dir,
                         allowed="a folder (relative to the scenario file) holding regions/ and policies/, "
                                 "such as the repository's scenarios/")
    regions_dir = library / "regions"
    region_path = regions_dir / f"{scenario.region}.yaml"
    problem = file_problem(region_path)
    if problem and problem != "file not found":   # a folder, a symlink loop, a broken link: say so
        raise InputError(path, "region", f"the region file {region_path} is unreadable: {problem}",
                         value=scenario.region, allowed=f"a region file in {regions_dir}")
    if problem:
        available = sorted(p.stem for p in regions_dir.glob("*.yaml") if not p.name.startswith("_"))   # (data notes)
        raise InputError(path, "region", f"unknown region {scenario.region!r}" + closest(scenario.region, available),
                         allowed=", ".join(available) or f"a file in {regions_dir}")
    region = load_region(region_path)
    if scenario.horizon < region.base_year:
        raise InputError(path, "horizon", "must not precede the region's base year", value=scenario.horizon,
                         allowed=f">= {region.base_year}")
    _check_years(scenario, path, horizon)
    params = Parameters.defaults().with_overrides(scenario.parameters, str(path))
    prepared = Prepared(scenario, path, region, region_path, params,
                        tuple(library / "policies" / f"{c}.yaml" for c in region.policy_catalogues))
    prepared.instruments()   # validate the catalogues and the scenario's policy settings now
    prepared.variants()      # ... and every variant's
    return prepared


def _check_years(scenario: Scenario, path: Path, horizon_option: int | None) -> None:
    """An instrument setting (of the scenario or a variant) that starts after the horizon would never pay:
    refused, naming the setting (and --horizon when the horizon came from it)."""
    where = "--horizon" if horizon_option is not None else "horizon"
    settings = [(f"policies.{k}", v) for k, v in scenario.policies.items()]
    settings += [(f"variants.{n}.policies.{k}", v) for n, var in scenario.variants.items()
                 for k, v in var.policies.items()]
    for field, setting in settings:
        if setting.start_year is not None and setting.start_year > scenario.horizon:
            raise InputError(path, f"{field}.start_year", f"starts after the run's last year ({where} "
                             f"{scenario.horizon}), so it would never pay", value=setting.start_year,
                             allowed=f"<= {scenario.horizon}, or a later {where}")


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


# ------------------------------------------------------------------ outputs
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=Path(__file__).parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    """Versions of Python and the packages that determine results."""
    out = {"python": platform.python_version()}
    for pkg in ("innosim", "mesa", "numpy", "pandas", "scipy", "matplotlib", "pydantic", "PyYAML"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def input_files(prepared: Prepared) -> list[Path]:
    """Every file a run's results depend on: scenario, region, policy catalogues and, when it is in use,
    calibration/calibrated.yaml (default parameter values and draws come from it)."""
    files = [prepared.scenario_path, prepared.region_path, *prepared.policy_files]
    calibrated = calibrated_path()
    if calibrated is not None and calibrated.is_file():
        files.append(calibrated)
    return files


#: the repository this package runs from (its scenarios/, calibration/): input paths are recorded relative to it
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def input_key(path: Path) -> str:
    """How a run records an input file: relative to the repository root (POSIX separators) when the file
    is inside it, so the folder reruns from any working directory and from another clone; else absolute."""
    full = Path(path).resolve()
    try:
        return full.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(full)


def _project_of(folder: Path) -> Path | None:
    """The innosim repository a folder lies in (the nearest parent with pyproject.toml and scenarios/)."""
    for parent in [folder.resolve(), *folder.resolve().parents]:
        if (parent / "pyproject.toml").is_file() and (parent / "scenarios").is_dir():
            return parent
    return None


def resolve_input(key: str, digest: str | None, manifest_path: Path, recorded_root: str | None) -> Path | None:
    """The file a manifest's input ``key`` names: itself if absolute; else the first of the repository this
    package runs from, the repository the output folder lies in, the repository recorded at run time and
    the working directory (manifests before paths were recorded relative kept them as typed) where the
    file exists, with ``digest`` when given. ``None`` when no candidate has it."""
    path = Path(key)
    if path.is_absolute():
        candidates = [path]
    else:
        roots = [PROJECT_ROOT, _project_of(manifest_path.parent), Path(recorded_root) if recorded_root else None,
                 Path.cwd()]
        candidates = [root / path for root in roots if root is not None]
    existing = [c for c in candidates if c.is_file()]
    for candidate in existing:
        if digest is None or _sha256(candidate) == digest:
            return candidate
    return None


def manifest(prepared: Prepared, options: dict) -> dict:
    """Everything needed to regenerate a run: inputs (with hashes), options, parameters, seed, versions."""
    files = input_files(prepared)
    return {
        "tool": "innosim",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_file": input_key(prepared.scenario_path),
        "scenario_sha256": _sha256(prepared.scenario_path),
        "repository_root": str(PROJECT_ROOT),
        "paths": "relative to the repository root (repository_root at run time; innosim rerun looks in the "
                 "repository it runs from and the one the folder lies in), absolute when outside it",
        "options": options,
        "scenario": prepared.scenario.model_dump(mode="json"),
        "variants": list(prepared.variants()),
        "seed": prepared.scenario.seed,
        "replicates": prepared.scenario.replicates,
        "replicate_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replicate,)), the same for every variant",
        "horizon": prepared.scenario.horizon,
        "base_year": prepared.region.base_year,
        "input_sha256": {input_key(p): _sha256(p) for p in files},
        "parameters": prepared.params.to_dict(),
        "uncertainty": ("replicates: stochastic (random streams) and parameter (calibrated draws per replicate of "
                        + ", ".join(calibrated_draw(prepared.scenario.seed, 0)) + ")"
                        if prepared.scenario.parameter_uncertainty and calibrated_draw(prepared.scenario.seed, 0) else
                        "replicates: stochastic only (random streams); parameters fixed at their values above"),
        "versions": versions(),
        "git_commit": _git_commit(),
        "platform": platform.platform(),
    }


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
        raise os_fault(exc, requested, _resume_hint(state.get("run_dir"), prepared)) from None


def _resume_hint(run_dir: Path | None, prepared: Prepared) -> str:
    """What to run next after a fault, when some replicates are saved."""
    done = len(saved_replicates(run_dir / "chunks")) if run_dir is not None else 0
    if not done:
        if run_dir is not None:   # nothing worth resuming: the next plain run must not be refused beside it
            shutil.rmtree(run_dir, ignore_errors=True)
        return "nothing was written"
    return (f"{done} of {prepared.scenario.replicates} replicates are saved in {run_dir}: the same command "
            "with --resume continues from them; no result folder was written")


def _write_locked(prepared: Prepared, requested: Path, options: dict, state: dict, locks: ExitStack, *, lang: str,
                  jobs: int, scheduler: str | None, progress: bool, force: bool, resume: bool,
                  report: bool = True) -> RunOutcome:
    """:func:`write_run` once ``requested`` is locked (``state`` gets the checkpoint folder; the lock of the
    folder actually written, if another, joins ``locks``)."""
    from simulator.experiments import flows, results
    from simulator.report.plots import indicator_chart_tasks, summary_chart_tasks, variant_labels

    fingerprint = run_fingerprint(prepared, options)
    dest, run_dir = _destination(requested, fingerprint, force=force, resume=resume, echo=stderr_echo(progress))
    if dest != requested:   # <folder>-2 may be another run's --out
        locks.enter_context(output_lock(dest))
    state["run_dir"] = run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    info = run_dir / "run.json"
    if not info.is_file():
        _atomic_text(info, json.dumps({"destination": str(dest), "fingerprint": fingerprint}, ensure_ascii=False,
                                      indent=2))
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
            tables = {"targets": results.targets(table, prepared.region),
                      "additionality": results.additionality(table, prepared.region),
                      "summary": results.summary(table),
                      "payments": ens.payments,
                      "instruments": results.instrument_status(variants, ens.payments, table),
                      "failures": ens.failures_frame(),
                      "hte_flows": flows.hte_flows(table),
                      "stock_flows": flows.stock_flows(table)}
            draw([(flows.flows_chart, (tables["hte_flows"], "base", partial / "flows_hte", lang))])
            draw(summary_chart_tasks(tables["targets"], tables["additionality"], prepared.region, partial, lang,
                                     names))
            _write_tables(partial, table, tables)
            for future in pending:
                future.result()
            meta = manifest(prepared, options)
            meta["failed_runs"] = len(ens.failures)
            meta["runs"] = n_runs
            meta["payments"] = payment_note(tables["instruments"])
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


def payment_note(status: pd.DataFrame) -> dict:
    """The manifest's ``payments`` entry: whether any instrument paid, and why each one that did not."""
    from simulator.experiments.results import NOTHING_PAID, nothing_paid

    unpaid = status[status["status"] != "paid"]
    return {"nothing_paid": nothing_paid(status), "message": NOTHING_PAID if nothing_paid(status) else "",
            "not_paid": [{k: r[k] for k in ("variant", "instrument", "clause", "status", "reason")}
                         for r in unpaid.to_dict("records")]}


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


def run_fingerprint(prepared: Prepared, options: dict) -> dict:
    """What determines an ensemble's results: the inputs (hashes), seed, replicates and horizon, and the
    code and package versions. A checkpoint is resumed only under the same fingerprint."""
    files = input_files(prepared)
    code = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for file in sorted([*package.rglob("*.py"), *package.glob("data/*.yaml")]):
        code.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes())
    return {"scenario_file": input_key(prepared.scenario_path),
            "input_sha256": {input_key(p): _sha256(p) for p in files},
            "seed": prepared.scenario.seed, "replicates": prepared.scenario.replicates,
            "horizon": prepared.scenario.horizon, "variants": list(prepared.variants()),
            "code_sha256": code.hexdigest(), "versions": versions()}


def _destination(requested: Path, fingerprint: dict, *, force: bool, resume: bool, echo) -> tuple[Path, Path]:
    """The output folder and its checkpoint folder.

    See :func:`write_run` for the rules.
    """
    candidates = [requested] + [requested.with_name(f"{requested.name}-{k}") for k in range(2, 1000)]
    if resume:
        for folder in candidates:
            run_dir = _run_dir(folder)
            if not run_dir.is_dir():
                if not folder.exists():
                    break
                continue
            saved = _read_run(run_dir)
            if saved is None:
                continue
            if saved["fingerprint"] != fingerprint:
                raise InputError(run_dir, "--resume", f"{_what_changed(saved['fingerprint'], fingerprint)} since "
                                 "the interrupted run there, so its replicates cannot be reused",
                                 allowed="the same scenario, files and options; or run without --resume "
                                         "(--force starts it over)")
            done = len(saved_replicates(run_dir / "chunks"))
            echo(f"resuming {run_dir}: {done} of {fingerprint['replicates']} replicates already done")
            return Path(saved["destination"]), run_dir
        echo("nothing to resume: no interrupted run of this scenario was found; starting")
    dest = output_folder(requested, force, echo)
    run_dir = _run_dir(dest)
    if run_dir.exists():
        if not force and not dest.exists():
            saved = _read_run(run_dir)
            done = len(saved_replicates(run_dir / "chunks"))
            total = saved["fingerprint"].get("replicates", "?") if saved else "?"
            raise InputError(run_dir, "", f"an interrupted run of this output is here ({done} of {total} "
                             "replicates saved)", allowed="--resume to continue it, or --force to start over")
        shutil.rmtree(run_dir)
    return dest, run_dir


def _what_changed(old: dict, new: dict) -> str:
    """The first difference between two run fingerprints, in words naming the file, option or package."""
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if key == "input_sha256" and isinstance(before, dict):
            changed = sorted(f for f in set(before) | set(value) if before.get(f) != value.get(f))
            return f"the input file {', '.join(changed)} changed"
        if key == "code_sha256":
            return "the innosim code changed"
        if key == "versions" and isinstance(before, dict):
            changed = sorted(p for p in set(before) | set(value) if before.get(p) != value.get(p))
            return "package versions changed (" + ", ".join(f"{p} {before.get(p)} -> {value.get(p)}"
                                                           for p in changed) + ")"
        return f"{key} changed ({before!r} -> {value!r})"
    return "the fingerprint changed"


def output_folder(requested: str | Path, force: bool = False, echo=None) -> Path:
    """Where an output folder goes without overwriting anything: ``requested`` if it does not exist
    (or ``force`` and it is an innosim output, which is then replaced), else the first free
    ``<requested>-2``, ``-3``, … (said through ``echo``). A folder that is not an innosim output is
    never written into."""
    requested = Path(requested)
    if requested.exists() and not (requested / MANIFEST).is_file():
        raise InputError(requested, "--out", "exists and is not an innosim output folder; refusing to overwrite it",
                         allowed="a new folder or an earlier innosim output")
    if force or not requested.exists():
        return requested
    dest = next(requested.with_name(f"{requested.name}-{k}") for k in range(2, 10_000)
                if not requested.with_name(f"{requested.name}-{k}").exists())
    if echo is not None:
        echo(f"{requested} exists; writing {dest} (--force replaces {requested})")
    return dest


def _run_dir(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.run")


def _read_run(run_dir: Path) -> dict | None:
    try:
        saved = json.loads((run_dir / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and "fingerprint" in saved and "destination" in saved else None


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    except BaseException:   # e.g. a full disk: no part-written file is left
        tmp.unlink(missing_ok=True)
        raise


def _write_tables(folder: Path, table: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
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


def replace_folder(dest: Path, tmp: Path) -> None:
    """Move the finished folder ``tmp`` to ``dest`` (an earlier output there is replaced)."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        try:
            tmp.rename(dest)
        except BaseException:   # the earlier output goes back where it was
            old.rename(dest)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(dest)


#: what rerun reads from a manifest: field -> (check, what is allowed)
_MANIFEST_FIELDS = {
    "scenario_file": (lambda v: isinstance(v, str) and bool(v), "the scenario file's path (text)"),
    "input_sha256": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(d, str)
                                                            for k, d in v.items()),
                     "a mapping of file paths to SHA-256 digests"),
    "options": (lambda v: isinstance(v, dict), "a mapping with seed, replicates, horizon and lang"),
    "options.seed": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null"),
    "options.replicates": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                           "an integer or null"),
    "options.horizon": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                        "an integer or null"),
    "options.lang": (lambda v: v in ("zh", "en"), "zh or en"),
}


#: fields rerun reads when present (null or absent: not used)
_MANIFEST_OPTIONAL = {
    "repository_root": (lambda v: isinstance(v, str), "the repository's path (text) or null"),
    "scenario_sha256": (lambda v: isinstance(v, str), "the scenario's SHA-256 digest (text)"),
}


def _check_manifest(meta: dict, path: Path) -> None:
    """Refuse a manifest whose fields rerun needs are missing or of the wrong type (one line naming
    manifest.json and the field, instead of a KeyError later)."""
    for field, (ok, allowed) in _MANIFEST_OPTIONAL.items():
        if meta.get(field) is not None and not ok(meta[field]):
            raise InputError(path, field, "wrong type or value in the manifest", value=meta[field], allowed=allowed)
    for field, (ok, allowed) in _MANIFEST_FIELDS.items():
        parent, _, key = field.rpartition(".")
        holder = meta.get(parent) if parent else meta
        if not isinstance(holder, dict):
            continue   # reported for the parent
        if key not in holder:
            raise InputError(path, field, "missing from the manifest; it was not written by innosim run (or was "
                             "edited)", allowed=allowed)
        if not ok(holder[key]):
            raise InputError(path, field, "wrong type or value in the manifest", value=holder[key], allowed=allowed)


#: files of an output folder that must be identical when the run is repeated
REPRODUCIBLE = ("indicators.csv", "summary.csv", "targets.csv", "additionality.csv", "payments.csv", "failures.csv")


def rerun(folder: str | Path, out: str | Path | None = None, jobs: int = 1) -> tuple[Path, list[str]]:
    """Regenerate an output folder from its manifest; return the new folder and the files that differ.

    Refuses (InputError) when an input file changed since the run (its SHA-256 differs).
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(folder, "", "not an innosim output folder (no manifest.json)", allowed="an output folder")
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, "", f"not a readable innosim manifest ({type(exc).__name__}: {exc})",
                         allowed="the manifest.json innosim wrote") from None
    missing = [k for k in ("options", "input_sha256", "scenario_file") if not isinstance(meta, dict) or k not in meta]
    if missing and not (isinstance(meta, dict) and meta.get("analysis")):
        raise InputError(path, ", ".join(missing), "missing from the manifest; it was not written by innosim run",
                         allowed="the manifest.json innosim wrote")
    if meta.get("analysis"):
        raise InputError(folder, "", f"a {meta.get('analysis_kind', 'sensitivity or optimiser')} folder, not a "
                         "scenario run; regenerate it with the command in its manifest",
                         allowed=meta.get("command", "an innosim run output folder"))
    _check_manifest(meta, path)
    root = meta.get("repository_root")
    for file, digest in meta["input_sha256"].items():
        if resolve_input(file, digest, path, root) is None:
            raise InputError(file, "", "input changed or missing since the run; cannot reproduce it",
                             allowed=f"the file with SHA-256 {digest[:12]}… (looked in {PROJECT_ROOT}"
                                     + ("" if Path(file).is_absolute() else ", the folder's repository and "
                                        "the working directory") + ")")
    scenario = resolve_input(meta["scenario_file"], meta.get("scenario_sha256"), path, root)
    if scenario is None:
        raise InputError(meta["scenario_file"], "", "scenario changed or missing since the run; cannot reproduce it",
                         allowed="the scenario file the run used")
    opts = meta["options"]
    dest = Path(out) if out else folder.with_name(folder.name + "-rerun")
    dest = write_run(scenario, out=dest, seed=opts["seed"], replicates=opts["replicates"],
                     horizon=opts["horizon"], lang=opts["lang"], jobs=jobs).folder
    differ = [f for f in REPRODUCIBLE if (folder / f).is_file()   # (folders older than failures.csv lack it)
              and (not (dest / f).is_file() or (folder / f).read_bytes() != (dest / f).read_bytes())]
    return dest, differ

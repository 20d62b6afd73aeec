"""Calibration of behavioural parameters against historical statistics (simulated method of moments).

A calibration spec (``calibration/<name>.yaml``) names a historical region file (a
population built from an earlier base year), the policy catalogues in force then, a
targets table (one published figure a row, with its relative uncertainty and a note on
its definition) and the free parameters with search bounds. :func:`calibrate` then

1. evaluates a scrambled Sobol design over the search box (a uniform prior) and refines
   the best point with Nelder-Mead (:mod:`scipy.optimize`), restarted once from any lower
   point the profiles (step 2) find; every parameter vector is run
   with the same replicate seeds (common random numbers), so the objective is a smooth,
   deterministic function of the parameters rather than a noisy one;
2. profiles the objective along each parameter through the estimate (conditional profile
   likelihood) for a 90 % interval, and warns where the data cannot identify a parameter
   (the profile stays within the 90 % threshold over the whole search range): such a
   parameter keeps its prior value;
3. reports the fit (median and 90 % band over replicates against every target), and
4. repeats the fit on the data up to the year before ``holdout_from`` and compares its
   projections for the held-out years with a log-linear trend of the same series.

The objective is the sum over targets of ((ln simulated mean - ln data) / s)^2 with
s^2 = rel_sd^2 + (Monte Carlo sd of the log mean)^2. Where the model cannot fit the data
within those uncertainties (objective per degree of freedom above 1) the profile
thresholds are scaled by that ratio (a quasi-likelihood correction), so intervals widen
rather than claim precision the fit does not have.

Example:
    >>> from simulator.analysis.calibration import calibrate
    >>> result = calibrate("calibration/heilongjiang.yaml", small=True)   # doctest: +SKIP
    >>> result.estimate                                                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import minimize
from scipy.stats import qmc

from simulator.errors import InputError, closest
from simulator.inputs.parameters import Parameters, prior_specs
from simulator.inputs.reading import load_yaml
from simulator.inputs.region_file import Region, load_region
from simulator.inputs.scenario_file import Scenario
from simulator.inputs.validation import validate
from simulator.model.indicators import INDICATORS

#: chi-square(1) quantile for a two-sided 90 % profile-likelihood interval
CHI2_90 = 2.706
#: moments that are not a single indicator: name -> indicators summed
DERIVED = {"hte_certified": ("hte_new_certifications", "hte_recertifications")}
#: budget of ``small=True`` (tests, notebooks): a few minutes at most on a zone-sized region
SMALL = {"replicates": 2, "design_points": 8, "local_evaluations": 8, "profile_points": 3,
         "fit_replicates": 3, "posterior_draws": 20}
TARGET_COLUMNS = ("id", "indicator", "year", "ratio_to", "value", "rel_sd", "kind", "definition", "source")


# ------------------------------------------------------------------ spec
class FreeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bounds: tuple[float, float]
    why: str = ""


class CalibrationSpec(BaseModel):
    """A calibration file (``calibration/<name>.yaml``); paths are relative to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    region: str
    policies_dir: str
    targets: str
    trend_series: str | None = None
    data: str | None = None
    end_year: int
    holdout_from: int | None = None
    seed: int = Field(ge=0)
    output: str = "calibrated.yaml"
    diagnostics: str = "diagnostics"
    replicates: int = Field(ge=1, le=1000)
    design_points: int = Field(ge=1, le=100_000)
    local_evaluations: int = Field(ge=0, le=100_000)
    profile_points: int = Field(ge=0, le=1000)
    fit_replicates: int = Field(ge=1, le=10_000)
    posterior_draws: int = Field(ge=0, le=100_000)
    free: dict[str, FreeSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Problem:
    """Everything one fit needs: region, instruments' source, targets, free parameters, budget."""

    spec: CalibrationSpec
    spec_path: Path
    region: Region
    region_path: Path
    policies_dir: Path
    targets: pd.DataFrame
    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    @property
    def horizon(self) -> int:
        return int(self.targets["year"].max())

    def theta(self, u: np.ndarray) -> dict[str, float]:
        """Parameter values at unit-box coordinates ``u``."""
        x = self.lower + np.clip(u, 0.0, 1.0) * (self.upper - self.lower)
        return {n: float(v) for n, v in zip(self.names, x, strict=True)}

    def unit(self, theta: dict[str, float]) -> np.ndarray:
        x = np.array([theta[n] for n in self.names])
        return (x - self.lower) / (self.upper - self.lower)


def load_problem(path: str | Path) -> Problem:
    """Read and check a calibration spec, its region file, policy catalogues, targets table and trend series."""
    from simulator.policy.build import build_instruments

    path = Path(path)
    spec = validate(CalibrationSpec, load_yaml(path), path)
    here = path.parent
    region_path = here / spec.region
    if not region_path.is_file():
        raise InputError(path, "region", "file not found", value=spec.region, allowed="a region file")
    region = load_region(region_path)
    policies_dir = here / spec.policies_dir
    for name in region.policy_catalogues:
        if not (policies_dir / f"{name}.yaml").is_file():
            raise InputError(path, "policies_dir", f"has no catalogue {name}.yaml named by {region_path.name}",
                             value=spec.policies_dir, allowed="the folder of the region's catalogues")
    if not region.base_year < spec.end_year <= 2100:
        raise InputError(path, "end_year", "must fall after the region's base year", value=spec.end_year,
                         allowed=f"{region.base_year + 1} to 2100")
    # the catalogues and their instruments, checked now rather than in the first evaluation
    build_instruments(region, Scenario(name="calibration", region=region.id, horizon=spec.end_year, seed=spec.seed),
                      policies_dir, str(path))
    if spec.holdout_from is not None and not region.base_year + 1 < spec.holdout_from <= spec.end_year:
        raise InputError(path, "holdout_from", "the held-out years must leave fitted years before them and "
                         "end by end_year", value=spec.holdout_from,
                         allowed=f"{region.base_year + 2} to {spec.end_year}")
    specs = prior_specs()
    for name, free in spec.free.items():
        if name not in specs:
            raise InputError(path, f"free.{name}", "unknown parameter" + closest(name, specs),
                             allowed="see `innosim parameters`")
        lo, hi = specs[name].bounds
        if isinstance(specs[name].value, list) or not (lo <= free.bounds[0] < free.bounds[1] <= hi):
            raise InputError(path, f"free.{name}.bounds", "must be a scalar parameter's increasing range "
                             "inside its bounds in parameters.yaml", value=list(free.bounds), allowed=f"[{lo}, {hi}]")
    for key in ("targets", "trend_series"):
        name = getattr(spec, key)
        if name is not None and not (here / name).is_file():
            raise InputError(path, key, "file not found", value=name, allowed=f"a CSV file relative to {here}")
    targets = read_targets(here / spec.targets, region.base_year)
    if spec.trend_series:
        read_trend_series(here / spec.trend_series)
    names = tuple(spec.free)
    return Problem(spec, path, region, region_path, policies_dir, targets, names,
                   np.array([spec.free[n].bounds[0] for n in names], dtype=float),
                   np.array([spec.free[n].bounds[1] for n in names], dtype=float))


#: columns of a targets table and their kinds (:func:`simulator.inputs.reading.read_csv_checked`); ``region`` is a note
TARGET_KINDS = {"id": "text", "region": "text?", "indicator": "text", "year": "int", "ratio_to": "number?",
                "value": "number", "rel_sd": "number", "kind": "text?", "definition": "text?", "source": "text?"}
TREND_KINDS = {"indicator": "text", "year": "int", "value": "number", "source": "text?"}


def _indicator_unit(column: str, row: dict) -> str | None:
    """Unit a numeric cell implies: the indicator's for ``value`` (a ratio has none), a share for ``rel_sd``."""
    if column == "value" and not (row.get("ratio_to") or "").strip():
        ind = INDICATORS.get((row.get("indicator") or "").strip())
        return ind.unit if ind else None
    return "share 0-1" if column == "rel_sd" else None


def _read_table(path: Path, kinds: dict[str, str], required, what: str) -> tuple[pd.DataFrame, list[int]]:
    """A checked CSV table (every cell of its kind, with its line) as read by pandas, and each row's line."""
    from simulator.inputs.reading import read_csv_checked

    rows, lines = read_csv_checked(path, kinds, required, unit_of=_indicator_unit, what=what)
    if not rows:
        raise InputError(path, "", "no rows under the header", allowed=what, line=2)
    t = pd.read_csv(path, dtype={"id": str} if "id" in kinds else None, encoding="utf-8-sig")
    t.columns = [str(c).strip() for c in t.columns]   # as the checked reader reads the header
    if len(t) != len(rows):   # pandas skips what the checked reader skips; fall back to row numbers if not
        lines = [i + 2 for i in range(len(t))]
    return t, lines


def read_targets(path: Path, base_year: int) -> pd.DataFrame:
    """The targets table, checked: known indicators, positive values and uncertainties, years after the base.

    Every problem names the file, the line, the row (its id) and the column.
    """
    what = "a CSV with columns " + ", ".join(TARGET_COLUMNS)
    t, lines = _read_table(path, TARGET_KINDS, TARGET_COLUMNS, what)
    known = set(INDICATORS) | set(DERIVED)
    for row, line in zip(t.itertuples(), lines, strict=True):
        where = f"{row.id}"
        if row.indicator not in known:
            raise InputError(path, f"{where}.indicator", "unknown indicator" + closest(row.indicator, known),
                             value=row.indicator, allowed=", ".join(sorted(known)), line=line)
        for column in ("value", "rel_sd"):
            if not getattr(row, column) > 0:
                raise InputError(path, f"{where}.{column}", "must be positive", value=getattr(row, column),
                                 allowed="a positive number", line=line)
        if row.year <= base_year or row.year > 2100:
            raise InputError(path, f"{where}.year", "must fall after the region's base year",
                             value=row.year, allowed=f"{base_year + 1} to 2100", line=line)
        ratio_to = row.ratio_to
        if not pd.isna(ratio_to) and not (base_year <= ratio_to < row.year and ratio_to == int(ratio_to)):
            raise InputError(path, f"{where}.ratio_to", "must be a year from the base year to before the target's",
                             value=row.ratio_to, allowed=f"{base_year} to {row.year - 1}", line=line)
    if t["id"].duplicated().any():
        dup = sorted(t.loc[t["id"].duplicated(), "id"])
        line = lines[int(np.flatnonzero(t["id"].duplicated().to_numpy())[0])]
        raise InputError(path, f"{dup[0]}.id", "duplicate target id", value=dup[0], allowed="one row per id", line=line)
    return t.reset_index(drop=True)


def read_trend_series(path: Path) -> pd.DataFrame:
    """The earlier years of the targets' series (for the trend benchmark), checked like the targets."""
    what = "a CSV with columns indicator, year, value"
    t, lines = _read_table(path, TREND_KINDS, ("indicator", "year", "value"), what)
    for row, line in zip(t.itertuples(), lines, strict=True):
        if row.indicator not in INDICATORS:
            raise InputError(path, f"row {row.Index + 1}.indicator",
                             "unknown indicator" + closest(row.indicator, INDICATORS), value=row.indicator,
                             allowed=", ".join(INDICATORS), line=line)
        if not row.value > 0:
            raise InputError(path, f"row {row.Index + 1}.value", "must be positive", value=row.value,
                             allowed="a positive number", line=line)
    return t


# ------------------------------------------------------------------ simulation
def prior_parameters() -> Parameters:
    """The documented priors of parameters.yaml, without any calibrated overlay."""
    return Parameters.priors()


def simulate(problem: Problem, theta: dict[str, float], replicates: int, *,
             years: int | None = None, base: Parameters | None = None) -> pd.DataFrame:
    """Run ``replicates`` historical runs at ``theta``; return the moments (rows replicates, columns target ids).

    Replicate k uses seed ``SeedSequence(spec.seed, spawn_key=(k,))`` whatever ``theta``
    (common random numbers).
    """
    from simulator.experiments.seeds import replicate_seed
    from simulator.model.region_model import RegionModel
    from simulator.policy.build import build_instruments

    params = (base or prior_parameters()).with_overrides(theta, str(problem.spec_path))
    horizon = years or problem.horizon
    scenario = Scenario(name="calibration", region=problem.region.id, horizon=horizon, seed=problem.spec.seed)
    rows = []
    for k in range(replicates):
        instruments = build_instruments(problem.region, scenario, problem.policies_dir, str(problem.region_path))
        model = RegionModel(problem.region, params, instruments, seed=replicate_seed(problem.spec.seed, k),
                            horizon=horizon, region_path=problem.region_path)
        model.run()
        model.release()
        rows.append(moments(pd.DataFrame(model.records).set_index("year"), problem.targets))
    return pd.DataFrame(rows, columns=problem.targets["id"])


def moments(records: pd.DataFrame, targets: pd.DataFrame) -> list[float]:
    """Simulated value of every target from one run's yearly indicators (NaN beyond the run)."""
    def value(indicator: str, year: int) -> float:
        if year not in records.index:
            return math.nan
        cols = DERIVED.get(indicator, (indicator,))
        return float(sum(records.at[year, c] for c in cols))

    out = []
    for row in targets.itertuples():
        v = value(row.indicator, int(row.year))
        if not pd.isna(row.ratio_to):
            v = v / value(row.indicator, int(row.ratio_to))
        out.append(v)
    return out


def objective(sim: pd.DataFrame, targets: pd.DataFrame) -> float:
    """Sum of squared standardised log errors of the replicate mean (see module docstring)."""
    logs = np.log(np.maximum(sim.to_numpy(dtype=float), 1e-9))
    mean = np.log(np.maximum(sim.to_numpy(dtype=float).mean(axis=0), 1e-9))
    mc_var = logs.var(axis=0, ddof=1) / len(sim) if len(sim) > 1 else 0.0
    s2 = targets["rel_sd"].to_numpy() ** 2 + mc_var
    err = mean - np.log(targets["value"].to_numpy(dtype=float))
    return float((err ** 2 / s2).sum())


# ------------------------------------------------------------------ estimation
@dataclass
class Fit:
    """One fit: the estimate, its profile intervals, identification and the search history."""

    problem: Problem
    fit_until: int
    estimate: dict[str, float]
    loss: float
    dispersion: float
    history: pd.DataFrame
    profiles: pd.DataFrame
    intervals: dict[str, tuple[float, float]]
    identified: dict[str, bool]
    priors: dict[str, float] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Estimate for identified parameters, prior for the others."""
        return {n: (self.estimate[n] if self.identified[n] else self.priors[n]) for n in self.problem.names}


def fit(problem: Problem, fit_until: int | None = None, budget: dict | None = None,
        progress: bool = False) -> Fit:
    """Fit the free parameters to the targets with ``year <= fit_until`` (default: all)."""
    b = {k: getattr(problem.spec, k) for k in SMALL} | (budget or {})
    fit_until = fit_until or problem.spec.end_year
    used = problem.targets[problem.targets["year"] <= fit_until].reset_index(drop=True)
    if used.empty:
        raise InputError(problem.spec_path, "end_year", "no target falls in the fitted years",
                         value=fit_until, allowed=f"a year with targets ({sorted(problem.targets['year'].unique())})")
    sub = Problem(problem.spec, problem.spec_path, problem.region, problem.region_path, problem.policies_dir,
                  used, problem.names, problem.lower, problem.upper)
    d = len(problem.names)
    history: list[dict[str, Any]] = []
    cache: dict[bytes, float] = {}

    def loss(u: np.ndarray, phase: str) -> float:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        key = np.round(u, 12).tobytes()
        if key not in cache:
            cache[key] = objective(simulate(sub, sub.theta(u), b["replicates"]), used)
            history.append({"evaluation": len(history) + 1, "phase": phase, "loss": cache[key], **sub.theta(u)})
            if progress:
                print(f"  [{phase} {len(history)}] loss {cache[key]:.2f}", flush=True)
        return cache[key]

    with warnings.catch_warnings():   # Sobol balance warnings for non-powers of 2 are expected
        warnings.simplefilter("ignore", UserWarning)
        design = qmc.Sobol(d, scramble=True, seed=np.random.default_rng(problem.spec.seed)).random(b["design_points"])
    priors = {n: float(prior_specs()[n].value) for n in problem.names}
    prior_u = np.clip(sub.unit(priors), 0.0, 1.0)
    losses = [loss(prior_u, "prior")] + [loss(u, "design") for u in design]
    points = [prior_u, *design]
    best = points[int(np.argmin(losses))]

    def local(start: np.ndarray, maxfev: int, phase: str) -> np.ndarray:
        if maxfev <= 0:
            return start
        step = np.where(start > 0.5, -0.1, 0.1)
        simplex = np.vstack([start] + [start + step[j] * np.eye(d)[j] for j in range(d)])
        res = minimize(loss, start, args=(phase,), method="Nelder-Mead", bounds=[(0.0, 1.0)] * d,
                       options={"maxfev": maxfev, "initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-3})
        return np.clip(res.x, 0.0, 1.0) if res.fun < loss(start, phase) else start

    best = local(best, b["local_evaluations"], "local")
    grid = np.linspace(0.0, 1.0, b["profile_points"]) if b["profile_points"] else np.array([])
    # Profiles; if one finds a lower point the local search stopped short: restart it there once
    for attempt in range(2):
        best_loss = loss(best, "estimate")
        scans = []
        for j, name in enumerate(problem.names):
            us = np.unique(np.concatenate([grid, [best[j]]]))
            vals = np.array([loss(np.where(np.arange(d) == j, x, best), f"profile {name}") for x in us])
            scans.append((us, vals))
        lowest = min(((vals.min(), j, us[int(np.argmin(vals))]) for j, (us, vals) in enumerate(scans)))
        if attempt == 1 or lowest[0] >= best_loss - 1e-9:
            break
        start = best.copy()
        start[lowest[1]] = lowest[2]
        best = local(start, b["local_evaluations"] // 2, "polish")

    dof = max(len(used) - d, 1)
    dispersion = max(1.0, best_loss / dof)
    threshold = CHI2_90 * dispersion
    profiles, intervals, identified = [], {}, {}
    for j, name in enumerate(problem.names):
        us, vals = scans[j]
        lo_u, hi_u = _interval(us, vals - best_loss, threshold)
        lo, hi = sub.lower[j] + np.array([lo_u, hi_u]) * (sub.upper[j] - sub.lower[j])
        intervals[name] = (float(lo), float(hi))
        identified[name] = bool(us.size > 1 and (vals - best_loss).max() >= threshold
                                and (hi_u - lo_u) < 0.8)
        profiles += [{"parameter": name, "value": sub.theta(np.where(np.arange(d) == j, x, best))[name],
                      "delta_loss": v - best_loss, "threshold": threshold} for x, v in zip(us, vals, strict=True)]
    return Fit(problem, fit_until, sub.theta(best), best_loss, dispersion, pd.DataFrame(history),
               pd.DataFrame(profiles), intervals, identified, priors)


def _interval(xs: np.ndarray, delta: np.ndarray, threshold: float) -> tuple[float, float]:
    """Range of the unit coordinate where the profile stays below the threshold (linear interpolation)."""
    if xs.size < 2:
        return 0.0, 1.0
    i0 = int(np.argmin(delta))
    lo = hi = float(xs[i0])
    for step, bound in ((-1, 0.0), (1, 1.0)):
        i, edge = i0, bound
        while 0 <= i + step < xs.size:
            a, c = delta[i], delta[i + step]
            if c > threshold:
                edge = float(xs[i] + (threshold - a) / (c - a) * (xs[i + step] - xs[i]))
                break
            i += step
        if step < 0:
            lo = edge
        else:
            hi = edge
    return min(lo, hi), max(lo, hi)


# ------------------------------------------------------------------ reports
def fit_table(fit_: Fit, replicates: int) -> pd.DataFrame:
    """Every target against the simulated median and 90 % band at the fit's values."""
    p = fit_.problem
    sim = simulate(p, fit_.values(), replicates)
    t = p.targets.copy()
    t["in_sample"] = t["year"] <= fit_.fit_until
    t["sim_median"] = sim.median().to_numpy()
    t["sim_p5"] = sim.quantile(0.05).to_numpy()
    t["sim_p95"] = sim.quantile(0.95).to_numpy()
    t["error_pct"] = 100.0 * (t["sim_median"] / t["value"] - 1.0)
    t["within_band"] = (t["value"] >= t["sim_p5"]) & (t["value"] <= t["sim_p95"])
    return t[["id", "indicator", "year", "ratio_to", "kind", "in_sample", "value", "sim_median", "sim_p5",
              "sim_p95", "error_pct", "within_band", "rel_sd", "definition"]]


def trend_forecast(problem: Problem, fit_until: int, extra: pd.DataFrame | None) -> pd.Series:
    """Naive benchmark: log-linear trend of each series (data up to ``fit_until``) extrapolated.

    Uses the targets' own years plus any earlier years of the same indicator in ``extra``;
    ratios and series with fewer than two points get no forecast (NaN).
    """
    t = problem.targets
    out = {}
    for row in t.itertuples():
        if row.year <= fit_until or not pd.isna(row.ratio_to):
            continue
        pts = t[(t["indicator"] == row.indicator) & t["ratio_to"].isna() & (t["year"] <= fit_until)][["year", "value"]]
        if extra is not None:
            pts = pd.concat([pts, extra[(extra["indicator"] == row.indicator) & (extra["year"] <= fit_until)]
                             [["year", "value"]]]).drop_duplicates("year")
        if len(pts) >= 2:
            slope, icept = np.polyfit(pts["year"].to_numpy(float), np.log(pts["value"].to_numpy(float)), 1)
            out[row.id] = float(np.exp(icept + slope * row.year))
    return pd.Series(out, dtype=float)


def out_of_sample(problem: Problem, fit_: Fit, replicates: int) -> pd.DataFrame:
    """Held-out targets: the model fitted on earlier years against the log-linear trend.

    ``sim_*``/``error_pct`` use the values a calibration would ship (prior where a parameter
    is not identified); ``raw_*`` use the raw estimates of every free parameter.
    """
    table = fit_table(fit_, replicates)
    extra = None
    if problem.spec.trend_series:
        extra = read_trend_series(problem.spec_path.parent / problem.spec.trend_series)
    trend = trend_forecast(problem, fit_.fit_until, extra)
    held = table[~table["in_sample"]].copy()
    # the same projection at the raw estimates, unidentified parameters included
    raw = simulate(problem, fit_.estimate, replicates).median()
    held["raw_estimate_median"] = held["id"].map(raw)
    held["raw_error_pct"] = 100.0 * (held["raw_estimate_median"] / held["value"] - 1.0)
    held["trend"] = held["id"].map(trend)
    held["trend_error_pct"] = 100.0 * (held["trend"] / held["value"] - 1.0)
    return held[["id", "indicator", "year", "ratio_to", "value", "sim_median", "sim_p5", "sim_p95",
                 "error_pct", "within_band", "raw_estimate_median", "raw_error_pct", "trend", "trend_error_pct"]]


@dataclass
class Result:
    """Output of :func:`calibrate`: the final fit, the out-of-sample fit and their tables."""

    final: Fit
    fit_table: pd.DataFrame
    holdout: Fit | None
    out_of_sample: pd.DataFrame | None
    draws: pd.DataFrame
    seconds: float

    @property
    def estimate(self) -> dict[str, float]:
        return self.final.values()


def posterior_draws(fit_: Fit, n: int, seed: int) -> pd.DataFrame:
    """Parameter vectors for ensembles with parameter uncertainty.

    Identified parameters: independent normals centred on the estimate with the sd
    implied by the 90 % profile interval, truncated to the search bounds. Parameters the
    data cannot identify are not drawn (they stay at their prior value).
    """
    p = fit_.problem
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    cols = {}
    for j, name in enumerate(p.names):
        if not fit_.identified[name]:
            continue
        lo, hi = fit_.intervals[name]
        sd = max((hi - lo) / (2 * 1.645), 1e-12)
        x = fit_.estimate[name] + sd * rng.standard_normal(n)
        cols[name] = np.clip(x, p.lower[j], p.upper[j])
    return pd.DataFrame(cols)


def calibrate(path: str | Path, *, small: bool = False, holdout: bool = True, out: str | Path | None = None,
              progress: bool = False, write: bool = True) -> Result:
    """Run a calibration spec end to end and (``write=True``) write calibrated.yaml and diagnostics.

    Args:
        path: calibration spec (``calibration/<name>.yaml``).
        small: tiny budget (:data:`SMALL`) for tests and notebooks; results are not for use.
        holdout: also fit on the years before ``holdout_from`` and report the out-of-sample check.
        out: folder for calibrated.yaml and the diagnostics (default: the spec's folder).
        progress: print each evaluation.
        write: write the files (False: return the result only).
    """
    import time

    t0 = time.perf_counter()
    problem = load_problem(path)
    budget = dict(SMALL) if small else None
    b = {k: getattr(problem.spec, k) for k in SMALL} | (budget or {})
    holdout_fit = oos = None
    if holdout and problem.spec.holdout_from is not None:
        holdout_fit = fit(problem, problem.spec.holdout_from - 1, budget, progress)
        oos = out_of_sample(problem, holdout_fit, b["fit_replicates"])
    final = fit(problem, problem.spec.end_year, budget, progress)
    table = fit_table(final, b["fit_replicates"])
    draws = posterior_draws(final, b["posterior_draws"], problem.spec.seed)
    result = Result(final, table, holdout_fit, oos, draws, time.perf_counter() - t0)
    if write:
        from simulator.analysis.calibration_report import write_outputs
        write_outputs(result, Path(out) if out is not None else problem.spec_path.parent, small=small)
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibrated_document(result: Result, small: bool) -> dict[str, Any]:
    """Content of calibrated.yaml: values, uncertainty, identification, data vintage, date, seed, draws."""
    fit_, p = result.final, result.final.problem
    specs = prior_specs()
    params = {}
    for name in p.names:
        s = specs[name]
        lo, hi = fit_.intervals[name]
        params[name] = {
            "value": _num(fit_.values()[name]),
            "estimate": _num(fit_.estimate[name]),
            "interval90": [_num(lo), _num(hi)],
            "identified": fit_.identified[name],
            "prior": s.value,
            "prior_kind": s.kind,
            "prior_source": s.source,
            "search_bounds": [float(b) for b in p.spec.free[name].bounds],
            "unit": s.unit,
            "informed_by": p.spec.free[name].why,
        }
        if not fit_.identified[name]:
            params[name]["warning"] = ("not identified by the targets: the objective stays within the 90 % "
                                       "threshold over most of the search range; the prior value is kept")
    data_path = (p.spec_path.parent / p.spec.data) if p.spec.data else None
    inputs = [p.spec_path, p.region_path, p.spec_path.parent / p.spec.targets,
              *(p.policies_dir / f"{c}.yaml" for c in p.region.policy_catalogues)]
    return {
        "calibration": p.spec.name,
        "spec": str(p.spec_path),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "small_budget": small,
        "seed": p.spec.seed,
        "method": ("simulated method of moments: scrambled Sobol design + Nelder-Mead (scipy), common random "
                   "numbers, conditional profile likelihood for 90 % intervals (quasi-likelihood scaled)"),
        "fitted_years": f"{p.region.base_year + 1}-{fit_.fit_until}",
        "objective": _num(fit_.loss),
        "dispersion": _num(fit_.dispersion),
        "evaluations": int(len(fit_.history)),
        "profile_below_estimate": _num(min(0.0, float(fit_.profiles["delta_loss"].min()))
                                       if not fit_.profiles.empty else 0.0),
        "replicates_per_evaluation": (SMALL if small else p.spec.model_dump())["replicates"],
        "data_vintage": ({"file": str(p.spec.data), "sha256": sha256(data_path)}
                         if data_path and data_path.is_file() else None),
        "inputs_sha256": {str(f): sha256(f) for f in inputs},
        "parameters": params,
        "draws": {"note": ("parameter vectors for ensembles with parameter uncertainty; only identified "
                           "parameters are drawn, the others stay at the values above"),
                  "columns": list(result.draws.columns),
                  "values": [[_num(v) for v in row] for row in result.draws.to_numpy()]},
    }


def _num(x: float) -> float:
    return float(f"{float(x):.6g}")


def load_calibrated(path: str | Path) -> dict[str, Any]:
    """Read a calibrated.yaml (as written by :func:`calibrate`)."""
    return yaml.safe_load(Path(path).read_text("utf-8"))

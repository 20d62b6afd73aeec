"""Calibration estimator: simulated moments, the objective and the fit (Sobol design, Nelder-Mead, profiles).

The method and the objective are described in :mod:`simulator.analysis.calibration`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import qmc

from simulator.analysis.calibration_problem import DERIVED, SMALL, Problem
from simulator.errors import InputError
from simulator.experiments.seeds import replicate_seed
from simulator.inputs.parameters import Parameters, prior_specs
from simulator.inputs.scenario_file import Scenario
from simulator.model.region_model import RegionModel
from simulator.policy.build import build_instruments

#: chi-square(1) quantile for a two-sided 90 % profile-likelihood interval
CHI2_90 = 2.706


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
    """Sum of squared standardised log errors of the replicate mean (see :mod:`simulator.analysis.calibration`)."""
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

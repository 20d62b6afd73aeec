"""Results of a calibration: fit and out-of-sample tables, posterior draws, the content of calibrated.yaml."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simulator.analysis.calibration_fit import Fit, simulate
from simulator.analysis.calibration_problem import SMALL, Problem, read_trend_series
from simulator.inputs.parameters import prior_specs


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

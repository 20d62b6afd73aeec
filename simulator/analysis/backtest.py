"""Backtest of a calibration spec: fit on the years before ``holdout_from``, project the held-out years.

``innosim backtest calibration/heilongjiang.yaml`` answers "would the model have predicted
2020-2021 had it been calibrated in 2019?":

1. the spec's free parameters are fitted (:func:`simulator.analysis.calibration_fit.fit`, the same
   estimator as ``innosim calibrate``) to the targets up to ``holdout_from - 1``;
2. the model is run ``replicates`` times from the base year to ``end_year`` at that
   estimate (the value a calibration would ship: the prior where a parameter is not
   identified). Where the fit identifies parameters, replicate k also draws them from
   the fit's profile-likelihood posterior (:func:`simulator.analysis.calibration_result.posterior_draws`),
   so the bands then include parameter uncertainty as well as stochastic variation; the
   table says which (``band_includes``);
3. every held-out target is compared with the simulated median, the 80 % (10-90 %) and
   90 % (5-95 %) bands over replicates, and a naive benchmark: the log-linear trend of the
   same series (:func:`simulator.analysis.calibration_result.trend_forecast`: the fitted years' targets
   plus the earlier years of ``trend_series``); ``raw_median`` repeats the runs at the raw
   estimate of every free parameter (identified or not), as the calibration report does;
4. R&D intensity (R&D / GDP, %) is compared as well when the spec's folder holds
   ``rd_intensity_<spec name>.csv`` (the yearbook series). The fourth economic census
   (2018) revised GDP: yearbook intensities up to 2018 divide R&D by the old GDP, from 2019
   by the revised one (see calibration/regions/heilongjiang_2017.yaml), while the model's
   GDP continues the old basis. The held-out intensities are therefore projected on the
   published basis of the last fitted year: published intensity of that year x the
   model's R&D/GDP ratio relative to that year (per replicate); the trend is log-linear
   with a level shift at the census (a dummy for years from :data:`POST_CENSUS_FROM`), so
   its slope comes from years on one basis only.

Only data up to ``end_year`` enter (the spec's targets end in 2021); nothing after is read.

Example:
    >>> from simulator.analysis.backtest import backtest
    >>> bt = backtest("calibration/heilongjiang.yaml", small=True)   # doctest: +SKIP
    >>> bt.summary                                                  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.analysis.backtest_series import (
    INTENSITY,
    POST_CENSUS_FROM,
    compare,
    held_out_series,
    intensity_path,
    intensity_values,
    loglinear,
    parameter_sets,
    read_intensity,
    run_paths,
    series_values,
    summarise,
    trend_line,
)
from simulator.analysis.calibration_fit import Fit, fit, moments
from simulator.analysis.calibration_problem import SMALL, Problem, load_problem, read_trend_series
from simulator.analysis.calibration_result import trend_forecast
from simulator.errors import InputError


@dataclass
class Backtest:
    """Result of :func:`backtest` (all tables are pandas DataFrames).

    Attributes:
        problem: the calibration problem (spec, region, targets).
        holdout: the fit to the years up to ``fit_until``.
        replicates: runs behind every band.
        small: whether the tiny test budget was used (numbers then mean nothing).
        budget: the fit's budget (design points, local evaluations, ...).
        theta: parameter values of each replicate (rows = replicates).
        band_includes: what the bands cover, in words.
        paths: simulated yearly value of every series per replicate (``series, replicate, year, value``).
        data: the published points (``series, year, value, role``: history / in_sample / held_out).
        table: one row per held-out point (see :func:`compare`).
        summary: per series and over all: mean absolute % error of model and trend, coverage.
        trend: the fitted log-linear trend of every series, per year (``series, year, value``).
        intensity_note: how R&D intensity was compared, or why it was not.
        seconds: wall time.
    """

    problem: Problem
    holdout: Fit
    replicates: int
    small: bool
    budget: dict
    theta: pd.DataFrame
    band_includes: str
    paths: pd.DataFrame
    data: pd.DataFrame
    table: pd.DataFrame
    summary: pd.DataFrame
    trend: pd.DataFrame
    intensity_note: str
    seconds: float

    @property
    def drawn(self) -> list[str]:
        """Free parameters drawn per replicate (empty: the bands are stochastic only)."""
        return [n for n in self.problem.names if n in self.holdout.identified and self.holdout.identified[n]]

    @property
    def fit_until(self) -> int:
        return self.holdout.fit_until

    @property
    def series(self) -> list[str]:
        return list(dict.fromkeys(self.table["series"]))


# ------------------------------------------------------------------ the backtest
def backtest(path: str | Path, *, small: bool = False, replicates: int | None = None,
             budget: dict | None = None, progress: bool = False) -> Backtest:
    """Fit a calibration spec on the years before its ``holdout_from`` and compare its projection
    of the held-out years with the data and a log-linear trend.

    Args:
        path: calibration spec (``calibration/<name>.yaml``) with ``holdout_from``.
        small: the calibration's tiny :data:`simulator.analysis.calibration_problem.SMALL` budget (tests).
        replicates: runs behind the bands (default: the budget's ``fit_replicates``).
        budget: override single budget entries (keys of :data:`SMALL`), after ``small``.
        progress: print every evaluation of the fit.
    """
    t0 = time.perf_counter()
    problem = load_problem(path)
    spec = problem.spec
    if spec.holdout_from is None:
        raise InputError(problem.spec_path, "holdout_from", "a backtest needs held-out years",
                         allowed=f"a year from {problem.region.base_year + 2} to {spec.end_year}")
    b = {k: getattr(spec, k) for k in SMALL} | (dict(SMALL) if small else {}) | (budget or {})
    n = replicates or b["fit_replicates"]
    if not 2 <= n <= 10_000:
        raise InputError(problem.spec_path, "--replicates", "bands need at least 2 runs", value=n,
                         allowed="2 to 10000")
    fit_until = spec.holdout_from - 1
    holdout = fit(problem, fit_until, b, progress)
    thetas, band_includes = parameter_sets(holdout, n, spec.seed)
    records = run_paths(problem, thetas)

    targets = problem.targets
    extra = read_trend_series(problem.spec_path.parent / spec.trend_series) if spec.trend_series else None
    forecast = trend_forecast(problem, fit_until, extra)
    paths, data, trend_rows, actual = [], [], [], []
    for s in held_out_series(problem, fit_until):
        rows = targets[(targets["indicator"] == s.indicator)
                       & (targets["ratio_to"].isna() if s.ratio_to is None else targets["ratio_to"] == s.ratio_to)]
        per_rep = [series_values(r, s) for r in records]
        paths += _long(s.key, per_rep)
        pts = rows[["year", "value"]].assign(role=np.where(rows["year"] > fit_until, "held_out", "in_sample"))
        if s.ratio_to is None and extra is not None:
            early = extra[(extra["indicator"] == s.indicator) & ~extra["year"].isin(rows["year"])]
            pts = pd.concat([early[["year", "value"]].assign(role="history"), pts])
        data.append(pts.assign(series=s.key))
        fitted = pts[pts["year"] <= fit_until]
        if s.ratio_to is None and len(fitted) >= 2:   # the chart's trend: the line trend_forecast extrapolates
            coef, _ = loglinear(fitted)
            years = np.arange(int(fitted["year"].min()), spec.end_year + 1)
            trend_rows.append(pd.DataFrame({"series": s.key, "year": years, "value": trend_line(coef, years)}))
        for r in rows[rows["year"] > fit_until].itertuples():
            actual.append({"series": s.key, "id": r.id, "indicator": s.indicator, "year": int(r.year),
                           "ratio_to": s.ratio_to, "basis": "as the target's definition", "actual": r.value})
    note, trend, anchor = _intensity(problem, fit_until, records, paths, data, trend_rows, actual)
    trend = pd.concat([forecast, trend])
    sims = held_out_values(actual, records, fit_until, anchor, targets)
    # the same runs at the raw estimate (every free parameter, identified or not; no draws)
    raw = held_out_values(actual, run_paths(problem, [dict(holdout.estimate)] * n), fit_until, anchor, targets)
    table = compare(pd.DataFrame(actual), pd.DataFrame(sims), trend, band_includes, pd.DataFrame(raw))
    theta = pd.DataFrame(thetas)
    return Backtest(problem, holdout, n, small, b, theta, band_includes, pd.DataFrame(paths),
                    pd.concat(data, ignore_index=True)[["series", "year", "value", "role"]], table,
                    summarise(table), pd.concat(trend_rows, ignore_index=True) if trend_rows else
                    pd.DataFrame(columns=["series", "year", "value"]), note, time.perf_counter() - t0)


def held_out_values(actual: list[dict], records: list[pd.DataFrame], fit_until: int,
                    anchor: float | None, targets: pd.DataFrame) -> dict[str, list[float]]:
    """Every held-out point's simulated value per run (``actual`` rows as built by :func:`backtest`).

    Targets are evaluated by :func:`simulator.analysis.calibration_fit.moments`, exactly as the fit evaluates
    them; R&D intensity by :func:`intensity_values`.
    """
    held = targets[targets["id"].isin([a["id"] for a in actual])]
    per_run = [dict(zip(held["id"], moments(r, held), strict=True)) for r in records]
    out = {}
    for a in actual:
        if a["series"] == INTENSITY:
            out[a["id"]] = [float(intensity_values(r, fit_until, anchor).get(a["year"], math.nan)) for r in records]
        else:
            out[a["id"]] = [float(m[a["id"]]) for m in per_run]
    return out


def _long(key: str, per_rep: list[pd.Series]) -> list[dict]:
    """Replicate paths as rows; a first year that is zero in every run is left out: the base year's
    record of a flow the model only starts counting in its first simulated year (certifications)."""
    first = min(int(s.index.min()) for s in per_rep)
    skip = all(s.get(first, 0.0) == 0.0 for s in per_rep)
    return [{"series": key, "replicate": k, "year": int(y), "value": float(v)}
            for k, s in enumerate(per_rep) for y, v in s.items() if not (skip and y == first)]


def _intensity(problem: Problem, fit_until: int, records, paths, data, trend_rows, actual
               ) -> tuple[str, pd.Series, float | None]:
    """Add R&D intensity to the comparison (in place) if its series is beside the spec; say how."""
    spec = problem.spec
    path = intensity_path(problem)
    if not path.is_file():
        return f"R&D intensity not compared: no {path.name} beside the spec.", pd.Series(dtype=float), None
    pub = read_intensity(path, spec.end_year)
    held = pub[pub["year"] > fit_until]
    if held.empty or fit_until not in set(pub["year"]) or fit_until < POST_CENSUS_FROM:
        why = (f"R&D intensity not compared: {path.name} needs the last fitted year {fit_until} "
               f"(on the post-census basis, from {POST_CENSUS_FROM}) and held-out years.")
        return why, pd.Series(dtype=float), None
    anchor = float(pub.loc[pub["year"] == fit_until, "value"].iloc[0])
    per_rep = [intensity_values(r, fit_until, anchor) for r in records]
    key = INTENSITY
    paths += _long(key, per_rep)
    role = np.where(pub["year"] > fit_until, "held_out", np.where(pub["year"] >= problem.region.base_year,
                                                                   "in_sample", "history"))
    data.append(pub[["year", "value"]].assign(role=role, series=key))
    fitted = pub[pub["year"] <= fit_until]
    coef, shifted = loglinear(fitted, POST_CENSUS_FROM)
    years = np.arange(int(fitted["year"].min()), spec.end_year + 1)
    trend_rows.append(pd.DataFrame({"series": key, "year": years, "value": trend_line(coef, years,
                                                                                      POST_CENSUS_FROM)}))
    trend = {}
    for r in held.itertuples():
        rid = f"{key}_{int(r.year)}"
        actual.append({"series": key, "id": rid, "indicator": key, "year": int(r.year), "ratio_to": None,
                       "basis": f"post-census GDP; model = published {fit_until} x model ratio to {fit_until}",
                       "actual": float(r.value)})
        trend[rid] = float(trend_line(coef, [r.year], POST_CENSUS_FROM)[0])
    lo = int(fitted["year"].min())
    note = (f"R&D intensity ({path.name}, yearbook, %): the 2018 economic census revised GDP, so the "
            f"published series divides by the old GDP up to {POST_CENSUS_FROM - 1} and by the revised GDP "
            f"from {POST_CENSUS_FROM}; the model's GDP continues the old basis. Held-out years are "
            f"projected as the published {fit_until} intensity ({anchor:g} %) x the model's R&D/GDP "
            f"relative to {fit_until}, per replicate. The trend is log-linear in {lo}-{fit_until} "
            + ("with a level shift from " + str(POST_CENSUS_FROM) + " (census), so its slope comes from "
               "years on one basis" if shifted else "(one basis)") + ". In the chart the model's "
            f"in-sample values before {POST_CENSUS_FROM} are its own (old basis).")
    return note, pd.Series(trend, dtype=float), anchor

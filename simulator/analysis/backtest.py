"""Backtest of a calibration spec: fit on the years before ``holdout_from``, project the held-out years.

``innosim backtest calibration/heilongjiang.yaml`` answers "would the model have predicted
2020-2021 had it been calibrated in 2019?":

1. the spec's free parameters are fitted (:func:`simulator.analysis.calibration_fit.fit`, the same
   estimator as ``innosim calibrate``) to the targets up to ``holdout_from - 1``;
2. the model is run ``replicates`` times from the base year to ``end_year`` at that
   estimate (the value a calibration would ship: the prior where a parameter is not
   identified): the point projection and its stochastic-only band; ``raw_median`` repeats the
   runs at the raw estimate of every free parameter (identified or not), as the calibration
   report does;
3. the bands are predictive (:mod:`simulator.analysis.backtest_bands`): ``draws`` runs at parameter
   vectors drawn from the fit's evaluations by ``exp(-(L - L_min) / (2 dispersion))`` (parameter
   uncertainty and stochastic variation), each times log-normal model-discrepancy factors whose
   sd per series is the RMS of the in-sample log errors at the raw estimate (the fit's residuals,
   floored by the targets' rel_sd). Only the fitted years set any width. Every held-out target is compared with the
   predictive median, its 80 % (10-90 %) and 90 % (5-95 %) bands, the stochastic-only band and
   a naive benchmark: the log-linear trend of the same series
   (:func:`simulator.analysis.calibration_result.trend_forecast`: the fitted years' targets plus
   the earlier years of ``trend_series``);
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

from simulator.analysis.backtest_bands import (
    discrepancy_sd,
    effective_size,
    evaluation_weights,
    in_sample_errors,
    posterior_parameters,
    predictive,
)
from simulator.analysis.backtest_series import (
    BAND80,
    BAND90,
    INTENSITY,
    POST_CENSUS_FROM,
    Series,
    compare,
    held_out_series,
    intensity_path,
    intensity_values,
    loglinear,
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

#: posterior runs per run at the estimate, by default
DRAWS_PER_REPLICATE = 4


@dataclass
class Backtest:
    """Result of :func:`backtest` (all tables are pandas DataFrames).

    Attributes:
        problem: the calibration problem (spec, region, targets).
        holdout: the fit to the years up to ``fit_until``.
        replicates: runs at the fit's values (point projection, stochastic-only band, raw).
        draws: runs at parameter vectors drawn from the fit's evaluations (the predictive bands).
        small: whether the tiny test budget was used (numbers then mean nothing).
        budget: the fit's budget (design points, local evaluations, ...).
        theta: parameter values of each posterior run (rows = runs; ``evaluation_row`` = its row of
            ``holdout.history``).
        weights: posterior weight of every evaluation of the fit (index = rows of ``holdout.history``).
        discrepancy: discrepancy sd per series (:func:`simulator.analysis.backtest_bands.discrepancy_sd`).
        in_sample: the in-sample log errors it comes from.
        band_includes: what the bands cover, in words.
        paths: simulated yearly value of every series per run (``series, set, replicate, year, value``;
            set ``estimate``: at the fit's values, ``posterior``: the drawn vectors).
        bands: the predictive quantiles per series and year from ``fit_until`` (``series, year, p5, p10,
            p50, p90, p95``; the discrepancy applies after ``fit_until``), for the charts.
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
    draws: int
    small: bool
    budget: dict
    theta: pd.DataFrame
    weights: pd.Series
    discrepancy: pd.DataFrame
    in_sample: pd.DataFrame
    band_includes: str
    paths: pd.DataFrame
    bands: pd.DataFrame
    data: pd.DataFrame
    table: pd.DataFrame
    summary: pd.DataFrame
    trend: pd.DataFrame
    intensity_note: str
    seconds: float

    @property
    def effective_support(self) -> float:
        """Effective number of evaluations behind the parameter uncertainty (Kish)."""
        return effective_size(self.weights)

    @property
    def fit_until(self) -> int:
        return self.holdout.fit_until

    @property
    def series(self) -> list[str]:
        return list(dict.fromkeys(self.table["series"]))


# ------------------------------------------------------------------ the backtest
def backtest(path: str | Path, *, small: bool = False, replicates: int | None = None, draws: int | None = None,
             budget: dict | None = None, progress: bool = False) -> Backtest:
    """Fit a calibration spec on the years before its ``holdout_from`` and compare its projection
    of the held-out years with the data and a log-linear trend.

    Args:
        path: calibration spec (``calibration/<name>.yaml``) with ``holdout_from``.
        small: the calibration's tiny :data:`simulator.analysis.calibration_problem.SMALL` budget (tests).
        replicates: runs at the fit's values (default: the budget's ``fit_replicates``).
        draws: runs at drawn parameter vectors (default: :data:`DRAWS_PER_REPLICATE` x ``replicates``).
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
    m = draws or DRAWS_PER_REPLICATE * n
    for flag, value in (("--replicates", n), ("--draws", m)):
        if not 2 <= value <= 10_000:
            raise InputError(problem.spec_path, flag, "bands need at least 2 runs", value=value, allowed="2 to 10000")
    fit_until = spec.holdout_from - 1
    holdout = fit(problem, fit_until, b, progress)
    records = run_paths(problem, [dict(holdout.values())] * n)
    weights = evaluation_weights(holdout.history, holdout.dispersion)
    theta = posterior_parameters(holdout.history, problem.names, holdout.dispersion, m, spec.seed)
    posterior = run_paths(problem, [{k: float(r[k]) for k in problem.names} for _, r in theta.iterrows()])

    targets = problem.targets
    extra = read_trend_series(problem.spec_path.parent / spec.trend_series) if spec.trend_series else None
    forecast = trend_forecast(problem, fit_until, extra)
    paths, data, trend_rows, actual = [], [], [], []
    for s in held_out_series(problem, fit_until):
        rows = targets[(targets["indicator"] == s.indicator)
                       & (targets["ratio_to"].isna() if s.ratio_to is None else targets["ratio_to"] == s.ratio_to)]
        paths += _long(s.key, [series_values(r, s) for r in records], "estimate")
        paths += _long(s.key, [series_values(r, s) for r in posterior], "posterior")
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
    note, trend, anchor = _intensity(problem, fit_until, records, posterior, paths, data, trend_rows, actual)
    trend = pd.concat([forecast, trend])
    # the same runs at the raw estimate (every free parameter, identified or not; no draws): where the
    # objective is lowest, so its in-sample errors are the fit's residuals
    raw_records = run_paths(problem, [dict(holdout.estimate)] * n)
    errors, disc = discrepancy(targets, raw_records, fit_until, list(dict.fromkeys(a["series"] for a in actual)))
    sd = disc.set_index("series")["sd"]
    point = pd.DataFrame(held_out_values(actual, records, fit_until, anchor, targets))
    paths = pd.DataFrame(paths)
    bands = year_bands(paths, sd, fit_until, spec.seed)
    band = pd.DataFrame(actual)[["id", "series", "year"]].merge(bands, on=["series", "year"]).set_index("id")
    raw = held_out_values(actual, raw_records, fit_until, anchor, targets)
    includes = (f"stochastic variation, parameter uncertainty ({m} runs at vectors drawn from the fit's "
                f"{len(holdout.history)} evaluations by exp(-(L - L_min) / (2 x {holdout.dispersion:.3g})), "
                f"effective support {effective_size(weights):.1f}) and model discrepancy (log-normal, sd per series "
                f"= RMS of the in-sample log errors at the raw estimate, at least the targets' rel_sd)")
    table = compare(pd.DataFrame(actual), band, trend, includes, m, point, pd.Series(
        {a["id"]: sd[a["series"]] for a in actual}), pd.DataFrame(raw))
    return Backtest(problem, holdout, n, m, small, b, theta, weights, disc, errors, includes, paths, bands,
                    pd.concat(data, ignore_index=True)[["series", "year", "value", "role"]], table,
                    summarise(table), pd.concat(trend_rows, ignore_index=True) if trend_rows else
                    pd.DataFrame(columns=["series", "year", "value"]), note, time.perf_counter() - t0)


def discrepancy(targets: pd.DataFrame, records: list[pd.DataFrame], fit_until: int, series: list[str]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """In-sample log errors of ``records`` (the runs at the fit's raw estimate) and the discrepancy sd of every compared
    series (R&D intensity, with no target, takes the pooled RMS; see :mod:`simulator.analysis.backtest_bands`)."""
    t = targets.assign(series=[Series(r.indicator, None if pd.isna(r.ratio_to) else int(r.ratio_to)).key
                               for r in targets.itertuples()])
    fitted = t[t["year"] <= fit_until]
    sims = pd.DataFrame([moments(r, fitted) for r in records], columns=list(fitted["id"]))
    errors = in_sample_errors(sims, fitted, fit_until)
    floors = t.groupby("series")["rel_sd"].max().to_dict()
    return errors, discrepancy_sd(errors, series, floors)


def year_bands(paths: pd.DataFrame, sd: pd.Series, fit_until: int, seed: int) -> pd.DataFrame:
    """Predictive quantiles of every series per year from ``fit_until`` (the posterior runs; the
    discrepancy applies to the later years), for the charts."""
    rows = []
    post = paths[(paths["set"] == "posterior") & (paths["year"] >= fit_until)]
    for key, g in post.groupby("series", sort=False):
        wide = g.pivot(index="replicate", columns="year", values="value")
        s = pd.Series({y: (float(sd.get(key, 0.0)) if y > fit_until else 0.0) for y in wide.columns})
        q = predictive(wide, s, seed).quantile([BAND90[0], BAND80[0], 0.5, BAND80[1], BAND90[1]])
        for y in wide.columns:
            rows.append({"series": key, "year": int(y), **dict(zip(("p5", "p10", "p50", "p90", "p95"),
                                                                   q[y].to_numpy(), strict=True))})
    return pd.DataFrame(rows, columns=["series", "year", "p5", "p10", "p50", "p90", "p95"])


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


def _long(key: str, per_rep: list[pd.Series], which: str) -> list[dict]:
    """Replicate paths as rows; a first year that is zero in every run is left out: the base year's
    record of a flow the model only starts counting in its first simulated year (certifications)."""
    first = min(int(s.index.min()) for s in per_rep)
    skip = all(s.get(first, 0.0) == 0.0 for s in per_rep)
    return [{"series": key, "set": which, "replicate": k, "year": int(y), "value": float(v)}
            for k, s in enumerate(per_rep) for y, v in s.items() if not (skip and y == first)]


def _intensity(problem: Problem, fit_until: int, records, posterior, paths, data, trend_rows, actual
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
    key = INTENSITY
    paths += _long(key, [intensity_values(r, fit_until, anchor) for r in records], "estimate")
    paths += _long(key, [intensity_values(r, fit_until, anchor) for r in posterior], "posterior")
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

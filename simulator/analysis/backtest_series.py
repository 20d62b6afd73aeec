"""The series a backtest compares: held-out targets and R&D intensity, their values per run, trends, the table.

Pieces of :func:`simulator.analysis.backtest.backtest` (whose docstring describes the comparison).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.analysis.calibration_fit import Fit, prior_parameters
from simulator.analysis.calibration_problem import DERIVED, Problem, read_trend_series
from simulator.analysis.calibration_result import posterior_draws
from simulator.errors import InputError
from simulator.experiments.seeds import replicate_seed
from simulator.inputs.scenario_file import Scenario
from simulator.model.region_model import RegionModel
from simulator.policy.build import build_instruments

#: the 80 % band (the issue's coverage criterion) and the 90 % band, as quantiles over replicates
BAND80 = (0.10, 0.90)
BAND90 = (0.05, 0.95)
#: first year whose yearbook R&D intensity divides by GDP as revised by the 2018 economic census
POST_CENSUS_FROM = 2019
#: the R&D intensity series beside the spec, ``{name}`` = the spec's name (optional file)
INTENSITY_FILE = "rd_intensity_{name}.csv"
INTENSITY = "rd_intensity"


@dataclass(frozen=True)
class Series:
    """One compared series: an indicator (or a derived moment), optionally as a ratio to a year."""

    indicator: str
    ratio_to: int | None = None

    @property
    def key(self) -> str:
        return self.indicator if self.ratio_to is None else f"{self.indicator}_to_{self.ratio_to}"


# ------------------------------------------------------------------ inputs
def held_out_series(problem: Problem, fit_until: int) -> list[Series]:
    """Every target series (indicator, ratio) with at least one target after ``fit_until``."""
    t = problem.targets[problem.targets["year"] > fit_until]
    return list(dict.fromkeys(Series(r.indicator, None if pd.isna(r.ratio_to) else int(r.ratio_to))
                              for r in t.itertuples()))


def intensity_path(problem: Problem) -> Path:
    return problem.spec_path.parent / INTENSITY_FILE.format(name=problem.spec.name)


def read_intensity(path: Path, end_year: int) -> pd.DataFrame:
    """The yearbook R&D intensity series (``indicator, year, value, source``; %), up to ``end_year``."""
    t = read_trend_series(path)
    bad = t[t["indicator"] != INTENSITY]
    if not bad.empty:
        raise InputError(path, f"row {int(bad.index[0]) + 1}.indicator", "an R&D intensity file holds one series",
                         value=bad["indicator"].iloc[0], allowed=INTENSITY, line=int(bad.index[0]) + 2)
    if t["year"].duplicated().any():
        year = int(t.loc[t["year"].duplicated(), "year"].iloc[0])
        raise InputError(path, "year", "duplicate year", value=year, allowed="one row per year")
    return t[t["year"] <= end_year].sort_values("year").reset_index(drop=True)


# ------------------------------------------------------------------ simulation
def run_paths(problem: Problem, thetas: list[dict[str, float]]) -> list[pd.DataFrame]:
    """Yearly indicators (index year) of one historical run per parameter vector, replicate k with
    seed ``SeedSequence(spec.seed, spawn_key=(k,))`` as in :func:`simulator.analysis.calibration_fit.simulate`."""
    horizon = problem.spec.end_year
    scenario = Scenario(name="backtest", region=problem.region.id, horizon=horizon, seed=problem.spec.seed)
    out = []
    for k, theta in enumerate(thetas):
        params = prior_parameters().with_overrides(theta, str(problem.spec_path))
        instruments = build_instruments(problem.region, scenario, problem.policies_dir, str(problem.region_path))
        model = RegionModel(problem.region, params, instruments, seed=replicate_seed(problem.spec.seed, k),
                            horizon=horizon, region_path=problem.region_path)
        model.run()
        model.release()
        out.append(pd.DataFrame(model.records).set_index("year"))
    return out


def series_values(records: pd.DataFrame, series: Series) -> pd.Series:
    """A series' simulated value per year from one run (a ratio only from its base year on)."""
    v = sum(records[c] for c in DERIVED.get(series.indicator, (series.indicator,))).astype(float)
    if series.ratio_to is not None:
        v = v[v.index >= series.ratio_to] / v.get(series.ratio_to, math.nan)
    return v


def intensity_values(records: pd.DataFrame, anchor_year: int, anchor_value: float) -> pd.Series:
    """R&D intensity of one run, %: the model's own before :data:`POST_CENSUS_FROM` (its GDP continues
    the pre-census basis), from then on ``anchor_value`` x the model's intensity relative to
    ``anchor_year`` (the published post-census basis)."""
    raw = records[INTENSITY].astype(float)
    rebased = anchor_value * raw / raw.get(anchor_year, math.nan)
    return raw.where(raw.index < POST_CENSUS_FROM, rebased)


def parameter_sets(fit_: Fit, replicates: int, seed: int) -> tuple[list[dict[str, float]], str]:
    """Parameters of every replicate and what the bands therefore include.

    The fit's used values; where it identifies parameters, replicate k takes draw k of the
    profile posterior for those (cheap: the same number of runs).
    """
    base = fit_.values()
    draws = posterior_draws(fit_, replicates, seed)
    if draws.empty:
        return [dict(base) for _ in range(replicates)], \
            "stochastic only (the fitted years identify no free parameter)"
    thetas = [base | {k: float(v) for k, v in row.items()} for _, row in draws.iterrows()]
    return thetas, ("stochastic + parameter uncertainty (profile posterior of " + ", ".join(draws.columns)
                    + "; the other free parameters at their prior)")


# ------------------------------------------------------------------ comparison
def loglinear(pts: pd.DataFrame, shift_from: int | None = None) -> tuple[np.ndarray, bool]:
    """Least-squares fit of ln(value) = a + b year (+ c [year >= shift_from]); coefficients and whether
    the level-shift term was used (only when points fall on both sides of it)."""
    x = pts["year"].to_numpy(float)
    y = np.log(pts["value"].to_numpy(float))
    cols = [np.ones_like(x), x]
    shifted = shift_from is not None and (x >= shift_from).any() and (x < shift_from).sum() >= 2
    if shifted:
        cols.append((x >= shift_from).astype(float))
    coef, *_ = np.linalg.lstsq(np.column_stack(cols), y, rcond=None)
    return coef, shifted


def trend_line(coef: np.ndarray, years, shift_from: int | None = None) -> np.ndarray:
    years = np.asarray(years, dtype=float)
    z = coef[0] + coef[1] * years
    if len(coef) > 2:
        z = z + coef[2] * (years >= shift_from)
    return np.exp(z)


def compare(actual: pd.DataFrame, sims: pd.DataFrame, trend: pd.Series, band_includes: str,
            raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """The held-out table: one row per point.

    Args:
        actual: ``series, id, indicator, year, ratio_to, basis, actual`` (published).
        sims: simulated values, rows replicates, columns the points' ``id``.
        trend: trend forecast per ``id`` (missing: no trend for that series).
        band_includes: what the bands cover.
        raw: simulated values at the fit's raw estimate (optional), for ``raw_median``/``raw_error_pct``.

    Returns:
        The rows of ``actual`` with ``model_median``, ``model_p10``/``p90`` (80 % band),
        ``model_p5``/``p95`` (90 % band), ``model_error_pct`` = 100 (median / actual - 1),
        ``trend``, ``trend_error_pct`` = 100 (trend / actual - 1), ``inside_80``, ``inside_90``,
        ``band_includes`` and ``replicates`` (and ``raw_median``, ``raw_error_pct`` with ``raw``).
    """
    t = actual.copy()
    q = {name: sims.quantile(p) for name, p in (("model_p5", BAND90[0]), ("model_p10", BAND80[0]),
                                               ("model_p90", BAND80[1]), ("model_p95", BAND90[1]))}
    t["model_median"] = t["id"].map(sims.median())
    for name, values in q.items():
        t[name] = t["id"].map(values)
    t["model_error_pct"] = 100.0 * (t["model_median"] / t["actual"] - 1.0)
    t["trend"] = t["id"].map(trend)
    t["trend_error_pct"] = 100.0 * (t["trend"] / t["actual"] - 1.0)
    t["inside_80"] = (t["actual"] >= t["model_p10"]) & (t["actual"] <= t["model_p90"])
    t["inside_90"] = (t["actual"] >= t["model_p5"]) & (t["actual"] <= t["model_p95"])
    t["band_includes"] = band_includes
    t["replicates"] = len(sims)
    if raw is not None:
        t["raw_median"] = t["id"].map(raw.median())
        t["raw_error_pct"] = 100.0 * (t["raw_median"] / t["actual"] - 1.0)
    return t


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per series and over all points: mean absolute % error of model and trend, and 80 % coverage.

    ``model_mape_where_trend`` is the model's error on the points that have a trend, the fair
    comparison; ``better`` names the lower of the two there.
    """
    rows = []
    for name, g in [*table.groupby("series", sort=False), ("all", table)]:
        has = g.dropna(subset=["trend"])
        model, trend = g["model_error_pct"].abs().mean(), has["trend_error_pct"].abs().mean()
        model_same = has["model_error_pct"].abs().mean()
        better = ("" if has.empty else "model" if model_same < trend else "trend" if trend < model_same else "tie")
        rows.append({"series": name, "points": len(g), "model_mape": model, "model_mape_where_trend": model_same,
                     "trend_mape": trend, "better": better, "coverage_80": g["inside_80"].mean(),
                     "coverage_90": g["inside_90"].mean(),
                     "raw_mape": g["raw_error_pct"].abs().mean() if "raw_error_pct" in g else math.nan})
    return pd.DataFrame(rows)

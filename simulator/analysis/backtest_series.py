"""The series a backtest compares: held-out targets and R&D intensity, their values per run, trends, the table.

Pieces of :func:`simulator.analysis.backtest.backtest` (whose docstring describes the comparison).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.analysis.calibration_fit import prior_parameters
from simulator.analysis.calibration_problem import DERIVED, Problem, read_trend_series
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


def compare(actual: pd.DataFrame, band: pd.DataFrame, trend: pd.Series, band_includes: str, runs: int,
            point: pd.DataFrame, sd: pd.Series, raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """The held-out table: one row per point.

    Args:
        actual: ``series, id, indicator, year, ratio_to, basis, actual`` (published).
        band: predictive quantiles per point (index ``id``, columns ``p5, p10, p50, p90, p95``; rows of
            :func:`simulator.analysis.backtest.year_bands`).
        trend: trend forecast per ``id`` (missing: no trend for that series).
        band_includes: what the bands cover.
        runs: model runs behind ``band``.
        point: simulated values at the fit's values (stochastic only), rows runs, columns ``id``.
        sd: discrepancy sd per ``id``.
        raw: simulated values at the fit's raw estimate (optional), for ``raw_median``/``raw_error_pct``.

    Returns:
        The rows of ``actual`` with ``model_median``, ``model_p10``/``p90`` (80 % band),
        ``model_p5``/``p95`` (90 % band) of the predictive, ``model_error_pct`` = 100 (median / actual - 1),
        ``band80_width_pct`` = 100 (p90 - p10) / median, ``trend``, ``trend_error_pct`` = 100 (trend /
        actual - 1), ``inside_80``, ``inside_90``; ``point_median``, ``point_error_pct``,
        ``stochastic_p10``/``p90`` and ``inside_80_stochastic`` of the runs at the fit's values (the
        band before parameter uncertainty and discrepancy); ``discrepancy_sd``, ``band_includes`` and
        ``runs`` (and ``raw_median``, ``raw_error_pct`` with ``raw``).
    """
    t = actual.copy()
    for name, col in (("model_median", "p50"), ("model_p5", "p5"), ("model_p10", "p10"), ("model_p90", "p90"),
                      ("model_p95", "p95")):
        t[name] = t["id"].map(band[col])
    t["model_error_pct"] = 100.0 * (t["model_median"] / t["actual"] - 1.0)
    t["band80_width_pct"] = 100.0 * (t["model_p90"] - t["model_p10"]) / t["model_median"]
    t["trend"] = t["id"].map(trend)
    t["trend_error_pct"] = 100.0 * (t["trend"] / t["actual"] - 1.0)
    t["inside_80"] = (t["actual"] >= t["model_p10"]) & (t["actual"] <= t["model_p90"])
    t["inside_90"] = (t["actual"] >= t["model_p5"]) & (t["actual"] <= t["model_p95"])
    t["point_median"] = t["id"].map(point.median())
    t["point_error_pct"] = 100.0 * (t["point_median"] / t["actual"] - 1.0)
    t["stochastic_p10"] = t["id"].map(point.quantile(BAND80[0]))
    t["stochastic_p90"] = t["id"].map(point.quantile(BAND80[1]))
    t["inside_80_stochastic"] = (t["actual"] >= t["stochastic_p10"]) & (t["actual"] <= t["stochastic_p90"])
    t["discrepancy_sd"] = t["id"].map(sd)
    t["band_includes"] = band_includes
    t["runs"] = runs
    if raw is not None:
        t["raw_median"] = t["id"].map(raw.median())
        t["raw_error_pct"] = 100.0 * (t["raw_median"] / t["actual"] - 1.0)
    return t


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per series and over all points: mean absolute % error of model and trend, 80 % coverage, band width.

    ``coverage_80_stochastic`` is the coverage of the stochastic-only band at the fit's values (before
    parameter uncertainty and discrepancy), ``point_mape`` the error of that run set's median;
    ``band80_width_pct`` the mean width of the 80 % band in % of its median. ``model_mape_where_trend``
    is the model's error on the points that have a trend, the fair
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
                     "coverage_90": g["inside_90"].mean(), "band80_width_pct": g["band80_width_pct"].mean(),
                     "coverage_80_stochastic": g["inside_80_stochastic"].mean(),
                     "point_mape": g["point_error_pct"].abs().mean(),
                     "raw_mape": g["raw_error_pct"].abs().mean() if "raw_error_pct" in g else math.nan})
    return pd.DataFrame(rows)

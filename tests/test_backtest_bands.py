"""The backtest's predictive bands on small synthetic inputs (no model run): posterior weights over the
fit's evaluations, the discrepancy sd from in-sample errors only, the predictive mixture."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.backtest import discrepancy, year_bands
from simulator.analysis.backtest_bands import (
    POOLED,
    discrepancy_sd,
    effective_size,
    evaluation_weights,
    in_sample_errors,
    posterior_parameters,
    predictive,
)


def _history(n: int = 41) -> pd.DataFrame:
    """Evaluations of a one-parameter fit: a on a grid, objective (a - 0.5)^2 / 0.01 (minimum 0 at 0.5)."""
    a = np.linspace(0.0, 1.0, n)
    return pd.DataFrame({"evaluation": np.arange(1, n + 1), "phase": "design", "loss": (a - 0.5) ** 2 / 0.01,
                         "a": a})


def _band_width(dispersion: float, sd: float = 0.0) -> float:
    """80 % band width of y = 100 (1 + a) at parameter vectors drawn from the synthetic posterior."""
    theta = posterior_parameters(_history(), ["a"], dispersion, 400, seed=1)
    sims = pd.DataFrame({"y": 100.0 * (1.0 + theta["a"])})
    q = predictive(sims, pd.Series({"y": sd}), seed=1, draws=20).quantile([0.1, 0.9])["y"]
    return float(q.iloc[1] - q.iloc[0])


def test_weights_favour_lower_objective_and_sum_to_one():
    h = pd.DataFrame({"loss": [7.0, 3.0, 5.0, math.nan, 3.0]})
    w = evaluation_weights(h, dispersion=2.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[1] == pytest.approx(w[4]) and w[1] > w[2] > w[0] > 0 and w[3] == 0
    # exp(-(L - L_min) / (2 phi)): the ratio of two weights
    assert w[2] / w[1] == pytest.approx(math.exp(-(5 - 3) / 4))
    with pytest.raises(ValueError, match="finite"):
        evaluation_weights(pd.DataFrame({"loss": [math.nan, math.inf]}), 1.0)


def test_higher_dispersion_flattens_the_weights_and_at_least_one_is_used():
    h = _history()
    sizes = [effective_size(evaluation_weights(h, d)) for d in (1.0, 4.0, 16.0, 64.0)]
    assert all(a < b for a, b in zip(sizes, sizes[1:], strict=False))
    # a dispersion below 1 (a fit better than its data's stated noise) is not allowed to sharpen the weights
    pd.testing.assert_series_equal(evaluation_weights(h, 0.2), evaluation_weights(h, 1.0))


def test_draws_come_from_evaluations_by_weight_and_repeat_with_the_seed():
    h = _history()
    theta = posterior_parameters(h, ["a"], 1.0, 2000, seed=5)
    assert set(theta["a"]) <= set(h["a"])
    assert (theta["a"].to_numpy() == h["a"].to_numpy()[theta["evaluation_row"]]).all()
    share = theta["evaluation_row"].value_counts(normalize=True).reindex(range(len(h)), fill_value=0.0)
    w = evaluation_weights(h, 1.0)
    assert (share - w).abs().max() < 0.03   # drawn as often as weighed
    assert share[h["loss"] > 9].sum() < 0.01   # a Gaussian posterior: hardly ever beyond 3 sd (L - L_min > 9)
    assert abs(theta["a"].mean() - 0.5) < 0.02
    pd.testing.assert_frame_equal(theta, posterior_parameters(h, ["a"], 1.0, 2000, seed=5))
    assert not theta.equals(posterior_parameters(h, ["a"], 1.0, 2000, seed=6))


def test_band_width_grows_with_dispersion_and_with_discrepancy():
    widths = [_band_width(d) for d in (1.0, 4.0, 16.0)]
    assert widths[0] < widths[1] < widths[2]
    assert _band_width(4.0, sd=0.1) > _band_width(4.0, sd=0.0)


def test_predictive_without_discrepancy_is_the_runs_and_contains_the_point():
    rng = np.random.default_rng(0)
    sims = pd.DataFrame({"x": 50 + rng.normal(0, 2, 30), "y": 1.0 + rng.normal(0, 0.01, 30)})
    same = predictive(sims, pd.Series({"x": 0.0, "y": 0.0}), seed=3, draws=4)
    assert len(same) == 120
    np.testing.assert_allclose(same.quantile([0.1, 0.5, 0.9]), sims.quantile([0.1, 0.5, 0.9]), rtol=1e-12)
    wide = predictive(sims, pd.Series({"x": 0.2, "y": 0.05}), seed=3)
    q = wide.quantile([0.1, 0.9])
    point = sims.median()
    assert (q.loc[0.1] < point).all() and (point < q.loc[0.9]).all()
    # the discrepancy is multiplicative: log-width of the band about 2 x 1.2816 x sd when it dominates
    log_width = np.log(q.loc[0.9, "x"] / q.loc[0.1, "x"])
    assert log_width == pytest.approx(2 * 1.2816 * math.hypot(0.2, 2 / 50), rel=0.1)
    # a column sd leaves out defaults to 0
    np.testing.assert_allclose(predictive(sims, pd.Series({"x": 0.2}), seed=3)["y"].quantile([0.1, 0.9]),
                               sims["y"].quantile([0.1, 0.9]), rtol=1e-12)


def test_discrepancy_sd_is_the_rms_of_in_sample_log_errors_with_pool_and_floor():
    errors = pd.DataFrame({"series": ["a", "a", "b"], "log_error": [0.1, -0.3, 0.02]})
    d = discrepancy_sd(errors, ["a", "b", "c"], {"a": 0.05, "b": 0.1, "c": 0.01}).set_index("series")
    assert d.loc["a", "sd"] == pytest.approx(math.sqrt((0.01 + 0.09) / 2))
    assert d.loc["b", "sd"] == pytest.approx(0.1) and d.loc["b", "rms"] == pytest.approx(0.02)   # the floor
    assert d.loc["c", "from"] == POOLED and d.loc["c", "in_sample_points"] == 0
    assert d.loc["c", "sd"] == pytest.approx(math.sqrt((0.01 + 0.09 + 0.0004) / 3))
    with pytest.raises(ValueError, match="in-sample"):
        discrepancy_sd(errors.assign(log_error=math.nan), ["a"], {})


def _records(scale: float) -> pd.DataFrame:
    """A synthetic run: two indicators 2017-2021 (index year)."""
    years = np.arange(2017, 2022)
    return pd.DataFrame({"rd_expenditure": scale * 100 * 1.1 ** (years - 2017),
                         "gdp": scale * 1000 * 1.05 ** (years - 2017)}, index=years)


def _targets(held_out_value: float) -> pd.DataFrame:
    rows = [("rd_2018", "rd_expenditure", 2018, None, 120.0, 0.05),
            ("rd_2019", "rd_expenditure", 2019, None, 115.0, 0.05),
            ("rd_2020", "rd_expenditure", 2020, None, held_out_value, 0.05),
            ("gdp_r_2020", "gdp", 2020, 2019, 1.04, 0.02)]
    return pd.DataFrame(rows, columns=["id", "indicator", "year", "ratio_to", "value", "rel_sd"])


def test_discrepancy_comes_from_the_fitted_years_only():
    records = [_records(s) for s in (0.98, 1.0, 1.02)]
    series = ["rd_expenditure", "gdp_to_2019"]
    errors, d = discrepancy(_targets(173.2), records, 2019, series)
    assert set(errors["id"]) == {"rd_2018", "rd_2019"}
    med = np.array([110.0, 121.0])   # the median run's 2018 and 2019
    rms = math.sqrt(np.mean(np.log(med / np.array([120.0, 115.0])) ** 2))
    d = d.set_index("series")
    assert d.loc["rd_expenditure", "sd"] == pytest.approx(rms)
    assert d.loc["gdp_to_2019", "from"] == POOLED and d.loc["gdp_to_2019", "sd"] == pytest.approx(rms)
    # a held-out value, however far off, changes no width
    for other in (1.0, 173.2 * 3, 1e6):
        pd.testing.assert_frame_equal(discrepancy(_targets(other), records, 2019, series)[1], d.reset_index())
    # a fitted value does
    moved = _targets(173.2)
    moved.loc[0, "value"] = 200.0
    assert discrepancy(moved, records, 2019, series)[1]["sd"].iloc[0] > rms


def test_in_sample_errors_ignore_later_targets():
    sims = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 5.0]})
    t = pd.DataFrame({"id": ["a", "b"], "series": ["s", "s"], "year": [2019, 2020], "value": [1.0, 1.0]})
    e = in_sample_errors(sims, t, 2019)
    assert e["id"].tolist() == ["a"] and e["log_error"].iloc[0] == pytest.approx(math.log(2.0))


def test_year_bands_add_discrepancy_after_the_last_fitted_year_only():
    rng = np.random.default_rng(1)
    rows = [{"series": "s", "set": which, "replicate": k, "year": y, "value": 100 + y - 2019 + rng.normal()}
            for which in ("estimate", "posterior") for k in range(20) for y in range(2017, 2022)]
    paths = pd.DataFrame(rows)
    b = year_bands(paths, pd.Series({"s": 0.1}), 2019, seed=2).set_index("year")
    assert list(b.index) == [2019, 2020, 2021]
    post = paths[(paths["set"] == "posterior") & (paths["year"] == 2019)]["value"]
    assert b.loc[2019, "p10"] == pytest.approx(post.quantile(0.1)) and b.loc[2019, "p90"] == pytest.approx(
        post.quantile(0.9))
    width = (b["p90"] - b["p10"]) / b["p50"]
    assert width[2020] > 3 * width[2019]
    assert ((b["p5"] <= b["p10"]) & (b["p10"] <= b["p50"]) & (b["p50"] <= b["p90"]) & (b["p90"] <= b["p95"])).all()
    narrow = year_bands(paths, pd.Series({"s": 0.0}), 2019, seed=2).set_index("year")
    assert ((narrow["p90"] - narrow["p10"]) < (b["p90"] - b["p10"]))[[2020, 2021]].all()

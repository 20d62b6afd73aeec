"""Global sensitivity: SALib wiring on functions with known indices, factor ranges, and the model as a function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.analysis import sensitivity as sa
from simulator.analysis import sensitivity_factors as sf
from simulator.cli import main
from simulator.errors import InputError
from simulator.experiments.ensemble import run_ensemble, run_variants
from simulator.experiments.prepared import prepare
from simulator.inputs.parameters import calibrated_document, parameter_specs
from tests.helpers import QIQIHAR


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_sobol_recovers_the_analytic_indices_of_the_ishigami_function():
    """Ishigami (a=7, b=0.1) on [-pi, pi]^3: S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244 (Saltelli 2008)."""
    factors = [sf.Factor(f"x{i}", -np.pi, np.pi) for i in range(3)]
    X = sa.design("sobol", factors, 1024, seed=1)
    assert X.shape == (1024 * 5, 3)
    Y = pd.DataFrame({"y": ishigami(X)})
    idx = sa.analyse("sobol", factors, X, Y, seed=1).set_index("factor")
    np.testing.assert_allclose(idx.loc[["x0", "x1", "x2"], "S1"], [0.314, 0.442, 0.0], atol=0.05)
    np.testing.assert_allclose(idx.loc[["x0", "x1", "x2"], "ST"], [0.558, 0.442, 0.244], atol=0.05)
    assert list(idx["rank"]) == [1, 2, 3] and idx.index[0] == "x0"    # ranked by ST


def test_morris_effects_of_a_linear_function_are_its_slopes_times_the_ranges():
    """y = 1 a + 5 b + 0 c with a in [0, 1], b in [0, 2]: mu* = 1, 10, 0 on the unit range; sigma = 0."""
    factors = [sf.Factor("a", 0, 1), sf.Factor("b", 0, 2), sf.Factor("c", 3, 4)]
    X = sa.design("morris", factors, 20, seed=3)
    assert X.shape == (20 * 4, 3)
    Y = pd.DataFrame({"y": X[:, 0] + 5 * X[:, 1] + 0 * X[:, 2], "flat": np.ones(len(X))})
    idx = sa.analyse("morris", factors, X, Y)
    lin = idx[idx.output == "y"].set_index("factor")
    np.testing.assert_allclose(lin.loc[["a", "b", "c"], "mu_star"], [1.0, 10.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lin["sigma"], 0.0, atol=1e-9)
    assert list(lin.index) == ["b", "a", "c"]
    flat = idx[idx.output == "flat"]
    assert len(flat) == 1 and flat.factor.iloc[0] == "" and "constant" in flat.note.iloc[0]


def test_sobol_needs_a_power_of_two_and_methods_are_checked():
    factors = [sf.Factor("a", 0, 1)]
    with pytest.raises(InputError, match="power of 2"):
        sa.design("sobol", factors, 10)
    with pytest.raises(InputError, match="unknown method"):
        sa.design("fast", factors, 8)


def test_prior_ranges_are_the_documented_value_plus_minus_half_within_bounds(tmp_path):
    specs = parameter_specs()
    factors = {f.name: f for f in sf.parameter_factors()}
    assert all(specs[n].kind in ("evidence", "assumption", "calibrated") for n in factors)
    assert "cit_rate_hte" not in factors and "exit_hazard_by_age" not in factors   # law; list-valued
    e = factors["rd_price_elasticity"]                                            # -0.4 in [-2, 0]
    assert (e.low, e.high) == pytest.approx((-0.6, -0.2))
    a = factors["hte_approval_rate"]                                              # 0.85 in [0, 1]: clipped
    assert (a.low, a.high) == pytest.approx((0.425, 1.0))
    for f in factors.values():
        lo, hi = specs[f.name].bounds
        assert lo <= f.low < f.high <= hi or f.integer
    years = factors["incubation_years"]                                           # integer 3 -> 2..4 (1.5-4.5)
    assert years.integer and {years.value(x) for x in np.linspace(years.low, years.high, 50)} == {2, 3, 4}
    full = {f.name: f for f in sf.parameter_factors("full")}
    assert (full["revenue_per_employee"].low, full["revenue_per_employee"].high) == (1.0, 10000.0)
    prior = {f.name: f for f in sf.parameter_factors("prior")}
    for name, entry in (calibrated_document().get("parameters") or {}).items():   # default: calibrated intervals
        assert (factors[name].low, factors[name].high) == tuple(entry["interval90"])
        assert (prior[name].low, prior[name].high) != tuple(entry["interval90"])
    cal = tmp_path / "calibrated.yaml"
    cal.write_text("parameters:\n  rd_price_elasticity: {bounds: [-1.0, -0.3]}\n", "utf-8")
    got = {f.name: f for f in sf.parameter_factors(cal)}
    assert (got["rd_price_elasticity"].low, got["rd_price_elasticity"].high) == (-1.0, -0.3)
    assert (got["hte_approval_rate"].low, got["hte_approval_rate"].high) == (a.low, a.high)
    cal.write_text("rd_price_elasticity: [0.5, 0.1]\n", "utf-8")
    with pytest.raises(InputError, match="not a range"):
        sf.parameter_factors(cal)
    with pytest.raises(InputError, match="national rule"):
        sf.parameter_factors(names=["cit_rate_hte"])


@pytest.fixture(scope="module")
def short():
    return prepare(QIQIHAR, horizon=2025)


def test_policy_levers_change_the_instruments_through_the_scenario(short):
    levers = sf.lever_factors(short)
    assert {f.instrument for f in levers} == {i.id for i in short.instruments() if i.enabled}
    hte = next(f for f in levers if f.instrument == "q000_m4_hte_award")
    p = sa.point(short, [hte, sf.parameter_factors(names=["rd_price_elasticity"])[0]], np.array([1.7, -0.3]))
    inst = {i.id: i for i in p.instruments()}
    assert inst["q000_m4_hte_award"].scale == pytest.approx(1.7)
    assert inst["q000_m4_tech_purchase"].scale == 1.0
    assert p.params.rd_price_elasticity == -0.3 and short.params.rd_price_elasticity == -0.4
    with pytest.raises(InputError, match="not a modelled instrument"):
        sf.lever_factors(short, instruments=["q000_m1_conversion_contribution"])


def test_points_share_random_numbers_and_the_lever_moves_cost_and_outcome(short):
    """Two identical points give identical outputs (common random numbers); the HTE award's scale
    changes the HTE count only through policy."""
    hte = [f for f in sf.lever_factors(short) if f.instrument == "q000_m4_hte_award"]
    X = np.array([[0.0], [0.0], [8.0]])
    Y = sa.evaluate(short, hte, X, replicates=2)
    assert list(Y.columns[:2]) == ["gdp_2025", "p_gdp_2025"] and "p_all_targets" in Y
    pd.testing.assert_series_equal(Y.iloc[0], Y.iloc[1], check_names=False)
    assert Y.loc[2, "hte_count_2025"] > Y.loc[0, "hte_count_2025"]
    probs = Y.filter(regex="^p_")
    assert len(probs.columns) == len(short.region.targets) + 1 and ((probs >= 0) & (probs <= 1)).all().all()


def test_run_variants_equals_run_ensemble_whatever_the_grouping(short):
    variants = {"a": short, "b": short._with({"q000_m4_hte_award": {"scale": 3.0}}, {})}
    one = run_ensemble(variants, 2).table
    two = run_variants(variants, 2, group_size=1).table
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_cli_sensitivity_writes_indices_charts_and_manifest(tmp_path, capsys):
    out = tmp_path / "sens"
    code = main(["sensitivity", str(QIQIHAR), "--factors", "hte_approval_rate,policy:q000_m4_hte_award",
                 "--samples", "2", "--replicates", "1", "--out", str(out), "--lang", "en", "--top", "5"])
    assert code == 0
    idx = pd.read_csv(out / "indices.csv")
    assert set(idx.dropna(subset=["factor"]).factor) == {"hte_approval_rate", "policy:q000_m4_hte_award.scale"}
    assert (out / "sensitivity_hte_count_2025.png").is_file() and (out / "manifest.json").is_file()
    assert len(pd.read_csv(out / "samples.csv")) == 2 * 3
    assert "hte_count_2025:" in capsys.readouterr().out
    assert main(["rerun", str(out)]) == 2                   # not a scenario run: points to its command
    assert "innosim sensitivity" in capsys.readouterr().err
    (out / "notes.txt").write_text("mine")
    again = ["sensitivity", str(QIQIHAR), "--factors", "hte_approval_rate", "--samples", "2", "--replicates", "1",
             "--out", str(out), "--lang", "en"]
    assert main(again) == 0                                   # an existing result is never overwritten ...
    assert (out / "notes.txt").is_file() and (tmp_path / "sens-2" / "indices.csv").is_file()
    assert "sens-2" in capsys.readouterr().err
    assert main([*again, "--force"]) == 0                     # ... unless asked
    assert not (out / "notes.txt").exists() and not (tmp_path / "sens-3").exists()
    bad = tmp_path / "bad"
    assert main(["sensitivity", str(QIQIHAR), "--method", "sobol", "--samples", "6", "--out", str(bad)]) == 2
    assert "power of 2" in capsys.readouterr().err and not bad.exists()
    assert main([*again, "--horizon", "2023", "--out", str(bad)]) == 2    # outcomes of 2025 need 2025
    assert "--horizon" in capsys.readouterr().err and not bad.exists()

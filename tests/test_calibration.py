"""Calibration: the estimator recovers parameters from data the model made itself, flags what
the data cannot identify, is reproducible, and its output is the default parameter set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulator.analysis.calibration_fit import fit, simulate
from simulator.analysis.calibration_problem import SMALL, load_problem
from simulator.cli import main
from simulator.errors import InputError
from simulator.experiments.outputs import manifest
from simulator.experiments.prepared import prepare
from simulator.inputs.parameters import Parameters, calibrated_draw, parameter_specs, prior_specs
from simulator.inputs.scenario_file import Scenario
from simulator.model.region_model import RegionModel
from simulator.policy.build import build_instruments

ROOT = Path(__file__).resolve().parent.parent
TRUE = {"base_growth": 0.03, "institute_external_sales_growth": 0.20, "tech_sme_uptake": 0.3}
BOUNDS = {"base_growth": [-0.02, 0.12], "institute_external_sales_growth": [0.0, 0.35],
          "tech_sme_uptake": [0.05, 1.0], "little_giant_prob": [0.0, 0.5]}


def _spec(tmp: Path, targets: pd.DataFrame, **budget) -> Path:
    """A calibration spec on the Qiqihar zone (2021 base, a few thousand firms: fast)."""
    targets.to_csv(tmp / "targets.csv", index=False)
    spec = {"name": "synthetic", "region": str(ROOT / "scenarios/regions/qiqihar_zone.yaml"),
            "policies_dir": str(ROOT / "scenarios/policies"), "targets": "targets.csv",
            "end_year": 2024, "holdout_from": 2024, "seed": 7,
            "replicates": 4, "design_points": 16, "local_evaluations": 30, "profile_points": 3,
            "fit_replicates": 3, "posterior_draws": 10,
            "free": {k: {"bounds": v} for k, v in BOUNDS.items()}} | budget
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    return path


def _synthetic_targets(tmp: Path) -> pd.DataFrame:
    """Targets made by the model at TRUE, with replicate seeds the calibration never uses."""
    rows = [(f"{ind}_{y}", ind, y) for ind in ("gdp", "tech_contract_value", "tech_sme_count")
            for y in (2022, 2023, 2024)]
    t = pd.DataFrame(rows, columns=["id", "indicator", "year"])
    t["ratio_to"], t["value"], t["rel_sd"] = np.nan, 1.0, 0.05
    t["kind"], t["definition"], t["source"] = "synthetic", "model output at known parameters", "test"
    problem = load_problem(_spec(tmp, t, seed=999))       # other seed: data noise differs from the fit's
    t["value"] = simulate(problem, TRUE, 12).mean().to_numpy()
    return t


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synthetic")
    return tmp, _synthetic_targets(tmp)


def test_estimator_recovers_known_parameters_and_flags_unidentified(synthetic):
    tmp, targets = synthetic
    result = fit(load_problem(_spec(tmp, targets)))
    for name, true in TRUE.items():
        lo, hi = BOUNDS[name]
        # close to the truth, or (a parameter the noisy data pin down loosely: GDP paths carry persistent
        # replicate shocks, so three years of GDP leave base_growth uncertain) its 90 % interval holds it
        low, high = result.intervals[name]
        assert abs(result.estimate[name] - true) < 0.1 * (hi - lo) or low <= true <= high, \
            (name, result.estimate[name], true, result.intervals[name])
        assert result.identified[name], name
        assert result.intervals[name][0] <= result.estimate[name] <= result.intervals[name][1]
    # the little-giant listing affects none of the targets: the data cannot identify it
    assert not result.identified["little_giant_prob"]
    assert result.values()["little_giant_prob"] == prior_specs()["little_giant_prob"].value
    # the search improved on the prior
    h = result.history
    assert result.loss < h.loc[h["phase"] == "prior", "loss"].iloc[0]


def test_same_seed_same_result(synthetic):
    tmp, targets = synthetic
    problem = load_problem(_spec(tmp, targets, design_points=4, local_evaluations=4, profile_points=0, replicates=1))
    a, b = fit(problem), fit(problem)
    assert a.estimate == b.estimate and a.loss == b.loss


def test_cli_small_budget_writes_calibration_and_diagnostics(synthetic, tmp_path, monkeypatch):
    tmp, targets = synthetic
    t = targets.copy()
    spec = _spec(tmp, t, holdout_from=2024, free={k: {"bounds": BOUNDS[k]} for k in ("base_growth",)})
    assert main(["calibrate", str(spec), "--small", "--out", str(tmp_path)]) == 0
    doc = yaml.safe_load((tmp_path / "calibrated.yaml").read_text("utf-8"))
    assert doc["small_budget"] is True and doc["seed"] == 7
    assert set(doc["parameters"]) == {"base_growth"}
    diag = tmp_path / "diagnostics"
    for name in ("fit_table.csv", "out_of_sample.csv", "convergence.png", "profiles.png", "report.md"):
        assert (diag / name).is_file(), name
    table = pd.read_csv(diag / "fit_table.csv")
    assert len(table) == len(t) and (table["sim_p5"] <= table["sim_median"]).all()
    oos = pd.read_csv(diag / "out_of_sample.csv")
    assert set(oos["year"]) == {2024} and oos["trend"].notna().all()   # trend through 2022-2023
    # a small-budget file is never a default
    monkeypatch.setenv("INNOSIM_CALIBRATED", str(tmp_path / "calibrated.yaml"))
    assert Parameters.defaults() == Parameters.priors()


def test_calibrated_file_is_the_default_and_feeds_parameter_uncertainty(tmp_path, monkeypatch):
    doc = {"calibration": "test", "fitted_years": "2018-2021", "small_budget": False,
           "parameters": {"base_growth": {"value": 0.031, "interval90": [0.02, 0.04], "identified": True}},
           "draws": {"columns": ["base_growth"], "values": [[0.02], [0.03], [0.04]]}}
    path = tmp_path / "calibrated.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    monkeypatch.setenv("INNOSIM_CALIBRATED", str(path))
    assert Parameters.defaults().base_growth == 0.031
    assert parameter_specs()["base_growth"].kind == "calibrated"
    assert Parameters.priors().base_growth == prior_specs()["base_growth"].value
    prepared = prepare(ROOT / "scenarios/qiqihar.yaml", replicates=4, horizon=2022)
    assert prepared.model(0).params.base_growth == 0.031           # fixed unless asked
    scenario = prepared.scenario.model_copy(update={"parameter_uncertainty": True})
    uncertain = type(prepared)(**{**prepared.__dict__, "scenario": scenario})
    drawn = [uncertain.model(k).params.base_growth for k in range(8)]
    assert set(drawn) <= {0.02, 0.03, 0.04} and len(set(drawn)) > 1
    assert drawn == [calibrated_draw(scenario.seed, k)["base_growth"] for k in range(8)]
    # every variant of replicate k gets the same draw (common random numbers)
    no_policy = uncertain.variants()["no_policy"]
    assert [no_policy.model(k).params.base_growth for k in range(8)] == drawn
    # the manifest says which uncertainty the bands carry
    says = manifest(uncertain, {})["uncertainty"]
    assert "parameter" in says and "base_growth" in says
    assert "stochastic only" in manifest(prepared, {})["uncertainty"]
    doc["parameters"]["base_growth"]["value"] = 5.0                  # outside parameters.yaml bounds
    path.write_text(yaml.safe_dump(doc), "utf-8")
    from simulator.inputs.parameters import _calibrated
    _calibrated.cache_clear()                                        # (cached by path)
    with pytest.raises(InputError, match="base_growth"):
        Parameters.defaults()
    _calibrated.cache_clear()


def test_bad_targets_are_named(tmp_path):
    t = pd.DataFrame([{"id": "x", "indicator": "hte_cuont", "year": 2022, "ratio_to": np.nan, "value": 1.0,
                       "rel_sd": 0.1, "kind": "stock", "definition": "", "source": ""}])
    with pytest.raises(InputError, match="hte_count"):
        load_problem(_spec(tmp_path, t))


def test_committed_calibration_is_consistent():
    """The committed calibrated.yaml: full budget, values inside bounds, unidentified ones at their prior."""
    doc = yaml.safe_load((ROOT / "calibration/calibrated.yaml").read_text("utf-8"))
    assert doc["small_budget"] is False
    priors = prior_specs()
    for name, entry in doc["parameters"].items():
        lo, hi = priors[name].bounds
        assert lo <= entry["value"] <= hi
        if not entry["identified"]:
            assert entry["value"] == priors[name].value and "warning" in entry
            assert name not in doc["draws"]["columns"]
    table = pd.read_csv(ROOT / "calibration/diagnostics/fit_table.csv")
    targets = pd.read_csv(ROOT / "calibration/targets_heilongjiang.csv")
    assert list(table["id"]) == list(targets["id"])
    assert SMALL["replicates"] <= doc["replicates_per_evaluation"]


def test_historical_base_year_reproduces_its_2017_figures():
    """The 2017 population equals the 2017 data before any step, and the provincial award pays from 2018."""
    problem = load_problem(ROOT / "calibration/heilongjiang.yaml")
    region = problem.region
    scenario = Scenario(name="t", region=region.id, horizon=2018, seed=0)
    instruments = build_instruments(region, scenario, problem.policies_dir, "test")
    model = RegionModel(region, Parameters.priors(), instruments, seed=3, horizon=2018)
    first = model.records[0]
    assert first["year"] == 2017
    assert first["hte_count"] == 929 == region.base("hte_count")
    assert abs(first["rd_expenditure"] / 146.6 - 1) < 0.01
    assert abs(first["tech_contract_value"] / 146.71 - 1) < 0.02
    assert abs(first["gdp"] / region.base("gdp") - 1) < 0.01
    model.run()
    assert model.records[-1]["subsidy_paid"] > 0        # HTE awards paid on 2018 certificates

"""Policy-mix optimiser: known answers on a function and on the model, unreachable targets, spec validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.optimise import OptimiseResult, optimise
from simulator.analysis.optimise_report import write
from simulator.analysis.optimise_search import (
    Dim,
    Evaluation,
    Goal,
    attainment,
    choose,
    mix_settings,
    pareto_mask,
    search,
)
from simulator.analysis.optimise_spec import OptimiseSpec, load_spec
from simulator.cli import main
from simulator.errors import InputError
from simulator.experiments.prepared import prepare
from tests.helpers import SCENARIOS

NOISE = np.linspace(-0.2, 0.2, 10)       # replicate k's shock, the same for every mix (common random numbers)
DIMS = [Dim("a", "scale", 0.0, 1.0), Dim("b", "scale", 0.0, 1.0)]
GOAL = Goal("hte_count", 2025, 1.0)


def toy(points: list[dict]) -> list[Evaluation]:
    """Lever a costs 2 a unit, lever b 1; outcome = a + b + shock."""
    out = []
    for p in points:
        a, b = p["a.scale"], p["b.scale"]
        out.append(Evaluation(np.full(len(NOISE), 2 * a + b), {GOAL.key: a + b + NOISE}))
    return out


def test_cheapest_mix_of_a_known_problem():
    """P >= 0.8 needs 8 of 10 replicates at or above 1: a + b >= 1 - NOISE[2] = 1.111; b is the cheaper
    lever but stops at 1, so the optimum is b = 1, a = 0.111, cost 1.222."""
    trials = search(DIMS, toy, [GOAL], probability=0.8, trials=60, batch=6, seed=0,
                    anchors=[("cheapest_corner", {"a.scale": 0.0, "b.scale": 0.0})])
    chosen, ok = choose(trials, 0.8, None)
    best = trials.set_index("trial").loc[chosen]
    assert ok and best["p_required"] >= 0.8
    optimum = 1 + (1 - NOISE[2] - 1) * 2
    assert optimum == pytest.approx(1.2222, abs=1e-4)
    assert optimum - 1e-9 <= best["cost_mean"] <= optimum * 1.05
    assert best["b.scale"] > 0.9
    feasible = trials[trials["p_required"] >= 0.8]
    assert (feasible["cost_mean"] >= optimum - 1e-9).all()         # nothing beats the analytic optimum
    assert (feasible["attainment"] >= 1).all() and (trials.loc[trials["p_required"] < 0.8, "attainment"] < 1).all()


def test_highest_probability_within_a_budget():
    """Budget 1: the best is b = 1, a = 0 (outcome 1 + shock): P = 0.5, a thin wedge at the edge of the budget."""
    trials = search(DIMS, toy, [GOAL], probability=0.8, budget=1.0, trials=80, batch=8, seed=1,
                    anchors=[("generous_corner", {"a.scale": 1.0, "b.scale": 1.0})])
    chosen, ok = choose(trials, 0.8, 1.0)
    best = trials.set_index("trial").loc[chosen]
    assert ok and best["cost_mean"] <= 1.0 and best["p_required"] == pytest.approx(0.5)
    assert trials.loc[trials["cost_mean"] <= 1.0, "p_required"].max() == pytest.approx(0.5)


def test_an_unreachable_target_is_declared_with_the_best_probability():
    goal = Goal("hte_count", 2025, 3.0)                     # a + b <= 2 < 3: out of reach
    trials = search(DIMS, lambda pts: [Evaluation(e.cost, {goal.key: e.values[GOAL.key]}) for e in toy(pts)],
                    [goal], trials=12, batch=4, seed=2,
                    anchors=[("generous_corner", {"a.scale": 1.0, "b.scale": 1.0})])
    chosen, ok = choose(trials, 0.8, None)
    assert not ok and chosen == 0                            # the generous corner comes closest
    spec = OptimiseSpec(name="toy", scenario="x.yaml", levers={"a": {"scale": [0, 1]}})
    result = OptimiseResult(spec, Path("toy.yaml"), [goal], DIMS, trials, chosen, ok, {}, (2022, 2025))
    text = result.report()
    assert "NO mix within the levers' bounds" in text and "OUT OF REACH" in text
    row = result.per_target().iloc[0]
    assert row["best_probability"] == 0 and not row["in_reach"]
    assert trials.loc[0, "attainment"] == pytest.approx((2 + NOISE[2]) / 3)


def test_attainment_is_at_least_one_exactly_when_the_probability_is_met():
    rng = np.random.default_rng(0)
    for _ in range(200):
        r = int(rng.integers(1, 30))
        p = float(rng.uniform(0.05, 1.0))
        ratios = rng.uniform(0.5, 1.5, size=(2, r))
        met = (ratios >= 1).all(axis=0).mean()
        assert (attainment(ratios, p) >= 1) == (met >= p - 1e-12)


def test_pareto_front_and_mix_settings():
    assert list(pareto_mask([1, 2, 2, 3, 0.5], [0.2, 0.5, 0.4, 0.5, 0.0])) == [True, True, False, False, True]
    dims = [Dim("x", "scale", 0, 2), Dim("x", "start_year", 2023, 2025, integer=True), Dim("y", "params.cap", 30, 90)]
    assert mix_settings(dims, {"x.scale": 1.5, "x.start_year": 2023.6, "y.params.cap": 40}) == {
        "x": {"enabled": True, "scale": 1.5, "start_year": 2024}, "y": {"enabled": True, "params": {"cap": 40.0}}}


SPEC = """name: opt_test
scenario: qiqihar.yaml
targets: [{indicator: hte_count, year: 2025, value: 230}]
probability: 0.75
replicates: 4
trials: 21
batch: 7
levers:
  q000_m4_hte_award: {scale: [0, 8]}
"""


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_optimise_command_writes_nothing_into_scenarios(scen_dir, tmp_path, monkeypatch):
    """The documented command (here with 3 mixes of 1 replicate) leaves scenarios/ as shipped: before, it
    wrote scenarios/<spec>_chosen.yaml, which the scenario and validation tests then read (108 failures).
    The chosen mix, kept in the output folder, runs from there and from another working directory."""
    shipped = _tree(scen_dir)
    monkeypatch.chdir(tmp_path)
    code = main(["optimise", str(scen_dir / "optimise" / "qiqihar.yaml"), "--trials", "3", "--replicates", "1",
                 "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    assert _tree(scen_dir) == shipped
    chosen = tmp_path / "out" / "chosen_scenario.yaml"
    monkeypatch.chdir(SCENARIOS.parent.parent)   # anywhere else
    prepared = prepare(chosen)
    assert prepared.region_path.resolve() == (scen_dir / "regions" / "qiqihar_zone.yaml").resolve()
    assert "as_written" in prepared.variants()


@pytest.fixture()
def scen_dir(tmp_path):
    dest = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, dest)
    return dest


def test_optimiser_finds_the_cheapest_hte_award_on_the_model(scen_dir, tmp_path):
    """One lever, the HTE award's scale: the grid of scales (same replicate seeds) gives the answer."""
    spec = scen_dir / "opt_test.yaml"
    spec.write_text(SPEC, "utf-8")
    result = optimise(spec)
    best = result.chosen_row
    assert result.satisfied and best["p_required"] >= 0.75
    prepared = prepare(scen_dir / "qiqihar.yaml", horizon=2025)
    from simulator.analysis.optimise import _ModelEvaluator

    grid = np.arange(0, 8.01, 0.5)
    evals = _ModelEvaluator(prepared, result.dims, result.goals, 4, 1, None, False)(
        [{"q000_m4_hte_award.scale": s} for s in grid])
    ok = [(e.cost.mean(), s) for e, s in zip(evals, grid, strict=True)
          if (e.values["hte_count_2025"] >= 230).mean() >= 0.75]
    grid_cost, grid_scale = min(ok)
    assert 0 < grid_scale < 8                                   # the answer is inside the bounds
    assert best["cost_mean"] <= grid_cost * 1.02                # as cheap as the best of a fine grid
    assert abs(best["q000_m4_hte_award.scale"] - grid_scale) <= 1.0
    shipped = _tree(scen_dir)
    folder, scenario = write(result, tmp_path / "out", lang="en")
    assert scenario == folder / "chosen_scenario.yaml" and (folder / "pareto.png").is_file()
    assert _tree(scen_dir) == shipped                           # nothing written beside the base scenario
    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) == 21 and list(trials["origin"][:3]) == ["as_written", "cheapest_corner", "generous_corner"]
    chosen = prepare(scenario)                                  # ready to run
    inst = {i.id: i for i in chosen.instruments()}
    assert inst["q000_m4_hte_award"].scale == pytest.approx(best["q000_m4_hte_award.scale"])
    assert "as_written" in chosen.variants()


@pytest.mark.parametrize("change, field", [
    ("levers:\n  q000_m1_conversion_contribution: {scale: [0, 2]}\n", "levers.q000_m1_conversion_contribution"),
    ("levers:\n  q000_m4_hte_award: {params: {amount: [0, 2]}}\n", "levers.q000_m4_hte_award.params.amount"),
    ("levers:\n  q000_m4_hte_award: {scale: [3, 1]}\n", "levers.q000_m4_hte_award.scale"),
    ("levers:\n  q000_m4_tech_purchase: {params: {eligible: [0, 1]}}\n", "levers.q000_m4_tech_purchase.params"),
    ("levers:\n  q000_m4_hte_award: {scael: [0, 1]}\n", "levers.q000_m4_hte_award.scael"),
    ("targets: [gpd]\nlevers:\n  q000_m4_hte_award: {scale: [0, 1]}\n", "targets.0"),
])
def test_bad_specs_name_the_file_and_field(scen_dir, change, field, capsys):
    spec = scen_dir / "bad.yaml"
    spec.write_text("name: bad\nscenario: qiqihar.yaml\n" + change, "utf-8")
    with pytest.raises(InputError) as err:
        optimise(spec)
    assert err.value.file == str(spec) and err.value.field.startswith(field)
    assert main(["optimise", str(spec), "--out", str(scen_dir / "o")]) == 2
    assert str(spec) in capsys.readouterr().err and not (scen_dir / "o").exists()


def test_the_qiqihar_spec_is_valid():
    spec = load_spec(SCENARIOS / "optimise" / "qiqihar.yaml")
    assert spec.targets == "all" and spec.probability == 0.8 and spec.levers

"""Paths and scenario variants shared by the tests."""

from __future__ import annotations

from pathlib import Path

from simulator.experiments.prepared import Prepared, prepare

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
QIQIHAR = SCENARIOS / "qiqihar.yaml"


def prepared_with(policies: dict | None = None, parameters: dict | None = None, horizon: int | None = None):
    """The Qiqihar scenario with some settings changed, without touching the file."""
    from simulator.inputs.scenario_file import Scenario

    base = prepare(QIQIHAR)
    data = base.scenario.model_dump()
    for key, setting in (policies or {}).items():
        data["policies"][key] = {**data["policies"].get(key, {}), **setting}
    data["parameters"].update(parameters or {})
    if horizon is not None:
        data["horizon"] = horizon
    scenario = Scenario.model_validate(data)
    params = base.params.with_overrides(parameters or {})
    return Prepared(scenario, base.scenario_path, base.region, base.region_path, params, base.policy_files)

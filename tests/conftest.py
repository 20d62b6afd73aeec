"""Shared fixtures: the Qiqihar scenario, prepared once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.runner import prepare

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
QIQIHAR = SCENARIOS / "qiqihar.yaml"


@pytest.fixture(scope="session")
def qiqihar():
    """The validated Qiqihar scenario (build models with ``qiqihar.model(k)``)."""
    return prepare(QIQIHAR)


def prepared_with(policies: dict | None = None, parameters: dict | None = None, horizon: int | None = None):
    """The Qiqihar scenario with some settings changed, without touching the file."""
    from simulator.config import Scenario

    base = prepare(QIQIHAR)
    data = base.scenario.model_dump()
    for key, setting in (policies or {}).items():
        data["policies"][key] = {**data["policies"].get(key, {}), **setting}
    data["parameters"].update(parameters or {})
    if horizon is not None:
        data["horizon"] = horizon
    scenario = Scenario.model_validate(data)
    params = base.params.with_overrides(parameters or {})
    return type(base)(scenario, base.scenario_path, base.region, base.region_path, params, base.policy_files)

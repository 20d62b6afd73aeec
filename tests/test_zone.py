"""The national ranking of a high-tech zone and 003's rank award (500 万元 per 5 places gained)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simulator.experiments.prepared import prepare
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.scenario_file import InstrumentSetting, Scenario
from simulator.policy.instruments import Event, build_instrument
from tests.helpers import SCENARIOS

BAOTOU = SCENARIOS / "baotou.yaml"
NO_NATIONAL_PROGRESS = {"national_trend_rd_intensity": 0.0, "national_trend_hte_count": 0.0,
                        "national_trend_tech_contracts": 0.0, "national_trend_gdp": 0.0}


def _baotou(parameters=None, policies=None):
    base = prepare(BAOTOU)
    data = base.scenario.model_dump()
    data["parameters"].update(parameters or {})
    data["policies"].update(policies or {})
    return dataclasses.replace(base, scenario=Scenario.model_validate(data),
                               params=base.params.with_overrides(parameters or {}))


def test_rank_award_pays_per_full_block_of_five_places():
    path = SCENARIOS / "policies" / "003_baotou.yaml"
    cat = load_catalogue(path)
    spec = next(s for s in cat.instruments if s.id == "bt003_2_3_rank_award")
    award = build_instrument(spec, InstrumentSetting(), "s.yaml", str(path), cat.payer)
    ev = Event("rank_improved", agents=np.arange(5), base=np.array([0.0, 4.0, 5.0, 7.0, 10.0]))
    assert award.amount(ev).tolist() == [0.0, 0.0, 500.0, 500.0, 1000.0]


def test_base_year_rank_is_the_published_one():
    model = prepare(BAOTOU).model(0)
    assert model.records[0]["national_rank"] == 89     # 003 一.(二) 由目前的89名


def test_standing_still_against_national_progress_loses_places():
    """With the default national trends the zone, growing more slowly, falls in the ranking."""
    model = prepare(BAOTOU).model(0).run(2025)
    assert model.indicator("national_rank").loc[2025] > 89


def test_rank_award_is_paid_for_places_gained_and_spent_on_incubation():
    """Without national progress the zone's own growth gains places; each 5 places pays 500 万元."""
    model = _baotou(NO_NATIONAL_PROGRESS).model(0)
    capacity = sum(i.capacity for i in model.incubators)
    model.run(2030)
    ranks = model.indicator("national_rank")
    assert ranks.loc[2030] < 89
    ledger = model.government.payments()
    rank_paid = ledger[ledger.instrument == "bt003_2_3_rank_award"].groupby("year")["amount"].sum()
    gained = (-ranks.diff()).clip(lower=0)
    expected = (np.floor(gained / 5) * 500)[lambda s: s > 0]
    pd.testing.assert_series_equal(rank_paid, expected.loc[rank_paid.index], check_names=False,
                                   check_index_type=False)
    assert rank_paid.sum() > 0
    assert sum(i.capacity for i in model.incubators) > capacity


def test_rank_target_is_met_at_or_below():
    from simulator.experiments.results import targets

    region = prepare(BAOTOU).region
    rows = [("base", k, 2025, "national_rank", v) for k, v in enumerate([60, 65, 66, 90])]
    t = targets(pd.DataFrame(rows, columns=["variant", "replicate", "year", "indicator", "value"]), region)
    assert t.set_index("indicator").loc["national_rank", "probability_met"] == 0.5


@pytest.mark.parametrize("scale", [0.0, 3.0])
def test_switching_the_rank_award_changes_only_rank_award_payments_in_its_first_paid_year(scale):
    on = _baotou(NO_NATIONAL_PROGRESS).model(1).run(2030)
    other = _baotou(NO_NATIONAL_PROGRESS, {"bt003_2_3_rank_award": {"scale": scale}}).model(1).run(2030)
    paid = on.government.payments()
    first = paid[paid.instrument == "bt003_2_3_rank_award"]["year"].min()
    assert on.indicator("national_rank").loc[:first].equals(other.indicator("national_rank").loc[:first])
    p_other = other.government.payments()
    got = p_other[(p_other.year == first) & (p_other.instrument == "bt003_2_3_rank_award")]["amount"].sum()
    assert got == pytest.approx(scale * paid[(paid.year == first)
                                             & (paid.instrument == "bt003_2_3_rank_award")]["amount"].sum())

"""Variants of a replicate share the years before any of their instruments pays (ensemble.replicate_models):
a model copied from a snapshot must continue exactly as a fresh model would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.experiments.prepared import prepare
from simulator.experiments.replicates import _first_difference_year, replicate_models
from simulator.model.region_model import RegionModel

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def variants():
    prepared = prepare(ROOT / "scenarios" / "qiqihar.yaml", horizon=2027)
    out = prepared.variants()
    # an instrument paying from the base year: its group cannot share any year
    out["award_from_2021"] = prepared.variant({"q000_m4_hte_award": {"start_year": 2021, "scale": 1.5}})
    # other parameters: a group of its own
    out["elastic"] = prepared.variant({}, {"rd_price_elasticity": -1.0})
    out["elastic_no_award"] = prepared.variant({"q000_m4_hte_award": {"enabled": False}},
                                               {"rd_price_elasticity": -1.0})
    return out


def _state(model: RegionModel) -> tuple:
    f = model.firms
    return (model.records, model.government.payment_totals(), [a.unique_id for a in model.agents],
            f.uid.tolist(), f.revenue.tolist(), f.hte_grant_year.tolist(),
            model.streams["growth"].bit_generator.state)


@pytest.mark.parametrize("replicate", [0, 3])
def test_copied_models_continue_exactly_as_fresh_ones(variants, replicate):
    shared = 0
    for name, model in replicate_models(variants, replicate):
        assert isinstance(model, RegionModel)
        shared += model.year > model.base_year      # handed over after shared years
        fresh = variants[name].model(replicate)
        model.run()
        fresh.run()
        assert _state(model) == _state(fresh), name
        model.release()
        fresh.release()
    # base and the two named variants pay alike (the provincial award) until 000 starts in 2023, the
    # elastic pair too; no_policy pays nothing and award_from_2021 pays 000 from 2021: fresh models
    assert shared == 5


def test_the_shared_years_end_before_the_payments_differ(variants):
    base = variants["base"]
    named = [variants[n].instruments() for n in ("base", "double_hte_award", "talent_instead_of_awards")]
    assert _first_difference_year(base, named) == 2023      # 000 was issued in 2023; hlj_province pays alike
    assert _first_difference_year(base, [named[0], variants["award_from_2021"].instruments()]) == 2021
    assert _first_difference_year(base, [named[0], named[0]]) == base.scenario.horizon + 1
    assert _first_difference_year(base, [named[0], variants["no_policy"].instruments()]) == 2021


def test_a_snapshot_refuses_instruments_that_would_already_have_paid(variants):
    model = variants["no_policy"].model(0).run(2024)
    snap = model.snapshot()
    with pytest.raises(ValueError, match="q000_m4_hte_award"):
        RegionModel.from_snapshot(snap, variants["base"].instruments())
    model.release()


def test_copies_of_one_snapshot_are_independent(variants):
    model = variants["base"].model(1).run(2022)
    snap = model.snapshot()
    a = RegionModel.from_snapshot(snap)
    b = RegionModel.from_snapshot(snap)
    a.firms.revenue[:] = 0.0
    a.run()
    b.run()
    model.run()
    assert _state(b) == _state(model)
    assert not np.array_equal(a.firms.revenue, b.firms.revenue)
    assert a.region is model.region and a.params is model.params   # read-only inputs are shared, not copied

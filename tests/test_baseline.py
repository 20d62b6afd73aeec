"""The base-year state (before any step) reproduces 000 专栏1's 2021 column."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.core

# (indicator, published 2021 value, tolerance kind, tolerance) - issue 2, 000 专栏1
BASELINE = [
    ("gdp", 120.0, "rel", 0.01),
    ("revenue", 900.0, "rel", 0.01),
    ("hte_count", 83, "exact", 0),
    ("rd_intensity", 3.0, "abs", 0.05),
    ("hightech_output_share", 30.0, "abs", 1.0),
    ("tech_contract_value", 4.0, "rel", 0.02),
    ("national_incubators", 1, "exact", 0),
    ("national_rd_institutions", 4, "exact", 0),
    ("little_giants", 2, "exact", 0),
]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_base_year_state_equals_published_baseline(qiqihar, seed):
    model = qiqihar.model(seed)
    first = model.records[0]
    assert first["year"] == 2021 == model.year
    for name, value, kind, tol in BASELINE:
        got = first[name]
        if kind == "exact":
            assert got == value, name
        elif kind == "rel":
            assert abs(got / value - 1) <= tol, (name, got)
        else:
            assert abs(got - value) <= tol, (name, got)


def test_baseline_values_come_from_the_region_file(qiqihar):
    """The test's figures are the region file's, which cite 000 专栏1."""
    for name, value, _, _ in BASELINE:
        fig = qiqihar.region.baseline[name]
        assert fig.value == value
        assert fig.source.startswith("000 专栏1")


def test_base_year_indicators_are_aggregated_from_agents(qiqihar):
    """GDP is firm value added plus the explicit non-firm part; R&D includes institutes."""
    model = qiqihar.model(0)
    f = model.firms
    assert model.records[0]["gdp"] == pytest.approx((f.value_added.sum() + model.other_gdp) / 1e4)
    assert model.other_gdp == pytest.approx(0.15 * 120 * 1e4)   # population.other_gdp_share
    rd = f.rd.sum() + sum(i.rd for i in model.institutes)
    assert model.records[0]["rd_intensity"] == pytest.approx(100 * rd / (model.records[0]["gdp"] * 1e4))
    assert model.hte_valid_mask().sum() == 83


def test_baseline_certificates_satisfy_the_national_criteria(qiqihar):
    """Each of the 83 certified firms meets every HTE criterion of 国科发火〔2016〕32号 in 2021."""
    from simulator.model.hte_rules import hte_eligible

    model = qiqihar.model(3)
    valid = model.hte_valid_mask()
    assert hte_eligible(model)[valid].all()
    grants = model.firms.hte_grant_year[valid]
    assert set(grants) <= {2019, 2020, 2021}

"""The model as a notebook user meets it: Mesa agents, firm views, tables, parameters."""

from __future__ import annotations

import mesa
import pytest

from simulator import RegionModel
from simulator.inputs.parameters import Parameters, parameter_specs
from simulator.model.agents import Government, Incubator, ResearchInstitute
from simulator.model.firms import FIELDS
from simulator.model.indicators import INDICATORS
from tests.helpers import SCENARIOS

pytestmark = pytest.mark.core


def test_region_model_is_a_mesa_model_with_registered_agents(qiqihar):
    model = qiqihar.model(0)
    assert isinstance(model, mesa.Model)
    by_type = model.agents_by_type
    assert len(by_type[Incubator]) == 11          # 000 (67): 5 incubators + 6 accelerators
    assert len(by_type[ResearchInstitute]) == len(model.institutes)
    assert len(by_type[Government]) == 1


def test_firm_view_reads_and_writes_the_arrays(qiqihar):
    model = qiqihar.model(0)
    firm = model.firm(5)
    assert firm.revenue == model.firms.revenue[5]
    assert firm.rd_hist.shape == (3,)
    firm.revenue = 1234.5
    assert model.firms.revenue[5] == 1234.5
    assert model.firm_by_uid(firm.uid).revenue == 1234.5
    assert set(FIELDS) <= set(firm.as_dict())
    with pytest.raises(IndexError):
        model.firm(len(model.firms))
    frame = model.firms_frame()
    assert len(frame) == len(model.firms) and frame["hte_valid"].sum() == 83


def test_tidy_indicator_table(qiqihar):
    model = qiqihar.model(0).run(2023)
    df = model.indicators("base", 0)
    assert list(df.columns) == ["variant", "replicate", "year", "indicator", "value"]
    series = {t.key for t in qiqihar.region.targets} - set(INDICATORS.keys())   # target series of other kinds
    assert series                                                              # (001 二.5's zone GDP growth, ...)
    # Qiqihar is not ranked nationally and its region file has no alliances / transfer_institutions block
    absent = {"national_rank"} | {k for k in INDICATORS if "alliance" in k or "transfer_institution" in k}
    assert set(df["indicator"]) == set(INDICATORS) - absent | series
    assert sorted(df["year"].unique()) == [2021, 2022, 2023]
    required = {"gdp", "revenue", "rd_intensity", "hte_count", "hightech_output_share", "tech_contract_value",
                "tech_sme_count", "firm_count", "national_incubators", "national_rd_institutions",
                "little_giants", "subsidy_paid"}
    assert required <= set(INDICATORS)


def test_from_files_for_notebooks():
    model = RegionModel.from_files(SCENARIOS / "regions" / "qiqihar_zone.yaml", seed=2, horizon=2024,
                                   parameters={"rd_price_elasticity": -1.0})
    assert model.params.rd_price_elasticity == -1.0
    model.run()
    assert model.year == 2024
    with pytest.raises(RuntimeError):
        model.step()


def test_every_parameter_has_unit_source_and_default_within_bounds():
    for spec in parameter_specs().values():
        assert spec.unit and spec.source, spec.name
        values = spec.value if isinstance(spec.value, list) else [spec.value]
        assert all(spec.bounds[0] <= v <= spec.bounds[1] for v in values), spec.name
        if spec.kind == "assumption":
            assert "assumption" in spec.source, spec.name


def test_parameters_are_read_only_and_validated():
    p = Parameters.defaults()
    with pytest.raises(AttributeError):
        p.rd_price_elasticity = 0.0
    with pytest.raises(AttributeError, match="did you mean"):
        _ = p.rd_price_elastcity


def test_region_targets_and_assumptions_cite_sources(qiqihar):
    region = qiqihar.region
    assert {t.indicator for t in region.targets} >= {"gdp", "rd_intensity", "hte_count", "tech_contract_value"}
    assert all(t.source.startswith(("000 专栏1", "001 ")) and t.year == 2025 for t in region.targets)  # 001 二.5 too
    assert all(a.source for a in region.population.values())


def test_target_probability_arithmetic_on_a_hand_made_table(qiqihar):
    """probability_met counts replicates at or above the target in the target year (达到 = at or above);
    median_first_year is the first year by which half the replicates met it."""
    import numpy as np
    import pandas as pd

    from simulator.experiments.results import targets

    region = qiqihar.region.model_copy(update={"targets": [t for t in qiqihar.region.targets
                                                            if t.indicator in ("hte_count", "gdp")]})
    hte = {0: [150, 180, 200, 210], 1: [150, 205, 200, 201], 2: [150, 160, 170, 200], 3: [150, 199, 199, 199]}
    rows = []
    for k, values in hte.items():
        for year, v in zip(range(2022, 2026), values, strict=True):
            rows.append(("base", k, year, "hte_count", v))
            rows.append(("base", k, year, "gdp", 400 if k < 2 else 100))   # target 300: replicates 0, 1 meet it
    t = targets(pd.DataFrame(rows, columns=["variant", "replicate", "year", "indicator", "value"]), region)
    t = t.set_index("indicator")
    assert t.loc["hte_count", "probability_met"] == 0.75              # 210, 201, 200 meet 200 in 2025; 199 not
    assert t.loc["hte_count", "median"] == 200.5
    assert t.loc["hte_count", "median_first_year"] == 2024             # first years 2024, 2023, 2025, never
    assert t.loc["gdp", "probability_met"] == 0.5
    assert t.loc["all_targets", "probability_met"] == 0.5             # replicates 0 and 1 meet both
    assert t.loc["hte_count", "source"].startswith("000 专栏1 row 5")
    assert np.isnan(t.loc["all_targets", "target_value"])

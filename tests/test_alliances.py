"""Alliances and technology-transfer demonstration institutions (simulator/model/alliances.py): the base year
holds the region file's counts, more founder award never means fewer alliances, the founder rule bounds the
count, the transfer rule follows contract turnover, the awards are paid and costed, and 004's targets on them
are evaluated (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator import RegionModel, run_scenario
from simulator.cli import main
from simulator.experiments import results
from simulator.experiments.prepared import prepare
from simulator.inputs.region_file import load_region
from simulator.model.alliances import eligible_firms, founder_capacity
from tests.helpers import SCENARIOS

CITY = SCENARIOS / "regions/shuangyashan.yaml"
COUNTY = SCENARIOS / "regions/sys_sifangtai.yaml"
AWARD = "sys004_33_alliance_founder_award"


def _model(path=CITY, seed=3, **kw) -> RegionModel:
    return RegionModel.from_files(path, seed=seed, horizon=2025, **kw)


@pytest.mark.core
def test_the_base_year_holds_the_region_files_counts():
    for path in [CITY, *sorted((SCENARIOS / "regions").glob("sys_*.yaml"))]:
        region = load_region(path)
        m = _model(path)
        spec = region.alliances
        levels = [a.level for a in m.alliances]
        assert (levels.count("municipal"), levels.count("provincial"), levels.count("national")) == \
            (spec.municipal, spec.provincial, spec.national), path.name
        assert m.indicator("alliance_count").loc[2021] == spec.count
        if region.transfer_institutions is not None:
            assert m.indicator("tech_transfer_institutions").loc[2021] == region.transfer_institutions.count
    city = load_region(CITY)
    assert city.alliances.count == 24 and city.transfer_institutions.count == 3    # 004 三.3, 2021
    # the counties split the city's 24 alliances; 附件2 allocates no transfer institution to them
    counties = [load_region(p) for p in sorted((SCENARIOS / "regions").glob("sys_*.yaml"))]
    assert sum(c.alliances.count for c in counties) == 24
    assert all(c.transfer_institutions is None for c in counties)


@pytest.mark.core
def test_members_and_leads_are_real_units_of_the_region():
    m = _model().run(2023)
    f, p = m.firms, m.params
    lead_firms = [a.lead_firm for a in m.alliances if a.lead_firm >= 0]
    lead_institutes = [a.lead_institute for a in m.alliances if a.lead_institute >= 0]
    assert len(set(lead_firms)) == len(lead_firms) and len(set(lead_institutes)) == len(lead_institutes)
    assert np.isin(lead_firms, f.uid).all()                      # a lead that left dissolved its alliance
    for a in m.alliances:
        rows = np.flatnonzero(np.isin(f.uid, a.member_firms))
        assert len(rows) == len(a.member_firms)                   # members that left were replaced or dropped
        assert (f.sector[rows] == a.sector).all()                 # an industry's alliance
        assert len(a.member_firms) <= p.alliance_member_firms
        assert a.lead_firm not in set(a.member_firms.tolist())


def _counts(policies: dict, seed: int) -> pd.Series:
    return _model(seed=seed, policies=policies).run().indicator("alliance_count")


def test_more_founder_award_never_means_fewer_alliances():
    for seed in (1, 2):
        none = _counts({AWARD: {"enabled": False}}, seed)
        written = _counts({}, seed)
        large = _counts({AWARD: {"scale": 40.0}}, seed)           # 200 万元 a municipal founder: 3 x the chance
        assert (written >= none).all() and (large >= written).all(), (none.tolist(), written.tolist(),
                                                                     large.tolist())
        assert large.loc[2023] > none.loc[2023]                     # the award does move founders
        assert (none == written).loc[:2021].all() and (large == none).loc[:2021].all()   # the base year is shared


def test_the_count_never_exceeds_what_the_founder_rule_allows():
    for prob in (None, 1.0):
        params = {} if prob is None else {"alliance_founding_prob": prob}
        m = _model(parameters=params)
        while m.year < 2025:
            m.step()
            assert len(m.alliances) <= founder_capacity(m)
            if prob == 1.0:   # every unit able to lead founds at once: the rule's bound is reached, not passed
                assert len(m.alliances) == founder_capacity(m)
                assert len(m.alliances) >= len(eligible_firms(m)) + len(m.institutes)


def test_transfer_institutions_follow_contract_turnover():
    m = _model()
    volume = m.transfer_volume
    assert volume == pytest.approx(1.56e4 / 3)                   # 004 三.3: 1.56 亿元 with 3 institutions
    before = 3
    while m.year < 2025:
        m.step()
        n = len(m.transfer_institutions)
        assert before <= n <= max(before, int(m.tech_contracts_sold() // volume))
        hosts = [t.host for t in m.transfer_institutions]
        assert len(set(hosts)) == n
        new = [t for t in m.transfer_institutions if t.since == m.year]
        assert all(t.contracts >= m.params.transfer_min_contracts for t in new)
        before = n


def test_regions_without_the_blocks_record_no_such_indicator():
    m = RegionModel.from_files(SCENARIOS / "regions/qiqihar_zone.yaml", seed=1, horizon=2023).run()
    assert m.alliances is None and m.transfer_institutions is None
    assert "alliance_count" not in m.records[-1] and "tech_transfer_institutions" not in m.records[-1]


def test_shuangyashan_evaluates_its_alliance_and_transfer_targets():
    city = load_region(CITY)
    keys = {(t.key, t.year): t.value for t in city.targets}
    assert keys[("alliance_count", 2021)] == 24 and keys[("alliance_count", 2022)] == 27
    assert keys[("alliance_count", 2023)] == 30 and keys[("national_alliances", 2023)] == 1
    assert [keys[("tech_transfer_institutions", y)] for y in (2021, 2022, 2023)] == [3, 5, 8]
    assert not any("联盟" in r["row"] or "技术转移示范机构8家 (3" in r["row"] for r in city.not_modelled)
    cells = {}
    for path in sorted((SCENARIOS / "regions").glob("sys_*.yaml")):
        for t in load_region(path).targets:
            if t.source.startswith("004 附件2"):
                cells[(path.stem, t.key)] = t.value
        assert not any("产业联盟" in r["row"] for r in load_region(path).not_modelled), path.name
    assert len(cells) == 54                                       # 9 counties x 6 columns of 附件2
    assert sum(v for (_, k), v in cells.items() if k == "alliance_count") == 30


def test_shuangyashan_runs_and_pays_the_founder_award():
    prepared = prepare(SCENARIOS / "shuangyashan.yaml", replicates=2, horizon=2025)
    table = run_scenario(SCENARIOS / "shuangyashan.yaml", replicates=2, horizon=2025)
    base = table[table.variant == "base"]
    assert set(base.indicator) >= {"alliance_count", "national_alliances", "tech_transfer_institutions",
                                   "alliances_founded"}
    rows = results.targets(table, prepared.region).set_index(["variant", "indicator", "target_year"])
    assert rows.loc[("base", "alliance_count", 2021), "met_in_base_year"] is True        # the base year itself
    assert rows.loc[("base", "tech_transfer_institutions", 2021), "met_in_base_year"] is True
    assert rows.loc[("base", "alliance_count", 2023), "met_in_base_year"] is False
    m = prepared.model(0).run(2025)
    paid = m.government.payments().query("instrument == @AWARD")
    assert not paid.empty and set(paid.year) <= {2022, 2023}     # 三.3, in force in the plan's years
    assert set(paid.amount.round(6)) <= {5.0, 10.0}               # municipal founder 5 万元, provincial 10 万元


def test_a_county_runs_end_to_end(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(SCENARIOS / "sys_sifangtai.yaml"), "--replicates", "2", "--horizon", "2024",
                 "--out", str(out)]) == 0
    targets = pd.read_csv(out / "targets.csv")
    row = targets[(targets.variant == "base") & (targets.indicator == "alliance_count")]
    assert len(row) == 1 and row.target_value.iloc[0] == 3        # 004 附件2 四方台区 产业联盟 3
    assert str(row.met_in_base_year.iloc[0]) == "True"            # 3 of the city's 24 in 2021: met by construction


def test_only_a_level_target_may_name_the_base_year(tmp_path):
    """A plan's milestone for the year it was written in is a level target in the base year (met by construction);
    a flow, growth or cumulative target has no base-year value, so it must come later."""
    from simulator.errors import InputError

    text = CITY.read_text("utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(text, "utf-8")
    assert any(t.year == 2021 for t in load_region(good).targets)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("{kind: flow, indicator: results_converted, year: 2022,",
                                "{kind: flow, indicator: results_converted, year: 2021,"), "utf-8")
    with pytest.raises(InputError, match="after the base year"):
        load_region(bad)

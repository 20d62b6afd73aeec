"""Each amount rule pays what its clause says (000 若干政策措施 第4条)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.errors import InputError
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.scenario_file import InstrumentSetting
from simulator.policy.instruments import Event, build_instrument
from tests.helpers import SCENARIOS

pytestmark = pytest.mark.core
CATALOGUE = SCENARIOS / "policies" / "000_qiqihar.yaml"
SEED_FILE = SCENARIOS.parent.parent / "shared" / "seeds" / "000_9b00245553ae58f3.txt"


def _instrument(iid: str, **setting):
    cat = load_catalogue(CATALOGUE)
    spec = next(s for s in cat.instruments if s.id == iid)
    return build_instrument(spec, InstrumentSetting(**setting), "scenario.yaml", str(CATALOGUE), cat.payer)


def test_hte_award_by_size_class_and_halved_on_recertification():
    award = _instrument("q000_m4_hte_award")
    ev = Event("hte_certified", np.arange(4), above_scale=np.array([True, False, True, False]),
               first=np.array([True, True, False, False]))
    assert award.amount(ev).tolist() == [10.0, 5.0, 5.0, 2.5]


def test_purchase_subsidy_rate_minimum_and_cap():
    sub = _instrument("q000_m4_tech_purchase")
    base = np.array([9.99, 10.0, 50.0, 100.0, 1000.0, 20.0])
    eligible = np.array([True, True, True, True, True, False])
    ev = Event("tech_purchase", np.arange(6), above_scale=np.ones(6, bool), base=base, eligible=eligible)
    assert sub.amount(ev) == pytest.approx([0.0, 3.0, 15.0, 30.0, 30.0, 0.0])


def test_scale_and_years_are_scenario_settings():
    award = _instrument("q000_m4_hte_award", scale=2.0, start_year=2024, end_year=2026)
    ev = Event("hte_certified", np.arange(1), above_scale=np.array([True]), first=np.array([True]))
    assert award.amount(ev).tolist() == [20.0]
    assert [award.active(y) for y in (2023, 2024, 2026, 2027)] == [False, True, True, False]
    assert not _instrument("q000_m4_hte_award", enabled=False).active(2025)


def test_catalogue_starts_when_the_document_was_issued():
    cat = load_catalogue(CATALOGUE)
    assert str(cat.issued) == "2023-03-02"
    assert all(s.start_year == 2023 for s in cat.instruments)


def test_unknown_amount_parameter_is_rejected_with_suggestion():
    with pytest.raises(InputError, match="did you mean 'first_above_scale'"):
        _instrument("q000_m4_hte_award", params={"first_above_scal": 20})


@pytest.mark.skipif(not SEED_FILE.is_file(), reason="shared/seeds not beside the repository")
def test_every_quote_occurs_verbatim_in_its_seed_file():
    text = SEED_FILE.read_text("utf-8")
    for spec in load_catalogue(CATALOGUE).instruments:
        assert spec.quote in text, spec.id


def _from(catalogue: str, iid: str, **setting):
    path = SCENARIOS / "policies" / catalogue
    cat = load_catalogue(path)
    spec = next(s for s in cat.instruments if s.id == iid)
    return build_instrument(spec, InstrumentSetting(**setting), "scenario.yaml", str(path), cat.payer)


def _agents(level, kind):
    n = len(level)
    return Event("x", agents=np.arange(n), level=np.array(level), kind=np.array(kind))


def test_tech_sme_registration_award_is_paid_every_year():
    award = _from("004_shuangyashan.yaml", "sys004_31_tech_sme_registration")
    assert award.trigger == "tech_sme_registered"
    ev = Event("tech_sme_registered", np.arange(3))
    assert award.amount(ev).tolist() == [1.0, 1.0, 1.0]
    assert [award.active(y) for y in (2021, 2022, 2023, 2024)] == [False, True, True, False]


def test_rd_institution_awards_by_level_kind_and_upgrade():
    """004 三.2: 100/50/10 万元 by level; 省级新型研发机构 100 万元 (not also 50); upgrades 50/40 万元."""
    general = _from("004_shuangyashan.yaml", "sys004_32_rd_institution_award")
    new_type = _from("004_shuangyashan.yaml", "sys004_32_new_type_rd_institution")
    upgrade = _from("004_shuangyashan.yaml", "sys004_32_rd_institution_upgrade")
    ev = _agents(["national", "provincial", "municipal", "provincial"],
                 ["research_institute", "research_institute", "research_institute", "new_type_rd_institution"])
    assert general.amount(ev).tolist() == [100.0, 50.0, 10.0, 0.0]
    assert new_type.amount(ev).tolist() == [0.0, 0.0, 0.0, 100.0]
    assert upgrade.amount(ev).tolist() == [50.0, 40.0, 0.0, 40.0]
    assert general.trigger == "institute_recognised" and upgrade.trigger == "institute_upgraded"


def test_incubator_awards_by_kind_and_a_range_pays_its_midpoint():
    """004 三.4: national incubator 100 万元, national maker space 50 万元, municipal carriers 20-50 万元."""
    ev = _agents(["national", "national", "municipal", "provincial"],
                 ["incubator", "maker_space", "maker_space", "incubator"])
    paid = sum(_from("004_shuangyashan.yaml", i).amount(ev) for i in (
        "sys004_34_national_incubator_award", "sys004_34_national_maker_space_award",
        "sys004_34_municipal_incubator_award"))
    assert paid.tolist() == [100.0, 50.0, 35.0, 0.0]


def test_province_purchase_subsidy_has_no_minimum_and_no_tech_firm_condition():
    sub = _from("001_heilongjiang.yaml", "hlj001_2_6_tech_purchase")
    ev = Event("tech_purchase", np.arange(3), above_scale=np.ones(3, bool), base=np.array([5.0, 500.0, 2000.0]),
               eligible=np.array([False, False, True]))
    assert sub.amount(ev) == pytest.approx([1.0, 100.0, 200.0])


def test_annual_budget_rations_pro_rata():
    """With a 12 万元 budget and 20 万元 of claims, every claimant gets 60 % of its claim."""
    from simulator.experiments.prepared import prepare
    from tests.helpers import QIQIHAR

    model = prepare(QIQIHAR).model(0)
    award = _instrument("q000_m4_hte_award", budget=12.0)
    model.government.instruments = [award]
    model.year = 2024
    ev = Event("hte_certified", np.array([0, 1, 2]), above_scale=np.array([True, True, False]),
               first=np.array([True, False, True]))   # claims 10 + 5 + 5 = 20
    paid = model.government.pay(ev)
    assert paid == pytest.approx([6.0, 3.0, 3.0])
    assert model.government.pay(ev).sum() == 0.0           # budget exhausted for the year
    assert model.government.paid_in(2024) == pytest.approx(12.0)


@pytest.mark.parametrize("catalogue", sorted(p.name for p in (SCENARIOS / "policies").glob("*.yaml")))
def test_every_catalogue_quote_occurs_verbatim_in_its_seed(catalogue):
    cat = load_catalogue(SCENARIOS / "policies" / catalogue)
    seed = SCENARIOS.parent.parent / "shared" / "seeds" / cat.document
    if not seed.is_file():
        pytest.skip("shared/seeds not beside the repository")
    text = seed.read_text("utf-8")
    for spec in cat.instruments:
        assert spec.quote in text, spec.id
        assert spec.modelled or spec.not_modelled_because, spec.id


def test_policies_command_lists_every_instrument_with_status(capsys):
    import csv
    import io

    from simulator.cli import main

    assert main(["policies", "--format", "csv", "--scenarios", str(SCENARIOS)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) >= 40
    assert {r["document"][:3] for r in rows} == {"000", "001", "002", "003", "004"}
    assert all(r["status"] == "modelled" or r["status"].startswith("not modelled: ") for r in rows)
    assert {"q000_m4_hte_award", "sys004_31_hte_award", "hlj001_2_6_tech_purchase"} <= {r["id"] for r in rows}
    assert main(["policies", "--region", "qiqihar_zon", "--scenarios", str(SCENARIOS)]) == 2
    assert "did you mean 'qiqihar_zone'" in capsys.readouterr().err


def test_a_zone_run_applies_the_provinces_instruments_too():
    """Policy layers stack (issue 13.3): the Qiqihar zone runs 000's instruments and the province's 001, each paid
    by its own budget; ``innosim policies --region`` lists the stack."""
    from simulator.experiments.prepared import prepare
    from simulator.policy.catalogue import catalogue_table
    from tests.helpers import QIQIHAR

    prepared = prepare(QIQIHAR, horizon=2025)
    ids = {i.id: i for i in prepared.instruments()}
    assert {"q000_m4_tech_purchase", "hlj001_2_6_tech_purchase"} <= set(ids)
    assert ids["hlj001_2_6_tech_purchase"].payer.startswith("黑龙江省")
    assert ids["q000_m4_tech_purchase"].payer.startswith("齐齐哈尔市")
    paid = prepared.model(0).run(2025).government.payments()
    province = paid[paid["instrument"] == "hlj001_2_6_tech_purchase"]
    assert not province.empty and set(province["year"]) == {2025}          # 001 is the 2025 plan
    assert set(province["payer"]) == {ids["hlj001_2_6_tech_purchase"].payer}
    table = catalogue_table(SCENARIOS, "qiqihar_zone")
    assert list(dict.fromkeys(table["layer"])) == ["1 000_qiqihar", "2 001_heilongjiang", "3 hlj_province"]
    award = paid[paid["instrument"] == "hlj_province_hte_award"]      # the standing provincial HTE award
    assert not award.empty and set(award["payer"]) == {ids["hlj_province_hte_award"].payer}

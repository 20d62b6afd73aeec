"""Graduate living allowance (000 若干政策措施 第9条): the amount rule, what the ledger records, and its direction."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.errors import InputError
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.scenario_file import InstrumentSetting
from simulator.model import firm_rules
from simulator.policy.instruments import Event, MonthlyAllowance, build_instrument
from tests.helpers import SCENARIOS, prepared_with

CATALOGUE = SCENARIOS / "policies" / "000_qiqihar.yaml"
ID = "q000_m9_graduate_allowance"
SEEDS = range(8)
CATEGORIES = np.array(["phd", "master", "bachelor", "technician", "senior_skilled_worker"])


def _allowance(**setting) -> MonthlyAllowance:
    cat = load_catalogue(CATALOGUE)
    spec = next(s for s in cat.instruments if s.id == ID)
    return build_instrument(spec, InstrumentSetting(**setting), "scenario.yaml", str(CATALOGUE), cat.payer)


def _event(categories, hired, year: int) -> Event:
    """One recipient per category name, hired in ``hired`` (a year or one per recipient), paid for ``year``."""
    codes = MonthlyAllowance.category_codes(np.atleast_1d(categories))
    return Event("graduate_allowance", np.arange(codes.size), category=codes,
                 hired=np.broadcast_to(np.asarray(hired), codes.shape), year=year)


@pytest.mark.core
def test_catalogue_entry_is_modelled_as_a_monthly_allowance():
    allowance = _allowance()
    assert isinstance(allowance, MonthlyAllowance)
    assert allowance.trigger == "graduate_allowance" and allowance.params["years"] == 3
    assert allowance.active(2023) and not allowance.active(2022)


@pytest.mark.core
def test_monthly_rates_by_degree_paid_twelve_months_a_year():
    """2000 / 1500 / 1000 元 a month = 2.4 / 1.8 / 1.2 万元 a year; technicians the bachelor rate, 高级技工 half."""
    paid = _allowance().amount(_event(CATEGORIES, 2023, 2024))
    assert paid == pytest.approx([2.4, 1.8, 1.2, 1.2, 0.6])


@pytest.mark.core
def test_paid_from_the_year_after_hiring_for_three_years_then_stops():
    """"自下一年度起, 连续3年": a 2023 hire is paid in 2024, 2025 and 2026 only."""
    allowance = _allowance()
    by_year = {y: float(allowance.amount(_event("master", 2023, y))[0]) for y in range(2021, 2030)}
    assert by_year == pytest.approx({2021: 0, 2022: 0, 2023: 0, 2024: 1.8, 2025: 1.8, 2026: 1.8,
                                     2027: 0, 2028: 0, 2029: 0})
    # one event mixing cohorts: hired 2020 .. 2024, paid for 2024
    paid = allowance.amount(_event(["phd"] * 5, [2020, 2021, 2022, 2023, 2024], 2024))
    assert paid == pytest.approx([0.0, 2.4, 2.4, 2.4, 0.0])


@pytest.mark.core
def test_scale_and_amount_overrides_apply_per_recipient_year():
    assert _allowance(scale=3.0).amount(_event("bachelor", 2023, 2024)) == pytest.approx([3.6])
    shorter = _allowance(params={"years": 2, "phd": 0.3})
    assert [float(shorter.amount(_event("phd", 2023, y))[0]) for y in (2024, 2025, 2026)] == pytest.approx(
        [3.6, 3.6, 0.0])


@pytest.mark.core
def test_bad_settings_are_rejected():
    with pytest.raises(InputError, match="years"):
        _allowance(params={"years": 4})          # firms keep three cohorts
    with pytest.raises(InputError, match="did you mean 'bachelor'"):
        _allowance(params={"bachelors": 0.2})
    with pytest.raises(ValueError, match="unknown recipient category"):
        _event("postdoc", 2023, 2024)
    bad = Event("graduate_allowance", np.arange(1), category=np.array([5]), hired=np.array([2023]), year=2024)
    with pytest.raises(ValueError, match="category indices"):
        _allowance().amount(bad)


@pytest.fixture(scope="module")
def stepped():
    """Qiqihar models stepped to 2028, with each firm's cohorts recorded before every step."""
    out = []
    for seed in (0, 1):
        model = prepared_with().model(seed)
        owed = {}
        while model.year < 2028:
            f = model.firms
            # before the step into year t: row k = hired in t - 1 - k, all within their 3 paid years
            rates = {"phd": 2.4, "master": 1.8, "bachelor": 1.2}
            due = sum(rates[d] * getattr(f, f"grad_{d}").sum(axis=0) for d in firm_rules.DEGREES)
            owed[model.year + 1] = dict(zip(f.uid[due > 0].tolist(), due[due > 0].tolist(), strict=True))
            model.step()
        out.append((model, owed))
    return out


def test_ledger_pays_each_firm_for_its_last_three_cohorts(stepped):
    for model, owed in stepped:
        ledger = model.government.payments()
        paid = ledger[ledger.instrument == ID]
        assert len(paid) > 0
        assert paid["year"].min() == 2024                       # first hires in 2023, paid from 2024
        assert set(np.round(paid["amount"], 9)) <= {2.4, 1.8, 1.2}   # one row per graduate and year
        assert (paid["recipient_type"] == "firm").all()
        for year, due in owed.items():
            got = paid[paid.year == year].groupby("recipient")["amount"].sum().to_dict()
            assert got.keys() == due.keys(), year
            assert got == pytest.approx(due), year


def test_ledger_totals_equal_subsidy_paid(stepped):
    for model, _ in stepped:
        by_year = model.government.payments().groupby("year")["amount"].sum()
        for rec in model.records:
            assert rec["subsidy_paid"] == pytest.approx(by_year.get(rec["year"], 0.0), abs=1e-9)


def test_cohorts_only_in_eligible_firms_while_the_allowance_is_on():
    off = prepared_with({ID: {"enabled": False}}).model(0).run(2026)
    f = off.firms
    assert not any(getattr(f, name).any() for name in ("grad_phd", "grad_master", "grad_bachelor", "grad_induced"))
    assert ID not in set(off.government.payments()["instrument"])
    on = prepared_with().model(0).run(2026)
    hired_now = sum(getattr(on.firms, f"grad_{d}")[0] for d in firm_rules.DEGREES)
    assert hired_now.sum() > 0
    assert not (hired_now > 0)[~firm_rules.graduate_allowance_eligible(on)].any()
    assert (on.firms.grad_induced <= sum(getattr(on.firms, f"grad_{d}") for d in firm_rules.DEGREES)).all()


def _st_staff_of_eligible_firms(prepared, seed: int, year: int) -> float:
    model = prepared.model(seed).run(year)
    return float(model.firms.st_staff[firm_rules.graduate_allowance_eligible(model)].sum())


def test_larger_allowance_does_not_lower_st_staff_of_eligible_firms():
    """Over a fixed set of seeds, S&T staff of 规上 industrial firms in 2027 is not lower with a 3x allowance."""
    off = prepared_with({ID: {"enabled": False}})
    rich = prepared_with({ID: {"scale": 3.0}})
    total_off = sum(_st_staff_of_eligible_firms(off, s, 2027) for s in SEEDS)
    total_rich = sum(_st_staff_of_eligible_firms(rich, s, 2027) for s in SEEDS)
    assert total_rich >= total_off

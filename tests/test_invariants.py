"""Invariants that must hold in every year of every run."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def runs(qiqihar):
    """Three models stepped to 2030, with their state checked after every year."""
    out = []
    for seed in (0, 1, 2):
        model = qiqihar.model(seed)
        states = []
        while model.year < 2030:
            model.step()
            f = model.firms
            states.append({
                "year": model.year,
                "grant": f.hte_grant_year.copy(),
                "uid": f.uid.copy(),
                "revenue": f.revenue.copy(),
                "rd": f.rd.copy(),
                "st_staff": f.st_staff.copy(),
                "employees": f.employees.copy(),
                "hightech": f.hightech_share.copy(),
                "record": dict(model.records[-1]),
            })
        out.append((model, states))
    return out


def test_no_negative_revenue_or_rd_and_rd_below_revenue(runs):
    for _, states in runs:
        for s in states:
            assert (s["revenue"] > 0).all()
            assert (s["rd"] >= 0).all()
            assert (s["rd"] <= s["revenue"]).all()
            assert (s["st_staff"] <= s["employees"] + 1e-9).all()
            assert ((s["hightech"] >= 0) & (s["hightech"] <= 1)).all()


def test_hte_count_equals_firms_holding_an_unexpired_certificate(runs):
    for _, states in runs:
        for s in states:
            year, g = s["year"], s["grant"]
            unexpired = (g >= 0) & (g <= year) & (year <= g + 2)   # valid in the grant year and the two after
            assert s["record"]["hte_count"] == unexpired.sum()
            assert (g <= year).all()


def test_certificate_lapses_after_three_years_unless_renewed(runs):
    """A firm certified in year g is counted in g, g+1, g+2; in g+3 only if re-certified that year."""
    for _, states in runs:
        by_year = {s["year"]: s for s in states}
        for s in states:
            year = s["year"]
            later = by_year.get(year + 3)
            if later is None:
                continue
            granted_now = set(s["uid"][s["grant"] == year])
            assert granted_now, f"no certifications in {year}"
            pos = {u: k for k, u in enumerate(later["uid"])}
            for u in granted_now & set(pos):
                k = pos[u]
                g = later["grant"][k]
                counted = g >= 0 and g <= year + 3 <= g + 2
                assert g in (year, year + 3), (u, g)   # no re-application while the certificate is valid
                assert counted == (g == year + 3), (u, g)


def test_subsidy_paid_equals_sum_of_recorded_payments(runs):
    for model, states in runs:
        ledger = model.government.payments()
        by_year = ledger.groupby("year")["amount"].sum()
        for s in states:
            assert s["record"]["subsidy_paid"] == pytest.approx(by_year.get(s["year"], 0.0), abs=1e-9)
        assert (ledger["amount"] > 0).all()
        assert set(ledger["instrument"]) <= {i.id for i in model.government.instruments}


def test_no_payment_before_the_measures_were_issued(runs):
    """000 was issued on 2023-03-02: none of its measures pays for 2021 or 2022 (the provincial award,
    in force since 2020, does)."""
    for model, _ in runs:
        ledger = model.government.payments()
        assert ledger.loc[ledger["instrument"].str.startswith("q000"), "year"].min() >= 2023
        assert set(ledger.loc[ledger["year"] < 2023, "instrument"]) <= {"hlj_province_hte_award"}


def test_award_amounts_follow_clause_4(runs):
    """Every HTE award is 10 or 5 万元 (first) or half of that (re-certification)."""
    for model, _ in runs:
        ledger = model.government.payments()
        awards = ledger[ledger["instrument"] == "q000_m4_hte_award"]["amount"]
        assert len(awards) > 0
        assert set(np.round(awards, 9)) <= {10.0, 5.0, 2.5}
        refunds = ledger[ledger["instrument"] == "q000_m4_tech_purchase"]["amount"]
        assert (refunds <= 30.0 + 1e-9).all() and (refunds >= 3.0 - 1e-9).all()


def test_counts_are_consistent(runs):
    for model, _ in runs:
        for rec in model.records:
            assert 0 <= rec["hte_count"] <= rec["firm_count"]
            assert rec["tech_sme_count"] <= rec["firm_count"]
            assert rec["little_giants"] <= rec["zjtx_count"]
            assert rec["national_incubators"] <= len(model.incubators)
            assert rec["national_rd_institutions"] <= len(model.institutes)

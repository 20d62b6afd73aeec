"""The S&T staff criterion is part of a candidate's decision: a firm that prepares for HTE certification
pays for the staff the criteria ask for (国科发火〔2016〕32号 第11条(四), >= 10 % of employees).

Before this rule, candidates raised R&D to the 3-year ratio but not their staff, and two thirds of
Heilongjiang's 2021 applicants failed the staff share every year (issue 12's stall of certifications).
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.model import firm_rules as rules
from simulator.model import hte_rules as hte


@pytest.fixture
def prepared_year(qiqihar):
    """A Qiqihar model one year on, R&D budgets just chosen (before graduates, purchases and certification)."""
    model = qiqihar.model(3)
    model._open_year()
    rules.grow(model, model.streams["growth"])
    hte.set_rd_budgets(model, model.streams["rd"])
    return model


@pytest.mark.core
def test_applicants_meet_the_staff_share_their_rd_pays_for(prepared_year):
    model = prepared_year
    p, f = model.params, model.firms
    applying = np.flatnonzero(model.hte_pursuing)
    assert applying.size > 0
    affordable = hte.rd_for_staff(model, f, applying, np.zeros(applying.size)) <= f.revenue[applying]
    share = hte.st_share(f)[applying[affordable]]
    assert (share >= p.hte_min_st_share).all(), f"{(share < p.hte_min_st_share).sum()} applicants short of staff"


def test_staff_rd_is_the_real_rd_that_pays_the_missing_staff(prepared_year):
    """Reported R&D at rd_for_staff, less its relabelled part, pays exactly the staff share's S&T staff."""
    model = prepared_year
    p, f = model.params, model.firms
    idx = np.arange(min(len(f), 500))
    for desired in (np.zeros(idx.size), 0.5 * f.revenue[idx] * 0.01):
        reported = hte.rd_for_staff(model, f, idx, desired)
        real = reported - p.rd_relabel_share * np.maximum(reported - desired, 0.0)
        graduates = f.grad_retained[idx] + f.grad_induced[:, idx].sum(axis=0)
        staff = p.base_st_share * f.employees[idx] + graduates + real / p.rd_per_st_staff
        assert staff / f.employees[idx] == pytest.approx(np.full(idx.size, p.hte_min_st_share), rel=1e-5)


def test_staff_cost_lowers_the_net_gain_of_certification(prepared_year):
    model = prepared_year
    f = model.firms
    idx = np.flatnonzero(hte.hte_candidates(model) & ~model.hte_valid_mask())[:200]
    assert idx.size > 0
    args = (model, f, idx, np.zeros(idx.size), np.ones(idx.size), np.full(idx.size, 0.05),
            f.revenue[idx] * 3, np.zeros(idx.size))
    _, gain0, prob0 = hte.hte_decision(*args, staff_rd=0.0)
    _, gain1, prob1 = hte.hte_decision(*args, staff_rd=f.revenue[idx])     # staff costing all revenue
    assert (gain1 <= gain0).all() and (gain1 < gain0).any()
    assert (prob1 <= prob0).all()

"""R&D budgets and HTE certification, vectorised over the firm arrays.

The national criteria of 国科发火〔2016〕32号 (thresholds, eligibility), a candidate's decision to prepare
for certification (:func:`hte_decision`), the yearly R&D and S&T staff choice with bunching at the
thresholds (:func:`set_rd_budgets`) and certification itself (:func:`certify_hte`). Like
:mod:`simulator.model.firm_rules`, each phase takes the model and that phase's random generator.
"""

from __future__ import annotations

import numpy as np

from simulator.model.firms import FirmPopulation
from simulator.model.state import ModelState
from simulator.policy.instruments import Event, amounts_due


# ------------------------------------------------------------------ criteria and measures
def hte_rd_threshold(revenue: np.ndarray, p) -> np.ndarray:
    """Minimum 3-year R&D / revenue for HTE certification by size (国科发火〔2016〕32号 第11条(五))."""
    return np.where(revenue <= p.hte_revenue_cut_small, p.hte_rd_threshold_small,
                    np.where(revenue <= p.hte_revenue_cut_large, p.hte_rd_threshold_medium,
                             p.hte_rd_threshold_large))


def rd_ratio_3y(f: FirmPopulation) -> np.ndarray:
    """R&D / revenue summed over the last three years (this year included)."""
    return f.rd_hist.sum(axis=0) / np.maximum(f.revenue_hist.sum(axis=0), 1e-9)


def st_share(f: FirmPopulation) -> np.ndarray:
    """S&T staff / employees."""
    return f.st_staff / np.maximum(f.employees, 1e-9)


def user_cost_of_rd(model: ModelState, f: FirmPopulation, hte_valid: np.ndarray) -> np.ndarray:
    """After-tax cost of one 元 of R&D: 1 - tax rate x (1 + super-deduction) for profitable firms.

    Certified firms face 15 % instead of 25 % income tax, which also shrinks
    their R&D tax shield; tech SMEs and manufacturers deduct 100 % extra,
    others 75 %.
    """
    p = model.params
    tax = np.where(hte_valid, p.cit_rate_hte, p.cit_rate_standard)
    deduction = np.where(f.tech_sme | model.sector_industrial[f.sector], p.rd_superdeduction_tech,
                         p.rd_superdeduction_general)
    return 1.0 - (f.profit_margin > 0) * tax * (1.0 + deduction)


def hte_structural_criteria(model: ModelState) -> np.ndarray:
    """Criteria a firm cannot meet within the year: age, core IP, high-tech product share."""
    p, f = model.params, model.firms
    return (f.age >= p.hte_min_age) & (f.ip >= 1) & (f.hightech_share >= p.hte_min_hightech_share)


def hte_candidates(model: ModelState) -> np.ndarray:
    """Firms that could be certified this year if they chose to prepare: age and high-tech product share.

    Core IP is not required of a candidate: a firm without it can file or buy the IP the application
    needs within the year (software copyrights and utility-model patents are granted in months) at
    ``hte_ip_cost``; cultivation programmes help candidates "获得核心知识产权" (004 三.6).
    """
    p, f = model.params, model.firms
    return (f.age >= p.hte_min_age) & (f.hightech_share >= p.hte_min_hightech_share)


def hte_eligible(model: ModelState) -> np.ndarray:
    """Every national criterion: structural ones, S&T staff share and 3-year R&D intensity."""
    p, f = model.params, model.firms
    return (hte_structural_criteria(model) & (st_share(f) >= p.hte_min_st_share)
            & (rd_ratio_3y(f) >= hte_rd_threshold(f.revenue, p)))


def staff_for_rd(model: ModelState, f: FirmPopulation) -> np.ndarray:
    """S&T staff: technicians (``base_st_share`` of employees) plus staff paid by real R&D."""
    p = model.params
    return np.minimum(p.base_st_share * f.employees + f.real_rd / p.rd_per_st_staff, f.employees)


#: aim this far above the staff share so that rounding never leaves a firm a hair below it
_STAFF_AIM = 1.0 + 1e-6


def rd_for_staff(model: ModelState, f: FirmPopulation, idx: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """R&D the candidates ``idx`` must report this year for their S&T staff to reach the HTE share (万元).

    The staff criterion (>= ``hte_min_st_share`` of employees, 国科发火〔2016〕32号 第11条(四)) is met
    by technicians, graduates the living allowance brought (:func:`~simulator.model.firm_rules.hire_graduates`)
    and staff that real R&D pays (:func:`staff_for_rd`): the real R&D it takes is the staff still
    missing x ``rd_per_st_staff``, so an allowance makes certification cheaper. Of reported R&D above
    the firm's own budget ``desired`` only 1 - ``rd_relabel_share`` is real, so the reported amount
    is larger where the budget falls short.
    """
    p = model.params
    graduates = f.grad_retained[idx] + f.grad_induced[:, idx].sum(axis=0)   # allowance-induced S&T staff
    missing = np.maximum(p.hte_min_st_share * _STAFF_AIM - p.base_st_share, 0.0) * f.employees[idx] - graduates
    real = np.maximum(missing, 0.0) * p.rd_per_st_staff
    rho = min(p.rd_relabel_share, 0.999)
    return np.where(real <= desired, real, (real - rho * desired) / (1.0 - rho))


# ------------------------------------------------------------------ phases
def hte_decision(model: ModelState, f: FirmPopulation, idx: np.ndarray, desired: np.ndarray, cost: np.ndarray,
                 threshold: np.ndarray, rev3: np.ndarray, earlier: np.ndarray, instruments: list | None = None,
                 staff_rd: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Net gain of HTE certification for the candidates ``idx`` and their yearly chance of pursuing it.

    Args:
        f: the firms (``model.firms``, or the population being synthesised).
        idx: candidate rows; ``desired``, ``cost`` (after-tax cost of 1 元 of R&D), ``threshold`` (3-year
            ratio aimed at), ``rev3`` (revenue over the 3 years) and ``earlier`` (R&D of the 2 years before)
            are theirs, in 万元 where money.
        instruments: the instruments whose award the candidates expect (default: what the government pays
            this year).
        staff_rd: R&D they must report this year to meet the S&T staff share (:func:`rd_for_staff`); the
            extra R&D is the larger of that and the 3-year ratio's gap.

    Returns:
        ``need`` (this year's R&D that meets the 3-year ratio, 万元), ``net_gain`` (万元) and ``prob``.
    """
    p = model.params
    need = np.maximum(threshold * rev3 - earlier, 0.0)
    extra = np.maximum(np.maximum(need, staff_rd) - desired, 0.0)   # the whole gap, paid now or while preparing
    extra_cost = extra * (1.0 - p.rd_relabel_share) * cost + (f.ip[idx] < 1) * p.hte_ip_cost
    above = f.revenue[idx] >= p.above_scale_revenue
    event = Event("hte_certified", idx, above, first=~f.hte_ever[idx])
    if instruments is None:
        award = model.government.expected_payment(event)
    else:
        award = amounts_due([i for i in instruments if i.trigger == event.trigger and i.active(model.year)], event)
    tax_gain = ((p.cit_rate_standard - p.cit_rate_hte) * np.maximum(f.profit_margin[idx], 0.0)
                * f.revenue[idx] * p.hte_tax_horizon)
    status = p.hte_status_value * p.hte_tax_horizon
    net_gain = p.hte_approval_rate * (award + tax_gain + status) - p.hte_application_cost - extra_cost
    prob = 1.0 - np.exp(-p.hte_apply_sensitivity * np.maximum(net_gain, 0.0) / max(p.hte_application_cost, 0.1))
    return need, net_gain, prob


def set_rd_budgets(model: ModelState, rng: np.random.Generator) -> None:
    """Choose R&D and S&T staff: propensity x (user cost / reference)^elasticity, raised for HTE certification.

    **Preparing for certification** (入库培育 - 出库认定, 000 (50)). A candidate
    (:func:`hte_candidates`: old enough, high-tech share met) without a valid certificate weighs the
    expected award, tax saving and non-tax value of the title against the real cost of bringing its
    3-year R&D ratio to the threshold of its size (net of relabelling, which costs nothing real; Chen
    et al. 2021), the cost of core IP if it has none (``hte_ip_cost``, filed at once) and the
    application cost. A candidate not yet preparing starts with probability 1 - exp(-k x net gain /
    cost) a year; one already preparing stays while the net gain is positive. A preparing firm
    reports R&D just above the threshold (bunching), and to make up a short history at most
    ``hte_catchup_limit`` times that in one year (an audited ratio: relabelling has limits); it
    applies in the year its 3-year ratio reaches the threshold, so a firm with no R&D history
    prepares for about two years, one with some history applies at once.

    **Holders** of a valid certificate keep R&D at least at the threshold of their size every year:
    the 3-year ratio is what the renewal is judged on, and certified firms bunch just above the
    threshold every year (Chen et al. 2021). At expiry their ratio is met, so a renewal costs only
    its application: far less than a first certification. S&T staff follow real R&D
    (:func:`staff_for_rd`), so raising R&D also raises the staff share the criteria ask for.
    """
    p, f = model.params, model.firms
    n = len(f)
    valid = model.hte_valid_mask()
    cost = user_cost_of_rd(model, f, valid)
    s = p.rd_shock_sd
    price = np.ones(n)
    changed = np.flatnonzero(cost != f.user_cost_ref)      # most firms face their reference cost
    price[changed] = (cost[changed] / f.user_cost_ref[changed]) ** p.rd_price_elasticity
    desired = f.rd_propensity * f.revenue * price * np.exp(s * rng.standard_normal(n) - 0.5 * s * s)
    np.minimum(desired, f.revenue, out=desired)                # R&D never exceeds revenue

    candidates = ~valid & hte_candidates(model)
    idx = np.flatnonzero(candidates)
    u_pursue = rng.random(idx.size)
    margin = p.hte_bunching_margin * (0.5 + rng.random(idx.size))
    apply = np.zeros(n, dtype=bool)
    rd = desired.copy()
    held = np.flatnonzero(valid)
    keep = (hte_rd_threshold(f.revenue[held], p) + p.hte_bunching_margin) * f.revenue[held]
    rd[held] = np.maximum(desired[held], keep)
    preparing = np.zeros(n, dtype=bool)
    if idx.size:
        rev3 = f.revenue_hist[:, idx].sum(axis=0)
        earlier = f.rd_hist[1:, idx].sum(axis=0)
        threshold = hte_rd_threshold(f.revenue[idx], p) + margin
        staff_rd = rd_for_staff(model, f, idx, desired[idx])
        need, net_gain, prob = hte_decision(model, f, idx, desired[idx], cost[idx], threshold, rev3, earlier,
                                            staff_rd=staff_rd)
        no_ip = f.ip[idx] < 1
        level = threshold * f.revenue[idx]                      # R&D at the threshold this year
        stays = f.hte_preparing[idx] & (net_gain > 0)
        chosen = stays | (u_pursue < prob)
        reported = np.minimum(np.maximum(level, np.minimum(need, p.hte_catchup_limit * level)), f.revenue[idx])
        reported = np.maximum(reported, np.minimum(staff_rd, f.revenue[idx]))   # and the staff it pays
        rd[idx[chosen]] = np.maximum(desired[idx[chosen]], reported[chosen])
        ready = chosen & (reported >= need)
        apply[idx[ready]] = True
        preparing[idx[chosen & ~ready]] = True
        f.ip[idx[chosen & no_ip]] = 1   # the core IP filed or bought for the application
    f.hte_preparing = preparing
    f.rd = rd
    f.rd_hist[0] = rd
    f.real_rd = rd - p.rd_relabel_share * (rd - desired)
    f.st_staff = staff_for_rd(model, f)
    model.hte_pursuing = apply


def certify_hte(model: ModelState, rng: np.random.Generator) -> None:
    """Pursuing firms that meet every criterion apply; a share pass review; awards are paid."""
    p, f, year = model.params, model.firms, model.year
    u = rng.random(len(f))
    applicants = model.hte_pursuing & hte_eligible(model) & ~model.hte_valid_mask()
    granted = np.flatnonzero(applicants & (u < p.hte_approval_rate))
    first = ~f.hte_ever[granted]
    f.hte_grant_year[granted] = year
    f.hte_ever[granted] = True
    model.year_stats["hte_applications"] = int(applicants.sum())
    model.year_stats["hte_granted"] = int(granted.size)
    model.year_stats["hte_first"] = int(first.sum())
    model.year_stats["hte_renewed"] = int((~first).sum())
    model.hte_granted_uids = f.uid[granted]
    above = f.revenue[granted] >= p.above_scale_revenue
    model.government.pay(Event("hte_certified", granted, above, first=first))

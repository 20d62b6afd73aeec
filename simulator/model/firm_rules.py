"""Yearly firm rules (growth, graduates, technology purchases, registrations, knowledge, exits, entrants).

Vectorised over the firm arrays. Each public function is one phase of :meth:`RegionModel.step` and
takes the model and that phase's random generator; R&D budgets and HTE certification are in
:mod:`simulator.model.hte_rules`. The rules read parameters from ``model.params`` (units and sources
in ``simulator/data/parameters.yaml``) and subsidies from ``model.government`` (the same rule that
pays is the one firms anticipate).
"""

from __future__ import annotations

import numpy as np

from simulator.inputs.parameters import HISTORY
from simulator.model.firms import ORIGIN_ATTRACTED, ORIGIN_SPINOFF, FirmPopulation
from simulator.model.hte_rules import rd_ratio_3y, st_share, staff_for_rd, user_cost_of_rd
from simulator.model.state import ModelState
from simulator.policy.instruments import Event, MonthlyAllowance


# ------------------------------------------------------------------ helpers
def tech_sme_score(model: ModelState) -> np.ndarray:
    """Evaluation score of 国科发政〔2017〕115号: S&T staff (20), R&D ratio (50), IP (30).

    Step scores: S&T staff share 4 points per 5 pp from 10 % (max 20 at 30 %);
    R&D ratio 10 points per pp from 2 % (max 50 at 6 %); 30 points for core IP.
    """
    f = model.firms
    staff = 4.0 * np.clip(np.floor((st_share(f) - 0.10) / 0.05) + 1, 0, 5)
    rd = 10.0 * np.clip(np.floor((rd_ratio_3y(f) - 0.02) / 0.01 + 1e-9) + 1, 0, 5)
    return staff + rd + 30.0 * (f.ip >= 1)


# ------------------------------------------------------------------ phases
def grow(model: ModelState, rng: np.random.Generator) -> None:
    """Revenue grows at the base rate, faster where knowledge grew faster (elasticity 0.12)."""
    p, f = model.params, model.firms
    n = len(f)
    s = p.growth_shock_sd
    g = (p.base_growth + p.knowledge_output_elasticity * (f.knowledge_growth - p.base_growth)
         + s * rng.standard_normal(n) - 0.5 * s * s)
    f.revenue = f.revenue * np.exp(g)
    f.revenue_hist[0] = f.revenue
    f.employees = np.maximum(f.employees * np.exp(p.employment_elasticity * g), 1.0)
    f.value_added = model.va_scale * model.sector_va_ratio[f.sector] * f.revenue


#: Degrees of the S&T graduates firms hire, in the order of ``graduate_degree_mix``; each is a
#: recipient category of the graduate allowance (000 若干政策措施 第9条).
DEGREES = ("phd", "master", "bachelor")
_DEGREE_CODES = MonthlyAllowance.category_codes(DEGREES)


def _split(rng: np.random.Generator, n: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Multinomial(n, shares) for each element of ``n``, one row per share.

    Drawn as a chain of binomials, much faster than ``rng.multinomial`` for many small ``n``.
    """
    out = np.empty((len(shares), n.size), dtype=np.int64)
    left, rest = n.copy(), 1.0
    for k, share in enumerate(shares[:-1]):
        out[k] = rng.binomial(left, min(share / rest, 1.0) if rest > 0 else 0.0)
        left -= out[k]
        rest -= share
    out[-1] = left
    return out


def graduate_allowance_eligible(model: ModelState) -> np.ndarray:
    """Firms whose new graduates get the allowance: 规上 (revenue >= ``above_scale_revenue``) industrial firms.

    000 第9条 names "重点产业链的规上企业和龙头企业"; the zone's industrial clusters stand for its
    key chains, and a leading firm is 规上.
    """
    return (model.firms.revenue >= model.params.above_scale_revenue) & model.sector_industrial[model.firms.sector]


def hire_graduates(model: ModelState, rng: np.random.Generator) -> None:
    """Eligible firms hire S&T graduates; the allowance is paid for the three previous cohorts.

    1. Pay: every allowance-eligible graduate hired 1-3 years ago gets this year's allowance
       (one ledger entry per person, the firm as recipient), through the instrument's rule.
    2. Hire: while the allowance is on offer, an eligible firm hires
       Poisson(``graduate_hiring_rate`` x S&T staff) graduates to replace staff who leave
       (ordinary hiring, already part of the staff its R&D pays for), plus
       Poisson(that x ``graduate_allowance_response`` x allowance / ``graduate_annual_cost``)
       graduates the allowance induces. The allowance a year is the instrument's amount for
       a recipient hired now, averaged over ``graduate_degree_mix``; degrees are drawn from
       the mix. All of them are recipients (the allowance also pays the ordinary hires).
    3. Staff: induced graduates are extra S&T staff: they stay through their 3 paid years
       (the allowance's condition), then leave at ``graduate_exit_rate`` a year. S&T staff
       (set by R&D in :func:`set_rd_budgets`) rise by them, up to the employee count;
       this feeds the HTE staff-share criterion and the tech-SME score.

    Without an active allowance firms record no cohorts, and S&T staff are what R&D pays for.
    """
    p, f, year, gov = model.params, model.firms, model.year, model.government
    cohorts = (f.grad_phd, f.grad_master, f.grad_bachelor)   # before the roll: row k = hired k + 1 years ago
    if gov.active("graduate_allowance"):
        counts = np.concatenate(cohorts).ravel()               # row d * HISTORY + k: degree d, hired k + 1 years ago
        cells = np.flatnonzero(counts != 0)                    # (scanning a bool mask is much faster than ints)
        group, firm = np.divmod(np.repeat(cells, counts[cells]), len(f))    # one entry per recipient
        if firm.size:
            gov.pay(Event("graduate_allowance", firm, category=_DEGREE_CODES[group // HISTORY],
                          hired=year - 1 - group % HISTORY, year=year))

    # the cohort hired 3 years ago had its last paid year: its induced hires become ordinary staff
    f.grad_retained = f.grad_retained * (1.0 - p.graduate_exit_rate) + f.grad_induced[HISTORY - 1]
    for arr in (*cohorts, f.grad_induced):
        for k in range(HISTORY - 1, 0, -1):
            arr[k] = arr[k - 1]
        arr[0] = 0

    mix = np.asarray(p.graduate_degree_mix, dtype=float)
    mix = mix / max(mix.sum(), 1e-12)                         # all zero: nobody to pay, no induced hiring
    probe = Event("graduate_allowance", np.zeros(len(DEGREES), dtype=np.int64), category=_DEGREE_CODES,
                  hired=np.full(len(DEGREES), year), year=year + 1)
    allowance = float(mix @ gov.expected_payment(probe))      # 万元 a year per recipient hired now
    if allowance > 0:
        idx = np.flatnonzero(graduate_allowance_eligible(model))
        boost = p.graduate_allowance_response * allowance / p.graduate_annual_cost
        # Poisson(ordinary) + Poisson(ordinary x boost) hires, drawn as their sum and a binomial split
        hires = rng.poisson(p.graduate_hiring_rate * f.st_staff[idx] * (1.0 + boost))
        hiring = np.flatnonzero(hires)
        firms, hires = idx[hiring], hires[hiring]
        f.grad_induced[0, firms] = rng.binomial(hires, boost / (1.0 + boost))
        for counts, n_degree in zip(cohorts, _split(rng, hires, mix), strict=True):
            counts[0, firms] = n_degree
    induced_staff = sum(f.grad_induced[k] for k in range(HISTORY))   # (faster than an int16 sum(axis=0))
    f.st_staff = np.minimum(f.st_staff + induced_staff + f.grad_retained, f.employees)


def buy_technology(model: ModelState, rng: np.random.Generator) -> None:
    """R&D-performing firms buy results from universities and institutes.

    Purchase probability rises with size and with the expected refund
    (elasticity ``purchase_price_elasticity`` on the net price share). Where a
    refund has a minimum payment, firms planning slightly less round up to it
    when that costs them no more. Purchases from the zone's institutes count
    in the zone's seller-side technology-contract turnover.
    """
    p, f = model.params, model.firms
    f.tech_purchase = np.zeros(len(f))
    pool = np.flatnonzero(f.rd > 0)
    if pool.size == 0:
        return
    z, u_buy, u_local = rng.standard_normal(pool.size), rng.random(pool.size), rng.random(pool.size)
    size = np.minimum((f.revenue[pool] / 1000.0) ** 0.3, 3.0)
    amount = p.purchase_amount_median * size * np.exp(p.purchase_amount_sd * z)
    valid = model.hte_valid_mask()[pool]
    eligible = f.tech_sme[pool] | valid
    above = f.revenue[pool] >= p.above_scale_revenue
    for inst in model.government.active("tech_purchase"):
        floor = float(inst.params.get("min_payment", 0.0))
        trial = Event("tech_purchase", pool, above, base=np.full(pool.size, floor), eligible=eligible)
        round_up = (amount < floor) & (floor - inst.amount(trial) <= amount)
        amount = np.where(round_up, floor, amount)
    event = Event("tech_purchase", pool, above, base=amount, eligible=eligible)
    refund_share = np.minimum(model.government.expected_payment(event) / amount, 0.95)
    prob = np.minimum(p.purchase_prob * size * (1.0 - refund_share) ** p.purchase_price_elasticity, 1.0)
    buys = u_buy < prob
    buyers = pool[buys]
    f.tech_purchase[buyers] = amount[buys]
    model.government.pay(Event("tech_purchase", buyers, above[buys], base=amount[buys],
                               eligible=eligible[buys]))
    local = pool[buys & (u_local < model.local_purchase_share)]
    if local.size and model.institutes:
        weights = np.array([i.knowledge for i in model.institutes])
        seller = rng.choice(len(weights), size=local.size, p=weights / weights.sum())
        sales = np.bincount(seller, weights=f.tech_purchase[local], minlength=len(weights))
        for inst, value in zip(model.institutes, sales, strict=False):
            inst.local_sales += float(value)


def register_tech_smes(model: ModelState, rng: np.random.Generator) -> None:
    """Yearly tech-SME registration; registered firms stay while they qualify, others join.

    A qualifying firm joins with probability ``tech_sme_uptake``, its log-odds
    raised by ``tech_sme_award_response`` per 万元 of any registration award
    (e.g. 004 三.1, 1 万元 a year); the award is paid to every registered firm.
    """
    p, f = model.params, model.firms
    qualifies = ((f.employees <= p.tech_sme_max_employees) & (f.revenue <= p.tech_sme_max_revenue)
                 & (model.hte_valid_mask() | (tech_sme_score(model) >= p.tech_sme_min_score)))
    u = rng.random(len(f))
    award = model.government.expected_payment(Event("tech_sme_registered", np.arange(1)))
    uptake = p.tech_sme_uptake
    if award.size and award[0] > 0 and 0.0 < uptake < 1.0:
        odds = uptake / (1.0 - uptake) * np.exp(p.tech_sme_award_response * award[0])
        uptake = odds / (1.0 + odds)
    f.tech_sme = qualifies & (f.tech_sme | (u < uptake))
    registered = np.flatnonzero(f.tech_sme)
    model.government.pay(Event("tech_sme_registered", registered,
                               f.revenue[registered] >= p.above_scale_revenue))


def designate_zjtx(model: ModelState, rng: np.random.Generator) -> None:
    """Provincial 专精特新 listing of R&D-intensive SMEs; national little-giant listing of the larger ones."""
    p, f = model.params, model.firms
    u1, u2 = rng.random(len(f)), rng.random(len(f))
    rd_ok = rd_ratio_3y(f) >= p.zjtx_min_rd_intensity
    sme = f.employees <= 1000
    newly = ~f.zjtx & sme & rd_ok & (f.revenue >= p.zjtx_min_revenue) & (u1 < p.zjtx_designation_prob)
    f.zjtx |= newly
    giant = (f.zjtx & ~f.little_giant & rd_ok & (f.revenue >= p.little_giant_min_revenue)
             & (u2 < p.little_giant_prob))
    f.little_giant |= giant
    f.zjtx_year[newly] = model.year              # listing years: the flows of 001 二.2 (simulator/targets.py)
    f.little_giant_year[giant] = model.year


def accumulate_knowledge(model: ModelState, rng: np.random.Generator) -> None:
    """Knowledge, IP and high-tech product share follow real R&D and absorbed technology."""
    p, f = model.params, model.firms
    n = len(f)
    inflow = f.real_rd + p.purchase_absorption * f.tech_purchase
    new_k = (1.0 - p.knowledge_depreciation) * f.knowledge + inflow
    f.knowledge_growth = np.log1p((new_k - f.knowledge) / (1.0 + f.knowledge))  # = ln(1+K') - ln(1+K)
    f.knowledge = new_k
    doers = np.flatnonzero(inflow > 0)
    f.ip[doers] += rng.poisson(p.ip_per_rd * inflow[doers]).astype(f.ip.dtype)
    real_intensity = f.real_rd / np.maximum(f.revenue, 1e-9)
    # logit(h') = logit(h) + d, written as h' = h / (h + (1 - h) e^-d): one exp, no log
    d = p.hightech_drift * (real_intensity - p.hightech_rd_pivot) + p.hightech_shock_sd * rng.standard_normal(n)
    h = f.hightech_share
    f.hightech_share = h / (h + (1.0 - h) * np.exp(-d))


def exit_firms(model: ModelState, rng: np.random.Generator) -> int:
    """Remove firms by the SAIC age-hazard table, lower for 规上 firms, HTEs and incubator tenants."""
    p, f = model.params, model.firms
    table = np.asarray(p.exit_hazard_by_age)
    hazard = table[np.minimum(f.age, len(table) - 1)]
    hazard = hazard * np.where(f.revenue >= p.above_scale_revenue, p.exit_factor_above_scale, 1.0)
    hazard = hazard * np.where(model.hte_valid_mask(), p.exit_factor_hte, 1.0)
    hazard = hazard * np.where(f.incubator >= 0, p.exit_factor_tenant, 1.0)
    stays = rng.random(len(f)) >= hazard
    f.keep(stays)
    model.hte_pursuing = model.hte_pursuing[stays]
    return int((~stays).sum())


def attract_firms(model: ModelState, rng: np.random.Generator) -> int:
    """Firms moving in from outside, in proportion to the current population."""
    n = int(rng.poisson(model.params.attraction_rate * len(model.firms)))
    if n:
        model.request_entry(n, ORIGIN_ATTRACTED)
    return n


# --------------------------------------------------------------- new firms
def fill_derived(model: ModelState, f: FirmPopulation) -> None:
    """Set fields that follow from revenue, sector and R&D propensity (new or initial firms).

    Histories are back-cast at the base growth rate so the 3-year R&D ratio
    equals this year's ratio.
    """
    p = model.params
    f.employees = np.maximum(f.revenue / p.revenue_per_employee, 3.0)
    f.rd = f.rd_propensity * f.revenue
    f.real_rd = f.rd.copy()
    back = (1.0 + p.base_growth) ** -np.arange(HISTORY)
    f.revenue_hist = back[:, None] * f.revenue[None, :]
    f.rd_hist = back[:, None] * f.rd[None, :]
    f.st_staff = staff_for_rd(model, f)
    f.value_added = model.va_scale * model.sector_va_ratio[f.sector] * f.revenue


def make_firms(model: ModelState, origin: np.ndarray, incubator: np.ndarray,
               rng: np.random.Generator) -> FirmPopulation:
    """Draw entrants, one per element of ``origin``: incubator start-ups (1),
    institute spin-offs (2) or firms attracted from outside (3).

    Start-ups and spin-offs lean to R&D-intensive sectors and spend
    ``startup_rd_intensity``; attracted firms look like the existing population.
    """
    p = model.params
    n = len(origin)
    f = FirmPopulation(n)
    startup = origin != ORIGIN_ATTRACTED
    w_start = model.sector_firm_share * model.sector_rd_prior
    w_attr = model.sector_firm_share
    u = rng.random(n)
    f.sector = np.where(startup, np.searchsorted(np.cumsum(w_start / w_start.sum()), u * (1 - 1e-12)),
                        np.searchsorted(np.cumsum(w_attr / w_attr.sum()), u * (1 - 1e-12))).astype(f.sector.dtype)
    median = np.where(startup, p.startup_revenue_median, p.entrant_revenue_median)
    f.revenue = median * np.exp(0.8 * rng.standard_normal(n))
    prior_h = model.sector_hightech_prior[f.sector]
    z_rd, z_h = rng.standard_normal(n), rng.standard_normal(n)
    active = rng.random(n) < model.rd_active_share
    f.rd_propensity = np.where(startup, p.startup_rd_intensity * np.exp(0.5 * z_rd),
                               active * model.sector_rd_prior[f.sector] * np.exp(z_rd))
    f.rd_propensity = np.minimum(f.rd_propensity, 0.25)
    f.hightech_share = np.clip(np.where(startup, 1.5 * prior_h * np.exp(0.3 * z_h), prior_h * np.exp(0.5 * z_h)),
                               0.01, 0.95)
    f.profit_margin = p.profit_margin_mean + p.profit_margin_sd * rng.standard_normal(n)
    f.origin = origin.astype(f.origin.dtype)
    f.ip = (origin == ORIGIN_SPINOFF).astype(f.ip.dtype)   # a spin-off is founded on an institute's result
    f.incubator = incubator.astype(f.incubator.dtype)
    f.incubated_since = np.where(incubator >= 0, model.year, -1).astype(f.incubated_since.dtype)
    f.uid = model.next_uids(n)
    fill_derived(model, f)
    f.user_cost_ref = user_cost_of_rd(model, f, np.zeros(n, dtype=bool))
    return f

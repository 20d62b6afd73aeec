"""Yearly firm rules, vectorised over the firm arrays.

Each public function is one phase of :meth:`RegionModel.step` and takes the
model and that phase's random generator. The rules read parameters from
``model.params`` (units and sources in ``simulator/data/parameters.yaml``)
and subsidies from ``model.government`` (the same rule that pays is the one
firms anticipate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.model.firms import HISTORY, FirmPopulation
from simulator.policy.instruments import Event, MonthlyAllowance, amounts_due

if TYPE_CHECKING:
    from simulator.model.region_model import RegionModel


# ------------------------------------------------------------------ helpers
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


def user_cost_of_rd(model: RegionModel, f: FirmPopulation, hte_valid: np.ndarray) -> np.ndarray:
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


def hte_structural_criteria(model: RegionModel) -> np.ndarray:
    """Criteria a firm cannot meet within the year: age, core IP, high-tech product share."""
    p, f = model.params, model.firms
    return (f.age >= p.hte_min_age) & (f.ip >= 1) & (f.hightech_share >= p.hte_min_hightech_share)


def hte_candidates(model: RegionModel) -> np.ndarray:
    """Firms that could be certified this year if they chose to prepare: age and high-tech product share.

    Core IP is not required of a candidate: a firm without it can file or buy the IP the application
    needs within the year (software copyrights and utility-model patents are granted in months) at
    ``hte_ip_cost``; cultivation programmes help candidates "获得核心知识产权" (004 三.6).
    """
    p, f = model.params, model.firms
    return (f.age >= p.hte_min_age) & (f.hightech_share >= p.hte_min_hightech_share)


def hte_eligible(model: RegionModel) -> np.ndarray:
    """Every national criterion: structural ones, S&T staff share and 3-year R&D intensity."""
    p, f = model.params, model.firms
    return (hte_structural_criteria(model) & (st_share(f) >= p.hte_min_st_share)
            & (rd_ratio_3y(f) >= hte_rd_threshold(f.revenue, p)))


def staff_for_rd(model: RegionModel, f: FirmPopulation) -> np.ndarray:
    """S&T staff: technicians (``base_st_share`` of employees) plus staff paid by real R&D."""
    p = model.params
    return np.minimum(p.base_st_share * f.employees + f.real_rd / p.rd_per_st_staff, f.employees)


def tech_sme_score(model: RegionModel) -> np.ndarray:
    """Evaluation score of 国科发政〔2017〕115号: S&T staff (20), R&D ratio (50), IP (30).

    Step scores: S&T staff share 4 points per 5 pp from 10 % (max 20 at 30 %);
    R&D ratio 10 points per pp from 2 % (max 50 at 6 %); 30 points for core IP.
    """
    f = model.firms
    staff = 4.0 * np.clip(np.floor((st_share(f) - 0.10) / 0.05) + 1, 0, 5)
    rd = 10.0 * np.clip(np.floor((rd_ratio_3y(f) - 0.02) / 0.01 + 1e-9) + 1, 0, 5)
    return staff + rd + 30.0 * (f.ip >= 1)


# ------------------------------------------------------------------ phases
def grow(model: RegionModel, rng: np.random.Generator) -> None:
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


def hte_decision(model: RegionModel, f: FirmPopulation, idx: np.ndarray, desired: np.ndarray, cost: np.ndarray,
                 threshold: np.ndarray, rev3: np.ndarray, earlier: np.ndarray, instruments: list | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Net gain of HTE certification for the candidates ``idx`` and their yearly chance of pursuing it.

    Args:
        f: the firms (``model.firms``, or the population being synthesised).
        idx: candidate rows; ``desired``, ``cost`` (after-tax cost of 1 元 of R&D), ``threshold`` (3-year
            ratio aimed at), ``rev3`` (revenue over the 3 years) and ``earlier`` (R&D of the 2 years before)
            are theirs, in 万元 where money.
        instruments: the instruments whose award the candidates expect (default: what the government pays
            this year).

    Returns:
        ``need`` (this year's R&D that meets the 3-year ratio, 万元), ``net_gain`` (万元) and ``prob``.
    """
    p = model.params
    need = np.maximum(threshold * rev3 - earlier, 0.0)
    extra = np.maximum(need - desired, 0.0)            # the whole gap, paid now or over the preparation
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


def set_rd_budgets(model: RegionModel, rng: np.random.Generator) -> None:
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
        need, net_gain, prob = hte_decision(model, f, idx, desired[idx], cost[idx], threshold, rev3, earlier)
        no_ip = f.ip[idx] < 1
        level = threshold * f.revenue[idx]                      # R&D at the threshold this year
        stays = f.hte_preparing[idx] & (net_gain > 0)
        chosen = stays | (u_pursue < prob)
        reported = np.minimum(np.maximum(level, np.minimum(need, p.hte_catchup_limit * level)), f.revenue[idx])
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


def graduate_allowance_eligible(model: RegionModel) -> np.ndarray:
    """Firms whose new graduates get the allowance: 规上 (revenue >= ``above_scale_revenue``) industrial firms.

    000 第9条 names "重点产业链的规上企业和龙头企业"; the zone's industrial clusters stand for its
    key chains, and a leading firm is 规上.
    """
    return (model.firms.revenue >= model.params.above_scale_revenue) & model.sector_industrial[model.firms.sector]


def hire_graduates(model: RegionModel, rng: np.random.Generator) -> None:
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


def buy_technology(model: RegionModel, rng: np.random.Generator) -> None:
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


def certify_hte(model: RegionModel, rng: np.random.Generator) -> None:
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
    model._granted = f.uid[granted]
    above = f.revenue[granted] >= p.above_scale_revenue
    model.government.pay(Event("hte_certified", granted, above, first=first))


def register_tech_smes(model: RegionModel, rng: np.random.Generator) -> None:
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


def designate_zjtx(model: RegionModel, rng: np.random.Generator) -> None:
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


def accumulate_knowledge(model: RegionModel, rng: np.random.Generator) -> None:
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


def exit_firms(model: RegionModel, rng: np.random.Generator) -> int:
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


def attract_firms(model: RegionModel, rng: np.random.Generator) -> int:
    """Firms moving in from outside, in proportion to the current population."""
    from simulator.model.agents import ORIGIN_ATTRACTED
    n = int(rng.poisson(model.params.attraction_rate * len(model.firms)))
    if n:
        model.request_entry(n, ORIGIN_ATTRACTED)
    return n


# --------------------------------------------------------------- new firms
def fill_derived(model: RegionModel, f: FirmPopulation) -> None:
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


def make_firms(model: RegionModel, origin: np.ndarray, incubator: np.ndarray,
               rng: np.random.Generator) -> FirmPopulation:
    """Draw entrants, one per element of ``origin``: incubator start-ups (1),
    institute spin-offs (2) or firms attracted from outside (3).

    Start-ups and spin-offs lean to R&D-intensive sectors and spend
    ``startup_rd_intensity``; attracted firms look like the existing population.
    """
    from simulator.model.agents import ORIGIN_ATTRACTED, ORIGIN_SPINOFF
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

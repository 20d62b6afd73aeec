"""Synthetic base-year population built so that the model's own aggregates equal the baseline.

The documents give aggregates only (revenue, GDP, R&D/GDP, HTE count,
high-tech share, ...). Individual firms are drawn from distributions whose
shapes are region-file assumptions, then one free scale per aggregate is
solved so that, before the first step, the indicators of
:mod:`simulator.model.indicators` reproduce the baseline:

=====================  ===============================================================
aggregate              how it is matched
=====================  ===============================================================
revenue                log-normal revenues rescaled to the total
GDP                    one value-added scale on sector VA ratios + explicit non-firm share
HTE count              exactly ``hte_count`` firms hold a certificate, grant years by shares
HTE pipeline           candidates that would start preparing under the base year's rules are
                       preparing (R&D at their catch-up level), within the R&D total
R&D / GDP              HTEs at their thresholds (bunching); institutes' share; the rest
                       of firms' R&D propensities rescaled
high-tech share        non-HTE industrial firms' shares scaled (root-finding, capped 95 %)
tech contracts         institutes' sales to outside buyers set to the baseline minus
                       the base-year sales to zone firms
counts                 national incubators / R&D institutions and little giants assigned
=====================  ===============================================================

An inconsistent baseline (e.g. more R&D needed by HTEs alone than the
region's R&D/GDP allows) raises :class:`~simulator.errors.InputError`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from simulator.errors import InputError
from simulator.inputs.parameters import HISTORY
from simulator.model.firm_rules import fill_derived
from simulator.model.firms import FirmPopulation
from simulator.model.hte_rules import hte_decision, hte_rd_threshold, user_cost_of_rd
from simulator.model.indicators import WAN_PER_YI
from simulator.model.state import ModelState

HIGHTECH_CAP = 0.95


def _largest_remainder(total: int, shares: dict) -> dict:
    keys = sorted(shares)
    raw = np.array([shares[k] for k in keys], dtype=float)
    raw = raw / raw.sum() * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: total - counts.sum()]:
        counts[i] += 1
    return dict(zip(keys, counts.tolist(), strict=False))


def check_steady_state(model: ModelState) -> None:
    """Base-year knowledge stocks are steady states, R&D / (depreciation + growth), of firms (growing at
    ``base_growth``) and institutes (``institute_rd_growth``): there is none unless depreciation + growth > 0."""
    p = model.params
    for growth in ("base_growth", "institute_rd_growth"):
        total = p.knowledge_depreciation + getattr(p, growth)
        if not total > 0:
            raise InputError("<parameters>", f"knowledge_depreciation + {growth}",
                             "must be > 0: the base-year knowledge stock is R&D / (depreciation + growth)",
                             value=round(total, 12),
                             allowed=f"{growth} > -knowledge_depreciation = {0.0 - p.knowledge_depreciation}")


def synthesise_firms(model: ModelState, rng: np.random.Generator) -> FirmPopulation:
    """Draw the base-year firms of ``model.region`` (see module docstring; :func:`check_steady_state` first)."""
    region, p, year = model.region, model.params, model.year
    src = model.region_path
    n = int(region.pop("n_firms"))
    f = FirmPopulation(n)
    f.uid = model.next_uids(n)
    shares = model.sector_firm_share
    f.sector = rng.choice(len(shares), size=n, p=shares).astype(f.sector.dtype)

    # revenue: log-normal around sector sizes, rescaled to the total (万元)
    raw = model.sector_size[f.sector] * np.exp(region.pop("revenue_sigma") * rng.standard_normal(n))
    f.revenue = raw * (region.base("revenue") * WAN_PER_YI / raw.sum())
    rank = np.argsort(np.argsort(f.revenue)) / max(n - 1, 1)
    lo, hi = region.pop("age_mean")
    f.age = (1 + np.floor(rng.exponential(lo + (hi - lo) * rank))).astype(f.age.dtype)
    f.profit_margin = p.profit_margin_mean + p.profit_margin_sd * rng.standard_normal(n)

    # certified firms (exactly hte_count), R&D bunched just above their threshold
    n_hte = int(region.base("hte_count"))
    rmin, rmax = region.pop("hte_revenue_range")
    pool = np.flatnonzero((f.revenue >= rmin) & (f.revenue <= rmax) & (f.age >= p.hte_min_age)
                          & (model.sector_hightech_prior[f.sector] >= 0.1))
    if pool.size < n_hte:
        raise InputError(src, "population.hte_revenue_range",
                         f"only {pool.size} firms can hold the {n_hte} baseline HTE certificates",
                         value=[rmin, rmax], allowed="a wider revenue range or more firms")
    w = model.sector_rd_prior[f.sector[pool]]
    hte = rng.choice(pool, size=n_hte, replace=False, p=w / w.sum())
    is_hte = np.zeros(n, dtype=bool)
    is_hte[hte] = True
    grants = _largest_remainder(n_hte, {int(k): v for k, v in region.pop("hte_grant_year_shares").items()})
    f.hte_grant_year[hte] = rng.permutation(np.repeat(list(grants), list(grants.values())))
    f.hte_ever[hte] = True
    f.rd_propensity[hte] = np.minimum(hte_rd_threshold(f.revenue[hte], p)
                                      + p.hte_bunching_margin * rng.exponential(1.0, n_hte), 1.0)   # R&D <= revenue
    f.hightech_share[hte] = rng.uniform(p.hte_min_hightech_share, HIGHTECH_CAP, n_hte)
    f.ip[hte] = 1 + rng.poisson(3.0, n_hte)

    # listed firms (little giants, 专精特新) hold R&D of at least the listing criterion
    listed = _assign_designations(model, f, is_hte, rng)
    fixed = is_hte | listed

    # high-tech share: HTEs fixed, others scaled so the industrial aggregate matches
    rest = ~is_hte
    prior = model.sector_hightech_prior[f.sector[rest]] * np.exp(0.6 * rng.standard_normal(rest.sum()))
    industrial = model.sector_industrial[f.sector]
    target = region.base("hightech_output_share") / 100.0

    def gap(m: float) -> float:
        h = f.hightech_share.copy()
        h[rest] = np.clip(m * prior, 0.0, HIGHTECH_CAP)
        return float((f.revenue * h)[industrial].sum() / f.revenue[industrial].sum()) - target

    if gap(0.0) > 0 or gap(1e4) < 0:
        raise InputError(src, "baseline.hightech_output_share", "cannot be reached by the synthetic firms",
                         value=target * 100, allowed="a share the firms' sectors can carry")
    m = brentq(gap, 0.0, 1e4, xtol=1e-12)
    f.hightech_share[rest] = np.clip(m * prior, 0.0, HIGHTECH_CAP)

    # everyone else's R&D: sector priors, half do none, rescaled to close the R&D total
    active = rng.random(n) < region.pop("rd_active_share")
    base_rho = model.sector_rd_prior[f.sector] * np.exp(0.8 * rng.standard_normal(n)) * active
    # firms preparing for certification in the base year report R&D at their catch-up level
    gdp_wan = region.base("gdp") * WAN_PER_YI
    rd_total = region.base("rd_intensity") / 100.0 * gdp_wan
    firm_rd = (1.0 - region.pop("institute_rd_share")) * rd_total
    held_rd = float((f.rd_propensity[fixed] * f.revenue[fixed]).sum())
    # (the published R&D total bounds the pipeline: preparers get at most half of what HTEs and listed firms leave)
    prep, prep_rd = _base_year_preparers(model, f, fixed, base_rho, rng, 0.5 * max(firm_rd - held_rd, 0.0))
    fixed = fixed | prep
    rest = ~fixed
    fixed_rd = held_rd + float(prep_rd.sum())
    if fixed_rd >= firm_rd:
        raise InputError(src, "baseline.rd_intensity",
                         f"the certified and listed firms alone need {fixed_rd / WAN_PER_YI:.2f} 亿元 of R&D, "
                         f"more than firms' {firm_rd / WAN_PER_YI:.2f} 亿元 share of R&D/GDP",
                         allowed="a lower population.hte_revenue_range or institute_rd_share")
    rho = base_rho[rest]
    for _ in range(20):   # rescale, cap at 25 %, repeat until the total holds
        rho = np.minimum(rho * (firm_rd - fixed_rd) / max((rho * f.revenue[rest]).sum(), 1e-12), 0.25)
    f.rd_propensity[rest] = rho

    # value added: sector ratios x one scale so firms carry GDP minus the explicit other part
    va_raw = model.sector_va_ratio[f.sector] * f.revenue
    model.other_gdp = region.pop("other_gdp_share") * gdp_wan
    model.va_scale = (gdp_wan - model.other_gdp) / va_raw.sum()
    fill_derived(model, f)
    f.rd[prep] = prep_rd                            # catching up: above the threshold level this year
    f.rd_hist[0, prep] = prep_rd
    f.real_rd[prep] = prep_rd - p.rd_relabel_share * (prep_rd - f.rd_propensity[prep] * f.revenue[prep])
    f.knowledge = f.real_rd / (p.knowledge_depreciation + p.base_growth)   # steady state
    others = ~is_hte & ~prep
    f.ip[others] = rng.poisson(np.minimum(p.ip_per_rd * f.knowledge[others], 50.0))
    f.ip[prep] = np.maximum(f.ip[prep], 1)   # filed for the application (_base_year_preparers)
    valid = is_hte & (f.hte_grant_year + p.hte_validity_years > year)
    f.user_cost_ref = user_cost_of_rd(model, f, valid)
    _mark_soes(model, f)
    return f


def _mark_soes(model: ModelState, f: FirmPopulation) -> None:
    """Provincial SOEs (001 二.2 省属国有企业研发投入): ``population.soe_firms = [first, last]`` marks the industrial
    firms of revenue ranks first..last (1 = largest; the region file says why); no random draw, so other regions
    are unchanged. Entrants are never SOEs (assumption: new firms are private; restructurings are not modelled)."""
    if "soe_firms" not in model.region.population:
        return
    first, last = (int(x) for x in model.region.pop("soe_firms"))
    industrial = np.flatnonzero(model.sector_industrial[f.sector])
    ranked = industrial[np.argsort(-f.revenue[industrial], kind="stable")]
    f.soe[ranked[first - 1:last]] = True


def _base_year_preparers(model: ModelState, f: FirmPopulation, fixed: np.ndarray, rho: np.ndarray,
                         rng: np.random.Generator, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Firms preparing for HTE certification in the base year, and their base-year R&D (万元).

    A plan's base year is a year in the middle of certification campaigns, not their start: the
    candidates that would begin preparing under the base year's rules (the awards the catalogues
    had in force then, whatever a variant changes later: the base year is history, the same in
    every variant; each candidate with its yearly chance,
    :func:`~simulator.model.hte_rules.hte_decision`) are already doing so, their R&D propensity at the
    threshold and their base-year R&D at the catch-up level (``hte_catchup_limit``), so the first
    simulated year continues the pipeline instead of starting it at once (a jump of R&D and
    certifications no record shows). Their core IP is filed; they apply in the first simulated year.
    The published R&D total bounds them: where their R&D would exceed ``budget`` (万元), a random
    subset that fits is kept.
    """
    p = model.params
    cand = np.flatnonzero(~fixed & (f.age >= p.hte_min_age) & (f.hightech_share >= p.hte_min_hightech_share))
    mask = np.zeros(len(f), dtype=bool)
    if cand.size == 0:
        return mask, np.zeros(0)
    back = (1.0 + p.base_growth) ** -np.arange(HISTORY)
    rev = f.revenue[cand]
    desired = rho[cand] * rev
    threshold = hte_rd_threshold(rev, p) + p.hte_bunching_margin * (0.5 + rng.random(cand.size))
    cost = user_cost_of_rd(model, f, np.zeros(len(f), dtype=bool))[cand]
    _need, _gain, prob = hte_decision(model, f, cand, desired, cost, threshold, rev * back.sum(),
                                      desired * back[1:].sum(), instruments=model.past_instruments)
    chosen = np.flatnonzero(rng.random(cand.size) < prob)
    rd = np.minimum(p.hte_catchup_limit * threshold[chosen] * rev[chosen], rev[chosen])
    fits = np.cumsum(rd) <= budget                          # (candidates are in random order of drawing)
    chosen, rd = chosen[fits], rd[fits]
    rows = cand[chosen]
    mask[rows] = True
    f.rd_propensity[rows] = threshold[chosen]
    f.hte_preparing[rows] = True
    return mask, rd


def _assign_designations(model: ModelState, f: FirmPopulation, is_hte: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """Little giants and 专精特新 firms of the base year; return the mask of listed firms.

    They are drawn among SMEs large enough for the listing (HTEs ten times as
    likely) and given at least the listing's R&D intensity.
    """
    region, p, src = model.region, model.params, model.region_path
    sme = f.revenue / p.revenue_per_employee <= 1000
    n_lg = int(region.base("little_giants"))
    lg_pool = np.flatnonzero(sme & (f.revenue >= p.little_giant_min_revenue))
    if lg_pool.size < n_lg:
        raise InputError(src, "baseline.little_giants", f"only {lg_pool.size} firms are large enough",
                         value=n_lg, allowed=f"at most {lg_pool.size}")
    if lg_pool.size:   # (empty only when the baseline has none: nothing to draw from nothing)
        w = np.where(is_hte[lg_pool], 10.0, 1.0)
        lg = rng.choice(lg_pool, size=n_lg, replace=False, p=w / w.sum())
        f.little_giant[lg] = True
        f.zjtx[lg] = True
    n_z = int(region.pop("zjtx_firms"))
    z_pool = np.flatnonzero(sme & (f.revenue >= p.zjtx_min_revenue) & ~f.zjtx)
    if z_pool.size:   # none may qualify (a high zjtx_min_revenue): then only the little giants are listed
        w = np.where(is_hte[z_pool], 10.0, 1.0)
        f.zjtx[rng.choice(z_pool, size=min(n_z, z_pool.size), replace=False, p=w / w.sum())] = True
    listed = f.zjtx.copy()
    floor = p.zjtx_min_rd_intensity + p.hte_bunching_margin * rng.exponential(1.0, listed.sum())
    f.rd_propensity[listed] = np.minimum(np.maximum(f.rd_propensity[listed], floor), 1.0)   # R&D <= revenue
    return listed


def assign_tenants(model: ModelState, rng: np.random.Generator) -> None:
    """Place young, small, non-service firms in the carriers up to their base-year occupancy.

    A tenant has been hosted for a uniform 0 .. ``incubation_years`` - 1 years (never longer than its
    age), as in a carrier that admits a cohort every year: graduations are spread over the coming
    years instead of all base-year tenants leaving in the first year.
    """
    f, year = model.firms, model.year
    occupancy = model.region.pop("incubator_occupancy")
    young_small = (f.age <= 3) & (f.revenue <= 500)
    tech = model.sector_industrial[f.sector] | (model.sector_rd_prior[f.sector] >= 0.01)
    pool = np.flatnonzero(young_small & tech)
    pool = rng.permutation(pool)
    start = 0
    for inc in model.incubators:
        k = min(int(round(occupancy * inc.capacity)), pool.size - start)
        chosen = pool[start:start + k]
        f.incubator[chosen] = inc.index
        stay = np.minimum(rng.integers(0, max(int(model.params.incubation_years), 1), chosen.size), f.age[chosen])
        f.incubated_since[chosen] = year - stay
        start += k


def calibrate_contract_sales(model: ModelState) -> None:
    """Set institutes' sales to outside buyers so base-year seller-side contracts match the baseline."""
    target = model.region.base("tech_contract_value") * WAN_PER_YI
    local = sum(i.local_sales for i in model.institutes)
    if local > target:
        raise InputError(model.region_path, "baseline.tech_contract_value",
                         f"zone firms already buy {local / WAN_PER_YI:.2f} 亿元 from zone institutes",
                         value=target / WAN_PER_YI, allowed="a larger value or lower local_purchase_share")
    weights = np.array([i.knowledge for i in model.institutes])
    for inst, w in zip(model.institutes, weights / weights.sum(), strict=False):
        inst.external_sales = (target - local) * w

"""Indicators: named pure functions of the model state, in one place.

Each is computed from the agents every year (year = base year is the state
before the first step); nothing is set directly. Functions are module-level
(no lambdas) so they pickle for multiprocessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulator.inputs.series import INDICATOR_INFO, SeriesTable, higher_is_better, label, unit_of
from simulator.model.firms import ORIGIN_SPINOFF
from simulator.model.guards import check_indicators
from simulator.model.state import ModelState
from simulator.model.targets import derived_values

WAN_PER_YI = 1e4  # 1 亿元 = 10 000 万元 (DOMAIN.md, Money)


def firm_value_added(model: ModelState) -> float:
    """Value added of modelled firms, 亿元."""
    return float(model.firms.value_added.sum()) / WAN_PER_YI


def gdp(model: ModelState) -> float:
    """Zone GDP, 亿元: firms' value added plus the explicit non-modelled part."""
    return (float(model.firms.value_added.sum()) + model.other_gdp) / WAN_PER_YI


def revenue(model: ModelState) -> float:
    """Operating revenue of all firms, 亿元."""
    return float(model.firms.revenue.sum()) / WAN_PER_YI


def rd_expenditure(model: ModelState) -> float:
    """R&D spending of firms, institutes and universities, 亿元."""
    return (float(model.firms.rd.sum()) + model.institute_rd()) / WAN_PER_YI


def rd_intensity(model: ModelState) -> float:
    """R&D expenditure of all performers / GDP, %."""
    return 100.0 * rd_expenditure(model) / gdp(model)


def hte_count(model: ModelState) -> float:
    """Firms holding an HTE certificate valid this year."""
    return float(model.hte_valid_mask().sum())


def hightech_output_share(model: ModelState) -> float:
    """High-tech output / gross output of industrial firms, %."""
    f = model.firms
    industrial = model.sector_industrial[f.sector].astype(float)
    output = f.revenue * industrial
    return 100.0 * float(np.dot(output, f.hightech_share) / output.sum())


def tech_contract_value(model: ModelState) -> float:
    """Seller-side technology contracts registered in the zone (技术合同成交额), 亿元."""
    return model.tech_contracts_sold() / WAN_PER_YI


def tech_purchase_value(model: ModelState) -> float:
    """Buyer-side: technology bought by the zone's firms this year (吸纳), 亿元."""
    return float(model.firms.tech_purchase.sum()) / WAN_PER_YI


def tech_sme_count(model: ModelState) -> float:
    """Firms registered as tech SMEs this year."""
    return float(model.firms.tech_sme.sum())


def firm_count(model: ModelState) -> float:
    """Firms in the zone."""
    return float(len(model.firms))


def above_scale_count(model: ModelState) -> float:
    """规上 firms (revenue >= 2000 万元)."""
    return float((model.firms.revenue >= model.params.above_scale_revenue).sum())


def national_incubators(model: ModelState) -> float:
    """National-level incubation carriers."""
    return float(sum(1 for c in model.incubators if c.level == "national"))


def incubator_tenants(model: ModelState) -> float:
    """Firms hosted by incubation carriers."""
    return float((model.firms.incubator >= 0).sum())


def national_rd_institutions(model: ModelState) -> float:
    """National-level R&D institutions."""
    return float(sum(1 for i in model.institutes if i.level == "national"))


def incubator_count(model: ModelState) -> float:
    """Incubation carriers of every level."""
    return float(len(model.incubators))


def rd_institution_count(model: ModelState) -> float:
    """R&D institutions of every level (universities excluded)."""
    return float(sum(1 for i in model.institutes if i.kind != "university"))


def little_giants(model: ModelState) -> float:
    """National 专精特新 little giants."""
    return float(model.firms.little_giant.sum())


def zjtx_count(model: ModelState) -> float:
    """Provincial 专精特新 firms (including little giants)."""
    return float((model.firms.zjtx | model.firms.little_giant).sum())


def emerging_revenue(model: ModelState) -> float:
    """Operating revenue of firms in the sectors the region file marks as strategic emerging industries
    (``sectors[].emerging``, 001 二.7 战略性新兴产业营业收入), 亿元; 0 where none is marked."""
    emerging = np.array([s.emerging for s in model.region.sectors], dtype=bool)
    return float(model.firms.revenue[emerging[model.firms.sector]].sum()) / WAN_PER_YI


def soe_rd_expenditure(model: ModelState) -> float:
    """R&D of provincial state-owned firms (region population ``soe_firms``), 亿元; 0 where none are marked."""
    f = model.firms
    return float(f.rd[f.soe].sum()) / WAN_PER_YI


def hightech_manufacturing_value_added(model: ModelState) -> float:
    """规模以上高技术制造业增加值, 亿元: value added x high-tech share of industrial 规上 firms.

    The high-tech part of a firm's value added is taken in proportion to its high-tech share of revenue
    (the model has no product-level split of value added)."""
    f = model.firms
    mask = model.sector_industrial[f.sector].astype(bool) & (f.revenue >= model.params.above_scale_revenue)
    return float(np.dot(f.value_added[mask], f.hightech_share[mask])) / WAN_PER_YI


def tech_contract_gdp_share(model: ModelState) -> float:
    """Seller-side technology contracts ÷ GDP, % (004 三.3 技术合同成交额占GDP比重)."""
    return 100.0 * tech_contract_value(model) / gdp(model)


def results_converted(model: ModelState) -> float:
    """Research results converted this year (转化科技成果), 项: firms that bought a result from a university or
    institute this year (a transfer or licence contract, one per buying firm) plus institute spin-offs founded
    this year (a firm founded on an institute's result).

    Assumption: the plans count transfers, licences and firms founded on a result as conversions; the model
    has no other channel by which a result reaches a firm."""
    f = model.firms
    return float((f.tech_purchase > 0).sum() + ((f.origin == ORIGIN_SPINOFF) & (f.age == 0)).sum())


def rd_institutions_provincial_plus(model: ModelState) -> float:
    """R&D institutions at provincial (autonomous-region) level or above, or new-type R&D institutions of any
    level (003 (五) 自治区级及以上科技创新平台或新型研发机构); universities excluded."""
    return float(sum(1 for i in model.institutes if i.kind != "university"
                     and (i.level in ("provincial", "national") or i.kind == "new_type_rd_institution")))


def new_type_rd_institutions(model: ModelState) -> float:
    """New-type R&D institutions (新型研发机构) of every level."""
    return float(sum(1 for i in model.institutes if i.kind == "new_type_rd_institution"))


def hte_new_certifications(model: ModelState) -> float:
    """First HTE certifications granted this year."""
    return float(model.year_stats.get("hte_first", 0))


def hte_recertifications(model: ModelState) -> float:
    """HTE re-certifications granted this year."""
    return float(model.year_stats.get("hte_renewed", 0))


def _stat(model: ModelState, key: str) -> float:
    return float(model.year_stats.get(key, 0))


def hte_renewals(model: ModelState) -> float:
    """Certificates expiring this year renewed by their holders (re-certification without a gap)."""
    return _stat(model, "hte_renewals")


def hte_reentries(model: ModelState) -> float:
    """Re-certifications of firms whose earlier certificate had lapsed before this year."""
    return _stat(model, "hte_reentries")


def hte_expired(model: ModelState) -> float:
    """Holders of last year still in the region whose certificate expired and was not renewed."""
    return _stat(model, "hte_expired")


def hte_exits(model: ModelState) -> float:
    """Certificate holders (of last year, or certified this year) that left the region."""
    return _stat(model, "hte_exits")


def hte_entrants(model: ModelState) -> float:
    """Firms holding a valid certificate that were not in the region a year before."""
    return _stat(model, "hte_entrants")


def tech_sme_new(model: ModelState) -> float:
    """Tech SMEs registered this year that were not registered last year."""
    return _stat(model, "tech_sme_new")


def tech_sme_dropped(model: ModelState) -> float:
    """Last year's tech SMEs still in the region that did not register again (no longer qualify or chose not to)."""
    return _stat(model, "tech_sme_dropped")


def tech_sme_exits(model: ModelState) -> float:
    """Last year's tech SMEs that left the region."""
    return _stat(model, "tech_sme_exits")


def incubators_founded(model: ModelState) -> float:
    """New municipal incubation carriers opened this year."""
    return _stat(model, "incubators_founded")


def incubator_upgrades_provincial(model: ModelState) -> float:
    """Carriers recognised at provincial level this year (from municipal)."""
    return _stat(model, "incubator_upgrades_provincial")


def incubator_upgrades_national(model: ModelState) -> float:
    """Carriers recognised at national level this year (from provincial)."""
    return _stat(model, "incubator_upgrades_national")


def tenant_graduations(model: ModelState) -> float:
    """Tenants that finished incubation this year."""
    return _stat(model, "tenant_graduations")


def rd_institutions_founded(model: ModelState) -> float:
    """New municipal R&D institutions this year."""
    return _stat(model, "rd_institutions_founded")


def rd_institution_upgrades(model: ModelState) -> float:
    """R&D institutions recognised one level up this year (provincial or national)."""
    return _stat(model, "rd_institution_upgrades_provincial") + _stat(model, "rd_institution_upgrades_national")


def alliance_count(model: ModelState) -> float | None:
    """Industrial technology innovation alliances of every level (产业技术创新战略联盟); None where the region
    file has no ``alliances`` block."""
    return None if model.alliances is None else float(len(model.alliances))


def alliances_provincial_plus(model: ModelState) -> float | None:
    """Alliances recognised at provincial level or above (004 三.3 省级以上)."""
    return None if model.alliances is None else float(sum(1 for a in model.alliances if a.level != "municipal"))


def national_alliances(model: ModelState) -> float | None:
    """Alliances recognised at national level."""
    return None if model.alliances is None else float(sum(1 for a in model.alliances if a.level == "national"))


def alliances_founded(model: ModelState) -> float | None:
    """New (municipal) alliances founded this year."""
    return None if model.alliances is None else _stat(model, "alliances_founded")


def alliance_member_firms(model: ModelState) -> float | None:
    """Firms leading or belonging to at least one alliance."""
    if model.alliances is None:
        return None
    uids = [a.member_firms for a in model.alliances] + [[a.lead_firm] for a in model.alliances if a.lead_firm >= 0]
    return float(len(np.unique(np.concatenate(uids)))) if uids else 0.0


def tech_transfer_institutions(model: ModelState) -> float | None:
    """Technology-transfer demonstration institutions (技术转移示范机构); None where the region file has no
    ``transfer_institutions`` block."""
    return None if model.transfer_institutions is None else float(len(model.transfer_institutions))


def transfer_institutions_recognised(model: ModelState) -> float | None:
    """Technology-transfer demonstration institutions newly recognised this year."""
    return None if model.transfer_institutions is None else _stat(model, "transfer_institutions_recognised")


def national_rank(model: ModelState) -> float | None:
    """The zone's place in the national high-tech-zone ranking (1 = best); None where not ranked."""
    return None if model.zone is None else float(model.zone.rank)


def subsidy_paid(model: ModelState) -> float:
    """Subsidies paid by all instruments this year, 万元."""
    return model.government.paid_in(model.year)


def _derived(model: ModelState) -> float:
    raise TypeError("a target series is computed by simulator.model.targets.derived_values, not on its own")


@dataclass(frozen=True)
class Indicator:
    """An indicator's function, unit, labels, and whether a target is met from above or below."""

    func: Callable[[ModelState], float | None]
    unit: str
    zh: str
    en: str
    higher_is_better: bool = True


class IndicatorTable(SeriesTable):
    """The named indicators. Looking up a target's series key of another kind (``growth:gdp``,
    ``share:hte_or_tech_sme``, :mod:`simulator.inputs.series`) gives its unit and labels too, so tables and charts
    treat every target like a level target; iterating gives the named indicators only."""

    def derived(self, key: str) -> Indicator:
        return Indicator(_derived, unit_of(key, self), label(key, self, "zh"), label(key, self, "en"),
                         higher_is_better(key, self))


_FUNCTIONS = {f.__name__: f for f in (
    firm_value_added, gdp, revenue, rd_expenditure, rd_intensity, hte_count, hightech_output_share,
    tech_contract_value, tech_purchase_value, tech_sme_count, firm_count, above_scale_count, national_incubators,
    incubator_tenants, national_rd_institutions, incubator_count, rd_institution_count, little_giants, zjtx_count,
    emerging_revenue, soe_rd_expenditure, hightech_manufacturing_value_added, tech_contract_gdp_share,
    results_converted, rd_institutions_provincial_plus, new_type_rd_institutions, hte_new_certifications,
    hte_recertifications, hte_renewals, hte_reentries, hte_expired, hte_exits, hte_entrants, tech_sme_new,
    tech_sme_dropped, tech_sme_exits, incubators_founded, incubator_upgrades_provincial,
    incubator_upgrades_national, tenant_graduations, rd_institutions_founded, rd_institution_upgrades,
    national_rank, subsidy_paid, alliance_count, alliances_provincial_plus, national_alliances, alliances_founded,
    alliance_member_firms, tech_transfer_institutions, transfer_institutions_recognised)}
if set(_FUNCTIONS) != set(INDICATOR_INFO):
    raise AssertionError(f"indicators without a function or a name: {sorted(set(_FUNCTIONS) ^ set(INDICATOR_INFO))}")
#: the indicators, in the vocabulary's order (that of the tables and charts), with their functions
INDICATORS: IndicatorTable = IndicatorTable({
    name: Indicator(_FUNCTIONS[name], i.unit, i.zh, i.en, i.higher_is_better) for name, i in INDICATOR_INFO.items()})


def compute_all(model: ModelState) -> dict[str, float]:
    """Every indicator that applies to the model, for its current year."""
    values = {name: ind.func(model) for name, ind in INDICATORS.items()}
    values = {name: value for name, value in values.items() if value is not None}
    values.update(derived_values(model, values))   # the region's growth, flow, share, ... target series
    check_indicators(model.year, values)   # NumericalError (a FloatingPointError) naming year and indicator
    return values

"""Industrial technology innovation alliances and technology-transfer demonstration institutions (Mesa agents).

An :class:`Alliance` (产业技术创新战略联盟) is a contract between a lead unit (发起/牵头单位: a 规上
industrial firm with R&D, or a university or institute), R&D-active firms of the lead's industry and
a university or institute (产学研, 《关于推动产业技术创新战略联盟构建的指导意见》 国科发政〔2008〕770号:
"由企业、大学和科研机构 ... 构成", based on the firms' needs). It is founded municipal; it may be
recognised provincial when it has enough member units, and national after that; it dissolves when its
lead firm leaves the region. The founding decision responds to the founder award on offer
(004 三.3: 5 万元 to the founder of a municipal alliance, 10 万元 of a provincial-or-higher one), which is
paid. A unit leads at most one alliance, so the alliances never outnumber the units able to lead one.

A :class:`TransferInstitution` (技术转移示范机构) is a university or institute recognised for the
technology contracts it sells. The region's contract turnover supports as many institutions as it has
turnover at the base year's volume per institution (004 三.3 for Shuangyashan: 1.56 亿元 with 3 institutions);
a host must also sell ``transfer_min_contracts`` a year.

Both exist only in a region whose file has an ``alliances`` / ``transfer_institutions`` block
(``model.alliances`` / ``model.transfer_institutions`` are None otherwise, and their indicators are not
recorded). Alliances change no firm's behaviour in this version: no published estimate of their effect
on members' R&D or purchases was found, so they are counted and paid, nothing more. Randomness comes from
the model's streams ``alliances`` (founding: one draw per eligible unit a year, whatever the award, so more
award never means fewer alliances on the same seed), ``alliance_levels`` (recognitions) and
``alliance_members`` (leads in the base year, recruitment).
"""

from __future__ import annotations

import mesa
import numpy as np

from simulator.errors import InputError
from simulator.model.agents import LevelledAgent, tally
from simulator.model.state import ModelState
from simulator.policy.instruments import Event

TRIGGER = "alliance_recognised"


class Alliance(LevelledAgent):
    """An industrial technology innovation alliance of one industry (a sector of the region file).

    Args:
        model: the region model.
        sector: index of the industry (region file ``sectors``) the alliance serves.
        level: ``municipal``, ``provincial`` or ``national``.
        lead_firm: ``uid`` of the lead firm, or -1 when an institute leads.
        lead_institute: index in ``model.institutes`` of the lead institute, or -1 when a firm leads.
        founded: year founded (the base year for alliances existing then).
    """

    def __init__(self, model: ModelState, sector: int, level: str, lead_firm: int, lead_institute: int,
                 founded: int) -> None:
        super().__init__(model, level)
        self.sector = sector
        self.lead_firm = lead_firm
        self.lead_institute = lead_institute
        self.founded = founded
        self.member_firms = np.zeros(0, dtype=np.int64)      # uids, the lead firm not included
        self.member_institutes: list[int] = []               # indices, the lead institute not included

    @property
    def members(self) -> int:
        """Member units, the lead included."""
        return 1 + len(self.member_firms) + len(self.member_institutes)

    def founder_event(self, level: str) -> Event:
        """The event paying the founding unit (a firm by row, or an institute by its Mesa id) at ``level``."""
        m = self.model
        if self.lead_firm >= 0:
            row = np.flatnonzero(m.firms.uid == self.lead_firm)
            return Event(TRIGGER, firms=row, level=np.array([level] * len(row)), kind=np.array(["alliance"] * len(row)))
        host = m.institutes[self.lead_institute]
        return Event(TRIGGER, agents=np.array([host.unique_id]), level=np.array([level]), kind=np.array(["alliance"]))

    def recruit(self, rng: np.random.Generator) -> None:
        """Drop members that left the region; fill up to ``alliance_member_firms`` R&D-active firms of the
        industry and ``alliance_member_institutes`` universities or institutes (chosen at random)."""
        m, p = self.model, self.model.params
        f = m.firms
        self.member_firms = self.member_firms[np.isin(self.member_firms, f.uid, assume_unique=True)]
        need = int(p.alliance_member_firms) - len(self.member_firms)
        if need > 0:
            pool = f.uid[(f.sector == self.sector) & (f.rd > 0)]
            pool = pool[~np.isin(pool, self.member_firms, assume_unique=True) & (pool != self.lead_firm)]
            if pool.size:
                self.member_firms = np.concatenate([self.member_firms, rng.choice(pool, min(need, pool.size),
                                                                                  replace=False)])
        need = int(p.alliance_member_institutes) - len(self.member_institutes)
        if need > 0:
            pool = np.array([i for i in range(len(m.institutes))
                             if i != self.lead_institute and i not in self.member_institutes], dtype=np.int64)
            if pool.size:
                self.member_institutes += [int(i) for i in rng.choice(pool, min(need, pool.size), replace=False)]

    def consider_recognition(self, u: float) -> bool:
        """Move up one level when the alliance has ``alliance_provincial_min_members`` member units and the
        yearly draw ``u`` passes: probability ``alliance_upgrade_prob`` x (1 + response x award / 100 万元),
        the award being what the founder would receive at the next level; it is paid."""
        m, p = self.model, self.model.params
        if self.level == "national" or self.members < p.alliance_provincial_min_members:
            return False
        target = self.next_level
        gov = m.government
        expected = gov.expected_award(TRIGGER, target, "alliance")
        if u >= min(p.alliance_upgrade_prob * (1.0 + p.alliance_award_response * expected / 100.0), 1.0):
            return False
        self.level = target
        tally(m, f"alliance_recognitions_{target}")
        gov.pay(self.founder_event(target))
        return True

    def __repr__(self) -> str:
        lead = f"firm {self.lead_firm}" if self.lead_firm >= 0 else f"institute {self.lead_institute}"
        return f"Alliance({self.model.sectors[self.sector].id}, {self.level}, lead {lead}, members={self.members})"


def eligible_firms(model: ModelState) -> np.ndarray:
    """Row indices of firms able to lead an alliance: 规上 (revenue >= ``above_scale_revenue``), industrial,
    with R&D this year (the lead unit needs "较大规模和较强的研发实力", 豫科〔2013〕146号; 规上 leads first,
    Shanxi's 2023 call)."""
    f, p = model.firms, model.params
    return np.flatnonzero((f.revenue >= p.above_scale_revenue) & model.sector_industrial[f.sector].astype(bool)
                          & (f.rd > 0))


def founder_capacity(model: ModelState) -> int:
    """How many alliances the founder rule allows now: units able to lead one (eligible firms, every
    university and institute) plus leads of existing alliances that are no longer eligible (a unit leads
    at most one alliance)."""
    rows = eligible_firms(model)
    leads = np.array([a.lead_firm for a in model.alliances if a.lead_firm >= 0], dtype=np.int64)
    lapsed = int((~np.isin(leads, model.firms.uid[rows])).sum())
    return len(rows) + len(model.institutes) + lapsed


def _has_industry(model: ModelState) -> bool:
    """Whether any industrial firm has R&D (an institute's alliance needs an industry to serve)."""
    f = model.firms
    return bool((model.sector_industrial[f.sector].astype(bool) & (f.rd > 0)).any())


def _industry_of_institute(model: ModelState, rng: np.random.Generator) -> int | None:
    """An institute's alliance serves the industry of an R&D-active industrial firm drawn by R&D."""
    f = model.firms
    rows = np.flatnonzero(model.sector_industrial[f.sector].astype(bool) & (f.rd > 0))
    if not rows.size:
        return None
    return int(f.sector[rng.choice(rows, p=f.rd[rows] / f.rd[rows].sum())])


def _found(model: ModelState, firm_row: int, institute: int, level: str, rng: np.random.Generator) -> Alliance:
    f = model.firms
    sector = int(f.sector[firm_row]) if firm_row >= 0 else _industry_of_institute(model, rng)
    a = Alliance(model, sector, level, int(f.uid[firm_row]) if firm_row >= 0 else -1, institute, model.year)
    a.recruit(rng)
    model.alliances.append(a)
    return a


def build_alliances(model: ModelState) -> list[Alliance] | None:
    """The base-year alliances of the region file: leads drawn among the eligible units with probability
    proportional to their R&D (the units with most R&D lead first), the provincial and national ones first."""
    spec = model.region.alliances
    model.alliances = None if spec is None else []
    if spec is None:
        return None
    rng = model.streams["alliance_members"]
    levels = [lv for lv in ("national", "provincial", "municipal") for _ in range(getattr(spec, lv))]
    rows = eligible_firms(model)
    institutes = list(range(len(model.institutes))) if _has_industry(model) else []
    if len(levels) > len(rows) + len(institutes):
        raise InputError(model.region_path, "alliances", "more alliances than units able to lead one (规上 "
                         "industrial firms with R&D, universities and institutes; one alliance each)",
                         value=len(levels), allowed=f"at most {len(rows) + len(institutes)}")
    rd = np.concatenate([model.firms.rd[rows], [model.institutes[i].rd for i in institutes]])
    chosen = rng.choice(len(rd), len(levels), replace=False, p=rd / rd.sum()) if levels else []
    for k, level in zip(chosen, levels, strict=True):
        firm = int(rows[k]) if k < len(rows) else -1
        _found(model, firm, -1 if firm >= 0 else institutes[k - len(rows)], level, rng)
    return model.alliances


def step_alliances(model: ModelState) -> int:
    """One year of alliances; returns how many were founded.

    1. an alliance whose lead firm left the region dissolves;
    2. members that left are replaced (``recruit``);
    3. each alliance may be recognised one level up (``Alliance.consider_recognition``);
    4. each unit able to lead one and not leading one founds a municipal alliance with probability
       ``alliance_founding_prob`` x (1 + ``alliance_award_response`` x founder award / 100 万元); the
       founder award is paid.
    """
    if model.alliances is None:
        return 0
    f, p, gov = model.firms, model.params, model.government
    present = set(f.uid.tolist())
    kept = [a for a in model.alliances if a.lead_firm < 0 or a.lead_firm in present]
    tally(model, "alliances_dissolved", len(model.alliances) - len(kept))
    for a in model.alliances:
        if a not in kept:
            a.remove()
    model.alliances = kept
    members = model.streams["alliance_members"]
    for a in kept:
        a.recruit(members)
    levels = model.streams["alliance_levels"]
    for a, u in zip(kept, levels.random(len(kept)), strict=True):
        a.consider_recognition(float(u))
    # one draw per unit able to lead, in a fixed order (institutes, then firms by row), whatever the award
    rows = eligible_firms(model)
    draws = model.streams["alliances"].random(len(model.institutes) + len(rows))
    expected = gov.expected_award(TRIGGER, "municipal", "alliance")
    prob = min(p.alliance_founding_prob * (1.0 + p.alliance_award_response * expected / 100.0), 1.0)
    if not _has_industry(model):
        draws[: len(model.institutes)] = 1.0      # no industry for an institute's alliance to serve
    led_firms = {a.lead_firm for a in kept}
    led_institutes = {a.lead_institute for a in kept}
    founded = 0
    for i in range(len(model.institutes)):
        if draws[i] < prob and i not in led_institutes:
            gov.pay(_found(model, -1, i, "municipal", members).founder_event("municipal"))
            founded += 1
    for row, u in zip(rows, draws[len(model.institutes):], strict=True):
        if u < prob and int(f.uid[row]) not in led_firms:
            gov.pay(_found(model, int(row), -1, "municipal", members).founder_event("municipal"))
            founded += 1
    tally(model, "alliances_founded", founded)
    return founded


class TransferInstitution(mesa.Agent):
    """A technology-transfer demonstration institution grown from a university or institute that sells results.

    Args:
        model: the region model.
        host: index in ``model.institutes`` of the unit recognised.
        since: year recognised (the base year for those existing then).
    """

    model: ModelState

    def __init__(self, model: ModelState, host: int, since: int) -> None:
        super().__init__(model)
        self.host = host
        self.since = since

    @property
    def contracts(self) -> float:
        """Technology contracts its host sold this year, 万元."""
        return self.model.institutes[self.host].contracts_sold

    def __repr__(self) -> str:
        return f"TransferInstitution(host {self.host}, since {self.since}, contracts={self.contracts:.0f} 万元)"


def _qualifying_hosts(model: ModelState) -> list[int]:
    """Universities and institutes not yet recognised that sell ``transfer_min_contracts`` a year, largest first."""
    done = {t.host for t in model.transfer_institutions}
    hosts = [i for i, inst in enumerate(model.institutes)
             if i not in done and inst.contracts_sold >= model.params.transfer_min_contracts]
    return sorted(hosts, key=lambda i: -model.institutes[i].contracts_sold)


def build_transfer_institutions(model: ModelState) -> list[TransferInstitution] | None:
    """The base-year institutions of the region file, hosted by the largest sellers of contracts; sets
    ``model.transfer_volume`` (base-year contract turnover per institution, 万元)."""
    spec = model.region.transfer_institutions
    model.transfer_institutions = None if spec is None else []
    if spec is None:
        return None
    hosts = _qualifying_hosts(model)
    if len(hosts) < spec.count:
        raise InputError(model.region_path, "transfer_institutions.count", "more institutions than universities "
                         f"and institutes selling at least {model.params.transfer_min_contracts:g} 万元 of "
                         "technology contracts in the base year", value=spec.count, allowed=f"at most {len(hosts)}")
    model.transfer_volume = model.tech_contracts_sold() / spec.count
    model.transfer_institutions = [TransferInstitution(model, h, model.year) for h in hosts[: spec.count]]
    return model.transfer_institutions


def recognise_transfer_institutions(model: ModelState) -> int:
    """Recognise the largest qualifying sellers while the year's contract turnover supports one more
    institution at the base-year turnover per institution (``model.transfer_volume``); returns how many.
    Recognition is kept once granted (the yearly review of a demonstration institution is not modelled)."""
    if model.transfer_institutions is None:
        return 0
    supported = int(model.tech_contracts_sold() // model.transfer_volume)
    new = 0
    for host in _qualifying_hosts(model)[: max(supported - len(model.transfer_institutions), 0)]:
        model.transfer_institutions.append(TransferInstitution(model, host, model.year))
        new += 1
    tally(model, "transfer_institutions_recognised", new)
    return new

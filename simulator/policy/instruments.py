"""Policy instruments: small classes with one hook, ``amount(event)``.

An instrument is built from a catalogue entry (``scenarios/policies/*.yaml``,
quoting its clause) and a scenario's setting for it (on/off, scale, years,
amount overrides). The :class:`~simulator.model.agents.Government` asks every
instrument active in a year what it owes for an :class:`Event` and records
each payment. Firms use the same hook to form expectations, so the rule that
pays is the rule that agents react to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from simulator.errors import InputError, closest
from simulator.inputs.catalogue_file import InstrumentSpec
from simulator.inputs.parameters import HISTORY
from simulator.inputs.scenario_file import InstrumentSetting


@dataclass
class Event:
    """Something agents did this year that instruments may pay for.

    Attributes:
        trigger: what happened: ``hte_certified``, ``tech_purchase``, ``tech_sme_registered``,
            ``graduate_allowance`` (firms); ``carrier_recognised``, ``institute_recognised``,
            ``institute_upgraded``, ``alliance_recognised`` (agents; an alliance's founder may be a firm).
        firms: row indices of the firms concerned (firm events); for an allowance, the employer
            of each recipient (one entry per person, a firm repeated for each of its recipients).
        above_scale: whether each firm is 规模以上 (revenue >= 2000 万元).
        first: for certifications, True on first certification, False on re-certification.
        base: the amount the rule applies to (e.g. purchase price, 万元).
        eligible: whether each firm belongs to the instrument's target group.
        agents: Mesa ``unique_id`` of the incubators/institutes concerned (agent events).
        level: level each agent reached (``national``, ``provincial``, ``municipal``).
        kind: kind of each agent (e.g. ``incubator``, ``maker_space``, ``new_type_rd_institution``).
        category: for an allowance, each recipient's category as an index into the
            instrument's ``CATEGORIES`` (integers keep large events fast; see
            :meth:`MonthlyAllowance.category_codes`).
        hired: for an allowance, the year each recipient was hired.
        year: for an allowance, the year the payment is for.
    """

    trigger: str
    firms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    above_scale: np.ndarray | None = None
    first: np.ndarray | None = None
    base: np.ndarray | None = None
    eligible: np.ndarray | None = None
    agents: np.ndarray | None = None
    level: np.ndarray | None = None
    kind: np.ndarray | None = None
    category: np.ndarray | None = None
    hired: np.ndarray | None = None
    year: int | None = None

    def __len__(self) -> int:
        return len(self.agents) if self.agents is not None else len(self.firms)


class Instrument:
    """Base class: identity, years, scale and validated parameters."""

    type_name: ClassVar[str]
    trigger: str
    param_names: ClassVar[tuple[str, ...]]
    optional_params: ClassVar[tuple[str, ...]] = ()
    #: parameters whose value is a word (``eligible: tech_firms``) and the words allowed; all others are amounts
    text_params: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, spec: InstrumentSpec, setting: InstrumentSetting | None, scenario_file: str,
                 catalogue_file: str, payer: str) -> None:
        setting = setting or InstrumentSetting()
        self.id = spec.id
        self.clause = spec.clause
        self.payer = payer
        self.enabled = setting.enabled
        self.scale = setting.scale
        self.budget = setting.budget
        self.targets = spec.targets
        self.start_year = setting.start_year if setting.start_year is not None else spec.start_year
        self.end_year = setting.end_year if setting.end_year is not None else spec.end_year
        self._check_names(spec.params, catalogue_file, f"instruments.{spec.id}.params")
        self._check_names(setting.params, scenario_file, f"policies.{spec.id}.params")
        self._check_kinds(spec.params, catalogue_file, f"instruments.{spec.id}.params")
        self._check_kinds(setting.params, scenario_file, f"policies.{spec.id}.params")
        params = {**spec.params, **setting.params}
        missing = [k for k in self.param_names if k not in params]
        if missing:
            raise InputError(catalogue_file, f"instruments.{spec.id}.params", f"missing {missing}",
                             allowed=", ".join(self.param_names))
        self.params = params

    def _check_names(self, params: dict, file: str, where: str) -> None:
        names = self.param_names + self.optional_params
        for key in params:
            if key not in names:
                raise InputError(file, f"{where}.{key}", "unknown amount parameter" + closest(key, names),
                                 allowed=", ".join(names))

    def _check_kinds(self, params: dict, file: str, where: str) -> None:
        """Words where this family expects words, single numbers where it expects amounts."""
        for key, value in params.items():
            if key in self.text_params:
                words = self.text_params[key]
                if not isinstance(value, str) or value not in words:
                    raise InputError(file, f"{where}.{key}", "not one of the allowed words"
                                     + (closest(value, words) if isinstance(value, str) else ""),
                                     value=value, allowed=", ".join(words))
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(file, f"{where}.{key}", "must be a single number", value=value,
                                 allowed="a non-negative amount")

    def terms(self) -> tuple:
        """What decides this instrument's payments in a year it is active (id, type, scale, budget, amounts):
        two instruments with equal terms pay alike."""
        return (self.id, type(self).__name__, self.scale, self.budget,
                tuple(sorted((k, repr(v)) for k, v in self.params.items())))

    def active(self, year: int) -> bool:
        """Whether the instrument pays in ``year``."""
        if not self.enabled:
            return False
        if self.start_year is not None and year < self.start_year:
            return False
        return self.end_year is None or year <= self.end_year

    def amount(self, event: Event) -> np.ndarray:
        """万元 owed to each firm of ``event`` (the one hook subclasses implement)."""
        raise NotImplementedError

    def pays_when(self) -> str:
        """What must happen for the instrument to pay, in words (said when it never paid in a run)."""
        return f"a {self.trigger.replace('_', ' ')} event occurs"

    def __repr__(self) -> str:
        years = f"{self.start_year or '…'}–{self.end_year or '…'}"
        return f"{type(self).__name__}({self.id}, {years}, scale={self.scale}, enabled={self.enabled})"


class CertificationAward(Instrument):
    """One-off award on HTE certification, by size class, reduced on re-certification.

    000 若干政策措施 第4条: 10 万元 (规上) / 5 万元 (规下) on first certification,
    half on re-certification.
    """

    type_name = "certification_award"
    trigger = "hte_certified"
    param_names = ("first_above_scale", "first_below_scale", "recertification_factor")

    def amount(self, event: Event) -> np.ndarray:
        p = self.params
        base = np.where(event.above_scale, p["first_above_scale"], p["first_below_scale"])
        factor = np.where(event.first, 1.0, p["recertification_factor"])
        return base * factor * self.scale

    def pays_when(self) -> str:
        return "a firm of the zone is certified or re-certified as a high-tech enterprise"


class PurchaseSubsidy(Instrument):
    """Refund of a share of a technology purchase above a minimum, capped per purchase.

    000 若干政策措施 第4条: 30 % of payments of at least 10 万元, at most 30 万元, to tech
    firms (``eligible: tech_firms``: registered tech SMEs and HTEs); 001 二.6: 20 %, at most
    200 万元, to any firm (``eligible: all_firms``).
    """

    type_name = "purchase_subsidy"
    trigger = "tech_purchase"
    param_names = ("rate", "min_payment", "cap", "eligible")
    text_params: ClassVar[dict[str, tuple[str, ...]]] = {"eligible": ("tech_firms", "all_firms")}

    def amount(self, event: Event) -> np.ndarray:
        p = self.params
        base = event.base
        pays = base >= p["min_payment"]
        if event.eligible is not None and p["eligible"] != "all_firms":
            pays &= event.eligible
        return np.where(pays, np.minimum(p["rate"] * base, p["cap"]), 0.0) * self.scale

    def pays_when(self) -> str:
        who = "any firm" if self.params["eligible"] == "all_firms" else "a tech SME or HTE"
        return f"{who} buys technology for at least {self.params['min_payment']:g} 万元"


class RegistrationAward(Instrument):
    """A yearly amount to every firm registered in the tech-SME database that year.

    004 三.1: "对入库的科技型中小企业每年给予1万元的资金补助".
    """

    type_name = "registration_award"
    trigger = "tech_sme_registered"
    param_names = ("amount_per_year",)

    def amount(self, event: Event) -> np.ndarray:
        return np.full(len(event), float(self.params["amount_per_year"]) * self.scale)

    def pays_when(self) -> str:
        return "a firm is registered in the tech-SME database"


def _level_amounts(params: dict, levels: np.ndarray) -> np.ndarray:
    """Amount by level; a range (amount_min/amount_max) pays its midpoint; a single ``amount`` pays any level."""
    out = np.zeros(len(levels))
    if "amount" in params:
        out[:] = params["amount"]
    elif "amount_min" in params and "amount_max" in params:
        out[:] = 0.5 * (params["amount_min"] + params["amount_max"])
    for level in ("national", "provincial", "municipal"):
        key = f"amount_{level}"
        if key in params:
            out[levels == level] = params[key]
    return out


class LevelAward(Instrument):
    """One-off award when an incubation carrier or an R&D institution is recognised at a level.

    Paid to carriers (``targets: incubators``) on founding or upgrade, to institutes (``targets:
    institutes``) when newly recognised, to an alliance's founder (``targets: alliances``) when it is
    founded or recognised a level up. ``level`` restricts the award to one level, ``kind`` to one kind
    (e.g. ``maker_space``, ``new_type_rd_institution``), ``exclude_kind`` leaves one kind out. A range
    20-50 万元 pays its midpoint.
    """

    type_name = "level_award"
    param_names = ()
    optional_params = ("amount", "amount_national", "amount_provincial", "amount_municipal", "amount_min",
                       "amount_max", "level", "kind", "exclude_kind")
    KINDS: ClassVar[tuple[str, ...]] = ("incubator", "maker_space", "accelerator", "university", "research_institute",
                                        "new_type_rd_institution", "national_rd_institution")
    text_params: ClassVar[dict[str, tuple[str, ...]]] = {"level": ("national", "provincial", "municipal"),
                                                          "kind": KINDS, "exclude_kind": KINDS}
    TRIGGERS: ClassVar[dict[str, str]] = {"incubators": "carrier_recognised", "institutes": "institute_recognised",
                                          "alliances": "alliance_recognised"}

    def __init__(self, spec: InstrumentSpec, *args) -> None:
        super().__init__(spec, *args)
        if spec.targets not in self.TRIGGERS:
            raise InputError(args[1], f"instruments.{spec.id}.targets",
                             f"a level award the model pays must target one of {list(self.TRIGGERS)}",
                             value=spec.targets, allowed="incubators, institutes, alliances (or set modelled: false)")
        self.trigger = self.TRIGGERS[spec.targets]

    def amount(self, event: Event) -> np.ndarray:
        p = self.params
        out = _level_amounts(p, event.level)
        if "level" in p:
            out[event.level != p["level"]] = 0.0
        if "kind" in p and event.kind is not None:
            out[event.kind != p["kind"]] = 0.0
        if "exclude_kind" in p and event.kind is not None:
            out[event.kind == p["exclude_kind"]] = 0.0
        return out * self.scale

    def pays_when(self) -> str:
        p = self.params
        default = {"carrier_recognised": "carrier", "institute_recognised": "R&D institution"}.get(self.trigger)
        what = p.get("kind", default or "industrial technology innovation alliance").replace("_", " ")
        level = f" at {p['level']} level" if "level" in p else ""
        return f"a {what} is founded or recognised{level}"


class UpgradeAward(Instrument):
    """Extra award when an R&D institution moves up a level (004 三.2: 50 万元 to national, 40 万元 to provincial)."""

    type_name = "upgrade_award"
    trigger = "institute_upgraded"
    param_names = ()
    optional_params = ("amount_to_national", "amount_to_provincial")

    def amount(self, event: Event) -> np.ndarray:
        p = self.params
        out = np.where(event.level == "national", p.get("amount_to_national", 0.0), 0.0)
        out = np.where(event.level == "provincial", p.get("amount_to_provincial", 0.0), out)
        return out * self.scale

    def pays_when(self) -> str:
        return "an R&D institution moves up to provincial or national level"


class MonthlyAllowance(Instrument):
    """A monthly living allowance to each new hire, by degree, for ``years`` years from the year after hiring.

    000 若干政策措施 第9条: graduates newly hired by 规上 and leading firms of the zone's key
    chains get 2000 / 1500 / 1000 元 a month (PhD / master / bachelor) for 3 consecutive
    years "自下一年度起"; technicians the bachelor rate, senior skilled workers half of it.
    Parameters are 万元 a month by category; a recipient-year pays 12 x that x scale when
    the payment year is 1 to ``years`` years after the hiring year, else nothing. Each
    entry of the event is one recipient (``category`` = index into :attr:`CATEGORIES`,
    ``hired`` = hiring year, ``year`` = payment year).

    Example:
        >>> codes = MonthlyAllowance.category_codes(["phd", "master"])                  # doctest: +SKIP
        >>> allowance.amount(Event("graduate_allowance", np.arange(2), category=codes,
        ...                        hired=np.array([2023, 2023]), year=2024))            # doctest: +SKIP
        array([2.4, 1.8])
    """

    type_name = "monthly_allowance"
    trigger = "graduate_allowance"
    CATEGORIES: ClassVar[tuple[str, ...]] = ("phd", "master", "bachelor", "technician", "senior_skilled_worker")
    param_names = (*CATEGORIES, "years")

    def __init__(self, spec: InstrumentSpec, setting: InstrumentSetting | None, scenario_file: str,
                 catalogue_file: str, payer: str) -> None:
        super().__init__(spec, setting, scenario_file, catalogue_file, payer)
        years = self.params["years"]
        if not isinstance(years, (int, float)) or years != int(years) or not 1 <= years <= HISTORY:
            from_scenario = setting is not None and "years" in setting.params
            raise InputError(scenario_file if from_scenario else catalogue_file,
                             f"{'policies' if from_scenario else 'instruments'}.{spec.id}.params.years",
                             "firms keep the allowance cohorts of the last three years only", value=years,
                             allowed=f"an integer from 1 to {HISTORY}")
        self.params["years"] = int(years)

    @classmethod
    def category_codes(cls, names) -> np.ndarray:
        """Indices into :attr:`CATEGORIES` of category names (for ``Event.category``)."""
        try:
            return np.array([cls.CATEGORIES.index(n) for n in names], dtype=np.int8)
        except ValueError:
            raise ValueError(f"unknown recipient category in {list(names)}; expected {cls.CATEGORIES}") from None

    def monthly(self, category: np.ndarray) -> np.ndarray:
        """万元 a month for each recipient category index (before scale)."""
        category = np.asarray(category)
        if category.size and (category.min() < 0 or category.max() >= len(self.CATEGORIES)):
            raise ValueError(f"{self.id}: recipient category indices must be 0..{len(self.CATEGORIES) - 1} "
                             f"({', '.join(self.CATEGORIES)})")
        return np.array([self.params[c] for c in self.CATEGORIES], dtype=float)[category]

    def amount(self, event: Event) -> np.ndarray:
        since = event.year - np.asarray(event.hired)
        paid = (since >= 1) & (since <= self.params["years"])   # "自下一年度起, 连续3年"
        return np.where(paid, 12.0 * self.monthly(event.category), 0.0) * self.scale

    def pays_when(self) -> str:
        return "an eligible firm employs a graduate it hired, from the year after hiring"


class RankAward(Instrument):
    """Award per full block of ranking places a zone gains over the previous year.

    003 二(三): "稀土高新区年度位次较上一年度每提升5位,给予500万元资金支持" (500 万元 per 5 places).
    ``event.base`` holds the places gained.
    """

    type_name = "rank_award"
    trigger = "rank_improved"
    param_names = ("amount", "places")

    def amount(self, event: Event) -> np.ndarray:
        blocks = np.floor(np.maximum(event.base, 0.0) / self.params["places"])
        return blocks * self.params["amount"] * self.scale

    def pays_when(self) -> str:
        return f"the zone's national rank rises by at least {self.params['places']:g} places over the year before"


INSTRUMENT_TYPES: dict[str, type[Instrument]] = {
    cls.type_name: cls for cls in (CertificationAward, PurchaseSubsidy, RegistrationAward, LevelAward, UpgradeAward,
                                   MonthlyAllowance, RankAward)
}


def build_instrument(spec: InstrumentSpec, setting: InstrumentSetting | None, scenario_file: str,
                     catalogue_file: str, payer: str) -> Instrument:
    """Instantiate the class named by ``spec.type`` with a scenario's setting for it."""
    cls = INSTRUMENT_TYPES.get(spec.type)
    if cls is None:
        raise InputError(catalogue_file, f"instruments.{spec.id}.type",
                         f"unknown instrument type {spec.type!r}" + closest(spec.type, INSTRUMENT_TYPES),
                         allowed=", ".join(INSTRUMENT_TYPES))
    return cls(spec, setting, scenario_file, catalogue_file, payer)


def active_terms(instruments: list[Instrument], year: int) -> frozenset:
    """The terms of every instrument of ``instruments`` active in ``year``.

    Models with equal sets pay alike that year."""
    return frozenset(i.terms() for i in instruments if i.active(year))


def amounts_due(instruments: list[Instrument], event: Event) -> np.ndarray:
    """What ``event``'s recipients would receive from ``instruments`` together (万元 each), unrationed."""
    total = np.zeros(len(event))
    for inst in instruments:
        total += inst.amount(event)
    return total

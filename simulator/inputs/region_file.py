"""The region file's schema: baseline, targets, population assumptions, sectors, carriers, institutes."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from simulator.errors import NULL, closest, unit_problem
from simulator.inputs.alliances import AllianceGroup, TransferGroup
from simulator.inputs.reading import load_yaml
from simulator.inputs.schema import FILE_STEM, MAX_FIGURE, LocalName, Strict, invalid
from simulator.inputs.series import FLOW_INDICATORS, INDICATOR_INFO, PROPERTY_INFO, series_key, unit_of
from simulator.inputs.validation import validate

REQUIRED_BASELINE = ("gdp", "revenue", "hightech_output_share", "rd_intensity", "hte_count",
                     "tech_contract_value", "national_incubators", "national_rd_institutions",
                     "little_giants")
REQUIRED_POPULATION = ("n_firms", "revenue_sigma", "other_gdp_share", "institute_rd_share",
                       "hte_grant_year_shares", "hte_revenue_range", "little_giants", "zjtx_firms",
                       "local_purchase_share", "rd_active_share", "age_mean", "incubator_occupancy")


class Figure(Strict):
    value: float
    unit: str
    source: str

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        if abs(v) > MAX_FIGURE:   # e.g. 1e308: the model's sums would overflow to infinity
            raise invalid(f"beyond any regional figure (more than {MAX_FIGURE:g} in its unit)", value=v,
                          allowed=f"a number up to {MAX_FIGURE:g}")
        return v


class Target(Figure):
    """A quantified target of a plan: a value the series of ``kind`` must reach in ``year``.

    Kinds (:mod:`simulator.inputs.series`): ``level`` (default; the indicator in the year),
    ``growth`` (% over the year before, or over ``base_year``), ``flow`` (new in the year:
    a per-year indicator, or firms with an event property of ``where``), ``cumulative``
    (a flow summed from ``from_year`` to the year), ``share`` (% of firms, or of the firms
    ``among``, having every property of ``where``), ``count_where`` (firms having every
    property of ``where``). ``growth`` measures an indicator or the count of firms ``where``.
    """

    kind: Literal["level", "growth", "flow", "cumulative", "share", "count_where"] = "level"
    indicator: str | None = None
    where: list[str] = []
    among: list[str] = []
    base_year: int | None = None
    from_year: int | None = None
    year: int

    @field_validator("indicator")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is not None and v not in INDICATOR_INFO:
            raise ValueError(f"unknown indicator{closest(v, INDICATOR_INFO)}")
        return v

    @field_validator("where", "among")
    @classmethod
    def _properties(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if name not in PROPERTY_INFO:
                raise invalid(f"unknown firm property {name!r}{closest(name, PROPERTY_INFO)}", at=(i,), value=name,
                              allowed=", ".join(PROPERTY_INFO))
        return v

    @field_validator("value")
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("a target must be >= 0")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> Target:
        k, ind, where = self.kind, self.indicator, self.where
        needs_where = k in ("share", "count_where")
        if needs_where and (ind is not None or not where):
            raise invalid(f"a {k} target counts firms: give 'where' (firm properties), not 'indicator'",
                          at=("where",), value=ind or NULL, allowed=", ".join(PROPERTY_INFO))
        if not needs_where and (ind is None) == (not where):
            raise invalid(f"a {k} target needs exactly one of 'indicator' and 'where'", at=("indicator",),
                          value=ind or NULL, allowed="an indicator, or where: [firm properties]")
        if k == "level" and where:
            raise invalid("a level target names an indicator; use kind count_where or share for firms with "
                          "properties", at=("where",), value=where, allowed="kind: count_where")
        if k in ("flow", "cumulative"):
            if ind is not None and ind not in FLOW_INDICATORS:
                flows = sorted(n for n in FLOW_INDICATORS if n in INDICATOR_INFO)
                raise invalid(f"a {k} target needs a yearly flow", at=("indicator",), value=ind,
                              allowed=", ".join(flows) + ", or where: [an event property]")
            if where and not any(PROPERTY_INFO[p].event for p in where):
                raise invalid(f"a {k} target on firms needs an event property (true in the year it happened)",
                              at=("where",), value=where,
                              allowed=", ".join(n for n, p in PROPERTY_INFO.items() if p.event))
        if self.among and k != "share":
            raise invalid("'among' belongs to share targets", at=("among",), value=self.among, allowed="kind: share")
        if self.base_year is not None and (k != "growth" or self.base_year >= self.year):
            raise invalid("base_year belongs to a growth target and falls before its year", at=("base_year",),
                          value=self.base_year, allowed=f"a year before {self.year}, with kind: growth")
        if (self.from_year is None) == (k == "cumulative") or (self.from_year or 0) > self.year:
            raise invalid("a cumulative target (and only it) needs from_year, the first year summed, not after "
                          "its year", at=("from_year",), value=NULL if self.from_year is None else self.from_year,
                          allowed=f"a year up to {self.year}, with kind: cumulative")
        unit = unit_of(self.key, INDICATOR_INFO)
        if k != "level" and self.unit != unit:
            raise invalid(f"the unit of this {k} target is {unit!r}", at=("unit",), value=self.unit, allowed=unit)
        return self

    @property
    def key(self) -> str:
        """The series the target measures: the ``indicator`` column of indicators.csv and targets.csv."""
        return series_key(self.kind, self.indicator, self.where, self.among, self.base_year, self.from_year)


class Assumption(Strict):
    value: Any
    source: str


class Sector(Strict):
    id: str
    zh: str
    industrial: bool
    firm_share: float = Field(ge=0, le=1)
    size: float = Field(gt=0, le=1e4)
    va_ratio: float = Field(gt=0, le=1)
    hightech_prior: float = Field(ge=0, le=1)
    rd_prior: float = Field(ge=0, le=1)
    #: a strategic emerging industry (战略性新兴产业, 001 二.7), for the growth of their revenue; the source says why
    emerging: bool = False
    source: str


class Carrier(Strict):
    kind: Literal["incubator", "maker_space", "accelerator"]
    level: Literal["municipal", "provincial", "national"]
    capacity: int = Field(ge=1, le=100_000)
    graduates: int = Field(ge=0, le=1_000_000)
    count: int = Field(ge=0, le=100_000)


class CarrierGroup(Strict):
    source: str
    carriers: list[Carrier]
    capacity_source: str


class InstituteSpec(Strict):
    kind: Literal["university", "research_institute", "new_type_rd_institution", "national_rd_institution"]
    level: Literal["municipal", "provincial", "national"]
    count: int = Field(ge=0, le=100_000)
    rd_weight: float = Field(gt=0, le=1e6)
    source: str


class InstituteGroup(Strict):
    source: str
    members: list[InstituteSpec]


class Ranking(Strict):
    """A high-tech zone's place in the national ranking in the base year."""

    rank: int = Field(ge=1)
    zones: int = Field(ge=2)
    source: str
    zones_source: str

    @model_validator(mode="after")
    def _rank_within(self) -> Ranking:
        if self.rank > self.zones:
            raise invalid("the rank must not exceed the number of zones ranked", at=("rank",), value=self.rank,
                          allowed=f"1 to {self.zones}")
        return self


def _check_keys(v: dict, known, required, what: str) -> dict:
    """Reject unknown keys (with the closest valid one) and report missing required keys."""
    for key in v:
        if key not in known:
            raise invalid(f"unknown {what} {key!r}{closest(key, known)}", at=(key,),
                          allowed=", ".join(str(k) for k in known))
    missing = [k for k in required if k not in v]
    if missing:
        raise ValueError(f"lacks {missing}; required: {list(required)}")
    return v


#: population assumptions: (kind, low, high, unit); kind "int", "number", "range" ([low, high]) or "shares"
POPULATION_TYPES: dict[str, tuple[str, float, float, str | None]] = {
    "n_firms": ("int", 1, 1_000_000, None),
    "revenue_sigma": ("number", 0, 5, "log-sd of revenue"),
    "other_gdp_share": ("number", 0, 0.99, "share 0-1 of GDP"),
    "institute_rd_share": ("number", 0, 0.99, "share 0-1 of R&D"),
    "hte_grant_year_shares": ("shares", 0, 1, "share 0-1 of the certificates"),
    "hte_revenue_range": ("range", 0, 1e9, "万元"),
    "little_giants": ("int", 0, 1_000_000, None),
    "zjtx_firms": ("int", 0, 1_000_000, None),
    "local_purchase_share": ("number", 0, 1, "share 0-1"),
    "rd_active_share": ("number", 0, 1, "share 0-1"),
    "age_mean": ("range", 0, 200, "years"),
    "incubator_occupancy": ("number", 0, 1, "share 0-1 of capacity"),
    "soe_firms": ("range", 1, 1_000_000, "revenue ranks [first, last] among industrial firms (1 = largest)"),
}
#: population assumptions a region file may give (the others are required)
OPTIONAL_POPULATION = ("soe_firms",)


def _number(v: object, key: str, unit: str | None, lo: float, hi: float, integer: bool = False,
            at: Sequence[object] = ()) -> float:
    """Check one number of a free-form (``Any``) field: not a boolean, not "10万", finite, within [lo, hi]."""
    where = at or (key,)
    kind = "an integer" if integer else "a number"
    span = f"from {_num(lo)} to {_num(hi)}"
    limits = f"{kind} {span}" + (f" ({unit})" if unit else "")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        hint = unit_problem(v, unit, kind)
        if hint:
            raise invalid(hint[0], at=where, value=v, allowed=hint[1])
        raise invalid(f"must be {kind}", at=where, value=NULL if v is None else v, allowed=limits)
    if not math.isfinite(v) or not lo <= v <= hi or (integer and v != int(v)):
        raise invalid(f"must be {kind} {span}", at=where, value=v, allowed=limits)
    return v


def _num(x: float) -> str:
    return f"{int(x):,}".replace(",", " ") if float(x).is_integer() else f"{x:g}"


def _check_population(population: dict[str, Assumption], base_year: int | None) -> None:
    for key, (kind, lo, hi, unit) in POPULATION_TYPES.items():
        if key not in population:
            continue
        v = population[key].value
        at = (key, "value")
        if kind in ("int", "number"):
            _number(v, key, unit, lo, hi, integer=kind == "int", at=at)
        elif kind == "range":
            if not isinstance(v, list) or len(v) != 2:
                raise invalid("must be [low, high]", at=at, value=NULL if v is None else v,
                              allowed=f"two numbers from {_num(lo)} to {_num(hi)} ({unit}), low <= high")
            for i, x in enumerate(v):
                _number(x, key, unit, lo, hi, at=(*at, i))
            if v[0] > v[1]:
                raise invalid("low must not exceed high", at=at, value=v, allowed="[low, high] with low <= high")
        else:   # shares by grant year
            if not isinstance(v, dict) or not v:
                raise invalid("must map grant years to shares", at=at, value=NULL if v is None else v,
                              allowed="{year: share, ...}, shares summing to 1")
            for year, share in v.items():
                if isinstance(year, bool) or not isinstance(year, int) or (base_year and not
                                                                           base_year - 10 < year <= base_year):
                    raise invalid("grant years must be years up to the base year", at=(*at, year), value=year,
                                  allowed=f"years from {base_year - 9} to {base_year}" if base_year else "years")
                _number(share, key, unit, lo, hi, at=(*at, year))
            total = sum(v.values())
            if abs(total - 1.0) > 0.01:
                raise invalid(f"shares must sum to 1, sum to {total:g}", at=at, value=v, allowed="shares summing to 1")


#: baseline indicators that are counts (whole numbers)
_COUNT_UNITS = ("家", "个", "位")


class Region(Strict):
    """A region data file: baseline, targets and population assumptions."""

    id: str
    name: LocalName
    document: str
    base_year: int = Field(ge=1990, le=2100)
    policy_catalogues: list[str] = []
    baseline: dict[str, Figure]
    targets: list[Target] = []
    not_modelled: list[dict[str, str]] = []
    population: dict[str, Assumption]
    sectors: list[Sector] = Field(min_length=1)
    incubators: CarrierGroup
    institutes: InstituteGroup
    ranking: Ranking | None = None
    alliances: AllianceGroup | None = None
    transfer_institutions: TransferGroup | None = None

    @field_validator("policy_catalogues")
    @classmethod
    def _catalogue_names(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if not re.fullmatch(FILE_STEM, name):   # "../../x" would read a file outside the scenarios tree
                raise invalid("must name a file in the policies folder (no folders, no '..')", at=(i,), value=name,
                              allowed="a catalogue name such as 000_qiqihar")
        return v

    @field_validator("baseline")
    @classmethod
    def _baseline_complete(cls, v: dict[str, Figure]) -> dict[str, Figure]:
        _check_keys(v, INDICATOR_INFO, REQUIRED_BASELINE, "indicator")
        for key, fig in v.items():
            unit = INDICATOR_INFO[key].unit
            positive = key in ("gdp", "revenue")
            if fig.value < 0 or (positive and fig.value <= 0):
                raise invalid("must be > 0" if positive else "must be >= 0", at=(key, "value"), value=fig.value,
                              allowed=f"{'a positive' if positive else 'a non-negative'} number ({unit})")
            if unit == "%" and fig.value > 100:
                raise invalid("a percentage must not exceed 100", at=(key, "value"), value=fig.value,
                              allowed="0 to 100 (%)")
            if key == "rd_intensity" and fig.value >= 100:   # R&D spending at or above GDP: no economy
                raise invalid("R&D spending cannot reach GDP (R&D intensity >= 100 %)", at=(key, "value"),
                              value=fig.value, allowed="below 100 (% of GDP)")
            if unit in _COUNT_UNITS and fig.value != int(fig.value):
                raise invalid("a count must be a whole number", at=(key, "value"), value=fig.value,
                              allowed=f"a whole number ({unit})")
        return v

    @field_validator("population")
    @classmethod
    def _population_complete(cls, v: dict[str, Assumption], info) -> dict[str, Assumption]:
        _check_keys(v, (*REQUIRED_POPULATION, *OPTIONAL_POPULATION), REQUIRED_POPULATION, "assumption")
        _check_population(v, info.data.get("base_year"))
        return v

    @field_validator("sectors")
    @classmethod
    def _shares_sum_to_one(cls, v: list[Sector]) -> list[Sector]:
        total = sum(s.firm_share for s in v)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"firm_share must sum to 1 over sectors, sums to {total:.6f}")
        if not any(s.industrial for s in v):
            raise ValueError("at least one sector must be industrial (industrial: true): the high-tech "
                             "output share is a share of industrial output")
        return v

    @model_validator(mode="after")
    def _targets_after_base(self) -> Region:
        for i, t in enumerate(self.targets):
            # a level target may name the base year (a milestone of the year the plan was written in: met by
            # construction, targets.csv says met_in_base_year); the other kinds have no base-year value
            first_year = self.base_year + (t.kind != "level")
            if not first_year <= t.year <= 2100:
                raise invalid("a target year must fall after the base year (a level target: or be it)",
                              at=("targets", i, "year"), value=t.year, allowed=f"{first_year} to 2100")
            for field in ("base_year", "from_year"):
                first = getattr(t, field)
                if first is not None and first < self.base_year:
                    raise invalid(f"{field} must not fall before the region's base year", at=("targets", i, field),
                                  value=first, allowed=f"{self.base_year} to {t.year}")
            if t.kind in ("level", "share") and INDICATOR_INFO[t.key].unit == "%" and t.value > 100:
                raise invalid("a percentage must not exceed 100", at=("targets", i, "value"), value=t.value,
                              allowed="0 to 100 (%)")
            if t.indicator == "rd_intensity" and t.value >= 100:   # unreachable by construction
                raise invalid("R&D spending cannot reach GDP, so this target is unreachable",
                              at=("targets", i, "value"), value=t.value, allowed="below 100 (% of GDP)")
            if t.indicator == "national_rank" and (t.value < 1 or t.value != int(t.value) or (
                    self.ranking is not None and t.value > self.ranking.zones)):   # no zone ranks 0th or 1.5th
                zones = f" to {self.ranking.zones} (the zones ranked)" if self.ranking is not None else " or more"
                raise invalid("a rank target must be a place in the ranking, else it is unreachable",
                              at=("targets", i, "value"), value=t.value, allowed=f"a whole number from 1{zones}")
        return self

    def pop(self, key: str) -> Any:
        """Value of a population assumption."""
        return self.population[key].value

    def base(self, indicator: str) -> float:
        """Baseline value of an indicator, in the indicator's unit."""
        return self.baseline[indicator].value


def load_region(path: Path) -> Region:
    """Load and validate a region file."""
    return validate(Region, load_yaml(path), Path(path))

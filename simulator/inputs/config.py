"""Scenario, region and policy-catalogue files: loading and strict validation.

Every YAML input (scenario, region, catalogue, calibration and optimiser specs,
sensitivity bounds) is read with :func:`load_yaml`, which records the line of
every key (:class:`~simulator.errors.Where`), rejects duplicate keys, NaN and
infinity, and turns syntax and encoding errors into an
:class:`~simulator.errors.InputError` with the line. :func:`validate` checks the
data against a pydantic model that forbids unknown keys and reports the first
problem as an InputError naming the file, the line, the field path, the bad
value and what is allowed; booleans and numbers written with a unit ("10万",
"3亿", "5%") where a number belongs are reported as such. CSV inputs are read
with :func:`read_csv_checked` (line, column, cell). Errors raised later for a
field of a loaded file find its line through the registry in
:mod:`simulator.errors`.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import math
import os
import re
import stat
import types
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from simulator.errors import NULL, InputError, Where, closest, forget_lines, line_of, register_lines, unit_problem
from simulator.model.indicators import INDICATORS
from simulator.model.targets import FLOW_INDICATORS, PROPERTIES, series_key, unit_of

REQUIRED_BASELINE = ("gdp", "revenue", "hightech_output_share", "rd_intensity", "hte_count",
                     "tech_contract_value", "national_incubators", "national_rd_institutions",
                     "little_giants")
REQUIRED_POPULATION = ("n_firms", "revenue_sigma", "other_gdp_share", "institute_rd_share",
                       "hte_grant_year_shares", "hte_revenue_range", "little_giants", "zjtx_firms",
                       "local_purchase_share", "rd_active_share", "age_mean", "incubator_occupancy")

#: unit a numeric field implies, by field name (a field's ``json_schema_extra={"unit": ...}`` wins);
#: used to say what "10万" should have been. Fields absent here take a plain number (a count, a year).
FIELD_UNITS = {
    "budget": "万元", "scale": "times the amounts as written", "probability": "share 0-1 (0.8 = 80 %)",
    "firm_share": "share 0-1", "va_ratio": "share 0-1", "hightech_prior": "share 0-1",
    "rd_prior": "share 0-1 of revenue", "size": "times the average firm's revenue", "rel_sd": "share 0-1",
}
#: unit of an instrument's amount parameter, by name (default 万元)
AMOUNT_UNITS = {"rate": "share 0-1 of the payment", "recertification_factor": "share 0-1 of the first award",
                "years": "years", "places": "ranking places", "phd": "万元 a month", "master": "万元 a month",
                "bachelor": "万元 a month", "technician": "万元 a month", "senior_skilled_worker": "万元 a month"}
#: instrument parameters that are words, not amounts
TEXT_PARAMS = ("eligible", "level", "kind", "exclude_kind", "paid_to")


def amount_unit(name: object) -> str:
    """Unit of an instrument's amount parameter ``name``."""
    return AMOUNT_UNITS.get(str(name), "万元")


def _bad(problem: str, *, at: Sequence[object] = (), value: object = None, allowed: str | None = None):
    """A validation error carrying a sub-path below the validated field, the bad value and what is allowed."""
    return PydanticCustomError("innosim", "{problem}", {"problem": problem, "at": ".".join(str(a) for a in at),
                                                        "value": value, "allowed": allowed})


#: largest baseline or target figure accepted (in the indicator's unit: 亿元, 家, %, ...); the largest real
#: one is a few thousand 亿元, so a bigger number is a typo, and 1e308 would overflow the model's sums
MAX_FIGURE = 1e9
#: largest factor a scenario may scale an instrument's amounts by (an assumption: 1000 x a written
#: amount is far beyond any policy variant; larger factors only overflow the payments)
MAX_SCALE = 1_000
#: largest annual budget or amount in a scenario or catalogue (万元: 1e10 万元 = 1e14 元, beyond any
#: regional budget)
MAX_AMOUNT = 1e10


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: a name that stands for a file of a scenarios folder (regions/<name>.yaml, policies/<name>.yaml): no
#: folder separators and no leading dot, so it cannot point outside the scenarios tree ("../../etc/x")
FILE_STEM = r"^[^/\\.\x00-\x1f][^/\\\x00-\x1f]*$"


# ------------------------------------------------------------------ region file
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
            raise _bad(f"beyond any regional figure (more than {MAX_FIGURE:g} in its unit)", value=v,
                       allowed=f"a number up to {MAX_FIGURE:g}")
        return v


class Target(Figure):
    """A quantified target of a plan: a value the series of ``kind`` must reach in ``year``.

    Kinds (:mod:`simulator.model.targets`): ``level`` (default; the indicator in the year),
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
        if v is not None and v not in INDICATORS:
            raise ValueError(f"unknown indicator{closest(v, INDICATORS)}")
        return v

    @field_validator("where", "among")
    @classmethod
    def _properties(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if name not in PROPERTIES:
                raise _bad(f"unknown firm property {name!r}{closest(name, PROPERTIES)}", at=(i,), value=name,
                           allowed=", ".join(PROPERTIES))
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
            raise _bad(f"a {k} target counts firms: give 'where' (firm properties), not 'indicator'",
                       at=("where",), value=ind or NULL, allowed=", ".join(PROPERTIES))
        if not needs_where and (ind is None) == (not where):
            raise _bad(f"a {k} target needs exactly one of 'indicator' and 'where'", at=("indicator",),
                       value=ind or NULL, allowed="an indicator, or where: [firm properties]")
        if k == "level" and where:
            raise _bad("a level target names an indicator; use kind count_where or share for firms with "
                       "properties", at=("where",), value=where, allowed="kind: count_where")
        if k in ("flow", "cumulative"):
            if ind is not None and ind not in FLOW_INDICATORS:
                flows = sorted(n for n in FLOW_INDICATORS if n in INDICATORS)
                raise _bad(f"a {k} target needs a yearly flow", at=("indicator",), value=ind,
                           allowed=", ".join(flows) + ", or where: [an event property]")
            if where and not any(PROPERTIES[p].event for p in where):
                raise _bad(f"a {k} target on firms needs an event property (true in the year it happened)",
                           at=("where",), value=where,
                           allowed=", ".join(n for n, p in PROPERTIES.items() if p.event))
        if self.among and k != "share":
            raise _bad("'among' belongs to share targets", at=("among",), value=self.among, allowed="kind: share")
        if self.base_year is not None and (k != "growth" or self.base_year >= self.year):
            raise _bad("base_year belongs to a growth target and falls before its year", at=("base_year",),
                       value=self.base_year, allowed=f"a year before {self.year}, with kind: growth")
        if (self.from_year is None) == (k == "cumulative") or (self.from_year or 0) > self.year:
            raise _bad("a cumulative target (and only it) needs from_year, the first year summed, not after its year",
                       at=("from_year",), value=NULL if self.from_year is None else self.from_year,
                       allowed=f"a year up to {self.year}, with kind: cumulative")
        unit = unit_of(self.key, INDICATORS)
        if k != "level" and self.unit != unit:
            raise _bad(f"the unit of this {k} target is {unit!r}", at=("unit",), value=self.unit, allowed=unit)
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
            raise _bad("the rank must not exceed the number of zones ranked", at=("rank",), value=self.rank,
                       allowed=f"1 to {self.zones}")
        return self


class LocalName(Strict):
    zh: str
    en: str


def _check_keys(v: dict, known, required, what: str) -> dict:
    """Reject unknown keys (with the closest valid one) and report missing required keys."""
    for key in v:
        if key not in known:
            raise _bad(f"unknown {what} {key!r}{closest(key, known)}", at=(key,),
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
            raise _bad(hint[0], at=where, value=v, allowed=hint[1])
        raise _bad(f"must be {kind}", at=where, value=NULL if v is None else v, allowed=limits)
    if not math.isfinite(v) or not lo <= v <= hi or (integer and v != int(v)):
        raise _bad(f"must be {kind} {span}", at=where, value=v, allowed=limits)
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
                raise _bad("must be [low, high]", at=at, value=NULL if v is None else v,
                           allowed=f"two numbers from {_num(lo)} to {_num(hi)} ({unit}), low <= high")
            for i, x in enumerate(v):
                _number(x, key, unit, lo, hi, at=(*at, i))
            if v[0] > v[1]:
                raise _bad("low must not exceed high", at=at, value=v, allowed="[low, high] with low <= high")
        else:   # shares by grant year
            if not isinstance(v, dict) or not v:
                raise _bad("must map grant years to shares", at=at, value=NULL if v is None else v,
                           allowed="{year: share, ...}, shares summing to 1")
            for year, share in v.items():
                if isinstance(year, bool) or not isinstance(year, int) or (base_year and not
                                                                           base_year - 10 < year <= base_year):
                    raise _bad("grant years must be years up to the base year", at=(*at, year), value=year,
                               allowed=f"years from {base_year - 9} to {base_year}" if base_year else "years")
                _number(share, key, unit, lo, hi, at=(*at, year))
            total = sum(v.values())
            if abs(total - 1.0) > 0.01:
                raise _bad(f"shares must sum to 1, sum to {total:g}", at=at, value=v, allowed="shares summing to 1")


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

    @field_validator("policy_catalogues")
    @classmethod
    def _catalogue_names(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if not re.fullmatch(FILE_STEM, name):   # "../../x" would read a file outside the scenarios tree
                raise _bad("must name a file in the policies folder (no folders, no '..')", at=(i,), value=name,
                           allowed="a catalogue name such as 000_qiqihar")
        return v

    @field_validator("baseline")
    @classmethod
    def _baseline_complete(cls, v: dict[str, Figure]) -> dict[str, Figure]:
        _check_keys(v, INDICATORS, REQUIRED_BASELINE, "indicator")
        for key, fig in v.items():
            unit = INDICATORS[key].unit
            positive = key in ("gdp", "revenue")
            if fig.value < 0 or (positive and fig.value <= 0):
                raise _bad("must be > 0" if positive else "must be >= 0", at=(key, "value"), value=fig.value,
                           allowed=f"{'a positive' if positive else 'a non-negative'} number ({unit})")
            if unit == "%" and fig.value > 100:
                raise _bad("a percentage must not exceed 100", at=(key, "value"), value=fig.value,
                           allowed="0 to 100 (%)")
            if key == "rd_intensity" and fig.value >= 100:   # R&D spending at or above GDP: no economy
                raise _bad("R&D spending cannot reach GDP (R&D intensity >= 100 %)", at=(key, "value"),
                           value=fig.value, allowed="below 100 (% of GDP)")
            if unit in _COUNT_UNITS and fig.value != int(fig.value):
                raise _bad("a count must be a whole number", at=(key, "value"), value=fig.value,
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
            if not self.base_year < t.year <= 2100:
                raise _bad("a target year must fall after the base year", at=("targets", i, "year"), value=t.year,
                           allowed=f"{self.base_year + 1} to 2100")
            for field in ("base_year", "from_year"):
                first = getattr(t, field)
                if first is not None and first < self.base_year:
                    raise _bad(f"{field} must not fall before the region's base year", at=("targets", i, field),
                               value=first, allowed=f"{self.base_year} to {t.year}")
            if t.kind in ("level", "share") and INDICATORS[t.key].unit == "%" and t.value > 100:
                raise _bad("a percentage must not exceed 100", at=("targets", i, "value"), value=t.value,
                           allowed="0 to 100 (%)")
            if t.indicator == "rd_intensity" and t.value >= 100:   # unreachable by construction
                raise _bad("R&D spending cannot reach GDP, so this target is unreachable", at=("targets", i, "value"),
                           value=t.value, allowed="below 100 (% of GDP)")
            if t.indicator == "national_rank" and (t.value < 1 or t.value != int(t.value) or (
                    self.ranking is not None and t.value > self.ranking.zones)):   # no zone ranks 0th or 1.5th
                zones = f" to {self.ranking.zones} (the zones ranked)" if self.ranking is not None else " or more"
                raise _bad("a rank target must be a place in the ranking, else it is unreachable",
                           at=("targets", i, "value"), value=t.value, allowed=f"a whole number from 1{zones}")
        return self

    def pop(self, key: str) -> Any:
        """Value of a population assumption."""
        return self.population[key].value

    def base(self, indicator: str) -> float:
        """Baseline value of an indicator, in the indicator's unit."""
        return self.baseline[indicator].value


# ------------------------------------------------------------ policy catalogue
TARGET_GROUPS = ("firms", "incubators", "institutes", "talent", "inventors", "alliances", "zone", "all")
YEAR = Field(default=None, ge=1990, le=2100)


class InstrumentSpec(Strict):
    """One quantified instrument as transcribed from a document.

    ``type`` is the instrument family (``simulator.policy.instruments.INSTRUMENT_TYPES`` for those
    the model pays). Entries with ``modelled: false`` are listed by ``innosim policies``
    with the reason, and not paid.
    """

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    type: str
    modelled: bool = True
    not_modelled_because: str = ""
    clause: str
    quote: str = Field(min_length=4)
    targets: Literal[TARGET_GROUPS]  # type: ignore[valid-type]
    trigger: str
    rule: str = ""
    payer: str | None = None
    start_year: int | None = YEAR
    end_year: int | None = YEAR
    params: dict[str, float | str | list[float]] = {}
    reading: str = ""

    @field_validator("params")
    @classmethod
    def _amounts(cls, v: dict[str, float | str | list[float]]) -> dict[str, float | str | list[float]]:
        for key, value in v.items():
            for i, x in enumerate(value if isinstance(value, list) else [value]):
                at = (key, i) if isinstance(value, list) else (key,)
                if isinstance(x, str):
                    hint = unit_problem(x, amount_unit(key))
                    if hint:
                        raise _bad(hint[0], at=at, value=x, allowed=hint[1])
                    if key not in TEXT_PARAMS:
                        raise _bad("must be a number", at=at, value=x,
                                   allowed=f"a non-negative number ({amount_unit(key)}); words only for "
                                           + ", ".join(TEXT_PARAMS))
                elif not 0 <= x <= MAX_AMOUNT:
                    raise _bad("must be a non-negative amount" if x < 0 else f"must not exceed {MAX_AMOUNT:g}",
                               at=at, value=x, allowed=f"0 to {MAX_AMOUNT:g} ({amount_unit(key)})")
        return v

    @model_validator(mode="after")
    def _reason_when_not_modelled(self) -> InstrumentSpec:
        if not self.modelled and not self.not_modelled_because:
            raise ValueError(f"{self.id}: not_modelled_because is required when modelled is false")
        _years_in_order(self.start_year, self.end_year)
        return self


def _years_in_order(start: int | None, end: int | None) -> None:
    """An instrument ending before it starts would never pay: refused (the end year is named)."""
    if start is not None and end is not None and end < start:
        raise _bad("ends before it starts", at=("end_year",), value=end, allowed=f">= start_year ({start})")


class Catalogue(Strict):
    """A policy catalogue file: the quantified instruments of one seed document."""

    document: str
    title: str = ""
    issued: dt.date | None = None
    payer: str
    instruments: list[InstrumentSpec]

    @field_validator("instruments")
    @classmethod
    def _unique_ids(cls, v: list[InstrumentSpec]) -> list[InstrumentSpec]:
        ids = [i.id for i in v]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            second = [k for k, i in enumerate(ids) if i == dupes[0]][1]
            raise _bad(f"duplicate instrument ids {dupes}", at=(second, "id"), value=dupes[0],
                       allowed="one entry per id")
        return v


# ---------------------------------------------------------------- scenario file
class InstrumentSetting(Strict):
    """A scenario's setting for one catalogue instrument.

    ``budget`` (万元 a year, optional) caps what the instrument pays in a year;
    when claims exceed it every claimant gets the same share of its claim
    (pro-rata rationing).
    """

    enabled: bool = True
    scale: float = Field(default=1.0, ge=0, le=MAX_SCALE)
    budget: float | None = Field(default=None, ge=0, le=MAX_AMOUNT, json_schema_extra={"unit": "万元 a year"})
    start_year: int | None = YEAR
    end_year: int | None = YEAR
    params: dict[str, float] = {}

    @field_validator("params")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        for key, value in v.items():
            if not math.isfinite(value) or not 0 <= value <= MAX_AMOUNT:
                raise _bad("must be a non-negative amount" if not value > MAX_AMOUNT
                           else f"must not exceed {MAX_AMOUNT:g}", at=(key,), value=value,
                           allowed=f"0 to {MAX_AMOUNT:g} ({amount_unit(key)})")
        return v

    @model_validator(mode="after")
    def _years(self) -> InstrumentSetting:
        _years_in_order(self.start_year, self.end_year)
        return self


NO_POLICY = "no_policy"
#: alphabets with letters that look like each other (Latin 'a', Cyrillic 'а', Greek 'α'): a variant name
#: may use one of them (with digits, '_', '-' and other scripts such as Chinese), not several
_LOOKALIKE_SCRIPTS = {"LATIN", "CYRILLIC", "GREEK"}


class Variant(Strict):
    """A named change to the base scenario: instrument settings and parameter overrides on top of it."""

    #: what the variant changes, as charts name it: ``{zh: ..., en: ...}``, or one text for both languages
    description: str | LocalName = ""
    policies: dict[str, InstrumentSetting] = {}
    parameters: dict[str, Any] = {}


class Scenario(Strict):
    """A scenario file: which region, which years, which policies, which seed, which variants.

    Every scenario is run as ``base`` (its own settings), ``no_policy`` (every
    instrument of the region's catalogues switched off: the counterfactual,
    added automatically) and each named variant. Replicate k of every variant
    uses the same random streams (common random numbers).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    title: LocalName | None = None
    region: str
    #: folder holding the regions/ and policies/ this scenario uses, relative to this file (default:
    #: the file's own folder); set by ``innosim optimise`` on a chosen mix kept in its output folder
    scenario_dir: str | None = None
    horizon: int = Field(default=2035, ge=1990, le=2100)
    seed: int = Field(default=0, ge=0)
    replicates: int = Field(default=10, ge=1, le=100_000)
    policies: dict[str, InstrumentSetting] = {}
    parameters: dict[str, Any] = {}
    #: replicates draw calibrated behavioural parameters from calibration/calibrated.yaml
    parameter_uncertainty: bool = False
    variants: dict[str, Variant] = {}

    @field_validator("region")
    @classmethod
    def _region_name(cls, v: str) -> str:
        if not re.fullmatch(FILE_STEM, v):   # "../../x" would read a file outside the scenarios tree
            raise _bad("must name a file in the regions folder (no folders, no '..')", value=v,
                       allowed="a region name such as qiqihar_zone")
        return v

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, v: dict[str, Variant]) -> dict[str, Variant]:
        for name in v:
            if name in ("base", NO_POLICY):
                raise _bad(f"variant name {name!r} is reserved (base = the scenario itself, "
                           f"{NO_POLICY} = every instrument off, both run automatically)", at=(name,),
                           allowed="any other name")
            if not name.replace("_", "").replace("-", "").isalnum():
                raise _bad(f"variant name {name!r} must be letters, digits, '_' or '-'", at=(name,),
                           allowed="letters, digits, '_' or '-'")
        seen: dict[str, str] = {"base": "base", NO_POLICY: NO_POLICY}
        for name in v:
            letters = [(unicodedata.name(c, "?").split()[0], c) for c in name if c.isalpha()]
            scripts = sorted({script for script, _ in letters} & _LOOKALIKE_SCRIPTS)
            if len(scripts) > 1:   # 'dоuble' with a Cyrillic 'о' reads as 'double' but is another name
                rare = min(scripts, key=lambda sc: sum(script == sc for script, _ in letters))
                odd = next(c for script, c in letters if script == rare)
                raise _bad(f"variant name {name!r} mixes {' and '.join(sc.title() for sc in scripts)} letters that "
                           f"look alike (U+{ord(odd):04X} {unicodedata.name(odd)})", at=(name,),
                           allowed="letters of one of these alphabets")
            # names that differ only by case, width or look-alike compatibility characters
            # ('ｂａｓｅ', 'Ｈigh', 'ﬁscal' vs 'fiscal') would be two columns a reader cannot tell apart
            key = unicodedata.normalize("NFKC", name).casefold()
            if key in seen and seen[key] != name:
                raise _bad(f"variant name {name!r} differs from {seen[key]!r} only by case or look-alike "
                           "characters", at=(name,), allowed="names that read differently")
            seen[key] = name
        return v


# ------------------------------------------------------------------- loading
def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file ("is a directory", "file not found", a symbolic-link
    loop, a link to nothing, a device or pipe), or None when it is a regular file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links (the link points back to itself; ls -l shows where)"
        if path.is_symlink():
            return f"a symbolic link to a missing file ({os.readlink(path)})"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "file not found"
        return f"cannot read the file ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):   # a pipe or a device would block or never end
        return "not a regular file (a pipe, socket or device)"
    return None


def read_text(path: Path, what: str = "a UTF-8 text file", limit: int | None = None) -> str:
    """A file's text; a missing file, a folder, an unreadable one, one larger than ``limit`` bytes or bytes
    that are not UTF-8 become InputError."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise InputError(path, "", problem, allowed=f"an existing file ({what})")
    try:
        size = path.stat().st_size
        if limit is not None and size > limit:
            raise InputError(path, "", f"too large to be an input file ({size:,} bytes)".replace(",", " "),
                             allowed=f"{what} of at most {limit:,} bytes".replace(",", " "))
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "", f"cannot read the file ({exc.strerror})", allowed=what) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(path, "", f"not UTF-8 text (byte {raw[exc.start:exc.start + 1]!r} at byte offset "
                         f"{exc.start})", allowed=f"{what}; save the file as UTF-8", line=line) from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file: the data, with the line of every key registered for later messages.

    A missing file, non-UTF-8 bytes, a syntax error, an empty file, a duplicate key
    and NaN or infinity become an InputError with the line.
    """
    path = Path(path)
    forget_lines(path)
    data, where = parse_yaml(read_text(path, "a UTF-8 YAML file", MAX_YAML_BYTES), path)
    register_lines(path, where)
    return data


def parse_yaml(text: str, path: object = "<input>") -> tuple[Any, Where]:
    """YAML text -> (data, where every entry is written). Raises InputError (see :func:`load_yaml`)."""
    loader = None
    try:
        if len(text) > MAX_YAML_BYTES:
            raise InputError(path, "", f"too large to be an input file ({len(text)} characters)",
                             allowed=f"a YAML file of at most {MAX_YAML_BYTES} characters")
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise InputError(path, "", "the file is empty (or holds only comments)",
                             allowed="a YAML mapping of keys to values", line=1)
        _check_expansion(node, path)
        where = _index(loader, node, path, (), set(), {})
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        at = f" at column {mark.column + 1}" if mark else ""
        context = ""
        if exc.context and exc.context_mark and exc.problem and (mark is None or exc.context_mark.line != mark.line):
            context = f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        raise InputError(path, "", f"YAML syntax error{at}: {problem}{context}", allowed="valid YAML",
                         line=mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise InputError(path, "", f"YAML syntax error: character {char!r} is not allowed in YAML "
                         "(a control character?)", allowed="printable text", line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(path, "", f"YAML syntax error: {exc}", allowed="valid YAML") from None
    except RecursionError:
        raise InputError(path, "", "nested too deeply to read", allowed="a YAML mapping of keys to values") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, where


#: largest YAML input (the largest shipped file is ~25 kB)
MAX_YAML_BYTES = 2_000_000
#: most entries a YAML file may hold once its aliases are expanded, and most alias uses: an "alias
#: bomb" (anchors of anchors: a few lines that expand to billions of entries) is refused before it is
#: built (the largest shipped file holds ~3 000 entries and a handful of aliases)
MAX_YAML_NODES = 200_000
MAX_YAML_ALIASES = 1_000


def _check_expansion(root: yaml.Node, path: object) -> None:
    """Refuse a document whose aliases expand it beyond :data:`MAX_YAML_NODES` entries or that uses more
    than :data:`MAX_YAML_ALIASES` aliases. Counts with a memo per node, so the check itself is linear in
    the text, not in the expansion."""
    sizes: dict[int, int] = {}
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:                         # post-order without recursion (deep nesting is refused elsewhere)
        node, done = stack.pop()
        if id(node) in sizes and not done:
            aliases += 1                 # a node met again is an alias use
            if aliases > MAX_YAML_ALIASES:
                raise InputError(path, "", f"more than {MAX_YAML_ALIASES} alias uses (*name); refused as a "
                                 "possible alias bomb", allowed=f"at most {MAX_YAML_ALIASES} aliases")
            continue
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        else:
            kids = []
        if not done:
            sizes[id(node)] = 0          # being counted: a recursive alias adds nothing
            stack.append((node, True))
            stack.extend((k, False) for k in kids)
            continue
        sizes[id(node)] = 1 + sum(sizes.get(id(k), 0) for k in kids)
        if sizes[id(node)] > MAX_YAML_NODES:
            raise InputError(path, "", f"its aliases (*name) expand it to more than {MAX_YAML_NODES} entries; "
                             "refused as a possible alias bomb", allowed=f"at most {MAX_YAML_NODES} entries "
                             "once aliases are expanded", line=node.start_mark.line + 1)


_MERGE = "tag:yaml.org,2002:merge"
_FLOAT = "tag:yaml.org,2002:float"


def _index(loader: yaml.SafeLoader, node: yaml.Node, path: object, parts: tuple, stack: set, memo: dict) -> Where:
    """Where every entry below ``node`` is written; checks duplicate keys and non-finite numbers on the way."""
    line = node.start_mark.line + 1
    if id(node) in memo:
        return memo[id(node)]
    if id(node) in stack:           # a recursive alias
        return Where(line)
    stack = stack | {id(node)}
    dotted = ".".join(str(p) for p in parts)
    if isinstance(node, yaml.MappingNode):
        kids: dict[str, Where] = {}
        seen: dict[Any, int] = {}
        merged: dict[str, Where] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                inner = _index(loader, value_node, path, parts, stack, memo)
                for item in (inner.children if isinstance(inner.children, list) else [inner]):
                    if isinstance(item.children, dict):
                        for k, w in item.children.items():
                            merged.setdefault(k, w)
                continue
            key_line = key_node.start_mark.line + 1
            key: Any = None
            if isinstance(key_node, yaml.ScalarNode):
                key = _scalar(loader, key_node, path, dotted, key_line)
                try:
                    if key in seen:
                        raise InputError(path, ".".join(str(p) for p in (*parts, key)),
                                         f"duplicate key (first on line {seen[key]}); YAML would silently keep only "
                                         "the last", allowed="each key once per mapping", line=key_line)
                    seen[key] = key_line
                except TypeError:
                    pass
            child = _index(loader, value_node, path, (*parts, key), stack, memo)
            kids[str(key)] = Where(key_line, child.value, child.children)
        for k, w in merged.items():
            kids.setdefault(k, w)
        where = Where(line, children=kids)
    elif isinstance(node, yaml.SequenceNode):
        where = Where(line, children=[_index(loader, item, path, (*parts, i), stack, memo)
                                      for i, item in enumerate(node.value)])
    else:
        where = Where(line, value=_scalar(loader, node, path, dotted, line))
    memo[id(node)] = where
    return where


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, path: object, dotted: str, line: int) -> Any:
    try:
        value = loader.construct_object(node)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:   # e.g. a date such as 2023-02-30
        raise InputError(path, dotted, f"cannot read this value ({exc})", value=node.value,
                         allowed="a valid YAML value (quote it to make it text)", line=line) from None
    if node.tag == _FLOAT and isinstance(value, float) and not math.isfinite(value):
        raise InputError(path, dotted, "not a finite number", value=node.value, allowed="a finite number",
                         line=line)
    return value


def read_csv_checked(path: Path, columns: Mapping[str, str], required: Sequence[str] = (),
                     unit_of: Any = None, what: str = "a CSV table") -> tuple[list[dict[str, Any]], list[int]]:
    """Read and check a CSV table: UTF-8, a header of known columns, each cell of its kind.

    ``columns`` maps every allowed column to its kind: ``text``, ``text?`` (may be empty), ``int``,
    ``number`` or ``number?`` (may be empty: None). ``required`` columns must be present.
    ``unit_of(column, row)`` gives the unit a numeric cell implies (for "10万"). Returns the
    parsed rows and the line each starts on. Problems are InputErrors with the line, the row
    (its ``id`` where the table has one) and the column.
    """
    path = Path(path)
    text = read_text(path, what)
    if not text.strip():
        raise InputError(path, "", "the file is empty", allowed=f"{what} with a header row", line=1)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    header: list[str] | None = None
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or all(c.strip() == "" for c in record):
                continue
            if header is None:
                header = [c.strip() for c in record]
                _check_header(path, header, columns, required, line)
                continue
            if len(record) != len(header):
                raise InputError(path, "", f"{len(record)} fields where the header has {len(header)}", value=record,
                                 allowed="one field per column (quote a field that holds a comma)", line=line)
            raw = dict(zip(header, record, strict=True))
            label = raw.get("id", "").strip() or f"row {len(rows) + 1}"
            rows.append({c: _cell(path, c, raw[c], columns[c], label, line,
                                  unit_of(c, raw) if unit_of else None) for c in header})
            lines.append(line)
    except csv.Error as exc:
        raise InputError(path, "", f"not a valid CSV file ({exc})", allowed=what, line=reader.line_num) from None
    if header is None:
        raise InputError(path, "", "the file is empty", allowed=f"{what} with a header row", line=1)
    return rows, lines


def _check_header(path: Path, header: list[str], columns: Mapping[str, str], required: Sequence[str],
                  line: int) -> None:
    for col in header:
        if col not in columns:
            raise InputError(path, col or "(empty column name)", "unknown column" + closest(col, columns),
                             allowed=", ".join(columns), line=line)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise InputError(path, dupes[0], "duplicate column", allowed="each column once", line=line)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(path, ",".join(missing), "missing columns", allowed=", ".join(columns), line=line)


_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _cell(path: Path, column: str, cell: str, kind: str, label: str, line: int, unit: str | None) -> Any:
    field = f"{label}.{column}"
    value = cell.strip()
    if value == "":
        if kind.endswith("?"):
            return None
        raise InputError(path, field, "empty cell", allowed="a value", line=line)
    if kind.startswith("text"):
        return cell
    integer = kind == "int"
    if not _PLAIN_NUMBER.match(value) or (integer and not re.fullmatch(r"[+-]?\d+", value)):
        hint = unit_problem(value, unit, "an integer" if integer else "a plain number")
        if hint:
            raise InputError(path, field, hint[0], value=cell, allowed=hint[1], line=line)
        raise InputError(path, field, "not an integer" if integer else "not a number", value=cell,
                         allowed="an integer" if integer else "a plain number (digits, '.', optional exponent)",
                         line=line)
    return int(value) if integer else float(value)


# ------------------------------------------------------------------ validation
def validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    """Validate ``data`` against ``model``; raise InputError (with the line, where known) on the first problem."""
    path = Path(path)
    keys = ", ".join(model.model_fields)
    if data is None:
        raise InputError(path, "", "the file is empty (or holds only comments)", allowed=f"a mapping with keys {keys}")
    if not isinstance(data, dict):
        raise InputError(path, "", "expected a mapping of keys to values", value=type(data).__name__,
                         allowed=f"keys {keys}", line=line_of(path, ""))
    hit = _scan(model, data, ())
    if hit is not None:
        loc, problem, allowed, value = hit
        raise InputError(path, _dotted(data, loc), problem, value=value, allowed=allowed)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _input_error(model, data, path, _first(data, exc.errors())) from None


def _first(data: dict, errors: list[dict]) -> dict:
    """The error to report: of the first field with errors, the one reaching deepest into the data (in a
    union, the arm that matched the input's shape); an unknown key rather than the required key it misspells."""
    group = [e for e in errors if e["loc"][:1] == errors[0]["loc"][:1]]
    best = max(group, key=lambda e: len(_data_loc(data, e["loc"])))   # first of the deepest
    if best["type"] == "missing":
        for e in errors:
            if e["type"] == "extra_forbidden" and tuple(e["loc"][:-1]) == tuple(best["loc"][:-1]) and closest(
                    str(e["loc"][-1]), [str(best["loc"][-1])]):
                return e
    return best


def _input_error(model: type[BaseModel], data: dict, path: Path, err: dict) -> InputError:
    """The InputError for one pydantic error."""
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    raw = err.get("input")
    value: Any = NULL if raw is None else (None if _structured(raw) else raw)
    if kind == "innosim":
        loc = (*_data_loc(data, loc), *(p for p in str(ctx.get("at") or "").split(".") if p))
        bad = ctx.get("value")
        return InputError(path, _dotted(data, loc), str(ctx["problem"]),
                          value=None if _structured(bad) else bad, allowed=ctx.get("allowed"))
    if kind in ("missing", "extra_forbidden"):
        loc = (*_data_loc(data, loc[:-1]), loc[-1])
    if kind == "missing":
        owner = _owner(model, loc[:-1])
        required = [n for n, f in owner.model_fields.items() if f.is_required()] if owner else []
        return InputError(path, _dotted(data, loc), "required field is missing",
                          allowed=("required: " + ", ".join(required)) if required else None,
                          line=line_of(path, _dotted(data, loc[:-1])) if len(loc) > 1 else None)
    if kind == "extra_forbidden":
        owner = _owner(model, loc[:-1])
        valid = list(owner.model_fields) if owner else []
        return InputError(path, _dotted(data, loc), "unknown key" + closest(str(loc[-1]), valid),
                          allowed=", ".join(valid) or None)
    dloc = _data_loc(data, loc)
    field = _dotted(data, dloc)
    msg = err["msg"].removeprefix("Value error, ")
    info = _field_info(model, dloc)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return InputError(path, field, "not one of the allowed values" + closest(str(raw), choices), value=value,
                          allowed=str(ctx.get("expected", "")) or None)
    limits = _limits(info)
    for name, op in (("greater_than_equal", ">="), ("greater_than", ">"), ("less_than_equal", "<="),
                     ("less_than", "<")):
        if kind == name:
            limit = next(iter(ctx.values())) if ctx else ""
            limit = f"{limit:g}" if isinstance(limit, float) else limit
            return InputError(path, field, f"must be {op} {limit}", value=value, allowed=limits or f"{op} {limit}")
    if kind == "finite_number":
        return InputError(path, field, "must be a finite number", value=value, allowed=limits or "a finite number")
    if kind == "int_from_float":
        return InputError(path, field, "must be a whole number", value=value, allowed=limits or "an integer")
    if kind.endswith("_parsing") or kind.endswith("_type"):
        unit = _unit(dloc[-1], info, _at(data, dloc[:-1]), dloc[-2] if len(dloc) > 1 else None) if dloc else None
        hint = unit_problem(raw, unit, "an integer" if kind.startswith("int") else "a plain number")
        if hint and (kind.startswith("int") or kind.startswith("float")):
            return InputError(path, field, hint[0], value=value, allowed=hint[1])
        return InputError(path, field, "wrong type", value=value, allowed=_TYPE_WORDS.get(kind) or
                          msg.removeprefix("Input should be "))
    return InputError(path, field, msg, value=value)


def _structured(value: Any) -> bool:
    """A mapping, or a list holding mappings or lists: too long to quote as the bad value."""
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value))


_TYPE_WORDS = {
    "int_parsing": "an integer", "int_type": "an integer", "float_parsing": "a number", "float_type": "a number",
    "string_type": "text", "bool_parsing": "true or false", "bool_type": "true or false",
    "dict_type": "a mapping of keys to values", "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values", "list_type": "a list", "tuple_type": "a list",
    "date_parsing": "a date (YYYY-MM-DD)", "date_type": "a date (YYYY-MM-DD)", "date_from_datetime_parsing":
    "a date (YYYY-MM-DD)",
}


def _data_loc(data: Any, loc: Sequence[object]) -> tuple:
    """The parts of a pydantic ``loc`` that address ``data``: union tags such as ``'float'`` or
    ``'TargetSpec'`` (and a missing key) are left out."""
    out, cur = [], data
    for part in loc:
        if isinstance(cur, dict):
            key = part if part in cur else next((k for k in cur if str(k) == str(part)), _NOKEY)
            if key is _NOKEY:
                continue
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            continue
        out.append(part)
    return tuple(out)


_NOKEY = object()


def _dotted(data: Any, loc: Sequence[object]) -> str:
    """``loc`` as a dotted path; a list item with a unique ``id`` is named by it (``instruments.q000_m4_hte_award``)."""
    parts, cur = [], data
    for part in loc:
        if isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            item = cur[part]
            ident = item.get("id") if isinstance(item, dict) else None
            ids = [x.get("id") for x in cur if isinstance(x, dict)]
            parts.append(ident if isinstance(ident, str) and ident and ids.count(ident) == 1 else str(part))
            cur = item
            continue
        parts.append(str(part))
        cur = cur.get(part) if isinstance(cur, dict) else None
    return ".".join(parts)


def _field_info(model: type[BaseModel], loc: Sequence[object]):
    """The pydantic FieldInfo of the field at ``loc`` (or None)."""
    if not loc:
        return None
    owner = _owner(model, loc[:-1])
    return owner.model_fields.get(str(loc[-1])) if owner else None


def _limits(info) -> str | None:
    """'from 1 to 100000' from a field's ge/gt/le/lt constraints."""
    if info is None:
        return None
    lo = hi = None
    for m in getattr(info, "metadata", []):
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(m, attr, None) is not None:
                lo = (op, getattr(m, attr))
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                hi = (op, getattr(m, attr))
    if lo and hi and lo[0] == ">=" and hi[0] == "<=":
        return f"from {lo[1]} to {hi[1]}"
    text = " and ".join(f"{b[0]} {b[1]}" for b in (lo, hi) if b)
    return text or None


def _unit(name: object, info, parent: Any, parent_key: object = None) -> str | None:
    """The unit the field ``name`` implies: a sibling ``unit`` (region figures), an amount parameter's,
    the field's own (``json_schema_extra``), or :data:`FIELD_UNITS` by name."""
    name = str(name)
    if name == "value" and isinstance(parent, dict) and isinstance(parent.get("unit"), str):
        return parent["unit"]
    if str(parent_key) == "params":
        return amount_unit(name)
    extra = getattr(info, "json_schema_extra", None)
    if isinstance(extra, dict) and extra.get("unit"):
        return str(extra["unit"])
    return FIELD_UNITS.get(name)


def _at(data: Any, loc: Sequence[object]) -> Any:
    """The data at ``loc`` (None where it does not exist)."""
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


_PARAMS = object()   # marker: the children of a ``params`` mapping, whose unit depends on the key


def _scan(annotation: Any, value: Any, loc: tuple, unit: Any = None) -> tuple | None:
    """The first boolean, or number written with a unit, where only a number belongs.

    Pydantic turns ``true`` into 1 and reports "10万" as a parsing error; this walks the data
    along the model's annotations first so both get a clear message. Returns
    ``(loc, problem, allowed, value)`` or None.
    """
    annotation = _strip(annotation)
    origin = get_origin(annotation)
    if annotation is Any or origin is Literal:
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return None
        for key, item in value.items():
            info = annotation.model_fields.get(key) if isinstance(key, str) else None
            if info is None:
                continue
            sub = _PARAMS if key == "params" else _unit(key, info, value)
            hit = _scan(info.annotation, item, (*loc, key), sub)
            if hit:
                return hit
        return None
    if origin in (Union, types.UnionType):
        arms = [_strip(a) for a in get_args(annotation)]
        if isinstance(value, bool):
            if any(a is bool or a is Any for a in arms) or not any(a in (int, float) for a in arms):
                return None
            return _bool_hit(loc, value, unit)
        if isinstance(value, str) and str in arms:
            return None
        for arm in arms:
            if arm is not type(None):
                hit = _scan(arm, value, loc, unit)
                if hit:
                    return hit
        return None
    if origin is dict:
        args = get_args(annotation)
        if not isinstance(value, dict) or len(args) != 2:
            return None
        for key, item in value.items():
            hit = _scan(args[1], item, (*loc, key), amount_unit(key) if unit is _PARAMS else unit)
            if hit:
                return hit
        return None
    if origin in (list, tuple):
        args = get_args(annotation)
        if not isinstance(value, list):
            return None
        for i, item in enumerate(value):
            if origin is tuple and args and args[-1] is not Ellipsis:
                if i >= len(args):
                    return None
                arm = args[i]
            else:
                arm = args[0] if args else Any
            hit = _scan(arm, item, (*loc, i), unit)
            if hit:
                return hit
        return None
    if annotation in (int, float):
        unit = None if unit is _PARAMS else unit
        if isinstance(value, bool):
            return _bool_hit(loc, value, unit)
        hint = unit_problem(value, unit, "an integer" if annotation is int else "a plain number")
        if hint:
            return loc, hint[0], hint[1], value
    return None


def _bool_hit(loc: tuple, value: bool, unit: Any) -> tuple:
    unit = None if unit is _PARAMS else unit
    return (loc, "a boolean (true/false, yes/no, on/off) where a number belongs",
            f"a number ({unit})" if unit else "a number", value)


def _owner(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for key suggestions)."""
    current: Any = model
    skip_key = False
    for part in loc:
        if isinstance(part, int) or skip_key:   # a list index or a dict key: stay on the item's model
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        skip_key = get_origin(_strip(field.annotation)) is dict
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``Variant``, ``dict[str, Variant]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def load_region(path: Path) -> Region:
    """Load and validate a region file."""
    return validate(Region, load_yaml(path), Path(path))


def load_catalogue(path: Path) -> Catalogue:
    """Load and validate a policy catalogue file (parsed once per file version: every model of
    an ensemble builds its instruments from it)."""
    path = Path(path)
    if not path.is_file():
        return validate(Catalogue, load_yaml(path), path)   # raises "file not found"
    stat = path.stat()
    return _load_catalogue(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load_catalogue(path: str, mtime_ns: int, size: int) -> Catalogue:
    return validate(Catalogue, load_yaml(Path(path)), Path(path))


def apply_options(scenario: Scenario, **options: Any) -> Scenario:
    """``scenario`` with command-line overrides (``seed``, ``replicates``, ``horizon``; None = keep) applied and
    validated as a file's values are; a bad one is an InputError naming the option (``--replicates``)."""
    updates = {k: v for k, v in options.items() if v is not None}
    if not updates:
        return scenario
    data = {**scenario.model_dump(), **updates}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = _first(data, exc.errors())
        raise _input_error(Scenario, data, Path(f"--{err['loc'][0]}"), err) from None


def load_scenario(path: Path) -> Scenario:
    """Load and validate a scenario file (its region and policies are checked in
    :func:`simulator.experiments.runner.prepare`)."""
    return validate(Scenario, load_yaml(path), Path(path))

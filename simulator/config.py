"""Scenario, region and policy-catalogue files: loading and strict validation.

Every file is read with :func:`load_yaml` and validated by a pydantic model
that forbids unknown keys. Any problem becomes an
:class:`~simulator.errors.InputError` naming the file, the field path, the bad
value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError, closest
from .indicators import INDICATORS

REQUIRED_BASELINE = ("gdp", "revenue", "hightech_output_share", "rd_intensity", "hte_count",
                     "tech_contract_value", "national_incubators", "national_rd_institutions",
                     "little_giants")
REQUIRED_POPULATION = ("n_firms", "revenue_sigma", "other_gdp_share", "institute_rd_share",
                       "hte_grant_year_shares", "hte_revenue_range", "little_giants", "zjtx_firms",
                       "local_purchase_share", "rd_active_share", "age_mean", "incubator_occupancy")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        return v


class Target(Figure):
    indicator: str
    year: int

    @field_validator("indicator")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in INDICATORS:
            raise ValueError(f"unknown indicator {v!r}{closest(v, INDICATORS)}")
        return v


class Assumption(Strict):
    value: Any
    source: str


class Sector(Strict):
    id: str
    zh: str
    industrial: bool
    firm_share: float = Field(ge=0, le=1)
    size: float = Field(gt=0)
    va_ratio: float = Field(gt=0, le=1)
    hightech_prior: float = Field(ge=0, le=1)
    rd_prior: float = Field(ge=0, le=1)
    source: str


class Carrier(Strict):
    kind: Literal["incubator", "maker_space", "accelerator"]
    level: Literal["municipal", "provincial", "national"]
    capacity: int = Field(ge=1)
    graduates: int = Field(ge=0)
    count: int = Field(ge=0)


class CarrierGroup(Strict):
    source: str
    carriers: list[Carrier]
    capacity_source: str


class InstituteSpec(Strict):
    kind: Literal["university", "research_institute", "new_type_rd_institution", "national_rd_institution"]
    level: Literal["municipal", "provincial", "national"]
    count: int = Field(ge=0)
    rd_weight: float = Field(gt=0)
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


class LocalName(Strict):
    zh: str
    en: str


def _check_keys(v: dict, known, required, what: str) -> dict:
    """Reject unknown keys (with the closest valid one) and report missing required keys."""
    for key in v:
        if key not in known:
            raise ValueError(f"unknown {what} {key!r}{closest(key, known)}")
    missing = [k for k in required if k not in v]
    if missing:
        raise ValueError(f"lacks {missing}; required: {list(required)}")
    return v


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
    sectors: list[Sector]
    incubators: CarrierGroup
    institutes: InstituteGroup
    ranking: Ranking | None = None

    @field_validator("baseline")
    @classmethod
    def _baseline_complete(cls, v: dict[str, Figure]) -> dict[str, Figure]:
        return _check_keys(v, INDICATORS, REQUIRED_BASELINE, "indicator")

    @field_validator("population")
    @classmethod
    def _population_complete(cls, v: dict[str, Assumption]) -> dict[str, Assumption]:
        return _check_keys(v, REQUIRED_POPULATION, REQUIRED_POPULATION, "assumption")

    @field_validator("sectors")
    @classmethod
    def _shares_sum_to_one(cls, v: list[Sector]) -> list[Sector]:
        total = sum(s.firm_share for s in v)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"firm_share must sum to 1 over sectors, sums to {total:.6f}")
        return v

    def pop(self, key: str) -> Any:
        """Value of a population assumption."""
        return self.population[key].value

    def base(self, indicator: str) -> float:
        """Baseline value of an indicator, in the indicator's unit."""
        return self.baseline[indicator].value


# ------------------------------------------------------------ policy catalogue
TARGET_GROUPS = ("firms", "incubators", "institutes", "talent", "inventors", "alliances", "zone", "all")


class InstrumentSpec(Strict):
    """One quantified instrument as transcribed from a document.

    ``type`` is the instrument family (``simulator.policies.INSTRUMENT_TYPES`` for those
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
    start_year: int | None = None
    end_year: int | None = None
    params: dict[str, float | str | list[float]] = {}
    reading: str = ""

    @model_validator(mode="after")
    def _reason_when_not_modelled(self) -> InstrumentSpec:
        if not self.modelled and not self.not_modelled_because:
            raise ValueError(f"{self.id}: not_modelled_because is required when modelled is false")
        return self


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
            raise ValueError(f"duplicate instrument ids {dupes}")
        return v


# ---------------------------------------------------------------- scenario file
class InstrumentSetting(Strict):
    """A scenario's setting for one catalogue instrument.

    ``budget`` (万元 a year, optional) caps what the instrument pays in a year;
    when claims exceed it every claimant gets the same share of its claim
    (pro-rata rationing).
    """

    enabled: bool = True
    scale: float = Field(default=1.0, ge=0)
    budget: float | None = Field(default=None, ge=0)
    start_year: int | None = None
    end_year: int | None = None
    params: dict[str, float] = {}

    @field_validator("params")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        for key, value in v.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"params.{key} must be a non-negative amount, got {value!r}")
        return v


NO_POLICY = "no_policy"


class Variant(Strict):
    """A named change to the base scenario: instrument settings and parameter overrides on top of it."""

    description: str = ""
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
    horizon: int = Field(default=2035, ge=1990, le=2100)
    seed: int = Field(default=0, ge=0)
    replicates: int = Field(default=10, ge=1, le=100_000)
    policies: dict[str, InstrumentSetting] = {}
    parameters: dict[str, Any] = {}
    #: replicates draw calibrated behavioural parameters from calibration/calibrated.yaml
    parameter_uncertainty: bool = False
    variants: dict[str, Variant] = {}

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, v: dict[str, Variant]) -> dict[str, Variant]:
        for name in v:
            if name in ("base", NO_POLICY):
                raise ValueError(f"variant name {name!r} is reserved (base = the scenario itself, "
                                 f"{NO_POLICY} = every instrument off, both run automatically)")
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"variant name {name!r} must be letters, digits, '_' or '-'")
        return v


# ------------------------------------------------------------------- loading
def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning a missing file or a syntax error into InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "file not found", allowed="an existing YAML file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(path, where, f"YAML syntax error: {problem}", allowed="valid YAML") from None
    except UnicodeDecodeError:
        raise InputError(path, "", "not UTF-8 text", allowed="a UTF-8 YAML file") from None


def validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    """Validate ``data`` against ``model``; raise InputError on the first problem."""
    if not isinstance(data, dict):
        raise InputError(path, "", "expected a mapping of keys to values", value=type(data).__name__,
                         allowed=f"keys {list(model.model_fields)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            owner = _owner(model, err["loc"][:-1])
            valid = list(owner.model_fields) if owner else []
            key = str(err["loc"][-1])
            raise InputError(path, loc, "unknown key" + closest(key, valid),
                             allowed=", ".join(valid) or None) from None
        if err["type"] == "missing":
            raise InputError(path, loc, "required field is missing") from None
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        allowed = None
        if "greater_than_equal" in err["type"] or "greater_than" in err["type"]:
            allowed = f">= {err['ctx'].get('ge', err['ctx'].get('gt'))}"
        if err["type"].endswith("_parsing") or err["type"].endswith("_type"):
            allowed = msg.removeprefix("Input should be ")
            msg = "wrong type"
        raise InputError(path, loc, msg, value=value if not isinstance(value, dict) else None,
                         allowed=allowed) from None


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
        skip_key = getattr(field.annotation, "__origin__", None) is dict
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


def load_scenario(path: Path) -> Scenario:
    """Load and validate a scenario file (its region and policies are checked in
    :func:`simulator.runner.prepare`)."""
    return validate(Scenario, load_yaml(path), Path(path))

"""The scenario file's schema: region, years, seed, policy settings and variants; command-line overrides."""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from simulator.inputs.reading import load_yaml
from simulator.inputs.schema import (
    FILE_STEM,
    MAX_AMOUNT,
    MAX_SCALE,
    YEAR,
    LocalName,
    Strict,
    amount_unit,
    invalid,
    years_in_order,
)
from simulator.inputs.validation import first_error, input_error, validate


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
                raise invalid("must be a non-negative amount" if not value > MAX_AMOUNT
                              else f"must not exceed {MAX_AMOUNT:g}", at=(key,), value=value,
                              allowed=f"0 to {MAX_AMOUNT:g} ({amount_unit(key)})")
        return v

    @model_validator(mode="after")
    def _years(self) -> InstrumentSetting:
        years_in_order(self.start_year, self.end_year)
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
            raise invalid("must name a file in the regions folder (no folders, no '..')", value=v,
                          allowed="a region name such as qiqihar_zone")
        return v

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, v: dict[str, Variant]) -> dict[str, Variant]:
        for name in v:
            if name in ("base", NO_POLICY):
                raise invalid(f"variant name {name!r} is reserved (base = the scenario itself, "
                              f"{NO_POLICY} = every instrument off, both run automatically)", at=(name,),
                              allowed="any other name")
            if not name.replace("_", "").replace("-", "").isalnum():
                raise invalid(f"variant name {name!r} must be letters, digits, '_' or '-'", at=(name,),
                              allowed="letters, digits, '_' or '-'")
        seen: dict[str, str] = {"base": "base", NO_POLICY: NO_POLICY}
        for name in v:
            letters = [(unicodedata.name(c, "?").split()[0], c) for c in name if c.isalpha()]
            scripts = sorted({script for script, _ in letters} & _LOOKALIKE_SCRIPTS)
            if len(scripts) > 1:   # 'dоuble' with a Cyrillic 'о' reads as 'double' but is another name
                rare = min(scripts, key=lambda sc: sum(script == sc for script, _ in letters))
                odd = next(c for script, c in letters if script == rare)
                raise invalid(f"variant name {name!r} mixes {' and '.join(sc.title() for sc in scripts)} letters that "
                              f"look alike (U+{ord(odd):04X} {unicodedata.name(odd)})", at=(name,),
                              allowed="letters of one of these alphabets")
            # names that differ only by case, width or look-alike compatibility characters
            # ('ｂａｓｅ', 'Ｈigh', 'ﬁscal' vs 'fiscal') would be two columns a reader cannot tell apart
            key = unicodedata.normalize("NFKC", name).casefold()
            if key in seen and seen[key] != name:
                raise invalid(f"variant name {name!r} differs from {seen[key]!r} only by case or look-alike "
                              "characters", at=(name,), allowed="names that read differently")
            seen[key] = name
        return v


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
        err = first_error(data, exc.errors())
        raise input_error(Scenario, data, Path(f"--{err['loc'][0]}"), err) from None


def load_scenario(path: Path) -> Scenario:
    """Load and validate a scenario file (its region and policies are checked in
    :func:`simulator.experiments.prepared.prepare`)."""
    return validate(Scenario, load_yaml(path), Path(path))

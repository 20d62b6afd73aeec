"""The optimiser's spec file: levers with their bounds, required targets, probability or budget, search budget."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.errors import closest, unit_problem
from simulator.inputs.reading import load_yaml
from simulator.inputs.schema import FIELD_UNITS, amount_unit
from simulator.inputs.validation import validate
from simulator.model.indicators import INDICATORS

Range = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _range(v, what: str):
    for x in (v if isinstance(v, (list, tuple)) else [v]):
        unit = amount_unit(what.removeprefix("params.")) if what.startswith("params.") else FIELD_UNITS.get(what)
        hint = unit_problem(x, unit)
        if hint:
            raise ValueError(f"{what}: {hint[0]}; write {hint[1]}")
        if isinstance(x, bool):
            raise ValueError(f"{what} must be a number or [low, high], not a boolean")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        if not all(math.isfinite(x) for x in v) or v[0] > v[1]:
            raise ValueError(f"{what} must be [low, high] with low <= high")
        return (v[0], v[1])
    raise ValueError(f"{what} must be a number or [low, high]")


class LeverSpec(_Strict):
    """What may change in one instrument: a number fixes it, ``[low, high]`` lets the optimiser choose."""

    scale: Range | None = None
    start_year: tuple[int, int] | None = None
    end_year: tuple[int, int] | None = None
    params: dict[str, Range] = {}

    @field_validator("scale", "start_year", "end_year", mode="before")
    @classmethod
    def _as_range(cls, v, info):
        return None if v is None else _range(v, info.field_name)

    @field_validator("scale")
    @classmethod
    def _scale(cls, v):
        if v is not None and v[0] < 0:
            raise ValueError("scale must be >= 0")
        return v

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, v):
        if not isinstance(v, dict):
            raise ValueError("params must map amount names to a number or [low, high]")
        out = {}
        for k, x in v.items():
            r = _range(x, f"params.{k}")
            if r[0] < 0:
                raise ValueError(f"params.{k} must be a non-negative amount, got {list(r)}")
            out[k] = r
        return out

    @model_validator(mode="after")
    def _something(self):
        if self.scale is None and self.start_year is None and self.end_year is None and not self.params:
            raise ValueError("a lever needs at least one of scale, start_year, end_year, params")
        return self


class TargetSpec(_Strict):
    """A target of the planner's own (not the plan's): indicator, year, value."""

    indicator: str
    year: int
    value: float

    @field_validator("indicator")
    @classmethod
    def _known(cls, v):
        if v not in INDICATORS:
            raise ValueError(f"unknown indicator{closest(v, INDICATORS)}")
        return v


class OptimiseSpec(_Strict):
    """An optimiser spec file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    scenario: str
    targets: Literal["all"] | list[str | TargetSpec] = "all"
    probability: float = Field(default=0.8, gt=0, le=1)
    budget: float | None = Field(default=None, ge=0)
    levers: dict[str, LeverSpec]
    replicates: int = Field(default=20, ge=1, le=10_000)
    trials: int = Field(default=60, ge=3, le=100_000)
    batch: int = Field(default=8, ge=1, le=1000)
    seed: int = Field(default=0, ge=0)
    scenario_out: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]+\.yaml$")

    @field_validator("levers")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("name at least one instrument the optimiser may change")
        return v


def load_spec(path: str | Path) -> OptimiseSpec:
    """Load and validate a spec file (InputError on any problem)."""
    return validate(OptimiseSpec, load_yaml(Path(path)), Path(path))

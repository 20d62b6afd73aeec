"""Default model parameters with unit, bounds and source, and validated overrides.

All defaults live in ``simulator/data/parameters.yaml``. A scenario may
override any of them by name; unknown names and out-of-bounds values are
rejected with an :class:`~simulator.errors.InputError`.

Example:
    >>> from simulator.parameters import Parameters
    >>> p = Parameters.defaults().with_overrides({"rd_price_elasticity": -1.0})
    >>> p.rd_price_elasticity
    -1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .errors import InputError, closest

KINDS = ("national_rule", "evidence", "assumption", "calibrated")


@dataclass(frozen=True)
class ParameterSpec:
    """Description of one parameter: default value, unit, bounds, kind, source."""

    name: str
    value: Any
    unit: str
    bounds: tuple[float, float]
    kind: str
    source: str


@lru_cache(maxsize=1)
def parameter_specs() -> dict[str, ParameterSpec]:
    """Read the parameter table shipped with the package (cached)."""
    text = resources.files("simulator").joinpath("data/parameters.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    specs = {}
    for name, entry in raw.items():
        if entry["kind"] not in KINDS:
            raise ValueError(f"parameters.yaml: {name}.kind must be one of {KINDS}")
        specs[name] = ParameterSpec(name=name, value=entry["value"], unit=entry["unit"],
                                    bounds=tuple(entry["bounds"]), kind=entry["kind"],
                                    source=entry["source"])
    return specs


def _check_number(name: str, value: Any, bounds: tuple[float, float], origin: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(origin, f"parameters.{name}", "must be a finite number",
                         value=value, allowed=f"a number in [{bounds[0]}, {bounds[1]}]")
    if not bounds[0] <= value <= bounds[1]:
        raise InputError(origin, f"parameters.{name}", "out of bounds", value=value,
                         allowed=f"[{bounds[0]}, {bounds[1]}]")
    return value


class Parameters:
    """Read-only bag of parameter values with attribute access.

    Agents read values as ``model.params.<name>``. Build one with
    :meth:`defaults` and derive variants with :meth:`with_overrides`.
    """

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    @classmethod
    def defaults(cls) -> Parameters:
        """Parameters at their documented default values."""
        return cls({name: spec.value for name, spec in parameter_specs().items()})

    def with_overrides(self, overrides: dict[str, Any] | None, origin: str = "<overrides>") -> Parameters:
        """Return a copy with some values replaced, each checked against its bounds.

        Args:
            overrides: name -> new value.
            origin: file name used in error messages.

        Raises:
            InputError: unknown name, wrong type or value outside bounds.
        """
        specs = parameter_specs()
        values = dict(self._values)
        for name, value in (overrides or {}).items():
            if name not in specs:
                raise InputError(origin, f"parameters.{name}", "unknown parameter" + closest(name, specs),
                                 allowed="see `innosim parameters`")
            spec = specs[name]
            if isinstance(spec.value, list):
                if not isinstance(value, list) or len(value) != len(spec.value):
                    raise InputError(origin, f"parameters.{name}", "must be a list",
                                     value=value, allowed=f"{len(spec.value)} numbers")
                value = [_check_number(name, v, spec.bounds, origin) for v in value]
            else:
                value = _check_number(name, value, spec.bounds, origin)
            values[name] = value
        return Parameters(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}{closest(name, self._values)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Parameters are read-only; use with_overrides()")

    def __getstate__(self) -> dict[str, Any]:
        return self._values

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", state)

    def to_dict(self) -> dict[str, Any]:
        """Plain copy of all values (for manifests)."""
        return dict(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parameters) and self._values == other._values

    def __repr__(self) -> str:
        return f"Parameters({len(self._values)} values)"

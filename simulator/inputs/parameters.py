"""Default model parameters with unit, bounds and source, and validated overrides.

The priors live in ``simulator/data/parameters.yaml``. Where a calibration has been
run, ``calibration/calibrated.yaml`` overlays its values on them: those parameters
become ``kind: calibrated`` (their source names the calibration and keeps the prior's
source) and are what :meth:`Parameters.defaults` returns, so every scenario uses them.
Set the environment variable ``INNOSIM_CALIBRATED`` to another file, or to ``none``
for the priors alone. A scenario may override any parameter by name; unknown names
and out-of-bounds values are rejected with an :class:`~simulator.errors.InputError`.

Example:
    >>> from simulator.inputs.parameters import Parameters
    >>> p = Parameters.defaults().with_overrides({"rd_price_elasticity": -1.0})
    >>> p.rd_price_elasticity
    -1.0
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simulator.errors import InputError, closest, unit_problem
from simulator.inputs.reading import load_yaml

KINDS = ("national_rule", "evidence", "assumption", "calibrated")

#: years of firm history the model keeps (revenue, R&D, graduate-allowance cohorts; a fixed national rule, not a
#: parameter): the HTE R&D test uses the last three (国科发火〔2016〕32号 第11条(五)), and the graduate allowance pays
#: for three years (000 第9条), so an allowance may pay for at most this many
HISTORY = 3


@dataclass(frozen=True)
class ParameterSpec:
    """Description of one parameter: default value, unit, bounds, kind, source."""

    name: str
    value: Any
    unit: str
    bounds: tuple[float, float]
    kind: str
    source: str


#: calibrated values used by default: calibration/calibrated.yaml of the source tree
CALIBRATED = Path(__file__).resolve().parents[2] / "calibration" / "calibrated.yaml"


def calibrated_path() -> Path | None:
    """The calibrated.yaml overlaid on the priors, or None (``INNOSIM_CALIBRATED=none`` or no file)."""
    env = os.environ.get("INNOSIM_CALIBRATED")
    if env is not None:
        return None if env.strip().lower() in ("", "none", "0", "false") else Path(env)
    return CALIBRATED if CALIBRATED.is_file() else None


@lru_cache(maxsize=4)
def _calibrated(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    doc = load_yaml(Path(path))   # (lines of every key registered for messages)
    if not isinstance(doc, dict) or not isinstance(doc.get("parameters") or {}, dict):
        raise InputError(path, "" if not isinstance(doc, dict) else "parameters",
                         "expected a mapping of parameter names to {value: ...}", value=type(doc).__name__,
                         allowed="a calibrated.yaml as written by `innosim calibrate`")
    if doc.get("small_budget"):
        return {}   # a test-budget calibration is never a default
    return doc


def calibrated_document() -> dict[str, Any]:
    """Content of the calibrated.yaml in use ({} when none)."""
    path = calibrated_path()
    return _calibrated(str(path) if path else None)


def calibrated_draw(seed: int, replicate: int) -> dict[str, float]:
    """Behavioural parameters of ``replicate`` drawn from the calibrated distribution ({} if none).

    One stored draw of calibrated.yaml, chosen by ``(seed, replicate)`` alone, so every
    variant of a scenario gets the same parameters in replicate k (common random numbers).
    """
    draws = calibrated_document().get("draws") or {}
    values = draws.get("values") or []
    if not values:
        return {}
    rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(replicate, 1)))
    row = values[int(rng.integers(len(values)))]
    return dict(zip(draws["columns"], row, strict=True))


def parameter_specs() -> dict[str, ParameterSpec]:
    """Parameter table: priors with the calibrated values overlaid (see module docstring)."""
    specs = dict(prior_specs())
    path = calibrated_path()
    doc = _calibrated(str(path) if path else None)
    for name, entry in (doc.get("parameters") or {}).items():
        if name not in specs:
            raise InputError(str(path), f"parameters.{name}", "unknown parameter" + closest(name, specs),
                             allowed="see `innosim parameters`")
        prior = specs[name]
        if not isinstance(entry, dict) or "value" not in entry:
            raise InputError(str(path), f"parameters.{name}", "lacks a value", allowed="{value: <number>, ...}")
        value = _check_number(name, entry["value"], prior.bounds, str(path), prior.unit)
        try:   # as the repository names it (calibration/calibrated.yaml), so the source resolves in a clone
            shown = Path(path).resolve().relative_to(CALIBRATED.parent.parent).as_posix()
        except ValueError:
            shown = str(path)
        where = f"{shown} ({doc.get('calibration')}, fitted {doc.get('fitted_years')})"
        if entry.get("identified", True):
            specs[name] = replace(prior, value=value, kind="calibrated", source=(
                f"calibrated: {where}, 90 % interval {entry.get('interval90')}; "
                f"prior {prior.value} [{prior.kind}] {prior.source}"))
        else:   # the data could not pin it down: it stays what it was, and says it was tried
            specs[name] = replace(prior, value=value, source=(
                f"{prior.source} [NOT identified by the calibration {where}: prior value kept]"))
    return specs


@lru_cache(maxsize=1)
def prior_specs() -> dict[str, ParameterSpec]:
    """Read the parameter table shipped with the package (cached): the priors, before calibration."""
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


def _check_number(name: str, value: Any, bounds: tuple[float, float], origin: str, unit: str | None = None) -> float:
    hint = unit_problem(value, (unit or "").split(" (")[0] or None)
    if hint:
        raise InputError(origin, f"parameters.{name}", hint[0], value=value, allowed=f"{hint[1]}, in [{bounds[0]}, "
                         f"{bounds[1]}]")
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

    def __init__(self, values: dict[str, Any]) -> None:
        self.__setstate__(dict(values))

    @classmethod
    def defaults(cls) -> Parameters:
        """Parameters at their default values: the priors with calibrated values overlaid."""
        return cls({name: spec.value for name, spec in parameter_specs().items()})

    @classmethod
    def priors(cls) -> Parameters:
        """Parameters at the priors of parameters.yaml, ignoring any calibration."""
        return cls({name: spec.value for name, spec in prior_specs().items()})

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
                value = [_check_number(name, v, spec.bounds, origin, spec.unit) for v in value]
            else:
                value = _check_number(name, value, spec.bounds, origin, spec.unit)
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
        # values are also plain instance attributes: a model run reads them thousands of times, and
        # ordinary attribute lookup is several times cheaper than __getattr__ (names that would
        # shadow a method stay reachable through __getattr__ only)
        self.__dict__.update({k: v for k, v in state.items() if not hasattr(type(self), k)})

    def to_dict(self) -> dict[str, Any]:
        """Plain copy of all values (for manifests)."""
        return dict(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parameters) and self._values == other._values

    def __repr__(self) -> str:
        return f"Parameters({len(self._values)} values)"

"""Numerical guards: stop a replicate at the first NaN or infinity in its state.

:meth:`RegionModel._record <simulator.model.region_model.RegionModel._record>` calls
:func:`check_state` after construction and after every step, before the year's
indicators are computed (:func:`simulator.model.indicators.compute_all` then checks those).
A non-finite value raises :class:`NumericalError` naming the year, the agent type,
which agent (firm uid, agent index), the field and the value, so a run stops in the
year the value first appeared instead of carrying it into every later indicator.

The check is one reduction per float field of the firm arrays (the sum of finite
numbers is finite; NaN and infinity propagate), and only when a sum is not finite
is the field scanned to find the firm. A sum that overflows although every value
is finite is scanned too and passes. Integer and boolean fields cannot hold NaN.
Incubators' and institutes' float attributes are summed in one pass the same way,
and named one by one only on failure. With ~3 700 firms and ~35 agents a check costs
~35-55 µs, about 2-3 % of a 14-year Qiqihar run (15 checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from simulator.model.firms import FIELDS
from simulator.model.state import ModelState

#: float fields of the firm arrays, in the order of FIELDS (the first bad one is reported)
FLOAT_FIELDS: tuple[str, ...] = tuple(name for name, f in FIELDS.items() if np.dtype(f.dtype).kind == "f")


class NumericalError(FloatingPointError):
    """A NaN or infinity in an agent's state or an indicator.

    Attributes:
        year: model year in which the value was found.
        agent: ``firm``, ``incubator``, ``institute``, ``zone``, ``government``, ``model`` or ``indicator``.
        field: attribute (firm field, agent attribute, indicator name); a history row or
            a dictionary key is given in brackets, e.g. ``rd_hist[1]`` (1 year before).
        agent_id: firm ``uid``, index of the incubator or institute in its list, the
            instrument of a government payment; None for the zone, the model and indicators.
        value: the non-finite value.
    """

    def __init__(self, year: int, agent: str, field: str, value: Any, agent_id: Any = None) -> None:
        self.year = year
        self.agent = agent
        self.field = field
        self.value = value
        self.agent_id = agent_id
        who = agent if agent_id is None else f"{agent} {'uid ' if agent == 'firm' else ''}{agent_id}"
        super().__init__(f"non-finite state in {year}: {who} field {field} = {value}")

    def __reduce__(self):   # pickles across ensemble worker processes with its attributes
        return (type(self), (self.year, self.agent, self.field, self.value, self.agent_id))


#: classes of scalar attributes that can hold NaN or infinity (Python ints and bools cannot)
_FLOATS = frozenset({float, np.float64, np.float32, np.float16, np.longdouble})


def _finite(value: Any) -> bool:
    """Whether a scalar attribute is finite (non-numbers and integers always are)."""
    return not isinstance(value, (float, np.floating)) or math.isfinite(value)


def _numbers(obj: Any) -> Iterator[tuple[str, Any]]:
    """(field, value) of every attribute of an agent, dict entries and float-array elements one by one."""
    for name, value in vars(obj).items():
        if isinstance(value, dict):
            for key, v in value.items():
                yield f"{name}[{key}]", v
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            for k, v in enumerate(value.ravel()):
                yield f"{name}[{k}]", v
        else:
            yield name, value


#: attribute classes summed by the fast check (a dict or an array makes it check one by one)
_CHECKED = _FLOATS | {dict, np.ndarray}


def _all_finite(agents: list) -> bool:
    """Whether every float attribute of ``agents`` is finite (False may also mean the sum of finite
    values overflowed; the caller then scans one by one and finds nothing)."""
    values = [v for agent in agents for v in agent.__dict__.values() if type(v) in _CHECKED]
    try:
        return math.isfinite(sum(values))   # floats only: NaN and infinity propagate
    except TypeError:                       # a dict or an array among them
        return all(_finite(v) for agent in agents for _, v in _numbers(agent))


def check_firms(model: ModelState) -> None:
    """Raise NumericalError at the first non-finite float field of the firm arrays (first firm by row)."""
    firms = vars(model.firms)
    total = 0.0
    for name in FLOAT_FIELDS:
        total += np.add.reduce(firms[name], None)
    if math.isfinite(total):
        return
    for name in FLOAT_FIELDS:
        arr = firms[name]
        if math.isfinite(np.add.reduce(arr, None)):
            continue
        bad = ~np.isfinite(arr)
        if not bad.any():
            continue   # finite values whose sum overflowed
        if FIELDS[name].history:   # row k = k years before: report the most recent year first
            lag, row = (int(k[0]) for k in np.nonzero(bad))
            field, value = f"{name}[{lag}]", arr[lag, row]
        else:
            row = int(np.flatnonzero(bad)[0])
            field, value = name, arr[row]
        raise NumericalError(model.year, "firm", field, float(value), agent_id=int(firms["uid"][row]))


def check_agents(model: ModelState) -> None:
    """Raise NumericalError at the first non-finite numeric attribute of an incubator, institute,
    the zone committee, the government's totals of this year, or the model's own scalars."""
    year = model.year
    zone = [model.zone] if model.zone is not None else []   # one agent whose score inputs are a dict
    if not (_all_finite(model.incubators + model.institutes) and _all_finite(zone)):
        for agent, group in (("incubator", model.incubators), ("institute", model.institutes), ("zone", zone)):
            for k, member in enumerate(group):
                for field, value in _numbers(member):
                    if not _finite(value):
                        raise NumericalError(year, agent, field, value,
                                             agent_id=None if agent == "zone" else getattr(member, "index", k))
    gov = model.government
    paid = gov.paid_in(year)
    if not _finite(paid):
        raise NumericalError(year, "government", "paid", paid)
    for inst in gov.instruments:   # this year's total per instrument (the ledger's running sums)
        value = gov.paid_by(year, inst.id)
        if not _finite(value):
            raise NumericalError(year, "government", "paid_by", value, agent_id=inst.id)
    for name in ("other_gdp", "va_scale"):
        value = getattr(model, name)
        if not _finite(value):
            raise NumericalError(year, "model", name, value)


def check_indicators(year: int, values: Mapping[str, float | None]) -> None:
    """Raise NumericalError at the first non-finite indicator of ``values`` (None = not applicable)."""
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise NumericalError(year, "indicator", name, value)


def check_state(model: ModelState, indicators: Mapping[str, float | None] | bool = True) -> None:
    """Raise :class:`NumericalError` on the first NaN or infinity in the model's state.

    Checks, in order: every float field of the firm arrays, every numeric attribute of the
    incubators, institutes and zone committee, the government's payments of the year,
    ``model.other_gdp`` and ``model.va_scale``, then the indicators of the year.

    Args:
        model: the region model, in any year.
        indicators: this year's indicator values to check; True (default) checks the model's
            record of the current year, or computes them (``model.indicator_values()``) when it
            has none yet; False skips them (:meth:`RegionModel._record` checks them as it computes them).

    Example:
        >>> check_state(model)                  # doctest: +SKIP
        >>> model.firms.rd[0] = float("nan")    # doctest: +SKIP
        >>> check_state(model)                  # doctest: +SKIP
        NumericalError: non-finite state in 2021: firm uid 0 field rd = nan
    """
    check_firms(model)
    check_agents(model)
    if indicators is False:
        return
    if indicators is True:
        if model.records and model.records[-1].get("year") == model.year:
            indicators = model.records[-1]
        else:
            model.indicator_values()   # raises NumericalError on a non-finite indicator
            return
    check_indicators(model.year, indicators)

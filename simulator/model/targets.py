"""Target kinds and firm properties computed from the agents: how a plan's target is read off what they do.

A plan states more than levels: "增速达到6%" (growth over the year before), "新培育
200家" (new in one year), "累计转化80项" (a sum over years), "占比达到30%" (a share of
firms), "有研发投入的规上工业企业数量" (firms with a property). Each kind is a named
function below (:data:`KINDS`); its unit and bilingual label, the series keys a target
of any kind measures and their labels are the vocabulary of :mod:`simulator.inputs.series`.

The model records every target's series each year beside the indicators
(:func:`derived_values`, called by :func:`simulator.model.indicators.compute_all`), so the
tidy table, the summary, the charts, the probabilities, sensitivity and the optimiser treat
a target of any kind as a level target on its series. A growth over the year before is
undefined in the base year (no year before) and where the year before is 0: the value is
then missing, never invented.

Firm properties (:data:`PROPERTIES`) are masks over the firm arrays; the *event*
properties hold for a firm in the year the event happened (listed, entered, crossed the
规上 line), so ``flow:`` and ``cumulative@…:`` counts of them are yearly flows (missing in the base year, when
nothing has happened yet).

This module imports nothing from the indicator module (which imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.inputs.series import KIND_INFO, PROPERTY_INFO, Series, parse
from simulator.model.firms import ORIGIN_INCUBATOR, ORIGIN_SPINOFF
from simulator.model.state import ModelState


# ------------------------------------------------------------------ firm properties
def above_scale(model: ModelState) -> np.ndarray:
    """规模以上: revenue >= the 规上 line (parameter ``above_scale_revenue``, 2000 万元)."""
    return model.firms.revenue >= model.params.above_scale_revenue


def industrial(model: ModelState) -> np.ndarray:
    """In an industrial sector (region file ``sectors[].industrial``)."""
    return model.sector_industrial[model.firms.sector].astype(bool)


def rd_active(model: ModelState) -> np.ndarray:
    """Reports R&D this year (有研发投入 / 有研发活动: R&D expenditure > 0)."""
    return model.firms.rd > 0


def hte(model: ModelState) -> np.ndarray:
    """Holds an HTE certificate valid this year."""
    return model.hte_valid_mask()


def tech_sme(model: ModelState) -> np.ndarray:
    """Registered in the tech-SME database this year."""
    return model.firms.tech_sme.astype(bool)


def hte_or_tech_sme(model: ModelState) -> np.ndarray:
    """An HTE or a registered tech SME (each firm counted once: a certified HTE often also registers)."""
    return model.hte_valid_mask() | model.firms.tech_sme


def zjtx(model: ModelState) -> np.ndarray:
    """Listed as provincial 专精特新 (little giants included)."""
    return model.firms.zjtx | model.firms.little_giant


def zjtx_listed(model: ModelState) -> np.ndarray:
    """Event: listed as provincial 专精特新 this year (firms listed before the base year carry no year)."""
    return model.firms.zjtx_year == model.year


def little_giant_listed(model: ModelState) -> np.ndarray:
    """Event: listed as national 专精特新 little giant this year."""
    return model.firms.little_giant_year == model.year


def entered(model: ModelState) -> np.ndarray:
    """Event: entered the region this year (age 0 after the year's entrants are created)."""
    return model.firms.age == 0


def startup_or_spinoff(model: ModelState) -> np.ndarray:
    """Founded in the region as an incubator start-up or an institute spin-off (not attracted, not initial)."""
    return np.isin(model.firms.origin, (ORIGIN_INCUBATOR, ORIGIN_SPINOFF))


def spinoff(model: ModelState) -> np.ndarray:
    """An institute or university spin-off (成果转化生成企业: a firm founded on an institute's result)."""
    return model.firms.origin == ORIGIN_SPINOFF


def crossed_above_scale(model: ModelState) -> np.ndarray:
    """Event: crossed the 规上 line this year (below it last year, at or above it now; entrants excluded)."""
    f, line = model.firms, model.params.above_scale_revenue
    return (f.revenue_hist[1] < line) & (f.revenue >= line) & (f.age >= 1)


@dataclass(frozen=True)
class FirmProperty:
    """A named firm mask with bilingual labels; ``event`` if it holds only in the year something happened."""

    func: Callable[[ModelState], np.ndarray]
    zh: str
    en: str
    event: bool = False


_MASKS = {f.__name__: f for f in (above_scale, industrial, rd_active, hte, tech_sme, hte_or_tech_sme, zjtx,
                                  startup_or_spinoff, spinoff, zjtx_listed, little_giant_listed, entered,
                                  crossed_above_scale)}
if set(_MASKS) != set(PROPERTY_INFO):
    raise AssertionError(f"firm properties without a mask or a name: {sorted(set(_MASKS) ^ set(PROPERTY_INFO))}")
#: the firm properties, in the vocabulary's order, with their masks
PROPERTIES: dict[str, FirmProperty] = {name: FirmProperty(_MASKS[name], p.zh, p.en, p.event)
                                       for name, p in PROPERTY_INFO.items()}


# ------------------------------------------------------------------ the six kinds
def count_where(model: ModelState, where: Sequence[str]) -> float:
    """Firms having every property of ``where``, 家."""
    mask = np.ones(len(model.firms), dtype=bool)
    for name in where:
        mask &= PROPERTIES[name].func(model)
    return float(mask.sum())


def share(model: ModelState, where: Sequence[str], among: Sequence[str] = ()) -> float | None:
    """Firms having every property of ``where`` ÷ firms having every property of ``among`` (all firms if
    empty), %; None when no firm is among them."""
    denominator = count_where(model, among)
    return None if denominator == 0 else 100.0 * count_where(model, [*among, *where]) / denominator


def level(value: float) -> float:
    """The series itself in the target year (the unit of the series)."""
    return value


def growth(value: float, before: float | None) -> float | None:
    """Growth over an earlier value, %: 100 x (value / before - 1); None without an earlier value or when it
    is 0."""
    if before is None or not np.isfinite(before) or before == 0:
        return None
    return 100.0 * (value / before - 1.0)


def flow(value: float) -> float:
    """New in the year (a per-year indicator, or firms with an event property this year), 家 or its unit."""
    return value


def cumulative(values: Sequence[float]) -> float:
    """Sum of a flow over the years from the first year to the target year, in the flow's unit."""
    return float(np.sum(values))


@dataclass(frozen=True)
class Kind:
    """A target kind: its function, unit (None: the measured series' unit) and labels."""

    func: Callable[..., Any]
    unit: str | None
    zh: str
    en: str


_KIND_FUNCTIONS = {f.__name__: f for f in (level, growth, flow, cumulative, share, count_where)}
if set(_KIND_FUNCTIONS) != set(KIND_INFO):
    raise AssertionError(f"target kinds without a function or a name: {sorted(set(_KIND_FUNCTIONS) ^ set(KIND_INFO))}")
#: the target kinds, in the vocabulary's order, with their functions
KINDS: dict[str, Kind] = {name: Kind(_KIND_FUNCTIONS[name], k.unit, k.zh, k.en) for name, k in KIND_INFO.items()}


# ------------------------------------------------------------------ computed by the model
def _firm_series(model: ModelState, s: Series) -> float | None:
    if s.kind == "share":
        return share(model, s.where, s.among)
    return count_where(model, s.where)


def derived_values(model: ModelState, values: Mapping[str, float]) -> dict[str, float]:
    """This year's value of every target series of the model's region that is not a plain indicator.

    ``values`` are this year's indicators (computed before); earlier years come from
    ``model.records``. Inner series (a count whose growth is targeted) are recorded too,
    so next year's growth finds them. Missing values (growth in the base year) are left out.
    """
    keys = dict.fromkeys(t.key for t in model.region.targets if parse(t.key) is not None)
    # no event happened in the base year, the state before the first step (its "last year" is back-cast)
    base = model.year == model.base_year
    out: dict[str, float] = {}
    for key in keys:
        s = parse(key)
        if s.inner != key and s.inner not in values and s.inner not in out:
            inner = parse(s.inner)
            if inner is not None and not (base and inner.kind == "flow"):
                out[s.inner] = _firm_series(model, inner)
    for key in keys:
        s = parse(key)
        if s.inner == key:
            if base and s.kind == "flow":
                continue
            v = _firm_series(model, s)
        else:
            now = values.get(s.inner, out.get(s.inner))
            if now is None:
                continue
            if s.kind == "growth":
                year = s.year if s.year else model.year - 1
                if year == model.year:
                    before = now
                else:
                    before = next((r.get(s.inner) for r in model.records if r["year"] == year), None)
                v = growth(now, before)
            else:   # cumulative: the flow of every recorded year from the first year, and this year's
                past = [r.get(s.inner, 0.0) for r in model.records if s.year <= r["year"] < model.year]
                v = cumulative([*past, now]) if model.year >= s.year else 0.0
        if v is not None:
            out[key] = v
    return out

"""Target kinds: how a plan's quantified target is read off what the agents do.

A plan states more than levels: "增速达到6%" (growth over the year before), "新培育
200家" (new in one year), "累计转化80项" (a sum over years), "占比达到30%" (a share of
firms), "有研发投入的规上工业企业数量" (firms with a property). Each kind is a named
function below, with its unit and a bilingual label (:data:`KINDS`). A target of
any kind measures one *series*, named by a key (:func:`series_key`):

============  ===================================  =====================================
kind          key                                  value in year Y
============  ===================================  =====================================
level         ``hte_count``                        the indicator in Y
growth        ``growth:gdp``,                      100 x (X_Y / X_{Y-1} - 1), %; over a
              ``growth@2021:gdp``                  named base year B: 100 x (X_Y / X_B - 1)
flow          ``tech_sme_new`` (a per-year         the flow in Y: new certificates,
              indicator) or ``flow:zjtx_listed``   listings, entrants, firms crossing 规上
cumulative    ``cumulative@2022:results_converted``  sum of a flow from the first year to Y
share         ``share:hte_or_tech_sme``,           100 x firms with every property ÷ firms
              ``share:rd_active/above_scale+industrial``  (among those with the second list), %
count_where   ``count:above_scale+industrial+rd_active``  firms with every property
============  ===================================  =====================================

X, the measured series, is an indicator (:data:`simulator.model.indicators.INDICATORS`) or a
count of firms with properties (``where``). The model records every target's series each
year beside the indicators (:func:`derived_values`, called by
:func:`simulator.model.indicators.compute_all`), so the tidy table, the summary, the charts, the
probabilities, sensitivity and the optimiser treat a target of any kind as a level target
on its series. A growth over the year before is undefined in the base year (no year
before) and where the year before is 0: the value is then missing, never invented.

Firm properties (:data:`PROPERTIES`) are masks over the firm arrays; the *event*
properties hold for a firm in the year the event happened (listed, entered, crossed the
规上 line), so ``flow:`` and ``cumulative@…:`` counts of them are yearly flows (missing in the base year, when
nothing has happened yet).

This module imports nothing from the indicator layer (which imports it): the base
indicators' metadata are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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


PROPERTIES: dict[str, FirmProperty] = {
    "above_scale": FirmProperty(above_scale, "规上", "above designated size"),
    "industrial": FirmProperty(industrial, "工业", "industrial"),
    "rd_active": FirmProperty(rd_active, "有研发投入", "with R&D"),
    "hte": FirmProperty(hte, "高企", "HTE"),
    "tech_sme": FirmProperty(tech_sme, "科技型中小企业", "tech SME"),
    "hte_or_tech_sme": FirmProperty(hte_or_tech_sme, "高企或科技型中小企业", "HTE or tech SME"),
    "zjtx": FirmProperty(zjtx, "专精特新", "专精特新"),
    "startup_or_spinoff": FirmProperty(startup_or_spinoff, "新生成(孵化/衍生)", "start-up or spin-off"),
    "spinoff": FirmProperty(spinoff, "院所衍生", "institute spin-off"),
    "zjtx_listed": FirmProperty(zjtx_listed, "新认定专精特新", "newly listed 专精特新", event=True),
    "little_giant_listed": FirmProperty(little_giant_listed, "新认定小巨人", "newly listed little giant", event=True),
    "entered": FirmProperty(entered, "当年新进入", "entered this year", event=True),
    "crossed_above_scale": FirmProperty(crossed_above_scale, "当年升规", "crossed the 规上 line this year",
                                        event=True),
}

#: indicators that are yearly flows (new in the year, paid in the year), which ``flow`` and ``cumulative``
#: targets may name; names not (yet) among the indicators are ignored
FLOW_INDICATORS = frozenset({
    "hte_new_certifications", "hte_recertifications", "subsidy_paid", "tech_contract_value", "tech_purchase_value",
    "results_converted", "hte_renewals", "hte_reentries", "hte_expired", "hte_exits", "hte_entrants",
    "tech_sme_new", "incubators_founded", "incubator_upgrades", "rd_institutions_founded",
    "rd_institution_upgrades"})


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


KINDS: dict[str, Kind] = {
    "level": Kind(level, None, "水平", "level"),
    "growth": Kind(growth, "%", "增速", "growth"),
    "flow": Kind(flow, None, "当年新增", "new in the year"),
    "cumulative": Kind(cumulative, None, "累计", "cumulative"),
    "share": Kind(share, "%", "占比", "share of firms"),
    "count_where": Kind(count_where, "家", "企业数", "firms"),
}


# ------------------------------------------------------------------ series keys
def where_key(prefix: str, where: Sequence[str], among: Sequence[str] = ()) -> str:
    """``count:a+b``, ``flow:a``, ``share:a/b+c``."""
    key = f"{prefix}:{'+'.join(where)}"
    return f"{key}/{'+'.join(among)}" if among else key


def series_key(kind: str, indicator: str | None = None, where: Sequence[str] = (), among: Sequence[str] = (),
               base_year: int | None = None, from_year: int | None = None) -> str:
    """The key of the series a target measures (the ``indicator`` column of the tables)."""
    inner = indicator if indicator else where_key("flow" if kind in ("flow", "cumulative") else "count", where)
    if kind == "share":
        return where_key("share", where, among)
    if kind == "growth":
        return f"growth@{base_year}:{inner}" if base_year else f"growth:{inner}"
    if kind == "cumulative":
        return f"cumulative@{from_year}:{inner}"
    return inner        # level, flow, count_where


@dataclass(frozen=True)
class Series:
    """A parsed series key."""

    kind: str
    inner: str                 # the measured series (an indicator, ``count:…`` or ``flow:…``); itself for those
    where: tuple[str, ...] = ()
    among: tuple[str, ...] = ()
    year: int | None = None    # growth's base year or cumulative's first year


def parse(key: str) -> Series | None:
    """The kind and parts of a derived series key; None for a plain indicator name or a malformed key."""
    head, sep, rest = key.partition(":")
    if not sep:
        return None
    name, _, year = head.partition("@")
    if year and not year.isdigit():
        return None
    if name in ("count", "flow", "share"):
        where, _, among = rest.partition("/")
        props = tuple(p for p in where.split("+") if p)
        amongs = tuple(p for p in among.split("+") if p)
        if not props or any(p not in PROPERTIES for p in (*props, *amongs)) or year:
            return None
        kind = {"count": "count_where", "flow": "flow", "share": "share"}[name]
        return Series(kind, key, props, amongs)
    if name in ("growth", "cumulative") and (year or name == "growth"):
        inner = parse(rest)
        if inner is not None and inner.kind not in ("count_where", "flow"):
            return None
        return Series(name, rest, inner.where if inner else (), (), int(year) if year else None)
    return None


def known(key: str, indicators: Mapping[str, Any]) -> bool:
    """Whether a series key is well formed and measures a known indicator or firm properties."""
    s = parse(key)
    if s is None:
        return key in indicators
    return s.inner == key or known(s.inner, indicators)


def label(key: str, indicators: Mapping[str, Any], lang: str = "zh") -> str:
    """Bilingual label of a series key (an indicator's own label for a plain name)."""
    s = parse(key)
    if s is None:
        ind = indicators.get(key)
        return key if ind is None else getattr(ind, lang)
    if s.kind in ("count_where", "flow", "share"):
        words = [getattr(PROPERTIES[p], lang) for p in s.where]
        among = [getattr(PROPERTIES[p], lang) for p in s.among]
        if lang == "zh":
            text = "".join(words) + "企业"
            if s.kind == "share":
                return f"{text}占{''.join(among) + '企业' if among else '企业总数'}比重"
            return ("当年新增" if s.kind == "flow" else "") + text
        text = " and ".join(words) + " firms"
        if s.kind == "share":
            return f"share of {text} among {' and '.join(among) + ' firms' if among else 'all firms'}"
        return ("new " if s.kind == "flow" else "") + text
    inner = label(s.inner, indicators, lang)
    if s.kind == "growth":
        since = f"(比{s.year}年)" if s.year and lang == "zh" else (f" since {s.year}" if s.year else "")
        return f"{inner}增速{since}" if lang == "zh" else f"{inner}, growth{since}"
    return f"{inner}({s.year}年起累计)" if lang == "zh" else f"{inner}, cumulative since {s.year}"


def unit_of(key: str, indicators: Mapping[str, Any]) -> str | None:
    """Unit of a series key: the kind's unit, else the measured series'; None for an unknown key."""
    s = parse(key)
    if s is None:
        ind = indicators.get(key)
        return None if ind is None else ind.unit
    unit = KINDS[s.kind].unit
    if unit is not None:
        return unit
    if s.inner == key:        # flow:… counts firms
        return "家"
    return unit_of(s.inner, indicators)


def higher_is_better(key: str, indicators: Mapping[str, Any]) -> bool:
    """Whether a target on the series is met from above (the measured indicator's direction)."""
    s = parse(key)
    base = key if s is None else (s.inner if s.inner != key else None)
    ind = indicators.get(base) if base else None
    return True if ind is None else ind.higher_is_better


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


def slug(key: str) -> str:
    """A file-name-safe form of a series key (``growth@2021:count:a+b`` -> ``growth_2021_count_a_b``); a plain
    indicator name is unchanged."""
    return key.replace("@", "_").replace(":", "_").replace("/", "_among_").replace("+", "_")

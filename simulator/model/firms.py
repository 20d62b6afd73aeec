"""The firm population: one numpy array per attribute, one row per firm.

Firms are too many to be Mesa agents (ensembles of thousands of runs, regions
of up to ~50 000 firms), so their yearly rules are vectorised over these
arrays (see :mod:`simulator.model.firm_rules` and :mod:`simulator.model.hte_rules`).
Each firm stays inspectable: ``model.firm(i)`` returns a :class:`FirmView` that
reads and writes row ``i``.

Money is in 万元. Row indices change when firms exit; ``uid`` does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.inputs.parameters import HISTORY

#: codes of the ``origin`` field: where a firm came from
ORIGIN_INITIAL, ORIGIN_INCUBATOR, ORIGIN_SPINOFF, ORIGIN_ATTRACTED = 0, 1, 2, 3


@dataclass(frozen=True)
class Field:
    """Description of one firm attribute."""

    dtype: type
    default: float
    unit: str
    meaning: str
    history: bool = False


FIELDS: dict[str, Field] = {
    "uid": Field(np.int64, -1, "", "unique firm id, stable across years"),
    "sector": Field(np.int16, 0, "index", "industry cluster (region file `sectors`)"),
    "age": Field(np.int16, 0, "years", "years since registration"),
    "origin": Field(np.int8, 0, "code", "0 initial, 1 incubator start-up, 2 institute spin-off, 3 attracted"),
    "revenue": Field(np.float64, 0.0, "万元", "operating revenue this year"),
    "revenue_hist": Field(np.float64, 0.0, "万元", "revenue this year and the two before", True),
    "value_added": Field(np.float64, 0.0, "万元", "value added this year"),
    "profit_margin": Field(np.float64, 0.0, "share", "profit / revenue (persistent firm trait)"),
    "employees": Field(np.float64, 0.0, "persons", "employees"),
    "st_staff": Field(np.float64, 0.0, "persons", "science-and-technology staff"),
    "rd_propensity": Field(np.float64, 0.0, "share", "R&D / revenue the firm chooses at its reference user cost"),
    "user_cost_ref": Field(np.float64, 1.0, "share", "after-tax cost of 1 元 of R&D when the propensity was set"),
    "rd": Field(np.float64, 0.0, "万元", "reported R&D expenditure this year"),
    "rd_hist": Field(np.float64, 0.0, "万元", "reported R&D this year and the two before", True),
    "real_rd": Field(np.float64, 0.0, "万元", "R&D net of relabelling (what builds knowledge)"),
    "knowledge": Field(np.float64, 0.0, "万元", "depreciated stock of real R&D and absorbed technology"),
    "knowledge_growth": Field(np.float64, 0.0, "log points", "growth of ln(1 + knowledge) last year"),
    "ip": Field(np.int32, 0, "items", "core intellectual property items"),
    "hightech_share": Field(np.float64, 0.0, "share", "share of revenue from high-tech products/services"),
    "tech_purchase": Field(np.float64, 0.0, "万元", "technology bought from universities/institutes this year"),
    "tech_sme": Field(np.bool_, False, "", "registered in the tech-SME database this year"),
    "hte_grant_year": Field(np.int16, -1, "year", "year the current/last HTE certificate was granted (-1 never)"),
    "hte_ever": Field(np.bool_, False, "", "has held an HTE certificate before"),
    "hte_preparing": Field(np.bool_, False, "", "preparing for HTE certification (R&D at the threshold, not yet "
                           "applying: its 3-year ratio falls short)"),
    "zjtx": Field(np.bool_, False, "", "listed as provincial 专精特新 firm"),
    "little_giant": Field(np.bool_, False, "", "listed as national 专精特新 little giant"),
    "incubator": Field(np.int16, -1, "index", "incubator hosting the firm (-1 none)"),
    "incubated_since": Field(np.int16, -1, "year", "year the firm entered its incubator"),
    # graduate hiring under the living allowance (000 若干政策措施 第9条; firm_rules.hire_graduates).
    # Rolled by hire_graduates, not by shift_history: from that phase on, row k = hired k years ago.
    "grad_phd": Field(np.int16, 0, "persons", "allowance-eligible PhD graduates hired this year and the two before",
                      True),
    "grad_master": Field(np.int16, 0, "persons", "allowance-eligible master graduates hired this year and the two "
                         "before", True),
    "grad_bachelor": Field(np.int16, 0, "persons", "allowance-eligible bachelor graduates hired this year and the "
                           "two before", True),
    "grad_induced": Field(np.int16, 0, "persons", "of those hires, the ones the allowance induced (extra S&T staff, "
                          "kept through the 3 paid years)", True),
    "grad_retained": Field(np.float64, 0.0, "persons", "induced graduates still employed after their 3 paid years "
                           "(leave at graduate_exit_rate a year)"),
    # listing years, for the plans' "新培育专精特新/小巨人 N 家" flows (001 二.2); firms listed before the base
    # year keep -1 (the region files give stocks, not listing years)
    "zjtx_year": Field(np.int16, -1, "year", "year listed as provincial 专精特新 (-1 before the base year or never)"),
    "little_giant_year": Field(np.int16, -1, "year", "year listed as little giant (-1 before the base year or never)"),
    "soe": Field(np.bool_, False, "", "provincial state-owned firm (region population soe_firms; entrants never)"),
}


class FirmPopulation:
    """Struct of arrays holding every firm of a region.

    Attributes are plain numpy arrays named as in :data:`FIELDS`; history
    fields have shape ``(HISTORY, n)``: row 0 is the current year, row k the
    year k years before (rows are contiguous, so 3-year sums are fast).
    """

    def __init__(self, n: int = 0) -> None:
        for name, f in FIELDS.items():
            shape = (HISTORY, n) if f.history else (n,)
            # np.zeros is one C call, np.full a Python function: entrants are built every year
            setattr(self, name, np.zeros(shape, dtype=f.dtype) if f.default == 0 else
                    np.full(shape, f.default, dtype=f.dtype))

    def __len__(self) -> int:
        return len(self.uid)

    def append(self, other: FirmPopulation) -> None:
        """Add the firms of ``other`` at the end."""
        for name, _f in FIELDS.items():
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)], axis=-1))

    def keep(self, mask: np.ndarray) -> None:
        """Keep only firms where ``mask`` is true (exit of the others)."""
        idx = np.flatnonzero(mask)
        for name in FIELDS:
            setattr(self, name, getattr(self, name).take(idx, axis=-1))

    def shift_history(self) -> None:
        """Start a new year: move revenue and R&D histories one year back (row 0 is then rewritten)."""
        for name in ("revenue_hist", "rd_hist"):
            hist = getattr(self, name)
            for k in range(HISTORY - 1, 0, -1):
                hist[k] = hist[k - 1]

    def to_frame(self) -> pd.DataFrame:
        """All firms as a DataFrame (history fields become ``<name>_0..2``)."""
        cols = {}
        for name, f in FIELDS.items():
            arr = getattr(self, name)
            if f.history:
                for k in range(HISTORY):
                    cols[f"{name}_{k}"] = arr[k]
            else:
                cols[name] = arr
        return pd.DataFrame(cols)


def uid_member(values: np.ndarray, ref: np.ndarray, ordered: bool) -> np.ndarray:
    """``np.isin(values, ref)`` for unique uids; binary searches where both are ``ordered`` (strictly
    increasing, as the uids of a population and of any subset of it are), of the shorter in the longer."""
    if not ordered:
        return np.isin(values, ref, assume_unique=True)
    if ref.size == 0 or values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    if values.size <= ref.size:
        idx = np.minimum(np.searchsorted(ref, values), ref.size - 1)
        return ref[idx] == values
    idx = np.minimum(np.searchsorted(values, ref), values.size - 1)
    out = np.zeros(values.shape, dtype=bool)
    out[idx[values[idx] == ref]] = True
    return out


class FirmView:
    """One firm, read from and written to the population arrays.

    Example:
        >>> f = model.firm(0)          # doctest: +SKIP
        >>> f.revenue, f.hte_valid     # doctest: +SKIP
    """

    __slots__ = ("_model", "_i")

    def __init__(self, model, index: int) -> None:
        n = len(model.firms)
        if not -n <= index < n:
            raise IndexError(f"firm index {index} out of range (0..{n - 1})")
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_i", index % n)

    def __getattr__(self, name: str):
        if name in FIELDS:
            value = getattr(self._model.firms, name)[..., self._i]
            return value.copy() if isinstance(value, np.ndarray) else value.item()
        raise AttributeError(f"firm has no attribute {name!r}; fields: {', '.join(FIELDS)}")

    def __setattr__(self, name: str, value) -> None:
        if name not in FIELDS:
            raise AttributeError(f"firm has no attribute {name!r}")
        getattr(self._model.firms, name)[..., self._i] = value

    @property
    def sector_name(self) -> str:
        return self._model.sectors[self.sector].id

    @property
    def above_scale(self) -> bool:
        """规模以上: revenue at or above the statistical threshold."""
        return self.revenue >= self._model.params.above_scale_revenue

    @property
    def hte_valid(self) -> bool:
        """Holds a certificate valid in the model's current year."""
        g = self.hte_grant_year
        return g >= 0 and g <= self._model.year < g + self._model.params.hte_validity_years

    def as_dict(self) -> dict:
        d = {name: getattr(self, name) for name in FIELDS}
        d.update(sector_name=self.sector_name, above_scale=self.above_scale, hte_valid=self.hte_valid)
        return d

    def __repr__(self) -> str:
        return (f"Firm(uid={self.uid}, sector={self.sector_name}, age={self.age}, "
                f"revenue={self.revenue:.1f} 万元, rd={self.rd:.1f} 万元, hte_valid={self.hte_valid}, "
                f"tech_sme={self.tech_sme})")

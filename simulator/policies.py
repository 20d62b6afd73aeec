"""Policy instruments: small classes with one hook, ``amount(event)``.

An instrument is built from a catalogue entry (``scenarios/policies/*.yaml``,
quoting its clause) and a scenario's setting for it (on/off, scale, years,
amount overrides). The :class:`~simulator.agents.Government` asks every
instrument active in a year what it owes for an :class:`Event` and records
each payment. Firms use the same hook to form expectations, so the rule that
pays is the rule that agents react to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .config import InstrumentSetting, InstrumentSpec
from .errors import InputError, closest


@dataclass
class Event:
    """Something firms did this year that instruments may pay for.

    Attributes:
        trigger: what happened (``"hte_certified"``, ``"tech_purchase"``).
        firms: row indices of the firms concerned.
        above_scale: whether each firm is 规模以上 (revenue >= 2000 万元).
        first: for certifications, True on first certification, False on re-certification.
        base: the amount the rule applies to (e.g. purchase price, 万元).
        eligible: whether each firm belongs to the instrument's target group.
    """

    trigger: str
    firms: np.ndarray
    above_scale: np.ndarray
    first: np.ndarray | None = None
    base: np.ndarray | None = None
    eligible: np.ndarray | None = None


class Instrument:
    """Base class: identity, years, scale and validated parameters."""

    type_name: ClassVar[str]
    trigger: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    def __init__(self, spec: InstrumentSpec, setting: InstrumentSetting | None, scenario_file: str,
                 catalogue_file: str, payer: str) -> None:
        setting = setting or InstrumentSetting()
        self.id = spec.id
        self.clause = spec.clause
        self.payer = payer
        self.enabled = setting.enabled
        self.scale = setting.scale
        self.start_year = setting.start_year if setting.start_year is not None else spec.start_year
        self.end_year = setting.end_year if setting.end_year is not None else spec.end_year
        self._check_names(spec.params, catalogue_file, f"instruments.{spec.id}.params")
        self._check_names(setting.params, scenario_file, f"policies.{spec.id}.params")
        params = {**spec.params, **setting.params}
        missing = [k for k in self.param_names if k not in params]
        if missing:
            raise InputError(catalogue_file, f"instruments.{spec.id}.params", f"missing {missing}",
                             allowed=", ".join(self.param_names))
        self.params = params

    def _check_names(self, params: dict, file: str, field: str) -> None:
        for key in params:
            if key not in self.param_names:
                raise InputError(file, f"{field}.{key}", "unknown amount parameter" + closest(key, self.param_names),
                                 allowed=", ".join(self.param_names))

    def active(self, year: int) -> bool:
        """Whether the instrument pays in ``year``."""
        if not self.enabled:
            return False
        if self.start_year is not None and year < self.start_year:
            return False
        return self.end_year is None or year <= self.end_year

    def amount(self, event: Event) -> np.ndarray:
        """万元 owed to each firm of ``event`` (the one hook subclasses implement)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        years = f"{self.start_year or '…'}–{self.end_year or '…'}"
        return f"{type(self).__name__}({self.id}, {years}, scale={self.scale}, enabled={self.enabled})"


class CertificationAward(Instrument):
    """One-off award on HTE certification, by size class, reduced on re-certification.

    000 若干政策措施 第4条: 10 万元 (规上) / 5 万元 (规下) on first certification,
    half on re-certification.
    """

    type_name = "certification_award"
    trigger = "hte_certified"
    param_names = ("first_above_scale", "first_below_scale", "recertification_factor")

    def amount(self, event: Event) -> np.ndarray:
        p = self.params
        base = np.where(event.above_scale, p["first_above_scale"], p["first_below_scale"])
        factor = np.where(event.first, 1.0, p["recertification_factor"])
        return base * factor * self.scale


class PurchaseSubsidy(Instrument):
    """Refund of a share of a technology purchase above a minimum, capped per purchase.

    000 若干政策措施 第4条: 30 % of payments of at least 10 万元, at most 30 万元.
    """

    type_name = "purchase_subsidy"
    trigger = "tech_purchase"
    param_names = ("rate", "min_payment", "cap", "eligible")

    def amount(self, event: Event) -> np.ndarray:
        p = self.params
        base = event.base
        pays = base >= p["min_payment"]
        if event.eligible is not None:
            pays &= event.eligible
        return np.where(pays, np.minimum(p["rate"] * base, p["cap"]), 0.0) * self.scale


INSTRUMENT_TYPES: dict[str, type[Instrument]] = {
    cls.type_name: cls for cls in (CertificationAward, PurchaseSubsidy)
}


def build_instrument(spec: InstrumentSpec, setting: InstrumentSetting | None, scenario_file: str,
                     catalogue_file: str, payer: str) -> Instrument:
    """Instantiate the class named by ``spec.type`` with a scenario's setting for it."""
    cls = INSTRUMENT_TYPES.get(spec.type)
    if cls is None:
        raise InputError(catalogue_file, f"instruments.{spec.id}.type",
                         f"unknown instrument type {spec.type!r}" + closest(spec.type, INSTRUMENT_TYPES),
                         allowed=", ".join(INSTRUMENT_TYPES))
    return cls(spec, setting, scenario_file, catalogue_file, payer)

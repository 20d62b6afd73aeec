"""Mesa agents: incubation carriers, research institutes and the government.

They are few (tens), so each is an ordinary ``mesa.Agent`` with its own
``step``. Firms are arrays (:mod:`simulator.firms`); agents here ask for new
firms through :meth:`RegionModel.request_entry` (created together at the end
of the step) and read firms through the model's arrays. Randomness comes only from the model's generators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np
import pandas as pd

from .policies import Event, Instrument

if TYPE_CHECKING:
    from .model import RegionModel

LEVELS = ("municipal", "provincial", "national")
ORIGIN_INCUBATOR, ORIGIN_SPINOFF, ORIGIN_ATTRACTED = 1, 2, 3


class Incubator(mesa.Agent):
    """An incubation carrier (孵化器 / 众创空间 / 加速器) hosting tenant firms.

    Args:
        model: the region model.
        index: position in ``model.incubators`` (stored on tenant firms).
        kind: ``incubator``, ``maker_space`` or ``accelerator``.
        level: ``municipal``, ``provincial`` or ``national``.
        capacity: tenant places.
        graduates: cumulative graduated tenants so far.
    """

    model: RegionModel

    def __init__(self, model: RegionModel, index: int, kind: str, level: str, capacity: int,
                 graduates: int) -> None:
        super().__init__(model)
        self.index = index
        self.kind = kind
        self.level = level
        self.capacity = capacity
        self.graduates = graduates

    @property
    def tenants(self) -> int:
        """Firms currently hosted."""
        return int((self.model.firms.incubator == self.index).sum())

    def graduate_tenants(self) -> int:
        """Release tenants that have stayed ``incubation_years``; return how many."""
        f = self.model.firms
        done = (f.incubator == self.index) & (
            self.model.year - f.incubated_since >= self.model.params.incubation_years)
        f.incubator[done] = -1
        n = int(done.sum())
        self.graduates += n
        return n

    def consider_upgrade(self, rng: np.random.Generator, tenants: int) -> None:
        """Move up one level when the next level's criteria hold and the yearly evaluation passes.

        National criteria: >= 50 tenants and >= 20 graduates (国科发区〔2018〕300号).
        """
        p = self.model.params
        if self.level == "national":
            return
        if self.level == "municipal":
            ok = tenants >= p.provincial_incubator_min_tenants and \
                self.graduates >= p.provincial_incubator_min_graduates
        else:
            ok = tenants >= p.national_incubator_min_tenants and \
                self.graduates >= p.national_incubator_min_graduates
        if ok and rng.random() < p.incubator_upgrade_prob:
            self.level = LEVELS[LEVELS.index(self.level) + 1]

    def admit_startups(self, rng: np.random.Generator, tenants: int) -> int:
        """Admit new start-ups, about ``incubator_intake_rate`` x capacity a year, up to the free places."""
        free = max(self.capacity - tenants, 0)
        n = min(int(rng.poisson(self.model.params.incubator_intake_rate * self.capacity)), free)
        if n:
            self.model.request_entry(n, ORIGIN_INCUBATOR, incubator=self.index)
        return n

    def step(self) -> None:
        rng = self.model.streams["incubators"]
        self.graduate_tenants()
        tenants = self.tenants
        self.consider_upgrade(rng, tenants)
        self.admit_startups(rng, tenants)

    def __repr__(self) -> str:
        return f"Incubator({self.index}, {self.kind}, {self.level}, tenants={self.tenants}/{self.capacity})"


class ResearchInstitute(mesa.Agent):
    """A university, research institute or (new-type / national) R&D institution.

    Args:
        model: the region model.
        index: position in ``model.institutes``.
        kind: ``university``, ``research_institute``, ``new_type_rd_institution`` or
            ``national_rd_institution``.
        level: ``municipal``, ``provincial`` or ``national``.
        rd: own R&D spending, 万元 a year.
    """

    model: RegionModel

    def __init__(self, model: RegionModel, index: int, kind: str, level: str, rd: float) -> None:
        super().__init__(model)
        self.index = index
        self.kind = kind
        self.level = level
        self.rd = rd
        p = model.params
        self.knowledge = rd / (p.knowledge_depreciation + p.institute_rd_growth)
        self.external_sales = 0.0   # 万元 a year, set at initialisation to match the baseline
        self.local_sales = 0.0      # 万元 this year, to firms of the zone
        self.spinoffs = 0

    @property
    def contracts_sold(self) -> float:
        """Seller-side technology contracts this year, 万元."""
        return self.external_sales + self.local_sales

    def do_research(self) -> None:
        """Grow R&D spending, accumulate knowledge, grow sales to outside buyers."""
        p = self.model.params
        self.rd *= 1.0 + p.institute_rd_growth
        self.knowledge = (1.0 - p.knowledge_depreciation) * self.knowledge + self.rd
        self.external_sales *= 1.0 + p.institute_external_sales_growth

    def spin_off(self, rng: np.random.Generator) -> int:
        """Create spin-off firms (twice the base rate for national-level institutions)."""
        rate = self.model.params.spinoff_rate * (2.0 if self.level == "national" else 1.0)
        n = int(rng.poisson(rate))
        if n:
            self.model.request_entry(n, ORIGIN_SPINOFF)
            self.spinoffs += n
        return n

    def consider_upgrade(self, rng: np.random.Generator) -> None:
        """A provincial R&D institution may be recognised at national level."""
        if self.level == "provincial" and self.kind != "university" and \
                rng.random() < self.model.params.institute_upgrade_prob:
            self.level = "national"

    def step(self) -> None:
        rng = self.model.streams["institutes"]
        self.do_research()
        self.spin_off(rng)
        self.consider_upgrade(rng)

    def __repr__(self) -> str:
        return f"ResearchInstitute({self.index}, {self.kind}, {self.level}, rd={self.rd:.0f} 万元)"


class Government(mesa.Agent):
    """Pays the instruments active each year and records every payment.

    Args:
        model: the region model.
        instruments: instruments built from the catalogue and the scenario.
    """

    model: RegionModel

    def __init__(self, model: RegionModel, instruments: list[Instrument]) -> None:
        super().__init__(model)
        self.instruments = list(instruments)
        self._ledger: list[tuple[int, str, str, np.ndarray, np.ndarray]] = []
        self._paid: dict[int, float] = {}

    def active(self, trigger: str) -> list[Instrument]:
        """Instruments responding to ``trigger`` in the model's current year."""
        year = self.model.year
        return [i for i in self.instruments if i.trigger == trigger and i.active(year)]

    def expected_payment(self, event: Event) -> np.ndarray:
        """What firms would receive for ``event`` under this year's rules (万元 each)."""
        total = np.zeros(len(event.firms))
        for inst in self.active(event.trigger):
            total += inst.amount(event)
        return total

    def pay(self, event: Event) -> np.ndarray:
        """Pay every active instrument for ``event``; record and return the amounts (万元 each)."""
        total = np.zeros(len(event.firms))
        year = self.model.year
        uids = self.model.firms.uid[event.firms]
        for inst in self.active(event.trigger):
            amounts = inst.amount(event)
            paid = amounts > 0
            if paid.any():
                self._ledger.append((year, inst.id, inst.payer, uids[paid], amounts[paid]))
                self._paid[year] = self._paid.get(year, 0.0) + float(amounts[paid].sum())
            total += amounts
        return total

    def paid_in(self, year: int) -> float:
        """Total paid in ``year``, 万元."""
        return self._paid.get(year, 0.0)

    def payments(self) -> pd.DataFrame:
        """Every recorded payment: year, instrument, payer, recipient firm uid, amount (万元)."""
        if not self._ledger:
            return pd.DataFrame({"year": pd.Series(dtype=int), "instrument": pd.Series(dtype=str),
                                 "payer": pd.Series(dtype=str), "recipient_uid": pd.Series(dtype=int),
                                 "amount": pd.Series(dtype=float)})
        frames = [pd.DataFrame({"year": y, "instrument": i, "payer": p, "recipient_uid": u, "amount": a})
                  for y, i, p, u, a in self._ledger]
        return pd.concat(frames, ignore_index=True)

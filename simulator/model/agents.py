"""Mesa agents: incubation carriers, research institutes and the government.

They are few (tens), so each is an ordinary ``mesa.Agent`` with its own
``step``. Firms are arrays (:mod:`simulator.model.firms`); agents here ask for new
firms through :meth:`RegionModel.request_entry` (created together at the end
of the step) and read firms through the model's arrays. Randomness comes only from the model's generators.
"""

from __future__ import annotations

import statistics

import mesa
import numpy as np
import pandas as pd

from simulator.model.firms import ORIGIN_INCUBATOR, ORIGIN_SPINOFF
from simulator.model.state import ModelState
from simulator.policy.instruments import Event, Instrument, amounts_due

LEVELS = ("municipal", "provincial", "national")


class LevelledAgent(mesa.Agent):
    """A Mesa agent recognised at one of :data:`LEVELS` that may move up one: incubation carriers, R&D
    institutions and alliances (:mod:`simulator.model.alliances`)."""

    model: ModelState

    def __init__(self, model: ModelState, level: str) -> None:
        super().__init__(model)
        self.level = level

    @property
    def next_level(self) -> str:
        """The level above this one (not asked of a national one)."""
        return LEVELS[LEVELS.index(self.level) + 1]


class Incubator(LevelledAgent):
    """An incubation carrier (孵化器 / 众创空间 / 加速器) hosting tenant firms.

    Args:
        model: the region model.
        index: position in ``model.incubators`` (stored on tenant firms).
        kind: ``incubator``, ``maker_space`` or ``accelerator``.
        level: ``municipal``, ``provincial`` or ``national``.
        capacity: tenant places.
        graduates: cumulative graduated tenants so far.
    """

    def __init__(self, model: ModelState, index: int, kind: str, level: str, capacity: int,
                 graduates: int) -> None:
        super().__init__(model, level)
        self.index = index
        self.kind = kind
        self.capacity = capacity
        self.graduates = graduates

    @property
    def tenants(self) -> int:
        """Firms currently hosted."""
        return int((self.model.firms.incubator == self.index).sum())

    def _recognition(self, level: str) -> Event:
        return Event("carrier_recognised", agents=np.array([self.unique_id]), level=np.array([level]),
                     kind=np.array([self.kind]))

    def consider_upgrade(self, rng: np.random.Generator, tenants: int) -> None:
        """Move up one level when the next level's criteria hold and the yearly evaluation passes.

        National criteria: >= 50 tenants and >= 20 graduates (国科发区〔2018〕300号). An award
        for the next level makes the operator try harder (probability x (1 + response x award / 100 万元))
        and, when paid, funds new places (``incubator_places_per_wan``).
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
        u = rng.random()
        if not ok:
            return
        target = self.next_level
        gov = self.model.government
        expected = gov.expected_award("carrier_recognised", target, self.kind)
        if u < min(p.incubator_upgrade_prob * (1.0 + p.incubator_award_response * expected / 100.0), 1.0):
            self.level = target
            tally(self.model, f"incubator_upgrades_{target}")
            self.receive_award(float(gov.pay(self._recognition(target))[0]))

    def receive_award(self, amount: float) -> None:
        """Spend an award on space: ``incubator_places_per_wan`` places per 万元."""
        self.capacity += int(round(amount * self.model.params.incubator_places_per_wan))

    def admit_startups(self, rng: np.random.Generator, tenants: int) -> int:
        """Admit new start-ups, about ``incubator_intake_rate`` x capacity a year, up to the free places."""
        free = max(self.capacity - tenants, 0)
        n = min(int(rng.poisson(self.model.params.incubator_intake_rate * self.capacity)), free)
        if n:
            self.model.request_entry(n, ORIGIN_INCUBATOR, incubator=self.index)
        return n

    def expand(self, tenants: int) -> None:
        """A carrier at least ``incubator_full_occupancy`` full adds ``incubator_expansion_rate`` of its places.

        Operators add space where demand exceeds it; without this no provincial carrier (35 places in
        the region files) could ever host the 50 tenants the national level asks (国科发区〔2018〕300号).
        """
        p = self.model.params
        if self.capacity > 0 and tenants >= p.incubator_full_occupancy * self.capacity:
            self.capacity += max(int(round(p.incubator_expansion_rate * self.capacity)), 1)

    def step(self) -> None:
        """Upgrade, expansion and intake; tenants that finished incubation left before (:func:`graduate_tenants`)."""
        rng = self.model.streams["incubators"]
        tenants = int(self.model.tenant_counts[self.index])
        self.consider_upgrade(rng, tenants)
        self.expand(tenants)
        self.admit_startups(rng, tenants)

    def __repr__(self) -> str:
        return f"Incubator({self.index}, {self.kind}, {self.level}, tenants={self.tenants}/{self.capacity})"


class ResearchInstitute(LevelledAgent):
    """A university, research institute or (new-type / national) R&D institution.

    Args:
        model: the region model.
        index: position in ``model.institutes``.
        kind: ``university``, ``research_institute``, ``new_type_rd_institution`` or
            ``national_rd_institution``.
        level: ``municipal``, ``provincial`` or ``national``.
        rd: own R&D spending, 万元 a year.
    """

    def __init__(self, model: ModelState, index: int, kind: str, level: str, rd: float) -> None:
        super().__init__(model, level)
        self.index = index
        self.kind = kind
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

    def _event(self, trigger: str, level: str) -> Event:
        return Event(trigger, agents=np.array([self.unique_id]), level=np.array([level]),
                     kind=np.array([self.kind]))

    def consider_upgrade(self, rng: np.random.Generator) -> None:
        """An R&D institution (not a university) may be recognised one level up.

        Probability ``institute_upgrade_prob`` x (1 + response x expected award / 100 万元). On
        upgrade the government pays the upgrade top-up where an instrument offers one (004 三.2
        "升级 ... 追加资助" brings the total to the higher level's award), otherwise the
        recognition award of the new level.
        """
        u = rng.random()
        if self.kind == "university" or self.level == "national":
            return
        p, gov = self.model.params, self.model.government
        target = self.next_level
        top_up = gov.expected_award("institute_upgraded", target, self.kind)
        trigger = "institute_upgraded" if top_up > 0 else "institute_recognised"
        expected = top_up if top_up > 0 else gov.expected_award(trigger, target, self.kind)
        if u < min(p.institute_upgrade_prob * (1.0 + p.institute_award_response * expected / 100.0), 1.0):
            self.level = target
            tally(self.model, f"rd_institution_upgrades_{target}")
            gov.pay(self._event(trigger, target))

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

    model: ModelState

    def __init__(self, model: ModelState, instruments: list[Instrument]) -> None:
        super().__init__(model)
        self.instruments = instruments
        self._ledger: list[tuple[int, str, str, str, np.ndarray, np.ndarray]] = []
        self._paid: dict[int, float] = {}
        self._paid_by: dict[tuple[int, str], float] = {}
        self._recipients: dict[tuple[int, str], int] = {}

    @property
    def instruments(self) -> list[Instrument]:
        """The instruments the government pays (setting them resets the table of active ones)."""
        return self._instruments

    @instruments.setter
    def instruments(self, instruments: list[Instrument]) -> None:
        self._instruments = list(instruments)
        self._active_year: int | None = None

    def active(self, trigger: str) -> list[Instrument]:
        """Instruments responding to ``trigger`` in the model's current year (tabled once a year)."""
        year = self.model.year
        if self._active_year != year:
            self._active: dict[str, list[Instrument]] = {}
            self._awards: dict[tuple[str, str, str], float] = {}
            for inst in self._instruments:
                if inst.active(year):
                    self._active.setdefault(inst.trigger, []).append(inst)
            self._active_year = year
        return self._active.get(trigger, [])

    def offers(self, trigger: str) -> bool:
        """Whether any instrument pays for ``trigger`` this year."""
        return bool(self.active(trigger))

    def expected_award(self, trigger: str, level: str, kind: str) -> float:
        """What one incubator or institute would receive for ``trigger`` at ``level`` this year (万元).

        Agent awards depend only on trigger, level and kind (:class:`~simulator.policy.instruments.LevelAward`,
        :class:`~simulator.policy.instruments.UpgradeAward`), so each is asked once a year.
        """
        if not self.offers(trigger):        # also refreshes the yearly tables
            return 0.0
        key = (trigger, level, kind)
        if key not in self._awards:
            event = Event(trigger, agents=np.array([-1]), level=np.array([level]), kind=np.array([kind]))
            self._awards[key] = float(self.expected_payment(event)[0])
        return self._awards[key]

    def expected_payment(self, event: Event) -> np.ndarray:
        """What firms would receive for ``event`` under this year's rules (万元 each)."""
        return amounts_due(self.active(event.trigger), event)

    def pay(self, event: Event) -> np.ndarray:
        """Pay every active instrument for ``event``; record and return the amounts (万元 each).

        An instrument with an annual ``budget`` pays claims in the order the
        phases raise them; a batch that would exceed what is left is paid
        pro rata (every claimant gets the same share of its claim).
        """
        total = np.zeros(len(event))
        year = self.model.year
        if event.agents is not None:
            kind, ids = "agent", np.asarray(event.agents)
        else:
            kind, ids = "firm", self.model.firms.uid[event.firms]
        for inst in self.active(event.trigger):
            amounts = inst.amount(event)
            if inst.budget is not None:
                left = max(inst.budget - self._paid_by.get((year, inst.id), 0.0), 0.0)
                due = float(amounts.sum())
                if due > left:
                    amounts = amounts * (left / due)
            paid = amounts > 0
            if paid.any():
                self._ledger.append((year, inst.id, inst.payer, kind, ids[paid], amounts[paid]))
                value = float(amounts[paid].sum())
                self._paid[year] = self._paid.get(year, 0.0) + value
                self._paid_by[(year, inst.id)] = self._paid_by.get((year, inst.id), 0.0) + value
                self._recipients[(year, inst.id)] = self._recipients.get((year, inst.id), 0) + int(paid.sum())
            total += amounts
        return total

    def paid_in(self, year: int) -> float:
        """Total paid in ``year``, 万元."""
        return self._paid.get(year, 0.0)

    def paid_by(self, year: int, instrument: str) -> float:
        """Total paid in ``year`` by the instrument of id ``instrument``, 万元."""
        return self._paid_by.get((year, instrument), 0.0)

    def payment_totals(self) -> list[tuple[int, str, str, int, float]]:
        """(year, instrument, payer, recipients, amount 万元) per year and instrument: the ledger's totals."""
        payer = {i.id: i.payer for i in self.instruments}
        return [(y, i, payer[i], self._recipients[(y, i)], amount) for (y, i), amount in sorted(self._paid_by.items())]

    def payments(self) -> pd.DataFrame:
        """Every recorded payment: year, instrument, payer, recipient type (firm/agent), recipient id, amount (万元).

        Firm recipients are identified by ``uid``, incubators and institutes by their Mesa ``unique_id``.
        """
        columns = ["year", "instrument", "payer", "recipient_type", "recipient", "amount"]
        if not self._ledger:
            return pd.DataFrame({c: pd.Series(dtype=float if c == "amount" else object) for c in columns})
        frames = [pd.DataFrame({"year": y, "instrument": i, "payer": p, "recipient_type": k, "recipient": r,
                                "amount": a}) for y, i, p, k, r, a in self._ledger]
        return pd.concat(frames, ignore_index=True)


def tally(model: ModelState, key: str, n: int = 1) -> None:
    """Count an event of the year in ``model.year_stats`` (read by the flow indicators)."""
    model.year_stats[key] = model.year_stats.get(key, 0) + n


def graduate_tenants(model: ModelState) -> np.ndarray:
    """Release every tenant that has stayed ``incubation_years``; set ``model.tenant_counts``.

    One pass over the firms for all incubators (each carrier's graduates are added to its
    ``graduates``); returns the graduates of each incubator this year.
    """
    f, n = model.firms, len(model.incubators)
    hosted = f.incubator >= 0
    done = hosted & (model.year - f.incubated_since >= model.params.incubation_years)
    graduated = np.bincount(f.incubator[done], minlength=n)
    f.incubator[done] = -1
    for inc, k in zip(model.incubators, graduated, strict=True):
        inc.graduates += int(k)
    tally(model, "tenant_graduations", int(graduated.sum()))
    model.tenant_counts = np.bincount(f.incubator[hosted & ~done], minlength=n)
    return graduated


def found_carriers(model: ModelState, rng: np.random.Generator) -> int:
    """New municipal incubation carriers: ``carrier_founding_rate`` per existing carrier (at least one) a year,
    raised by the award for a new municipal carrier (x (1 + response x award / 100 万元)), which is paid."""
    p, gov = model.params, model.government
    kind = str(rng.choice(np.array(["incubator", "maker_space"]), size=1)[0])
    expected = gov.expected_award("carrier_recognised", "municipal", kind)
    # at least one "seed" carrier: a region without carriers can still open its first one
    pull = 1.0 + p.incubator_award_response * expected / 100.0
    rate = p.carrier_founding_rate * max(len(model.incubators), 1) * pull
    n = int(rng.poisson(rate))
    tally(model, "incubators_founded", n)
    for _ in range(n):
        kind = str(rng.choice(["incubator", "maker_space"]))
        inc = Incubator(model, len(model.incubators), kind, "municipal", int(p.new_carrier_capacity), 0)
        model.incubators.append(inc)
        inc.receive_award(float(gov.pay(inc._recognition("municipal"))[0]))
    return n


def found_institutes(model: ModelState, rng: np.random.Generator) -> int:
    """New municipal R&D institutions: ``institute_founding_rate`` per existing one a year, raised by
    the recognition award (x (1 + response x award / 100 万元)), which is paid. A share
    ``new_type_share`` are new-type R&D institutions."""
    p, gov = model.params, model.government
    candidates = [i for i in model.institutes if i.kind != "university"]
    if not candidates:
        return 0
    kinds = ("new_type_rd_institution", "research_institute")
    expected = (p.new_type_share * gov.expected_award("institute_recognised", "municipal", kinds[0])
                + (1.0 - p.new_type_share) * gov.expected_award("institute_recognised", "municipal", kinds[1]))
    rate = p.institute_founding_rate * len(candidates) * (1.0 + p.institute_award_response * expected / 100.0)
    n = int(rng.poisson(rate))
    rd = float(statistics.median(i.rd for i in candidates))   # (numpy's median costs 60 µs on a short list)
    tally(model, "rd_institutions_founded", n)
    for _ in range(n):
        kind = str(kinds[0] if rng.random() < p.new_type_share else kinds[1])
        inst = ResearchInstitute(model, len(model.institutes), kind, "municipal", 0.5 * rd)
        model.institutes.append(inst)
        gov.pay(inst._event("institute_recognised", "municipal"))
    return n

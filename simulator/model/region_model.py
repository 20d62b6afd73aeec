"""RegionModel: the Mesa model of one region, stepping one year at a time."""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np
import pandas as pd

from simulator.errors import InputError, closest
from simulator.inputs.parameters import Parameters
from simulator.inputs.region_file import Region, load_region
from simulator.inputs.scenario_file import Scenario
from simulator.model import alliances as alliance_rules
from simulator.model import firm_rules as rules
from simulator.model import hte_rules as hte
from simulator.model.agents import (
    Government,
    Incubator,
    ResearchInstitute,
    found_carriers,
    found_institutes,
    graduate_tenants,
)
from simulator.model.firms import FirmPopulation, FirmView, uid_member
from simulator.model.guards import check_state
from simulator.model.indicators import INDICATORS, compute_all
from simulator.model.population import assign_tenants, calibrate_contract_sales, check_steady_state, synthesise_firms
from simulator.model.snapshot import Snapshot, check_same_past, restore, take
from simulator.model.zone import SCORE_COMPONENTS, ZoneCommittee
from simulator.policy.instruments import Instrument

#: Named random streams, one per phase, spawned from ``model.rng``. Keeping
#: phases on separate streams means a policy that changes how many draws one
#: phase makes does not shift the random numbers of the others.
STREAMS = ("population", "growth", "rd", "purchases", "certification", "registration",
           "designation", "knowledge", "exit", "incubators", "institutes", "entry", "founding", "graduates",
           "alliances", "alliance_levels", "alliance_members")


class RegionModel(mesa.Model):
    """Agent-based model of a region's innovation system.

    Firms are arrays (:class:`~simulator.model.firms.FirmPopulation`, inspect one
    with :meth:`firm`); incubators, institutes and the government are Mesa
    agents. At construction the model holds the base-year state, whose
    indicators equal the region's published baseline.

    Args:
        region: a validated :class:`~simulator.inputs.region_file.Region`.
        params: behavioural and national-rule parameters (defaults if None).
        instruments: policy instruments the government pays.
        seed: integer seed or ``numpy.random.SeedSequence``; all randomness derives from it.
        horizon: last simulated year.
        region_path: file the region came from (for error messages).
        past_instruments: the instruments in force before and in the base year, as the catalogues write
            them, which shaped the base-year state (default ``instruments``); a variant's settings change
            the future only, so every variant of a scenario starts from the same state.

    Example:
        >>> from simulator import RegionModel
        >>> m = RegionModel.from_files("scenarios/regions/qiqihar_zone.yaml", seed=1)  # doctest: +SKIP
        >>> m.run()                                                                      # doctest: +SKIP
        >>> m.indicators().query("year == 2025")                                         # doctest: +SKIP
    """

    def __init__(self, region: Region, params: Parameters | None = None,
                 instruments: list[Instrument] | None = None, seed: int | np.random.SeedSequence = 0,
                 horizon: int = 2035, region_path: str | Path = "<region>",
                 past_instruments: list[Instrument] | None = None) -> None:
        super().__init__(rng=seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
        self.region = region
        self.region_path = str(region_path)
        self.params = params or Parameters.defaults()
        self.base_year = region.base_year
        self.year = region.base_year
        self.horizon = horizon
        if horizon < self.base_year:
            raise InputError(region_path, "horizon", "must not precede the base year", value=horizon,
                             allowed=f">= {self.base_year}")
        self.streams = dict(zip(STREAMS, self.rng.spawn(len(STREAMS)), strict=False))
        self._next_uid = 0
        self.year_stats: dict[str, int] = {}
        # uids of certificate holders and registered tech SMEs at the last record (year-on-year flows)
        self._hte_holders = np.zeros(0, dtype=np.int64)
        self._tech_smes = np.zeros(0, dtype=np.int64)
        self.hte_granted_uids = np.zeros(0, dtype=np.int64)   # uids certified this year (set by certify_hte)
        self.records: list[dict[str, float]] = []
        self._entry_requests: list[tuple[int, int, int]] = []

        sectors = region.sectors
        self.sectors = sectors
        self.sector_firm_share = np.array([s.firm_share for s in sectors])
        self.sector_size = np.array([s.size for s in sectors])
        self.sector_va_ratio = np.array([s.va_ratio for s in sectors])
        self.sector_industrial = np.array([s.industrial for s in sectors])
        self.sector_hightech_prior = np.array([s.hightech_prior for s in sectors])
        self.sector_rd_prior = np.array([s.rd_prior for s in sectors])
        self.rd_active_share = region.pop("rd_active_share")
        self.local_purchase_share = region.pop("local_purchase_share")
        self.other_gdp = 0.0
        self.va_scale = 1.0

        self.government = Government(self, instruments or [])
        self.past_instruments = list(instruments or []) if past_instruments is None else list(past_instruments)
        self.zone: ZoneCommittee | None = None   # where the region is a ranked national zone (set below)
        check_steady_state(self)   # base-year knowledge stocks (institutes', firms') need depreciation + growth > 0
        self.institutes = self._build_institutes()
        self.incubators = [Incubator(self, i, c.kind, c.level, c.capacity, c.graduates)
                           for i, c in enumerate(c for c in region.incubators.carriers for _ in range(c.count))]
        rng = self.streams["population"]
        self.firms: FirmPopulation = synthesise_firms(self, rng)
        self.hte_pursuing = np.zeros(len(self.firms), dtype=bool)
        assign_tenants(self, rng)
        self.tenant_counts = np.bincount(self.firms.incubator[self.firms.incubator >= 0],
                                         minlength=len(self.incubators))
        rules.register_tech_smes(self, rng)
        rules.buy_technology(self, rng)     # base-year purchases (policies of later years inactive)
        calibrate_contract_sales(self)
        alliance_rules.build_alliances(self)                 # None where the region file has no alliances block
        alliance_rules.build_transfer_institutions(self)     # likewise (transfer_institutions)
        if region.ranking is not None:
            self.zone = ZoneCommittee(self, region.ranking.rank, region.ranking.zones)
            self.zone.remember_base_year(self._score_inputs())
        self._record()

    # ------------------------------------------------------------ building
    @classmethod
    def from_files(cls, region_file: str | Path, *, seed: int = 0, horizon: int = 2035,
                   parameters: dict | None = None, policies: dict | None = None) -> RegionModel:
        """Build a model from a region file with its policy catalogues (for notebooks).

        Args:
            region_file: path to ``scenarios/regions/<id>.yaml``.
            seed: random seed.
            horizon: last simulated year.
            parameters: parameter overrides (name -> value).
            policies: instrument settings (id -> dict with enabled/scale/start_year/end_year/params).
        """
        from simulator.policy.build import build_instruments
        region_file = Path(region_file)
        region = load_region(region_file)
        params = Parameters.defaults().with_overrides(parameters, str(region_file))
        scenario = Scenario(name="notebook", region=region.id, horizon=horizon, seed=seed,
                            policies=policies or {})
        instruments = build_instruments(region, scenario, region_file.parent.parent / "policies",
                                        str(region_file))
        past = build_instruments(region, scenario.model_copy(update={"policies": {}}),
                                 region_file.parent.parent / "policies", str(region_file))
        return cls(region, params, instruments, seed=seed, horizon=horizon, region_path=region_file,
                   past_instruments=past)

    def _build_institutes(self) -> list[ResearchInstitute]:
        members = [m for m in self.region.institutes.members for _ in range(m.count)]
        if not members:
            return []
        total = (self.region.pop("institute_rd_share") * self.region.base("rd_intensity") / 100.0
                 * self.region.base("gdp") * 1e4)
        weights = np.array([m.rd_weight for m in members])
        return [ResearchInstitute(self, i, m.kind, m.level, total * w / weights.sum())
                for i, (m, w) in enumerate(zip(members, weights, strict=False))]

    def next_uids(self, n: int) -> np.ndarray:
        """Reserve ``n`` new unique firm ids."""
        uids = np.arange(self._next_uid, self._next_uid + n, dtype=np.int64)
        self._next_uid += n
        return uids

    def request_entry(self, n: int, origin: int, incubator: int = -1) -> None:
        """Ask for ``n`` new firms of an origin (created together by :meth:`admit_entrants`)."""
        self._entry_requests.append((n, origin, incubator))

    def admit_entrants(self, rng: np.random.Generator) -> int:
        """Create every firm requested this year in one batch; return how many."""
        if not self._entry_requests:
            return 0
        counts = [n for n, _, _ in self._entry_requests]
        origin = np.repeat([o for _, o, _ in self._entry_requests], counts)
        incubator = np.repeat([i for _, _, i in self._entry_requests], counts)
        self._entry_requests = []
        self.firms.append(rules.make_firms(self, origin, incubator, rng))
        self.hte_pursuing = np.concatenate([self.hte_pursuing, np.zeros(len(origin), dtype=bool)])
        return len(origin)

    # ------------------------------------------------------------ stepping
    def step(self) -> None:
        """Advance one year. Phases, in order:

        1. ``open_year`` - year += 1; firms age; histories shift; institutes' yearly sales reset.
        2. ``grow`` - firm revenue grows with knowledge (:func:`firm_rules.grow`).
        3. ``set_rd_budgets`` - R&D from its after-tax cost; firms near the HTE
           thresholds weigh award + tax gain against the extra R&D (bunching; :mod:`hte_rules`).
        4. ``hire_graduates`` - graduate living allowance paid for the last three cohorts;
           规上 industrial firms hire S&T graduates, more where the allowance is on offer;
           induced hires add to S&T staff (:func:`firm_rules.hire_graduates`).
        5. ``buy_technology`` - purchases from universities/institutes; purchase subsidy paid.
        6. ``certify_hte`` - eligible pursuing firms apply; review; certification awards paid.
        7. ``register_tech_smes`` and ``designate_zjtx`` - yearly registrations and listings.
        8. ``accumulate_knowledge`` - knowledge, IP, high-tech share.
        9. ``exit_firms`` - exits by the age-hazard table.
        10. institutes ``step`` (research, spin-offs, upgrades and their awards); tenants that
            finished incubation graduate (``agents.graduate_tenants``, all carriers in one pass);
            incubators ``step`` (upgrades and their awards, intake).
        11. ``found_institutes``, ``found_carriers`` - new R&D institutions and carriers, more
            where a recognition award is on offer (the award is paid); alliances and transfer
            institutions where the region has them (:mod:`simulator.model.alliances`).
        12. ``attract_firms`` - firms moving in from outside.
        13. ``admit_entrants`` - every firm requested in 10-12 is created in one batch.
        14. ``zone.evaluate`` - where the region is a ranked national zone: this year's rank
            from its indicators; any rank award paid and spent on incubation places.
        15. ``_record`` - indicators of the year.
        """
        if self.year >= self.horizon:
            raise RuntimeError(f"the model is already at its horizon {self.horizon}")
        self._open_year()
        s = self.streams
        rules.grow(self, s["growth"])
        hte.set_rd_budgets(self, s["rd"])
        rules.hire_graduates(self, s["graduates"])
        rules.buy_technology(self, s["purchases"])
        hte.certify_hte(self, s["certification"])
        rules.register_tech_smes(self, s["registration"])
        rules.designate_zjtx(self, s["designation"])
        rules.accumulate_knowledge(self, s["knowledge"])
        rules.exit_firms(self, s["exit"])
        for inst in self.institutes:
            inst.step()
        graduate_tenants(self)
        for inc in self.incubators:
            inc.step()
        found_institutes(self, s["founding"])
        found_carriers(self, s["founding"])
        alliance_rules.step_alliances(self)
        alliance_rules.recognise_transfer_institutions(self)
        rules.attract_firms(self, s["entry"])
        self.admit_entrants(s["entry"])
        self.other_gdp *= 1.0 + self.params.other_gdp_growth
        if self.zone is not None:
            self.zone.evaluate(self._score_inputs())
        self._record()

    def _open_year(self) -> None:
        self.year += 1
        self.year_stats = {}
        self.firms.age += 1
        self.firms.shift_history()
        for inst in self.institutes:
            inst.local_sales = 0.0

    def run(self, until: int | None = None) -> RegionModel:
        """Step to ``until`` (default: the horizon); returns self for chaining."""
        until = self.horizon if until is None else min(until, self.horizon)
        while self.year < until:
            self.step()
        return self

    def release(self) -> None:
        """Let Python free this model once the caller drops it.

        Mesa 3.3 keeps a class-level id counter keyed by model (``mesa.Agent._ids``), which
        holds every model ever built; in an ensemble of thousands of runs that is gigabytes.
        Mesa 3.5 no longer has it. Results (``records``, the ledger) stay readable.
        """
        ids = getattr(mesa.Agent, "_ids", None)
        if isinstance(ids, dict):
            ids.pop(self, None)

    # ------------------------------------------------------------ copies
    def snapshot(self) -> Snapshot:
        """This model's state now, to continue from it later, any number of times (:meth:`from_snapshot`).

        The region, the parameters and the instruments are referenced, not copied (they are
        read-only); everything else (firms, agents, random streams, ledger, records) is.
        """
        return take(self, (self.region, self.params, *self.government.instruments))

    @classmethod
    def from_snapshot(cls, snap: Snapshot, instruments: list[Instrument] | None = None) -> RegionModel:
        """A model continuing from ``snap``, optionally paying other ``instruments`` from the next year.

        Exactly a fresh model's future (same random streams, same state) as long as the new
        instruments pay exactly as the snapshot's did in every year already simulated; that is checked.

        Raises:
            ValueError: ``instruments`` would have paid otherwise in a year up to the snapshot's.
        """
        if instruments is not None:
            check_same_past(snap, instruments)
        model = restore(snap)
        if instruments is not None:
            model.government.instruments = instruments
        return model

    def _score_inputs(self) -> dict[str, float]:
        return {name: INDICATORS[name].func(self) for name in SCORE_COMPONENTS}

    def _count_flows(self) -> None:
        """Year-on-year flows of the HTE and tech-SME stocks into ``year_stats`` (all 0 in the base year).

        With H the holders valid at the last record, V those valid now and G the firms certified
        this year, the HTE stock moves as |V| = |H| + first + re-entries + entrants - expired - exits:
        renewals (members of H certified again in the year their certificate expired) keep a firm in
        the stock; *re-entries* are firms certified again after their certificate had lapsed before;
        *expired* are members of H still present but no longer valid (not renewed); *exits* are
        members of H, or of first certifications and re-entries of the year, that left the region;
        *entrants* are valid holders that were not in the region a year ago.
        """
        f, s = self.firms, self.year_stats
        uid = f.uid
        valid = self.hte_valid_mask()
        held = self._hte_holders
        if self.year > self.base_year:
            # uids rise with the row (entrants get new uids, exits keep the order): membership is then a
            # binary search; a population built otherwise falls back to np.isin (firms.uid_member)
            ordered = all(a.size < 2 or bool((a[1:] > a[:-1]).all()) for a in (uid, held, self._tech_smes))

            def member(values, ref): return uid_member(values, ref, ordered)
            granted = self.hte_granted_uids
            renewed = member(granted, held)
            was_held, was_sme = member(uid, held), member(uid, self._tech_smes)   # per row, at the last record
            s["hte_renewals"] = int(renewed.sum())
            s["hte_reentries"] = int(s.get("hte_granted", 0) - s.get("hte_first", 0) - s["hte_renewals"])
            # first certifications and re-entries that left, and last year's holders that left
            s["hte_exits"] = int(held.size - was_held.sum() + (~member(granted[~renewed], uid)).sum())
            s["hte_expired"] = int((was_held & ~valid).sum())
            s["hte_entrants"] = int((valid & ~(uid < self._uid_at_record)).sum())
            s["tech_sme_new"] = int((f.tech_sme & ~was_sme).sum())
            s["tech_sme_exits"] = int(self._tech_smes.size - was_sme.sum())
            s["tech_sme_dropped"] = int((was_sme & ~f.tech_sme).sum())
        self._hte_holders = uid[valid]
        self._tech_smes = uid[f.tech_sme]
        self.hte_granted_uids = np.zeros(0, dtype=np.int64)
        self._uid_at_record = self._next_uid

    def _record(self) -> None:
        self._count_flows()
        # NaN/inf in any agent's state stops the run naming year, agent and field (guards.NumericalError);
        # agents first, so the report names the source rather than an indicator it spoiled
        check_state(self, indicators=False)
        self.records.append({"year": self.year, **self.indicator_values()})   # checks the indicators too

    def indicator_values(self) -> dict[str, float]:
        """Every indicator of the current year, computed now (raises NumericalError on a non-finite one)."""
        return compute_all(self)

    # ------------------------------------------------------------ state queries
    def hte_valid_mask(self) -> np.ndarray:
        """Firms holding a certificate valid this year (granted within the last 3 years)."""
        # years since the grant, as unsigned: "never" (-1) and a grant in the future wrap to >= 32768,
        # so one comparison does (g >= 0) & (g <= year) & (year < g + validity)
        age = (self.year - self.firms.hte_grant_year).astype(np.int16, copy=False).view(np.uint16)
        return age < self.params.hte_validity_years

    def institute_rd(self) -> float:
        """R&D of institutes and universities this year, 万元."""
        return float(sum(i.rd for i in self.institutes))

    def tech_contracts_sold(self) -> float:
        """Seller-side technology contracts of the zone this year, 万元."""
        return float(sum(i.contracts_sold for i in self.institutes))

    def firm(self, index: int) -> FirmView:
        """One firm by row index, as an object (reads and writes the arrays)."""
        return FirmView(self, index)

    def firm_by_uid(self, uid: int) -> FirmView:
        """One firm by its stable unique id."""
        rows = np.flatnonzero(self.firms.uid == uid)
        if rows.size == 0:
            raise KeyError(f"no firm with uid {uid} in {self.year} (it may have exited)")
        return FirmView(self, int(rows[0]))

    def firms_frame(self) -> pd.DataFrame:
        """All firms this year as a DataFrame."""
        df = self.firms.to_frame()
        df["sector_name"] = [self.sectors[s].id for s in df["sector"]]
        df["hte_valid"] = self.hte_valid_mask()
        return df

    def indicators(self, variant: str = "base", replicate: int = 0) -> pd.DataFrame:
        """Tidy table of every indicator and year so far: variant, replicate, year, indicator, value."""
        wide = pd.DataFrame(self.records)
        tidy = wide.melt(id_vars="year", var_name="indicator", value_name="value")
        tidy.insert(0, "replicate", replicate)
        tidy.insert(0, "variant", variant)
        order = {name: k for k, name in enumerate(INDICATORS)}
        return (tidy.sort_values(["year", "indicator"], key=lambda c: c.map(order) if c.name == "indicator" else c)
                .reset_index(drop=True))

    def indicator(self, name: str) -> pd.Series:
        """One indicator by year."""
        if name not in INDICATORS:
            raise KeyError(f"unknown indicator {name!r}{closest(name, INDICATORS)}")
        return pd.DataFrame(self.records).set_index("year")[name]


"""ModelState: what a rule, an agent, an indicator or a guard may read and call on the region model.

The firm rules, agents, zone committee, base-year population, indicators, target series and
guards take the model as an argument; :class:`~simulator.model.region_model.RegionModel` (which
imports all of them) satisfies this protocol, so none of them imports the region model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from simulator.model.firms import FirmPopulation

if TYPE_CHECKING:
    from simulator.inputs.parameters import Parameters
    from simulator.inputs.region_file import Region
    from simulator.policy.instruments import Instrument


class ModelState(Protocol):
    """The region model as its parts see it (attributes set by ``RegionModel.__init__``)."""

    # inputs and time
    region: Region
    region_path: str                    # file the region came from (for error messages)
    params: Parameters
    base_year: int
    year: int
    streams: dict[str, np.random.Generator]   # one random stream per phase (region_model.STREAMS)
    past_instruments: list[Instrument]        # the instruments that shaped the base-year state

    # sectors (region file ``sectors``), one element per sector
    sectors: list[Any]
    sector_firm_share: np.ndarray
    sector_size: np.ndarray
    sector_va_ratio: np.ndarray
    sector_industrial: np.ndarray
    sector_hightech_prior: np.ndarray
    sector_rd_prior: np.ndarray
    rd_active_share: float
    local_purchase_share: float
    other_gdp: float                    # GDP outside the modelled firms, 万元
    va_scale: float                     # value added per sector VA ratio x revenue

    # agents and firms
    firms: FirmPopulation
    hte_pursuing: np.ndarray            # firms applying for HTE certification this year (set_rd_budgets)
    hte_granted_uids: np.ndarray        # uids certified this year (certify_hte), for the year-on-year flows
    tenant_counts: np.ndarray           # tenants per incubator (agents.graduate_tenants)
    government: Any                     # agents.Government
    incubators: list[Any]               # agents.Incubator
    institutes: list[Any]               # agents.ResearchInstitute
    zone: Any                           # zone.ZoneCommittee, or None where the region is not a ranked zone
    alliances: list[Any] | None         # alliances.Alliance, or None where the region file has no alliances block
    transfer_institutions: list[Any] | None   # alliances.TransferInstitution, or None (no transfer_institutions)
    transfer_volume: float              # base-year contract turnover per transfer institution, 万元

    # results
    year_stats: dict[str, int]          # counts of this year's events (flow indicators)
    records: list[dict[str, float]]     # indicators of every year so far

    def hte_valid_mask(self) -> np.ndarray:
        """Firms holding a certificate valid this year."""
        ...

    def institute_rd(self) -> float:
        """R&D of institutes and universities this year, 万元."""
        ...

    def tech_contracts_sold(self) -> float:
        """Seller-side technology contracts of the zone this year, 万元."""
        ...

    def next_uids(self, n: int) -> np.ndarray:
        """Reserve ``n`` new unique firm ids."""
        ...

    def request_entry(self, n: int, origin: int, incubator: int = -1) -> None:
        """Ask for ``n`` new firms of an origin (created together at the end of the step)."""
        ...

    def indicator_values(self) -> dict[str, float]:
        """Every indicator of the current year, computed now (raises NumericalError on a non-finite one)."""
        ...

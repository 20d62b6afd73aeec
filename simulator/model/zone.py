"""The zone's management committee and the national high-tech-zone ranking.

003 二(三) pays the Baotou rare-earth zone 500 万元 for every 5 places it gains
in the national ranking of high-tech zones. The ranking is not public
arithmetic (MOST's evaluation covers innovation, structure, openness, green
development and quality of growth), so the model uses a stylised version:

* the zone's evaluation score moves with how its own indicators grow
  relative to the national trend of the same indicators (other zones improve
  too, so standing still loses places);
* national zones' scores are spread normally; rank = 1 + (N - 1) x (1 - Phi(z)),
  with z set so that the base-year rank is the published one.

The committee (a Mesa agent) receives rank awards and spends them on
incubation places (its carriers' ``receive_award``), the explicit response
to the award. Regions without a ``ranking`` section have no ranking.
"""

from __future__ import annotations

import mesa
import numpy as np
from scipy.stats import norm

from simulator.model.state import ModelState
from simulator.policy.instruments import Event

#: indicators whose growth against the national trend drives the evaluation score, with the
#: parameter holding each national trend (equal weights: assumption)
SCORE_COMPONENTS = {
    "rd_intensity": "national_trend_rd_intensity",
    "hte_count": "national_trend_hte_count",
    "tech_contract_value": "national_trend_tech_contracts",
    "gdp": "national_trend_gdp",
}


class ZoneCommittee(mesa.Agent):
    """The zone's management committee (管委会): its national rank, and what it does with rank awards.

    Args:
        model: the region model.
        rank: published rank in the base year.
        zones: number of national high-tech zones ranked.
    """

    model: ModelState

    def __init__(self, model: ModelState, rank: int, zones: int) -> None:
        super().__init__(model)
        self.zones = zones
        self.rank = rank
        self.previous_rank = rank
        self._z0 = float(norm.ppf(1.0 - (rank - 1) / (zones - 1)))
        self._base: dict[str, float] = {}

    def remember_base_year(self, values: dict[str, float]) -> None:
        """Store the base-year indicators the score is measured against."""
        self._base = {k: values[k] for k in SCORE_COMPONENTS}

    def score(self, values: dict[str, float]) -> float:
        """Standardised evaluation score: base-year z plus sensitivity x mean excess log-growth."""
        p = self.model.params
        years = self.model.year - self.model.base_year
        excess = [np.log(max(values[k], 1e-9) / self._base[k]) - years * np.log1p(getattr(p, trend))
                  for k, trend in SCORE_COMPONENTS.items()]
        return self._z0 + p.rank_score_sensitivity * float(np.mean(excess))

    def evaluate(self, values: dict[str, float]) -> int:
        """Rank this year from this year's indicators; pay and spend any rank award; return the rank."""
        self.previous_rank = self.rank
        z = self.score(values)
        self.rank = int(np.clip(round(1 + (self.zones - 1) * (1.0 - norm.cdf(z))), 1, self.zones))
        gained = self.previous_rank - self.rank
        if gained > 0:
            event = Event("rank_improved", agents=np.array([self.unique_id]), base=np.array([float(gained)]),
                          level=np.array(["national"]), kind=np.array(["zone"]))
            self.spend(float(self.model.government.pay(event)[0]))
        return self.rank

    def spend(self, amount: float) -> None:
        """Spend an award on incubation places, shared equally by the zone's carriers."""
        share = self.model.params.rank_award_to_incubators * amount
        carriers = self.model.incubators
        for inc in carriers:
            inc.receive_award(share / len(carriers))

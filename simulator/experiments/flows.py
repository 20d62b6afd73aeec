"""Stock-flow decompositions of an ensemble: why a stock (HTEs, tech SMEs, carriers, institutions) moves.

Every stock the plans target changes through flows the model records each year (see the flow
indicators of :mod:`simulator.model.indicators`). The tables here average them over replicates (means
add up where medians do not), per variant and year, so that

    HTE stock(t) - stock(t-1) = first certifications + re-entries + entrants - expired - exits

holds in every row (column ``residual``, 0 up to rounding); renewals are shown beside it, as they
keep a firm in the stock. :mod:`simulator.report.flows_chart` draws the same for one variant as stacked bars.
"""

from __future__ import annotations

import pandas as pd

#: HTE stock, its inflows and outflows (in the order of the chart's stacks)
HTE_STOCK = "hte_count"
HTE_IN = ("hte_new_certifications", "hte_reentries", "hte_entrants")
HTE_OUT = ("hte_expired", "hte_exits")
HTE_KEEP = ("hte_renewals",)

#: other stocks: (family, stock indicator, flow indicators)
OTHER_FAMILIES = (
    ("tech_smes", "tech_sme_count", ("tech_sme_new", "tech_sme_dropped", "tech_sme_exits")),
    ("incubators", "incubator_count", ("incubators_founded", "incubator_upgrades_provincial",
                                       "incubator_upgrades_national", "national_incubators", "tenant_graduations",
                                       "incubator_tenants")),
    ("rd_institutions", "rd_institution_count", ("rd_institutions_founded", "rd_institution_upgrades",
                                                 "national_rd_institutions")),
)


def _means(table: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Replicate means of ``names`` per variant and year, one column each (missing indicators: 0)."""
    sub = table[table["indicator"].isin(names)]
    wide = sub.pivot_table(index=["variant", "year"], columns="indicator", values="value", aggfunc="mean",
                           observed=True, sort=False)
    for name in names:
        if name not in wide:
            wide[name] = 0.0
    return wide[list(names)]


def hte_flows(table: pd.DataFrame) -> pd.DataFrame:
    """Mean HTE stock and flows per variant and year, with the residual of the stock-flow identity.

    Args:
        table: the tidy ensemble table (``variant, replicate, year, indicator, value``).

    Returns:
        ``variant, year, hte_count, <inflows>, <outflows>, hte_renewals, net_change, residual, replicates``;
        the base year has no flows (its net change is empty).
    """
    cols = (HTE_STOCK, *HTE_IN, *HTE_OUT, *HTE_KEEP)
    wide = _means(table, cols).reset_index().sort_values(["variant", "year"], kind="stable")
    wide["net_change"] = wide.groupby("variant", sort=False)[HTE_STOCK].diff()
    flows = wide[list(HTE_IN)].sum(axis=1) - wide[list(HTE_OUT)].sum(axis=1)
    wide["residual"] = (wide["net_change"] - flows).round(9)
    reps = table[table["indicator"] == HTE_STOCK].groupby(["variant", "year"], sort=False)["replicate"].nunique()
    wide["replicates"] = wide.set_index(["variant", "year"]).index.map(reps).astype(int)
    return wide.reset_index(drop=True)


def stock_flows(table: pd.DataFrame) -> pd.DataFrame:
    """Mean stock and yearly flows of tech SMEs, incubation carriers (and their levels) and R&D institutions.

    Returns:
        tidy ``variant, year, family, stock, <flow>...`` rows, one family after the other (NaN where a
        column belongs to another family).
    """
    frames = []
    for family, stock, names in OTHER_FAMILIES:
        wide = _means(table, (stock, *names)).reset_index().rename(columns={stock: "stock"})
        wide.insert(2, "family", family)
        frames.append(wide)
    return pd.concat(frames, ignore_index=True)

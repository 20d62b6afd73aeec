"""Stock-flow decompositions of an ensemble: why a stock (HTEs, tech SMEs, carriers, institutions) moves.

Every stock the plans target changes through flows the model records each year (see the flow
indicators of :mod:`simulator.model.indicators`). The tables here average them over replicates (means
add up where medians do not), per variant and year, so that

    HTE stock(t) - stock(t-1) = first certifications + re-entries + entrants - expired - exits

holds in every row (column ``residual``, 0 up to rounding); renewals are shown beside it, as they
keep a firm in the stock. The chart shows the same for one variant as stacked bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulator.model.indicators import INDICATORS

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


def flows_chart(flows: pd.DataFrame, variant: str, path: str | Path, lang: str = "zh") -> list[Path]:
    """Stacked bars of one variant's HTE inflows (up) and outflows (down) a year and the net change as a
    line; renewals as an outline on top (they keep firms in the stock)."""
    import matplotlib.pyplot as plt

    from simulator.report.plots import _save, _style  # charts share the project's fonts and formats

    rows = flows[(flows["variant"] == variant) & flows["net_change"].notna()]
    label = (lambda n: INDICATORS[n].zh) if lang == "zh" else (lambda n: INDICATORS[n].en)
    colors = {"hte_new_certifications": "#0072B2", "hte_reentries": "#56B4E9", "hte_entrants": "#009E73",
              "hte_expired": "#E69F00", "hte_exits": "#D55E00"}
    with _style(lang):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        years = rows["year"].to_numpy()
        up = np.zeros(len(rows))
        for name in HTE_IN:
            ax.bar(years, rows[name], bottom=up, color=colors[name], label=label(name), width=0.7)
            up += rows[name].to_numpy()
        down = np.zeros(len(rows))
        for name in HTE_OUT:
            ax.bar(years, -rows[name], bottom=-down, color=colors[name], label=label(name), width=0.7)
            down += rows[name].to_numpy()
        ax.bar(years, rows["hte_renewals"], bottom=up, fill=False, edgecolor="#444444", linewidth=0.8,
               width=0.7, label=label("hte_renewals"))
        ax.plot(years, rows["net_change"], color="black", marker="o", markersize=3,
                label="净变化" if lang == "zh" else "Net change")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_ylabel("家/年" if lang == "zh" else "firms a year")
        ax.set_title(("高新技术企业存量变动分解(均值)" if lang == "zh" else "High-tech enterprises: stock-flow "
                      "decomposition (mean)"), loc="left", fontsize=11)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend(fontsize=7, ncol=3, loc="upper left", frameon=False)
        ax.margins(y=0.25)
        return _save(fig, path)

"""The stock-flow chart of an ensemble: one variant's yearly HTE inflows, outflows and net change as stacked bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from simulator.experiments.flows import HTE_IN, HTE_OUT
from simulator.model.indicators import INDICATORS
from simulator.report.layout import save_chart  # charts share the project's fonts and formats
from simulator.report.style import chart_style


def flows_chart(flows: pd.DataFrame, variant: str, path: str | Path, lang: str = "zh") -> list[Path]:
    """Stacked bars of one variant's HTE inflows (up) and outflows (down) a year and the net change as a
    line; renewals as an outline on top (they keep firms in the stock)."""
    rows = flows[(flows["variant"] == variant) & flows["net_change"].notna()]
    label = (lambda n: INDICATORS[n].zh) if lang == "zh" else (lambda n: INDICATORS[n].en)
    colors = {"hte_new_certifications": "#0072B2", "hte_reentries": "#56B4E9", "hte_entrants": "#009E73",
              "hte_expired": "#E69F00", "hte_exits": "#D55E00"}
    with chart_style(lang):
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
        return save_chart(fig, path)

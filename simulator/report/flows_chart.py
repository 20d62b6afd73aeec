"""Stock-flow charts of an ensemble: one variant's yearly inflows (up), outflows (down) and net change.

:func:`flows_chart` draws the HTE stock (``hte_flows``), :func:`family_chart` each other family of
``stock_flows`` (tech SMEs, incubation carriers with their levels and tenants, R&D institutions with
their levels), one panel per stock in :data:`FAMILY_PANELS`. Everything drawn is a replicate mean of
the tables; a panel's net change is the year-on-year change of its stock column.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from simulator.experiments.flows import HTE_IN, HTE_OUT
from simulator.model.indicators import INDICATORS
from simulator.report.layout import add_note, save_chart  # charts share the project's fonts and formats
from simulator.report.style import chart_style

#: stacks of the bars, in the order of HTE_IN / HTE_OUT, then the other families' flows
_COLORS = {"hte_new_certifications": "#0072B2", "hte_reentries": "#56B4E9", "hte_entrants": "#009E73",
           "hte_expired": "#E69F00", "hte_exits": "#D55E00",
           "tech_sme_new": "#0072B2", "tech_sme_dropped": "#E69F00", "tech_sme_exits": "#D55E00",
           "incubators_founded": "#0072B2", "incubator_upgrades_provincial": "#56B4E9",
           "incubator_upgrades_national": "#009E73", "tenant_graduations": "#CC79A7",
           "rd_institutions_founded": "#0072B2", "rd_institution_upgrades": "#009E73"}


def _label(lang: str):
    return (lambda n: INDICATORS[n].zh) if lang == "zh" else (lambda n: INDICATORS[n].en)


def flows_chart(flows: pd.DataFrame, variant: str, path: str | Path, lang: str = "zh") -> list[Path]:
    """Stacked bars of one variant's HTE inflows (up) and outflows (down) a year and the net change as a
    line; renewals as an outline on top (they keep firms in the stock)."""
    rows = flows[(flows["variant"] == variant) & flows["net_change"].notna()]
    label = _label(lang)
    with chart_style(lang):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        years = rows["year"].to_numpy()
        up = np.zeros(len(rows))
        for name in HTE_IN:
            ax.bar(years, rows[name], bottom=up, color=_COLORS[name], label=label(name), width=0.7)
            up += rows[name].to_numpy()
        down = np.zeros(len(rows))
        for name in HTE_OUT:
            ax.bar(years, -rows[name], bottom=-down, color=_COLORS[name], label=label(name), width=0.7)
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


class Panel(NamedTuple):
    """One stock of a family: its column in ``stock_flows`` (``stock`` is the family's own), the flows
    drawn up and down, and the panel's title and unit (zh, en)."""

    stock: str
    inflows: tuple[str, ...]
    outflows: tuple[str, ...]
    title: tuple[str, str]
    unit: tuple[str, str]


_FIRMS, _UNITS = ("家/年", "firms a year"), ("家/年", "carriers a year")
_INSTITUTIONS = ("个/年", "institutions a year")
#: per family of ``stock_flows``: its panels, the chart's title (zh, en) and a note (zh, en) or None
FAMILY_PANELS: dict[str, tuple[tuple[Panel, ...], tuple[str, str], tuple[str, str] | None]] = {
    "tech_smes": (
        (Panel("stock", ("tech_sme_new",), ("tech_sme_dropped", "tech_sme_exits"),
               ("科技型中小企业(入库)", "Registered tech SMEs"), _FIRMS),),
        ("科技型中小企业存量变动分解(均值)", "Tech SMEs: stock-flow decomposition (mean)"), None),
    "incubators": (
        (Panel("stock", ("incubators_founded",), (), ("孵化载体(各级)", "Incubation carriers (all levels)"), _UNITS),
         Panel("national_incubators", ("incubator_upgrades_national",), (),
               ("国家级孵化载体(升为省级者另列)", "National carriers (upgrades to provincial shown beside)"), _UNITS),
         Panel("incubator_tenants", (), ("tenant_graduations",), ("在孵企业", "Incubator tenants"), _FIRMS)),
        ("孵化载体存量变动分解(均值)", "Incubation carriers: stock-flow decomposition (mean)"),
        ("模型中孵化载体不关闭;新建载体为市级;省级载体数未单独记录。"
         "在孵企业的入孵数未记录:净变化 = 入孵 − 毕业 − 退出。",
         "Carriers never close in the model; new carriers are municipal; the provincial count is not recorded. "
         "Tenant intake is not recorded: net change = admitted - graduated - exits.")),
    "rd_institutions": (
        (Panel("stock", ("rd_institutions_founded",), (), ("研发机构(各级)", "R&D institutions (all levels)"),
               _INSTITUTIONS),
         Panel("national_rd_institutions", ("rd_institution_upgrades",), (),
               ("国家级研发机构与升级", "National R&D institutions and upgrades"), _INSTITUTIONS)),
        ("研发机构存量变动分解(均值)", "R&D institutions: stock-flow decomposition (mean)"),
        ("模型中研发机构不关闭;新建机构为市级。升级含升为省级和国家级(未分开记录),故国家级净变化不超过升级数。",
         "Institutions never close in the model; new ones are municipal. Upgrades count recognitions at "
         "provincial and national level together (not recorded apart): the national net change is at most the "
         "upgrades.")),
}
#: where the incubator chart draws the upgrades to provincial level (no provincial stock is recorded)
_BESIDE = {("incubators", "national_incubators"): "incubator_upgrades_provincial"}


def family_rows(flows: pd.DataFrame, family: str, variant: str) -> pd.DataFrame:
    """One variant's rows of ``family`` in ``stock_flows``, by year, with ``net_<stock>`` (the year-on-year
    change of each panel's stock) and without the base year (a state, not a year of flows)."""
    rows = flows[(flows["family"] == family) & (flows["variant"] == variant)].sort_values("year")
    rows = rows.reset_index(drop=True)
    for panel in FAMILY_PANELS[family][0]:
        rows[f"net_{panel.stock}"] = rows[panel.stock].diff().round(9)   # (a difference of means: no 1e-17)
    return rows.iloc[1:].reset_index(drop=True)


def family_figure(flows: pd.DataFrame, family: str, variant: str, lang: str = "zh"):
    """The figure of :func:`family_chart` (not saved): one axes per panel, bars labelled by indicator name."""
    panels, title, note = FAMILY_PANELS[family]
    rows = family_rows(flows, family, variant)
    label, k = _label(lang), 0 if lang == "zh" else 1
    years = rows["year"].to_numpy()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 0.6 + 2.6 * len(panels)), sharex=True, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        beside = _BESIDE.get((family, panel.stock))
        up = np.zeros(len(rows))
        for name in panel.inflows:
            ax.bar(years, rows[name], bottom=up, color=_COLORS[name], label=label(name), width=0.7)
            up += rows[name].to_numpy()
        down = np.zeros(len(rows))
        for name in panel.outflows:
            ax.bar(years, -rows[name], bottom=-down, color=_COLORS[name], label=label(name), width=0.7)
            down += rows[name].to_numpy()
        if beside:   # a flow between two other levels: a narrow bar left of the stock's
            ax.bar(years - 0.2, rows[beside], color=_COLORS[beside], label=label(beside), width=0.3)
        net = ("净变化", "Net change") if panel.stock == "stock" else \
            (f"{label(panel.stock)}净变化", f"{label(panel.stock)}: net change")
        ax.plot(years, rows[f"net_{panel.stock}"], color="black", marker="o", markersize=3, label=net[k])
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_ylabel(panel.unit[k])
        if len(panels) > 1:
            ax.set_title(panel.title[k], loc="left", fontsize=9)
        ax.legend(fontsize=7, ncol=3, loc="upper left", frameon=False)
        drawn = [*panel.inflows, *panel.outflows, *([beside] if beside else []), f"net_{panel.stock}"]
        if not rows[drawn].abs().gt(1e-9).any().any():   # nothing moved: say so rather than draw an empty scale
            ax.set_ylim(-1.0, 1.0)
            ax.text(0.5, 0.35, "各年均为 0" if lang == "zh" else "zero in every year", transform=ax.transAxes,
                    ha="center", va="center", fontsize=9, color="#444444")
        else:
            ax.margins(y=0.35)
    axes[-1, 0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.suptitle(title[k], x=0.01, ha="left", fontsize=11)
    fig.tight_layout()
    if note:
        add_note(fig, note[k])
    return fig


def family_chart(flows: pd.DataFrame, family: str, variant: str, path: str | Path, lang: str = "zh") -> list[Path]:
    """One family of ``stock_flows`` for one variant (``flows_<family>.png/.svg``): per panel, the stock's
    inflows as stacked bars up, outflows down, and its net change as a line."""
    with chart_style(lang):
        return save_chart(family_figure(flows, family, variant, lang), path)


def family_chart_tasks(flows: pd.DataFrame, variant: str, folder: Path, lang: str) -> list:
    """``(func, args)`` of every family chart, for the run's chart workers."""
    return [(family_chart, (flows, family, variant, folder / f"flows_{family}", lang)) for family in FAMILY_PANELS]

"""Charts of the research toolkit: sensitivity bars and the optimiser's cost-probability front.

Same conventions as the report's charts (whose font, style, wrapping and saving helpers they reuse:
:mod:`simulator.report.style`, :mod:`simulator.report.layout`): Chinese (``zh``) or English (``en``)
labels, the bundled CJK font, PNG at 300 dpi and SVG with the same stem, a note under the axes saying
how the numbers were made.

* :func:`sensitivity_chart` - the most influential factors for one output, as horizontal
  bars (tornado order): Morris ``mu*`` with its 95 % interval and ``sigma``, or Sobol ``ST``
  and ``S1`` with their intervals;
* :func:`pareto_chart` - every mix the optimiser tried, cost against probability of meeting
  the required targets, the Pareto front and the chosen mix.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulator.report.layout import add_note, chart_title, save_chart, wrap_text  # noqa: E402
from simulator.report.style import (  # noqa: E402
    BASE_COLOR,
    FIG_WIDTH,
    NO_POLICY_COLOR,
    TARGET_COLOR,
    TITLE_PT,
    chart_style,
    resolve_lang,
)
from simulator.report.units import indicator_name, unit_axis, with_unit  # noqa: E402

_TEXT = {
    "zh": {"morris": "Morris 筛选: μ* (平均绝对基本效应)", "sobol": "Sobol 指数: 总效应 ST 与一阶 S1",
           "mu_star": "μ* (95% 区间)", "sigma": "σ (非线性/交互)", "ST": "总效应 ST", "S1": "一阶 S1",
           "influence": "对 {output} 影响最大的因素", "lever": "政策", "param": "参数",
           "x_morris": "μ*: 因素从下限到上限的平均绝对效应 ({unit})", "x_sobol": "方差占比",
           "note": "{method}; {points} 个样本点 × {reps} 次重复 (共同随机数); 参数范围: {ranges}; "
                   "政策杠杆: 金额缩放 {levers}. 深色 = 政策杠杆, 浅色 = 行为参数.",
           "mean": "均值", "prob": "达标概率", "cost": "累计补贴成本 (万元, 各次模拟的均值)",
           "p_axis": "同时达到所要求目标的概率", "tried": "尝试的组合", "front": "帕累托前沿",
           "chosen": "选定组合", "as_written": "现行政策", "pareto_title": "成本与达标概率",
           "required": "要求 P ≥ {p:.0%}", "budget": "预算 {b}",
           "pareto_note": "每个点: 一种政策组合, {reps} 次重复 (共同随机数); 目标: {targets}. "
                          "成本 = {start}–{end} 年累计补贴."},
    "en": {"morris": "Morris screening: mu* (mean absolute elementary effect)",
           "sobol": "Sobol indices: total ST and first-order S1",
           "mu_star": "mu* (95% interval)", "sigma": "sigma (non-linearity/interaction)", "ST": "total ST",
           "S1": "first-order S1", "influence": "Most influential inputs for {output}", "lever": "policy",
           "param": "parameter", "x_morris": "mu*: mean absolute effect of a factor across its range ({unit})",
           "x_sobol": "share of output variance",
           "note": "{method}; {points} sample points x {reps} replicates (common random numbers); parameter "
                   "ranges: {ranges}; policy levers: amounts scaled {levers}. Dark = policy lever, light = "
                   "behavioural parameter.",
           "mean": "mean", "prob": "probability met",
           "cost": "cumulative subsidy cost (10 000 yuan, mean over replicates)",
           "p_axis": "probability of meeting the required targets jointly", "tried": "mixes tried",
           "front": "Pareto front", "chosen": "chosen mix", "as_written": "policies as written",
           "pareto_title": "Cost against probability of meeting the targets", "required": "required P >= {p:.0%}",
           "budget": "budget {b}",
           "pareto_note": "Each point: one policy mix, {reps} replicates (common random numbers); targets: "
                          "{targets}. Cost = cumulative subsidies {start}-{end}."},
}


def output_label(output: str, lang: str) -> tuple[str, str]:
    """Readable name and unit of an output column such as ``hte_count_2025`` or ``p_all_targets``."""
    t = _TEXT[lang]
    if output == "p_all_targets":
        return ("全部目标同时达到的概率" if lang == "zh" else "probability all targets are met"), ""
    prob = output.startswith("p_")
    core = output.removeprefix("p_")
    indicator, _, year = core.rpartition("_")
    from simulator.model.indicators import INDICATORS

    unit = "" if prob else unit_axis(INDICATORS[indicator].unit if indicator in INDICATORS else "", lang,
                                      indicator)
    name = f"{indicator_name(indicator, lang)} {year}"
    return (f"{name} {t['prob']}" if prob else f"{name} ({t['mean']})"), unit


def factor_label(name: str, lang: str) -> str:
    """``policy:q000_m4_hte_award.scale`` -> ``q000_m4_hte_award ×`` (政策); parameters by name."""
    t = _TEXT[lang]
    if name.startswith("policy:"):
        return f"{name.removeprefix('policy:').removesuffix('.scale')} × ({t['lever']})"
    return name


def sensitivity_chart(result, output: str, path: str | Path, region=None, lang: str = "zh", top: int = 15,
                      formats=("png", "svg")) -> list[Path]:
    """Horizontal bars of the ``top`` most influential factors for ``output`` (most influential at the top)."""
    lang = resolve_lang(lang)
    t = _TEXT[lang]
    part = result.indices[(result.indices["output"] == output) & (result.indices["factor"] != "")].head(top)
    name, unit = output_label(output, lang)
    levers = [f for f in result.factors if f.is_lever]
    params = [f for f in result.factors if not f.is_lever]
    with chart_style(lang):
        # the title's lines above the bars, then room per factor (at least two rows high)
        title = f"{t['influence'].format(output=name)}\n{t[result.method]}"
        title = wrap_text(chart_title(title, region, lang) if region is not None else title, TITLE_PT, 11)
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 1.0 + 0.22 * (title.count("\n") + 1)
                                        + 0.32 * max(len(part), 2)))
        y = np.arange(len(part))[::-1]
        colors = [BASE_COLOR if f.startswith("policy:") else "#9ecae1" for f in part["factor"]]
        if part.empty:
            note = result.indices.loc[result.indices["output"] == output, "note"]
            ax.text(0.5, 0.5, note.iloc[0] if len(note) else output,
                    transform=ax.transAxes, ha="center", va="center", color="#777777")
        elif result.method == "morris":
            ax.barh(y, part["mu_star"], xerr=part["mu_star_conf"], color=colors, ecolor="#444444",
                    capsize=2, label=t["mu_star"])
            ax.plot(part["sigma"], y, "D", color=TARGET_COLOR, ms=4, label=t["sigma"])
            ax.set_xlabel(wrap_text(t["x_morris"].format(unit=unit or "–"), FIG_WIDTH * 72 * 0.6, 10))
        else:
            h = 0.38
            ax.barh(y + h / 2, part["ST"].clip(lower=0), h, xerr=part["ST_conf"], color=colors, ecolor="#444444",
                    capsize=2, label=t["ST"])
            ax.barh(y - h / 2, part["S1"].clip(lower=0), h, xerr=part["S1_conf"], color=NO_POLICY_COLOR,
                    ecolor="#444444", capsize=2, label=t["S1"])
            ax.set_xlabel(t["x_sobol"])
        ax.set_yticks(y, [factor_label(f, lang) for f in part["factor"]])
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3, lw=0.6)
        if not part.empty:
            ax.legend(loc="best", frameon=False)
        # across the figure (not above the axes, which the factor names narrow), wrapped to its width
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
        bounds = str(result.options.get("bounds", "prior"))
        ranges = {"prior": "先验值 ±50% (限于允许范围)" if lang == "zh" else "prior ±50 % within the allowed bounds",
                  "calibrated": "校准90%区间 (其余: 先验值 ±50%)" if lang == "zh"
                  else "calibrated 90 % intervals (others: prior ±50 %)",
                  "full": "parameters.yaml bounds"}.get(bounds, bounds) if params else "–"
        lev = f"{levers[0].low:g}–{levers[0].high:g}×" if levers else "–"
        add_note(fig, t["note"].format(method=result.method, points=result.options.get("points", len(result.X)),
                                    reps=result.options.get("replicates", "?"), ranges=ranges, levers=lev))
        return save_chart(fig, path, formats)


def pareto_chart(trials: pd.DataFrame, path: str | Path, *, required: float | None = None,
                 budget: float | None = None, chosen: int | None = None, as_written: int | None = None,
                 targets: str = "", replicates: int = 0, years: tuple[int, int] = (0, 0), region=None,
                 lang: str = "zh", formats=("png", "svg")) -> list[Path]:
    """Cost (x) against joint probability (y) of every mix tried, the Pareto front and the chosen mix.

    ``trials`` needs columns ``trial, cost_mean, p_required, pareto``.
    """
    lang = resolve_lang(lang)
    t = _TEXT[lang]
    with chart_style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.2))
        ax.scatter(trials["cost_mean"], trials["p_required"], s=12, color="#9ecae1", label=t["tried"])
        front = trials[trials["pareto"]].sort_values("cost_mean")
        ax.step(front["cost_mean"], front["p_required"], where="post", color=BASE_COLOR, lw=1.4, label=t["front"])
        ax.scatter(front["cost_mean"], front["p_required"], s=18, color=BASE_COLOR)
        if as_written is not None and as_written in set(trials["trial"]):
            r = trials.set_index("trial").loc[as_written]
            ax.scatter([r["cost_mean"]], [r["p_required"]], marker="s", s=40, color=NO_POLICY_COLOR,
                       label=t["as_written"], zorder=4)
        if chosen is not None and chosen in set(trials["trial"]):
            r = trials.set_index("trial").loc[chosen]
            ax.scatter([r["cost_mean"]], [r["p_required"]], marker="*", s=140, color=TARGET_COLOR,
                       label=t["chosen"], zorder=5)
        if required is not None:
            ax.axhline(required, color=TARGET_COLOR, ls="--", lw=0.9, label=t["required"].format(p=required))
        if budget is not None:
            ax.axvline(budget, color=TARGET_COLOR, ls=":", lw=0.9,
                       label=t["budget"].format(b=with_unit(budget, "万元", lang)))
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(left=0)
        ax.set_xlabel(t["cost"])
        ax.set_ylabel(t["p_axis"])
        ax.grid(alpha=0.3, lw=0.6)
        ax.legend(loc="center right", frameon=False, fontsize=8)
        title = chart_title(t["pareto_title"], region, lang) if region is not None else t["pareto_title"]
        fig.suptitle(wrap_text(title, TITLE_PT, 11), fontsize=11, x=0.01, ha="left")
        add_note(fig, t["pareto_note"].format(reps=replicates, targets=targets, start=years[0], end=years[1]))
        return save_chart(fig, path, formats)

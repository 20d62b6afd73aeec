"""The cost chart: subsidy cost per additional unit of outcome by variant, one panel per outcome."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, MaxNLocator  # noqa: E402

from simulator.report.layout import add_note, no_data, save_chart, wrap_text  # noqa: E402
from simulator.report.style import FIG_WIDTH, TICK_LABEL_PT, chart_labels, chart_style, resolve_lang  # noqa: E402
from simulator.report.units import format_number, indicator_name, with_unit  # noqa: E402
from simulator.report.variants import NO_POLICY, VariantNames, variant_label, variant_order, variant_styles  # noqa: E402

#: cost_chart panels, in this order; other outcomes follow.
OUTCOMES = ("hte_count", "rd_intensity", "gdp")
_COST_AXIS = {"zh": {"hte_count": "万元 / 新增一家高新技术企业", "rd_intensity": "万元 / R&D 强度提高 1 个百分点",
                     "gdp": "万元 / 新增 1 亿元 GDP"},
              "en": {"hte_count": "10 000 yuan per additional high-tech enterprise",
                     "rd_intensity": "10 000 yuan per +1 percentage point of R&D intensity",
                     "gdp": "10 000 yuan per additional 100 million yuan of GDP"}}


def _cost_detail(row: pd.Series | None, lang: str) -> str:
    """``新增 +14家 (6 至 22), 成本 1,850 万元`` / ``extra +14 firms (6 to 22), cost 18.5 million yuan``; the 5–95 %
    range in brackets is in the unit of the median (English money: one scale for all three numbers)."""
    if row is None or pd.isna(row.get("extra_median")):
        return ""
    unit = row.get("unit", "")
    med, lo, hi = row["extra_median"], row.get("extra_p05", np.nan), row.get("extra_p95", np.nan)
    has_range = pd.notna(lo) and pd.notna(hi) and lo != hi     # (no "0 to 0" range)
    sign = "" if med < 0 else "+"
    to = " 至 " if lang == "zh" else " to "          # (never "…": a range, not text cut short)
    if lang == "en" and unit in ("亿元", "万元"):
        factor = 1e8 if unit == "亿元" else 1e4
        big = max(abs(v) for v in (med, lo, hi) if pd.notna(v)) * factor
        scale, word = next(((k, w) for k, w in ((1e9, "billion "), (1e6, "million ")) if big >= k), (1.0, ""))
        spread = f" ({format_number(lo * factor / scale)}{to}{format_number(hi * factor / scale)})" if has_range else ""
        extra = f"{sign}{format_number(med * factor / scale)}{spread} {word}yuan"
    else:
        spread = f" ({format_number(lo)}{to}{format_number(hi)})" if has_range else ""
        extra = sign + with_unit(med, unit, lang, row.get("outcome")) + spread
    cost = with_unit(row.get("cost_median", np.nan), "万元", lang)
    return f"新增 {extra}, 成本 {cost}" if lang == "zh" else f"extra {extra}, cost {cost}"


def _fit_labels_right(ax, pairs: list[tuple], tries: int = 8) -> None:
    """Keep the labels right of the bars inside the figure: widen the x range until they end inside it
    (a long bar with its text would run off the right edge); a detail that still does not fit (text
    beside a bar of zero length cannot move) goes on a line under its head text."""
    renderer = ax.figure.canvas.get_renderer()
    edge = ax.figure.bbox.x1 - 4
    for _ in range(tries):
        right = max((t.get_window_extent(renderer).x1 for pair in pairs for t in pair), default=0.0)
        if right <= edge:
            return
        lo, hi = ax.get_xlim()
        frame = ax.get_window_extent(renderer)
        grow = min((right - frame.x0) / max(edge - frame.x0, 1.0) * 1.05, 4.0)   # share of the axes width needed
        if ax.get_xscale() == "log":
            ax.set_xlim(lo, lo * (hi / lo) ** grow)
        else:
            ax.set_xlim(lo, lo + (hi - lo) * grow)
    for _head, detail in pairs:
        if detail.get_window_extent(renderer).x1 > edge:
            detail.xy = (0, 0)            # the head's lower left corner
            detail.xyann = (0, -1)
            detail.set_verticalalignment("top")


def cost_chart(additionality: pd.DataFrame, path: str | Path, lang: str = "zh", names: VariantNames | None = None,
               formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Subsidy cost per additional unit of outcome by variant; one panel per outcome.

    ``additionality`` has ``variant, outcome, year, extra_median, extra_p05, extra_p95,
    cost_median, cost_per_unit_median, unit``. Each bar is labelled with its value, the
    extra outcome (5-95 %) and the cost; a variant without a cost per unit
    (``cost_per_unit_median`` NaN) gets words instead of a bar: "no gain" when its median
    extra is not positive, "gain not distinguishable from 0" when it is positive but its
    confidence interval includes zero (:func:`simulator.experiments.results.additionality`).
    Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = chart_labels(lang)
    df = additionality.copy() if additionality is not None else pd.DataFrame()
    if not df.empty:
        df = df[df["variant"] != NO_POLICY]
        if "year" in df:   # one row per variant and outcome: the latest year
            df = df.sort_values("year", kind="stable").groupby(["variant", "outcome"], sort=False).tail(1)
    present = list(dict.fromkeys(df["outcome"])) if not df.empty else []
    outcomes = [o for o in OUTCOMES if o in present] + [o for o in present if o not in OUTCOMES]
    variants = variant_order(df["variant"]) if not df.empty else []
    styles = variant_styles(variants)
    n_p = max(len(outcomes), 1)
    with chart_style(lang):
        fig, axes = plt.subplots(n_p, 1, figsize=(FIG_WIDTH, 0.6 + n_p * (0.85 + 0.36 * max(len(variants), 1))),
                                 squeeze=False)
        axes = axes[:, 0]
        if not outcomes:
            axes[0].set_axis_off()
            no_data(axes[0], lang)
        pairs: dict[int, list] = {}
        for ax, outcome in zip(axes, outcomes, strict=False):
            sub = df[df["outcome"] == outcome].set_index("variant")
            vals = [float(sub["cost_per_unit_median"].get(v, np.nan)) for v in variants]
            finite = [x for x in vals if math.isfinite(x)]
            top = max(finite, default=0.0)
            top = top if top > 0 else 1.0
            positive = [x for x in finite if x > 0]
            # costs that differ by more than 100x (an instrument that barely moves an outcome): log scale,
            # bars from a round power of ten below the smallest
            log = len(positive) >= 2 and max(positive) / min(positive) > 100
            left = 10.0 ** math.floor(math.log10(min(positive)) - 0.3) if log else 0.0
            ys = np.arange(len(variants))
            ax.barh(ys, [x - left if math.isfinite(x) else 0.0 for x in vals], left=left, height=0.6,
                    color=[styles[v][0] for v in variants], edgecolor="white", linewidth=0.3)
            for y, v, x in zip(ys, variants, vals, strict=True):
                row = sub.loc[v] if v in sub.index else None
                if math.isfinite(x):
                    head = ax.annotate(format_number(x), (x, y), xytext=(3, 0), textcoords="offset points", va="center",
                                       ha="left", fontsize=9, annotation_clip=False)
                else:
                    positive = row is not None and row.get("extra_median", 0) > 0
                    words = lab["unclear_gain"] if positive else lab["no_gain"]
                    head = ax.annotate(words, (left, y), xytext=(3, 0), textcoords="offset points",
                                       va="center", ha="left", fontsize=9, style="italic", color="#555555",
                                       annotation_clip=False)
                # the detail starts where the head text ends, whatever its width
                detail = ax.annotate(_cost_detail(row, lang), (1, 0.5), xycoords=head, xytext=(6, 0),
                                     textcoords="offset points", va="center", ha="left", fontsize=7.5,
                                     color="#444444", annotation_clip=False)
                pairs.setdefault(id(ax), []).append((head, detail))
            ax.set_yticks(ys, [wrap_text(variant_label(v, lang, names), TICK_LABEL_PT, 9) for v in variants])
            ax.set_ylim(len(variants) - 0.5, -0.5)
            axis_label = _COST_AXIS[lang].get(outcome, f"万元 / {outcome}")
            if log:
                ax.set_xscale("log")
                ax.set_xlim(left, top * 40)                        # room for the labels right of the bars
                ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
                ax.xaxis.set_major_formatter(LogFormatterSciNotation())   # 10^4 … 10^9: short, never overlapping
                axis_label += f" ({lab['log']})"
            else:
                ax.set_xlim(0, top * 1.8)
                ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # long numbers: few ticks, never overlapping
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_number(x)))
            if not any(x > 0 for x in finite):     # no bar longer than 0: a scale would mean nothing
                ax.set_xticks([])
            ax.set_xlabel(axis_label)
            ax.tick_params(axis="y", length=0)
            ax.grid(axis="x", alpha=0.3, lw=0.6)
            year = pd.to_numeric(sub["year"], errors="coerce").dropna() if "year" in sub else pd.Series()
            when = ""
            if len(year):
                when = f" (至{int(year.max())}年)" if lang == "zh" else f" (to {int(year.max())})"
            ax.set_title(f"{indicator_name(outcome, lang)}{when}", fontsize=10, loc="left")
        fig.suptitle(lab["cost_title"], fontsize=11, x=0.01, ha="left")
        costs = [c for c in ("cost_median", "cost_p05", "cost_p95") if c in df]
        idle = bool(costs) and not df.empty and bool((df[costs].fillna(0) == 0).all().all())
        # every panel says "no gain, cost 0": say why, first (instruments.csv has each instrument's reason)
        idle_note = ("本次运行没有任何政策工具支付 (原因见 instruments.csv). " if lang == "zh" else
                     "No instrument paid in this run (instruments.csv says why). ") if idle else ""
        add_note(fig, idle_note + lab["cost_note"] + " innosim.")
        for ax in axes[:len(outcomes)]:
            _fit_labels_right(ax, pairs.get(id(ax), []))
        return save_chart(fig, path, formats)

"""Charts of the targets by variant: the probability of meeting each one, and the distance to it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from simulator.inputs.region_file import Region  # noqa: E402
from simulator.report.citations import document_title  # noqa: E402
from simulator.report.layout import add_note, chart_title, no_data, save_chart, wrap_text  # noqa: E402
from simulator.report.style import (  # noqa: E402
    FIG_WIDTH,
    TARGET_COLOR,
    TICK_LABEL_PT,
    chart_labels,
    chart_style,
    resolve_lang,
)
from simulator.report.units import format_number, higher_is_better, indicator_name, with_unit  # noqa: E402
from simulator.report.variants import VariantNames, variant_label, variant_order, variant_styles  # noqa: E402

ALL_TARGETS = "all_targets"


def _target_label(row: pd.Series, lang: str) -> str:
    """``指标 年份 目标值`` (zh) or ``Indicator year: value`` (en); the joint row by name. The ``indicator``
    column holds the target's series key, whose name says its kind (增速 / growth, 当年新增 / new …)."""
    lab = chart_labels(lang)
    if row["indicator"] == ALL_TARGETS:
        return lab["all_targets"]
    name = indicator_name(row["indicator"], lang)
    year = int(row["target_year"]) if pd.notna(row.get("target_year")) else ""
    better_high = higher_is_better(row["indicator"])
    sign = "" if better_high else "≤"
    unit = row.get("unit", "")
    if not better_high and lang == "en":
        value = f"rank {sign}{format_number(row['target_value'])}"
    else:
        value = sign + with_unit(row["target_value"], unit if isinstance(unit, str) else "", lang, row["indicator"])
    return f"{name} {year} {value}" if lang == "zh" else f"{name} {year}: {value}"


def _target_frame(targets: pd.DataFrame | None) -> pd.DataFrame:
    """``targets.csv`` with a ``key`` per target (indicator, year, value and kind, so two targets of one
    indicator and year stay apart) and every column the charts read (missing ones empty)."""
    df = targets.copy() if targets is not None else pd.DataFrame()
    for col in ("variant", "indicator", "target_year", "target_value", "unit", "probability_met", "median",
                "p05", "p95"):
        if col not in df:
            df[col] = "base" if col == "variant" else np.nan
    kind = df["kind"] if "kind" in df else pd.Series("", index=df.index)
    df["key"] = [f"{i}|{y}|{v}|{k}" for i, y, v, k in zip(df["indicator"], df["target_year"], df["target_value"],
                                                           kind, strict=True)]
    return df


def _legend_above(fig, ax, handles, labels) -> None:
    """A legend above the axes in as many columns as fit the figure, read left to right in the order of
    ``labels`` (matplotlib fills columns first, so the entries are reordered for it)."""
    for ncol in range(min(len(labels), 4), 0, -1):
        rows = math.ceil(len(labels) / ncol)
        order = [r * ncol + c for c in range(ncol) for r in range(rows) if r * ncol + c < len(labels)]
        legend = ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower left",
                           bbox_to_anchor=(0.0, 1.0), ncol=ncol, frameon=False, borderaxespad=0.3,
                           handlelength=1.2)
        with warnings.catch_warnings():        # a legend too wide for the figure: the next try has fewer columns
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout()
        if legend.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.bbox.x1 - 2:
            return


def _grouped_figure(df: pd.DataFrame, order: list[str], lang: str) -> tuple:
    """A chart of the targets ``order``, a row of marks per variant each: the first row of each target, the
    variants in order, their styles, the wrapped target names and a figure tall enough for them (call inside
    :func:`chart_style`: the names are measured in its fonts)."""
    first = df.drop_duplicates("key").set_index("key")
    variants = variant_order(df["variant"])
    n_v = max(len(variants), 1)
    ticks = [wrap_text(_target_label(first.loc[k], lang), TICK_LABEL_PT, 9) for k in order]
    height = 1.5 + sum(max(0.08 + 0.15 * n_v, 0.17 * (t.count("\n") + 1) + 0.1) for t in ticks) if order else 2.0
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, height))
    return first, variants, variant_styles(variants), ticks, fig, ax


def _runs_note(what: str, df: pd.DataFrame, region: Region, lang: str) -> str:
    """The note under a chart of targets: ``what`` it shows, the document and the number of replicates."""
    lab = chart_labels(lang)
    n_runs = pd.to_numeric(df["replicates"], errors="coerce").max() if "replicates" in df else np.nan
    runs = f"innosim, {int(n_runs)} {lab['runs']}" if pd.notna(n_runs) else "innosim"
    return f"{what} {lab['note']}: {document_title(region.document, lang)} · {runs}"


def probability_chart(targets: pd.DataFrame, region: Region, path: str | Path, lang: str = "zh",
                      names: VariantNames | None = None, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Horizontal bars: probability of meeting each target, and all of them jointly, per variant (0-100 %).

    ``targets`` has ``variant, indicator, target_year, target_value, unit, probability_met`` (a share
    0-1, or percent if any value exceeds 1) and one ``indicator == "all_targets"`` row per variant;
    other columns (``kind`` …) are read where present. Targets keep the table's order, the joint row
    last; a NaN probability is written "n/a". Bars and legend list the variants in the same order.
    Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = chart_labels(lang)
    df = _target_frame(targets)
    prob = pd.to_numeric(df["probability_met"], errors="coerce")
    df["pct"] = prob * (1.0 if prob.max(skipna=True) > 1.0 + 1e-9 else 100.0)
    joint = df["indicator"] == ALL_TARGETS
    order = list(dict.fromkeys(df.loc[~joint, "key"])) + list(dict.fromkeys(df.loc[joint, "key"]))
    with chart_style(lang):
        first, variants, styles, ticks, fig, ax = _grouped_figure(df, order, lang)
        n_t, height = len(order), 0.8 / max(len(variants), 1)
        handles = []
        for j, v in enumerate(variants):
            pct = df[df["variant"] == v].groupby("key")["pct"].last()
            ys = [i - 0.4 + height * (j + 0.5) for i in range(n_t)]
            xs = [float(pct.get(k, np.nan)) for k in order]
            handles.append(ax.barh(ys, np.nan_to_num(xs), height=height * 0.9, color=styles[v][0],
                                   edgecolor="white", linewidth=0.3))
            for y, x in zip(ys, xs, strict=True):
                ok = math.isfinite(x)
                ax.text((x if ok else 0) + 1, y, f"{x:.0f}%" if ok else lab["na"], va="center", ha="left",
                        fontsize=7.5, color="#333333" if ok else "#888888", clip_on=False)
        ax.set_yticks(range(n_t), ticks)
        n_single = int((~first.loc[order, "indicator"].eq(ALL_TARGETS)).sum())
        if 0 < n_single < n_t:
            ax.axhline(n_single - 0.5, color="#444444", lw=0.8)
        if n_t:
            ax.set_ylim(n_t - 0.5, -0.5)
        else:
            no_data(ax, lang)
        ax.set_xlim(0, 108)                         # room for "100%" right of a full bar
        ax.set_xticks(range(0, 101, 25), [f"{p}%" for p in range(0, 101, 25)])
        ax.set_xlabel(lab["prob"])
        ax.grid(axis="x", alpha=0.3, lw=0.6)
        ax.tick_params(axis="y", length=0)
        fig.suptitle(chart_title(lab["prob_title"], region, lang), fontsize=11, x=0.01, ha="left")
        if variants:
            _legend_above(fig, ax, handles, [variant_label(v, lang, names) for v in variants])
        add_note(fig, _runs_note(lab["prob_note"], df, region, lang))
        return save_chart(fig, path, formats)


# ------------------------------------------------------------- distance chart
def _distance(row: pd.Series) -> tuple[float, float, float]:
    """Median, 5 % and 95 % of a target row as % of its target (rank: target ÷ value, so > 100 % is better);
    NaN where the target is not a positive number."""
    target = pd.to_numeric(pd.Series([row.get("target_value")]), errors="coerce").iloc[0]
    vals = pd.to_numeric(pd.Series([row.get("median"), row.get("p05"), row.get("p95")]), errors="coerce")
    if not (pd.notna(target) and target > 0) or vals.isna().all():
        return (np.nan, np.nan, np.nan)
    if not higher_is_better(row["indicator"]):     # a rank: lower is better
        pct = [100.0 * target / v if v > 0 else np.nan for v in vals]
        return pct[0], pct[2], pct[1]                        # the 95 % rank is the worst
    pct = [100.0 * v / target for v in vals]
    return pct[0], pct[1], pct[2]


def distance_chart(targets: pd.DataFrame, region: Region, path: str | Path, lang: str = "zh",
                   names: VariantNames | None = None, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """How far each target is: the median in the target year as % of the target, with the 5–95 % range,
    per target and variant (a dot and a line; 100 % marked). The companion of :func:`probability_chart`:
    a 0 % probability says a target is missed, this says by how much.

    Reads ``variant, indicator, target_year, target_value, unit, median, p05, p95`` of ``targets.csv``
    (the ``all_targets`` row has no distance and is left out; a target that is not a positive number is
    written "n/a"). Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = chart_labels(lang)
    df = _target_frame(targets)
    df = df[df["indicator"] != ALL_TARGETS]
    order = list(dict.fromkeys(df["key"]))
    with chart_style(lang):
        first, variants, styles, ticks, fig, ax = _grouped_figure(df, order, lang)
        n_t, step = len(order), 0.8 / max(len(variants), 1)
        handles, highest, lowest = [], 100.0, 0.0
        for j, v in enumerate(variants):
            rows = df[df["variant"] == v].drop_duplicates("key", keep="last").set_index("key")
            color = styles[v][0]
            for i, k in enumerate(order):
                y = i - 0.4 + step * (j + 0.5)
                med, low, high = _distance(rows.loc[k]) if k in rows.index else (np.nan,) * 3
                if not math.isfinite(med):
                    ax.text(1, y, lab["na"], va="center", ha="left", fontsize=7.5, color="#888888")
                    continue
                if math.isfinite(low) and math.isfinite(high):
                    ax.plot([low, high], [y, y], color=color, lw=2.2, alpha=0.45, solid_capstyle="butt")
                    highest, lowest = max(highest, high), min(lowest, low)
                ax.plot([med], [y], "o", color=color, ms=5, zorder=3)
                highest, lowest = max(highest, med), min(lowest, med)
                ax.annotate(f"{med:.0f}%", (max(med, high) if math.isfinite(high) else med, y), xytext=(4, 0),
                            textcoords="offset points", va="center", ha="left", fontsize=7.5, color="#333333",
                            annotation_clip=False)
            handles.append(Line2D([], [], color=color, marker="o", ms=5, lw=2.2, alpha=0.8))
        ax.axvline(100, color=TARGET_COLOR, lw=1.0, ls="--", zorder=1)
        ax.set_yticks(range(n_t), ticks)
        if n_t:
            ax.set_ylim(n_t - 0.5, -0.5)
        else:
            no_data(ax, lang)
        ax.set_xlim(lowest - 0.05 * (highest - lowest) if lowest < 0 else 0, highest * 1.15)   # a growth can fall
        if lowest < 0:
            ax.axvline(0, color="#444444", lw=0.8, zorder=1)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}%"))
        ax.set_xlabel(lab["distance_axis"])
        ax.grid(axis="x", alpha=0.3, lw=0.6)
        ax.tick_params(axis="y", length=0)
        fig.suptitle(chart_title(lab["distance_title"], region, lang), fontsize=11, x=0.01, ha="left")
        if variants:     # the variants, then the dashed line at 100 %
            _legend_above(fig, ax, [*handles, Line2D([], [], color=TARGET_COLOR, lw=1.0, ls="--")],
                          [*(variant_label(v, lang, names) for v in variants), f"{lab['target']} = 100%"])
        add_note(fig, _runs_note(lab["distance_note"], df, region, lang))
        return save_chart(fig, path, formats)

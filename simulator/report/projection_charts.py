"""Projection charts of one indicator: a variant's fan chart and every variant's medians, with the targets."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from simulator.inputs.region_file import Region  # noqa: E402
from simulator.report.citations import cite, document_title  # noqa: E402
from simulator.report.layout import add_note, chart_title, no_data, save_chart, wrap_text  # noqa: E402
from simulator.report.style import (  # noqa: E402
    BASE_COLOR,
    FAN_BLUES,
    FIG_WIDTH,
    LEGEND_PT,
    TARGET_COLOR,
    chart_labels,
    chart_style,
    resolve_lang,
)
from simulator.report.units import (  # noqa: E402
    COUNT_UNITS,
    higher_is_better,
    indicator_name,
    series_unit,
    unit_axis,
    with_unit,
)
from simulator.report.variants import VariantNames, variant_label, variant_order, variant_styles  # noqa: E402


def _quantiles(table: pd.DataFrame, indicator: str, variant: str | None) -> tuple[pd.DataFrame, int]:
    """5/25/50/75/95 % quantiles over replicates by year, and the number of replicates."""
    rows = table[table["indicator"] == indicator]
    if variant is not None and "variant" in rows:
        rows = rows[rows["variant"] == variant]
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return pd.DataFrame(columns=[0.05, 0.25, 0.5, 0.75, 0.95]), 0
    data = rows.pivot_table(index="year", columns="replicate", values="value")
    q = data.quantile([0.05, 0.25, 0.5, 0.75, 0.95], axis=1).T
    return q, data.shape[1]


def _default_variant(table: pd.DataFrame, variant: str | None = "base") -> str | None:
    """``variant`` if the table has it; a table without ``base`` falls back to its first variant."""
    if "variant" not in table:
        return None
    present = [str(v) for v in table["variant"].unique()]   # (unique: not a Python loop over every row)
    if variant in present:
        return variant
    if variant == "base" and present:
        return variant_order(present)[0]
    raise ValueError(f"variant {variant!r} not in the table; variants: {present}")


def _finish_axes(ax, indicator: str, lang: str) -> None:
    """Y axis: unit label; 0 at the bottom for amounts, ranks upside down (1 = best at the top);
    headroom above the highest point so target labels stay inside the axes; whole-number ticks for counts."""
    lab = chart_labels(lang)
    unit = series_unit(indicator)
    lo, hi = ax.get_ylim()
    if not higher_is_better(indicator):
        ax.set_ylabel(f"{unit_axis(unit, lang, indicator)} ({lab['rank_note']})")
        ax.set_ylim(max(hi, lo + 1.0), max(0.0, lo - 0.1 * max(hi - lo, 1.0)))
    else:
        ax.set_ylabel(unit_axis(unit, lang, indicator))
        # 0 at the bottom, unless the series goes below it (a growth rate can: simulator/targets.py)
        bottom = min(0.0, lo) if indicator.startswith("growth") else 0.0
        ax.set_ylim(bottom, hi * 1.08 if hi > 0 else 1.0)
        if bottom < 0:
            ax.axhline(0.0, color="#444444", lw=0.8, zorder=1)
    if unit in COUNT_UNITS:     # a count of firms or a rank: 0, 1, 2 ... never 0.5
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    ax.set_xlabel(lab["year"])
    ax.grid(alpha=0.3, lw=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _level_targets(region: Region, key: str) -> list:
    """The region's targets measured on the series ``key`` (an indicator, or a growth, flow, share …
    series of :mod:`simulator.model.targets`, which the model records beside the indicators)."""
    return [t for t in region.targets if getattr(t, "key", t.indicator) == key]


def _draw_targets(ax, region: Region, indicator: str, lang: str, color: str) -> tuple[list[str], list[tuple]]:
    """A star at each target's year and value, with a short dash across that year only (a target holds for
    its year, not the whole horizon); return the sources and the labels to place.

    Targets of one year share a label (``目标 2023: 30家 / 36家``); :func:`_label_targets`
    places the labels once the layout is final.
    """
    lab = chart_labels(lang)
    targets = sorted(_level_targets(region, indicator), key=lambda t: (t.year, t.value))
    for i, t in enumerate(targets):
        ax.plot([t.year - 0.4, t.year + 0.4], [t.value, t.value], color=color, lw=1.2, zorder=4)
        ax.plot([t.year], [t.value], marker="*", color=color, ms=15, mec="white", mew=0.6, ls="none", zorder=5,
                label=lab["target"] if i == 0 else None)
    lower_better = not higher_is_better(indicator)
    labels = []
    for year in dict.fromkeys(t.year for t in targets):
        same = [t for t in targets if t.year == year]
        values = " / ".join(with_unit(t.value, t.unit, lang, indicator) for t in same)
        top = min(t.value for t in same) if lower_better else max(t.value for t in same)   # highest on screen
        labels.append((year, top, f"{lab['target']} {year}: {values}"))
    return [t.source for t in targets], labels


#: Where a target label may go relative to its star: (dx, dy) in points and horizontal alignment.
_LABEL_SPOTS = ((9, 2, "left"), (-9, 2, "right"), (9, -15, "left"), (-9, -15, "right"), (9, 16, "left"),
                (-9, 16, "right"), (9, -29, "left"), (9, 30, "left"), (-9, 30, "right"), (9, 44, "left"))


def _series_points(ax, lines: list) -> np.ndarray:
    """Display coordinates densely sampled along the data lines."""
    pts = []
    for line in lines:
        xy = ax.transData.transform(np.column_stack(line.get_data()).astype(float))
        for a, b in itertools.pairwise(xy):
            pts.append(a + np.linspace(0, 1, 12)[:, None] * (b - a))
    return np.vstack(pts) if pts else np.empty((0, 2))


def _label_targets(ax, labels: list[tuple], color: str, lines: list) -> None:
    """Write each target label beside its star, at the first spot that stays inside the axes and
    overlaps neither another label nor a median line (else the first spot free of labels).
    Call after the layout is final."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    points = _series_points(ax, lines)
    placed = []
    for x, y, text in labels:
        choice = fallback = None
        for dx, dy, ha in _LABEL_SPOTS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8.5, ha=ha,
                              color=color, va="bottom", zorder=6, annotation_clip=False,
                              bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6})
            box = ann.get_window_extent(renderer)
            ann.remove()
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if not inside or any(box.overlaps(other) for other in placed):
                continue
            fallback = fallback or (dx, dy, ha, box)
            hits = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                    & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)).any() if len(points) else False
            if not hits:
                choice = (dx, dy, ha, box)
                break
        dx, dy, ha, box = choice or fallback or (9, 2, "left", None)
        ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8.5, ha=ha,
                          color=color, va="bottom", zorder=6, annotation_clip=False,
                          bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6})
        placed.append(box if box is not None else ann.get_window_extent(renderer))


def _draw_baseline(ax, region: Region, indicator: str, lang: str) -> str | None:
    """The published base-year value as a black dot (legend says year and value); return its source.

    The national rank's base-year value is the region's ``ranking`` entry, not a baseline figure.
    """
    if indicator in region.baseline:
        value, unit, source = region.base(indicator), region.baseline[indicator].unit, region.baseline[indicator].source
    elif indicator == "national_rank" and region.ranking is not None:
        value, unit, source = float(region.ranking.rank), "位", region.ranking.source
    else:
        return None
    ax.plot([region.base_year], [value], "o", color="black", ms=6, zorder=5,
            label=f"{chart_labels(lang)['baseline']} {region.base_year}: {with_unit(value, unit, lang, indicator)}")
    return source


def _source_note(region: Region, sources: list[str], base_source: str | None, lang: str, extra: str) -> str:
    """``来源: 《title》(number) · 目标 clause · 基期 clause · innosim, …``, all in ``lang``."""
    lab = chart_labels(lang)
    parts = [f"{lab['note']}: {document_title(region.document, lang)}"]
    # each clause once, though several targets cite it ("sec. 3.1; sec. 2; sec. 3.1" -> "sec. 3.1; sec. 2")
    cited = list(dict.fromkeys(part for s in sources for part in cite(s, lang, region.document).split("; ")))
    if cited:
        parts.append(f"{lab['target']} " + "; ".join(cited))
    if base_source:
        parts.append(f"{lab['base_src']} {cite(base_source, lang, region.document)}")
    parts.append(extra)
    return " · ".join(parts)

# ------------------------------------------------------------------ fan chart
def fan_chart(table: pd.DataFrame, region: Region, indicator: str, path: str | Path, lang: str = "zh",
              variant: str = "base", formats: Sequence[str] = ("png", "svg"),
              names: VariantNames | None = None) -> list[Path]:
    """One variant's projection of one indicator against its target(s).

    Median line, 50 % and 90 % bands over the replicates, the published base-year
    point, every target of the region for the indicator (★ at its year, with year and value),
    the unit on the y axis and a note citing the document title and clauses.

    Args:
        table: tidy ``variant, replicate, year, indicator, value``.
        region: the region (targets, baseline, names, document).
        indicator: key of :data:`simulator.model.indicators.INDICATORS`, or a target's series key
            (:func:`simulator.inputs.series.series_key`).
        path: file name; ``.png``/``.svg`` are added to its stem.
        lang: ``"zh"`` or ``"en"``.
        variant: which variant's replicates; a table without ``base`` uses its first variant.
        formats: file formats written (PNG at 300 dpi and SVG by default; none: only the layout check).
        names: variant names by language (:func:`simulator.report.variants.variant_labels`); defaults name
            base and no_policy.

    Returns:
        The files written, PNG first.
    """
    lang = resolve_lang(lang)
    lab = chart_labels(lang)
    variant = _default_variant(table, variant)
    q, n = _quantiles(table, indicator, variant)
    with chart_style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.4))
        series = []
        if n:
            ax.fill_between(q.index, q[0.05], q[0.95], color=FAN_BLUES[0], alpha=0.6, lw=0, label=lab["band90"])
            ax.fill_between(q.index, q[0.25], q[0.75], color=FAN_BLUES[1], alpha=0.7, lw=0, label=lab["band50"])
            series = ax.plot(q.index, q[0.5], color=FAN_BLUES[2], lw=2, label=lab["median"])
        else:
            no_data(ax, lang)
        base_source = _draw_baseline(ax, region, indicator, lang)
        sources, tlabels = _draw_targets(ax, region, indicator, lang, TARGET_COLOR)
        _finish_axes(ax, indicator, lang)
        run = (f"{lab['variant']}: {variant_label(variant, lang, names)}, {n} {lab['runs']}" if variant
               else f"{n} {lab['runs']}")
        ax.set_title(f"{chart_title(indicator_name(indicator, lang), region, lang)}\n{run}",
                     fontsize=11, loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
        add_note(fig, _source_note(region, sources, base_source, lang, f"innosim, {run}"))
        _label_targets(ax, tlabels, TARGET_COLOR, series)
        return save_chart(fig, path, formats)


# ------------------------------------------------------------- variants chart
def variants_chart(table: pd.DataFrame, region: Region, indicator: str, path: str | Path,
                   lang: str = "zh", names: VariantNames | None = None,
                   formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Every variant's median (line) and 50 % band (light) of one indicator, with the target(s).

    Colours are Okabe-Ito (colour-blind safe) and line styles differ too, so the
    chart also reads in black and white. Variants are named by ``names``
    (:func:`simulator.report.variants.variant_labels`). Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = chart_labels(lang)
    variants = variant_order(table["variant"].unique()) if "variant" in table else [None]
    styles = variant_styles(v for v in variants if v is not None)
    counts = []
    with chart_style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.4))
        any_data, series = False, []
        for v in variants:
            q, n = _quantiles(table, indicator, v)
            if not n:
                continue
            any_data = True
            color, ls = styles.get(v, (BASE_COLOR, "-"))
            ax.fill_between(q.index, q[0.25], q[0.75], color=color, alpha=0.15, lw=0)
            label = wrap_text(variant_label(v, lang, names), LEGEND_PT, 8.5) if v else lab["median"]
            series += ax.plot(q.index, q[0.5], color=color, ls=ls, lw=2, label=label)
            counts.append(n)
        if not any_data:
            no_data(ax, lang)
        base_source = _draw_baseline(ax, region, indicator, lang)
        sources, tlabels = _draw_targets(ax, region, indicator, lang, "black")
        _finish_axes(ax, indicator, lang)
        ax.set_title(f"{chart_title(indicator_name(indicator, lang), region, lang)}\n"
                     f"{lab['median']} ({lab['bands_light']})", fontsize=11, loc="left")
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(color="#999999", alpha=0.3, lw=0))
        labels.append(lab["band50"])
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0,
                  title=lab["variant"], alignment="left")
        n_runs = f"innosim, {max(counts) if counts else 0} {lab['runs']}"
        add_note(fig, _source_note(region, sources, base_source, lang, n_runs))
        _label_targets(ax, tlabels, "black", series)
        return save_chart(fig, path, formats)

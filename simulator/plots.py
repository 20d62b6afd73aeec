"""Charts from result tables (never from live models).

Every chart is drawn from pandas DataFrames written by the runner:

* :func:`fan_chart` - one variant's projection of one indicator: the replicates'
  median, 50 % and 90 % bands, the baseline point, the target marker(s) with value
  and year, units, and a note citing the document and clause;
* :func:`variants_chart` - the medians (and light 50 % bands) of every variant of
  a scenario on one chart, with the target;
* :func:`probability_chart` - the probability of meeting each target (and all of
  them jointly) by variant;
* :func:`cost_chart` - subsidy cost per additional unit of outcome against the
  ``no_policy`` counterfactual;
* :func:`report_charts` - all of them for a report; :func:`plot_targets` - the
  PNG per targeted indicator that ``innosim run`` writes.

Chinese (``lang="zh"``) and English (``lang="en"``) labels; both use the bundled
Noto Sans CJK SC as a fallback so units and clauses quoted in Chinese never render
as boxes. Charts are saved as PNG (300 dpi) and SVG (text as paths) with the same stem.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, MaxNLocator  # noqa: E402

from .config import Region  # noqa: E402
from .indicators import INDICATORS  # noqa: E402
from .targets import slug  # noqa: E402

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei")
#: Noto Sans CJK SC (SIL OFL) shipped inside the ``mplfonts`` package, a dependency of innosim,
#: so charts render Chinese on any machine without a system font.
BUNDLED_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")

#: Variant colours from the Okabe-Ito palette (colour-blind safe): ``base`` blue and ``no_policy``
#: grey in every chart, other variants the rest in order of first appearance (line styles differ
#: too, so charts also read in black and white).
BASE_COLOR, NO_POLICY_COLOR = "#0072B2", "#7F7F7F"
OTHER_COLORS = ("#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (7, 2)))
TARGET_COLOR = "#D55E00"          # fan chart: vermillion against the blue bands
FAN_BLUES = ("#9ecae1", "#4292c6", "#08306b")
NO_POLICY = "no_policy"
ALL_TARGETS = "all_targets"
#: cost_chart panels, in this order; other outcomes follow.
OUTCOMES = ("hte_count", "rd_intensity", "gdp")
DPI = 300
FIG_WIDTH = 7.5                   # inches: scales to a report's text width without shrinking fonts much
NOTE_SIZE = 7                     # pt, source notes
NOTE_EM = FIG_WIDTH * 72 / NOTE_SIZE - 4    # a note line fills the figure width
TITLE_EM = 48                     # title lines (11 pt), from the left axis to the legend's right edge
NO_LINE_START = ".,;:!?)]}%、，。；：！？）」』"     # punctuation kept at the end of the previous line
SOURCE_CHARS = 160                # a quoted source longer than this is cut with "…"


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of a font that covers Chinese: the bundled Noto Sans CJK SC, else an installed one, else None."""
    try:
        path = resources.files(BUNDLED_FONT[0]).joinpath(BUNDLED_FONT[1])
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
    except (ModuleNotFoundError, OSError, RuntimeError):
        pass
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def _labels(lang: str) -> dict[str, str]:
    if lang == "zh":
        return {"median": "中位数", "band50": "50% 区间", "band90": "90% 区间", "target": "目标",
                "baseline": "基期", "year": "年份", "note": "来源", "runs": "次模拟",
                "variant": "情景", "bands_light": "浅色: 50% 区间", "prob": "达到目标的概率",
                "prob_title": "达到规划目标的概率", "all_targets": "全部目标同时达到",
                "cost_title": "每新增单位成果的补贴成本 (相对 no_policy)", "no_gain": "无新增 (增量 ≤ 0)",
                "unclear_gain": "增量与 0 无显著差异",
                "na": "无数据", "doc": "文件", "base_src": "基期",
                "cost_note": "成本 = 至该年累计补贴 (万元) 的中位数; 新增 = 相对 no_policy 情景的中位数 "
                             "(括号内 5%–95%); 单位成本 = 成本中位数 ÷ 新增中位数, "
                             "仅当新增中位数的 90% 置信区间高于 0.",
                "prob_note": "概率 = 在目标年份达到或超过目标值的模拟次数占比 (排名: 达到或优于).",
                "no_data": "无模拟数据", "rank_note": "1 = 最好"}
    return {"median": "median", "band50": "50% band", "band90": "90% band", "target": "target",
            "baseline": "baseline", "year": "year", "note": "source", "runs": "replicates",
            "variant": "variant", "bands_light": "light: 50% bands", "prob": "probability of meeting the target",
            "prob_title": "Probability of meeting the plan's targets", "all_targets": "All targets met jointly",
            "cost_title": "Subsidy cost per additional unit of outcome (vs no_policy)", "no_gain": "no gain",
            "unclear_gain": "gain not distinguishable from 0",
            "na": "n/a", "doc": "document", "base_src": "baseline",
            "cost_note": "Cost = median cumulative subsidies to the year (万元, CNY 10,000); extra = median "
                         "difference from the no_policy variant (5%–95% in brackets); cost per unit = median cost "
                         "divided by median extra, shown only where the 90% confidence interval of the median "
                         "extra lies above 0.",
            "prob_note": "Probability = share of replicates at or above the target in the target year "
                         "(rank: at or better).",
            "no_data": "no simulated values", "rank_note": "1 = best"}


#: Units of the indicator table and the result tables, as axis labels and after numbers.
_UNIT_AXIS = {"en": {"亿元": "亿元 (100 million CNY)", "万元": "万元 (10,000 CNY)", "家": "number", "个": "number",
                     "%": "%", "位": "rank", "percentage points": "percentage points"},
              "zh": {"percentage points": "百分点"}}
_UNIT_SHORT = {"en": {"家": "", "个": "", "位": "", "percentage points": "pp"},
               "zh": {"percentage points": "个百分点"}}
_COST_AXIS = {"zh": {"hte_count": "万元 / 新增一家高新技术企业", "rd_intensity": "万元 / R&D 强度提高 1 个百分点",
                     "gdp": "万元 / 新增 1 亿元 GDP"},
              "en": {"hte_count": "万元 (CNY 10,000) per additional HTE",
                     "rd_intensity": "万元 (CNY 10,000) per +1 pp of R&D intensity",
                     "gdp": "万元 (CNY 10,000) per additional 亿元 of GDP"}}
_VARIANT_GLOSS = {"zh": {"base": "现行政策", NO_POLICY: "无政策反事实"},
                  "en": {"base": "policies as written", NO_POLICY: "counterfactual"}}


def resolve_lang(lang: str) -> str:
    """Chinese labels need a CJK font; without one fall back to English rather than draw boxes."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    if lang == "zh" and cjk_font() is None:
        return "en"
    return lang


@contextmanager
def _style(lang: str):
    """rc settings of every chart: CJK fallback font (also in English: units and clauses are Chinese),
    print-size fonts, SVG text as paths and reproducible SVG ids."""
    font = cjk_font()
    rc = {"font.size": 9.5, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
          "ytick.labelsize": 9, "legend.fontsize": 8.5, "axes.spines.top": False, "axes.spines.right": False,
          "svg.fonttype": "path", "svg.hashsalt": "innosim", "savefig.dpi": DPI}
    if font:
        rc["font.family"] = ["DejaVu Sans", font] if lang == "en" else [font, "DejaVu Sans"]
    with plt.rc_context(rc):
        yield


def _stem(path: str | Path) -> Path:
    """``path`` without a .png/.svg suffix (other dots are part of the name)."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in (".png", ".svg") else path


def _save(fig, path: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` once per format beside each other (same stem); close it; return the files."""
    stem = _stem(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # the tight box (everything drawn, notes under the axes included) measured once for all formats,
    # at the PNG's resolution: hinting makes text at 300 dpi wider than at the screen's 100
    fig.set_dpi(DPI)
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.08)
    out = []
    try:
        for fmt in formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            meta = {"Date": None} if fmt == "svg" else {}
            fig.savefig(target, dpi=DPI, format=fmt, bbox_inches=box, metadata=meta)
            out.append(target)
    finally:
        plt.close(fig)
    return out


def _num(value: float) -> str:
    """A number for a label: thousands separators for large values, at most 2 decimals for small ones,
    two significant digits below 0.01 (0.000072, never a "0" that is not zero)."""
    if value is None or not math.isfinite(value):
        return "–"
    a = abs(value)
    if 0 < a < 0.01:
        return f"{value:.{min(10, 1 - math.floor(math.log10(a)))}f}".rstrip("0")
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    text = f"{value:.1f}" if a >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_unit(value: float, unit: str, lang: str) -> str:
    """``300 亿元``, ``4%``, ``200家`` / ``200 firms``, ``+0.12 pp``."""
    unit = _UNIT_SHORT.get(lang, {}).get(unit, unit) if isinstance(unit, str) else ""
    if unit == "%":
        return f"{_num(value)}%"
    if not unit:
        return _num(value)
    return f"{_num(value)}{unit}" if lang == "zh" and unit in ("家", "个", "位") else f"{_num(value)} {unit}"


def _unit_axis(unit: str, lang: str) -> str:
    return _UNIT_AXIS.get(lang, {}).get(unit, unit)


def _indicator_name(indicator: str, lang: str) -> str:
    meta = INDICATORS.get(indicator)
    if meta is None:
        return indicator
    return meta.zh if lang == "zh" else meta.en


def _region_name(region: Region, lang: str) -> str:
    return region.name.zh if lang == "zh" else region.name.en


def _variant_label(variant: str, lang: str) -> str:
    gloss = _VARIANT_GLOSS[lang].get(variant)
    return f"{variant} ({gloss})" if gloss else variant


def _variant_order(variants: Iterable[str]) -> list[str]:
    """``base`` first, then the others in order of first appearance, ``no_policy`` last."""
    seen = list(dict.fromkeys(str(v) for v in variants))
    middle = [v for v in seen if v not in ("base", NO_POLICY)]
    return [v for v in ("base",) if v in seen] + middle + [v for v in (NO_POLICY,) if v in seen]


def _variant_styles(variants: Iterable[str]) -> dict[str, tuple[str, object]]:
    """Colour and line style per variant, stable across charts of one report."""
    styles, k = {}, 0
    for v in _variant_order(variants):
        if v == "base":
            styles[v] = (BASE_COLOR, "-")
        elif v == NO_POLICY:
            styles[v] = (NO_POLICY_COLOR, (0, (2, 1.5)))
        else:
            styles[v] = (OTHER_COLORS[k % len(OTHER_COLORS)], LINESTYLES[1 + k % (len(LINESTYLES) - 1)])
            k += 1
    return styles


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
        return _variant_order(present)[0]
    raise ValueError(f"variant {variant!r} not in the table; variants: {present}")


def _char_em(ch: str) -> float:
    """Approximate advance of a character in em: CJK full width, Latin about 0.6 (DejaVu Sans), space 0.3."""
    if ch.isspace():
        return 0.3
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6


def _wrap(text: str, width_em: float) -> str:
    """Wrap mixed Chinese/Latin text to ``width_em`` ems: Latin breaks at spaces, CJK between characters."""
    out = []
    for para in text.split("\n"):
        tokens = re.findall(r"\s+|[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]|[^\s\u2e80-\u9fff"
                            r"\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+", para)
        line, width = "", 0.0
        for tok in tokens:
            w = sum(_char_em(c) for c in tok)
            if tok.isspace():
                if line:
                    line, width = line + " ", width + _char_em(" ")
                continue
            while w > width_em:                        # a word longer than a line: cut it
                room = int((width_em - width) / 0.6)
                if room <= 0:
                    out.append(line.rstrip())
                    line, width = "", 0.0
                    continue
                out.append(line + tok[:room])
                tok, line, width = tok[room:], "", 0.0
                w = sum(_char_em(c) for c in tok)
            if width + w > width_em and line.strip() and tok[0] not in NO_LINE_START:
                out.append(line.rstrip())
                line, width = "", 0.0
            line, width = line + tok, width + w
        out.append(line.rstrip())
    return "\n".join(out)


def _short(text: str, limit: int = SOURCE_CHARS) -> str:
    """A long source quotation cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _note(fig, text: str) -> None:
    """Source note under the axes (bbox_inches='tight' keeps it inside the saved image)."""
    fig.text(0.01, 0.0, _wrap(text, NOTE_EM), fontsize=NOTE_SIZE, color="#444444", ha="left", va="top")


def _finish_axes(ax, indicator: str, lang: str) -> None:
    """Y axis: unit label; 0 at the bottom for amounts, ranks upside down (1 = best at the top);
    headroom above the highest point so target labels stay inside the axes."""
    lab = _labels(lang)
    meta = INDICATORS.get(indicator)
    unit = meta.unit if meta else ""
    lo, hi = ax.get_ylim()
    if meta is not None and not meta.higher_is_better:
        ax.set_ylabel(f"{_unit_axis(unit, lang)} ({lab['rank_note']})")
        ax.set_ylim(max(hi, lo + 1.0), max(0.0, lo - 0.1 * max(hi - lo, 1.0)))
    else:
        ax.set_ylabel(_unit_axis(unit, lang))
        # 0 at the bottom, unless the series goes below it (a growth rate can: simulator/targets.py)
        bottom = min(0.0, lo) if indicator.startswith("growth") else 0.0
        ax.set_ylim(bottom, hi * 1.08 if hi > 0 else 1.0)
        if bottom < 0:
            ax.axhline(0.0, color="#444444", lw=0.8, zorder=1)
    ax.set_xlabel(lab["year"])
    ax.grid(alpha=0.3, lw=0.6)
    ax.xaxis.get_major_locator().set_params(integer=True)


def _draw_targets(ax, region: Region, indicator: str, lang: str, color: str) -> tuple[list[str], list[tuple]]:
    """Target stars and a dashed line at each value; return the clauses and the labels to place.

    Targets of one year share a label (``目标 2023: 30家 / 36家``); :func:`_label_targets`
    places the labels once the layout is final.
    """
    lab = _labels(lang)
    targets = sorted((t for t in region.targets if t.key == indicator), key=lambda t: (t.year, t.value))
    for i, t in enumerate(targets):
        ax.plot([t.year], [t.value], marker="*", color=color, ms=15, mec="white", mew=0.6, ls="none", zorder=5,
                label=lab["target"] if i == 0 else None)
        ax.axhline(t.value, color=color, lw=0.8, ls="--", alpha=0.7, zorder=1)
    lower_better = indicator in INDICATORS and not INDICATORS[indicator].higher_is_better
    labels = []
    for year in dict.fromkeys(t.year for t in targets):
        same = [t for t in targets if t.year == year]
        values = " / ".join(_with_unit(t.value, t.unit, lang) for t in same)
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
            label=f"{_labels(lang)['baseline']} {region.base_year}: {_with_unit(value, unit, lang)}")
    return source


def _source_note(region: Region, sources: list[str], base_source: str | None, lang: str, extra: str) -> str:
    lab = _labels(lang)
    parts = [f"{lab['note']}: {lab['doc']} {region.document}"]
    if sources:
        parts.append(f"{lab['target']} " + "; ".join(_short(s) for s in sources))
    if base_source:
        parts.append(f"{lab['base_src']} {_short(base_source)}")
    parts.append(extra)
    return " · ".join(parts)


def _title(indicator_or_text: str, region: Region, lang: str) -> str:
    """``Indicator — Region`` wrapped to the figure width (English region names are long)."""
    full = f"{indicator_or_text} — {_region_name(region, lang)}"
    if sum(_char_em(c) for c in full) <= TITLE_EM:
        return full
    return _wrap(f"{indicator_or_text}\n{_region_name(region, lang)}", TITLE_EM)


def _no_data(ax, lang: str) -> None:
    ax.text(0.5, 0.5, _labels(lang)["no_data"], transform=ax.transAxes, ha="center", va="center",
            fontsize=10, color="#777777")


# ------------------------------------------------------------------ fan chart
def fan_chart(table: pd.DataFrame, region: Region, indicator: str, path: str | Path, lang: str = "zh",
              variant: str = "base", formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """One variant's projection of one indicator against its target(s).

    Median line, 50 % and 90 % bands over the replicates, the published base-year
    point, every target of the region for the indicator (★ with year and value),
    the unit on the y axis and a note citing the document and clauses.

    Args:
        table: tidy ``variant, replicate, year, indicator, value``.
        region: the region (targets, baseline, names, document).
        indicator: key of :data:`simulator.indicators.INDICATORS`.
        path: file name; ``.png``/``.svg`` are added to its stem.
        lang: ``"zh"`` or ``"en"``.
        variant: which variant's replicates; a table without ``base`` uses its first variant.
        formats: file formats written (PNG at 300 dpi and SVG by default).

    Returns:
        The files written, PNG first.
    """
    lang = resolve_lang(lang)
    lab = _labels(lang)
    variant = _default_variant(table, variant)
    q, n = _quantiles(table, indicator, variant)
    with _style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.4))
        series = []
        if n:
            ax.fill_between(q.index, q[0.05], q[0.95], color=FAN_BLUES[0], alpha=0.6, lw=0, label=lab["band90"])
            ax.fill_between(q.index, q[0.25], q[0.75], color=FAN_BLUES[1], alpha=0.7, lw=0, label=lab["band50"])
            series = ax.plot(q.index, q[0.5], color=FAN_BLUES[2], lw=2, label=lab["median"])
        else:
            _no_data(ax, lang)
        base_source = _draw_baseline(ax, region, indicator, lang)
        sources, tlabels = _draw_targets(ax, region, indicator, lang, TARGET_COLOR)
        _finish_axes(ax, indicator, lang)
        run = f"{lab['variant']} {variant}, {n} {lab['runs']}" if variant else f"{n} {lab['runs']}"
        ax.set_title(f"{_title(_indicator_name(indicator, lang), region, lang)}\n{run}",
                     fontsize=11, loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
        fig.tight_layout()
        _label_targets(ax, tlabels, TARGET_COLOR, series)
        _note(fig, _source_note(region, sources, base_source, lang, f"innosim, {run}"))
        return _save(fig, path, formats)


# ------------------------------------------------------------- variants chart
def variants_chart(table: pd.DataFrame, region: Region, indicator: str, path: str | Path,
                   lang: str = "zh") -> list[Path]:
    """Every variant's median (line) and 50 % band (light) of one indicator, with the target(s).

    Colours are Okabe-Ito (colour-blind safe) and line styles differ too, so the
    chart also reads in black and white. Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = _labels(lang)
    variants = _variant_order(table["variant"].unique()) if "variant" in table else [None]
    styles = _variant_styles(v for v in variants if v is not None)
    counts = []
    with _style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.4))
        any_data, series = False, []
        for v in variants:
            q, n = _quantiles(table, indicator, v)
            if not n:
                continue
            any_data = True
            color, ls = styles.get(v, (BASE_COLOR, "-"))
            ax.fill_between(q.index, q[0.25], q[0.75], color=color, alpha=0.15, lw=0)
            series += ax.plot(q.index, q[0.5], color=color, ls=ls, lw=2,
                              label=_variant_label(v, lang) if v else lab["median"])
            counts.append(n)
        if not any_data:
            _no_data(ax, lang)
        base_source = _draw_baseline(ax, region, indicator, lang)
        sources, tlabels = _draw_targets(ax, region, indicator, lang, "black")
        _finish_axes(ax, indicator, lang)
        ax.set_title(f"{_title(_indicator_name(indicator, lang), region, lang)}\n"
                     f"{lab['median']} ({lab['bands_light']})", fontsize=11, loc="left")
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(color="#999999", alpha=0.3, lw=0))
        labels.append(lab["band50"])
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0,
                  title=lab["variant"], alignment="left")
        fig.tight_layout()
        _label_targets(ax, tlabels, "black", series)
        n_runs = f"innosim, {max(counts) if counts else 0} {lab['runs']}"
        _note(fig, _source_note(region, sources, base_source, lang, n_runs))
        return _save(fig, path)


# ---------------------------------------------------------- probability chart
def _target_label(row: pd.Series, lang: str) -> str:
    """``指标 年份 目标值`` (zh) or ``Indicator year: value`` (en); the joint row by name."""
    lab = _labels(lang)
    if row["indicator"] == ALL_TARGETS:
        return lab["all_targets"]
    name = _indicator_name(row["indicator"], lang)
    year = int(row["target_year"]) if pd.notna(row["target_year"]) else ""
    meta = INDICATORS.get(row["indicator"])
    sign = "" if meta is None or meta.higher_is_better else "≤"
    if meta is not None and not meta.higher_is_better and lang == "en":
        value = f"rank {sign}{_num(row['target_value'])}"
    else:
        value = sign + _with_unit(row["target_value"], row.get("unit", ""), lang)
    return f"{name} {year} {value}" if lang == "zh" else f"{name} {year}: {value}"


def probability_chart(targets: pd.DataFrame, region: Region, path: str | Path, lang: str = "zh") -> list[Path]:
    """Horizontal bars: probability of meeting each target, and all of them jointly, per variant (0-100 %).

    ``targets`` has ``variant, indicator, target_year, target_value, unit, probability_met`` (a share
    0-1, or percent if any value exceeds 1) and one ``indicator == "all_targets"`` row per variant.
    Targets keep the table's order, the joint row last; a NaN probability is written "n/a".
    Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = _labels(lang)
    df = targets.copy() if targets is not None else pd.DataFrame()
    if df.empty or "probability_met" not in df:    # a region without targets
        df = pd.DataFrame(columns=["variant", "indicator", "target_year", "target_value", "probability_met"])
    if "variant" not in df:
        df["variant"] = "base"
    prob = pd.to_numeric(df["probability_met"], errors="coerce")
    df["pct"] = prob * (1.0 if prob.max(skipna=True) > 1.0 + 1e-9 else 100.0)
    df["key"] = [f"{i}|{y}|{v}" for i, y, v in zip(df["indicator"], df["target_year"], df["target_value"],
                                                   strict=True)]
    joint = df["indicator"] == ALL_TARGETS
    order = list(dict.fromkeys(df.loc[~joint, "key"])) + list(dict.fromkeys(df.loc[joint, "key"]))
    first = df.drop_duplicates("key").set_index("key")
    variants = _variant_order(df["variant"])
    styles = _variant_styles(variants)
    n_t, n_v = len(order), max(len(variants), 1)
    height = 0.8 / n_v
    with _style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 1.4 + n_t * (0.08 + 0.15 * n_v)))
        for j, v in enumerate(variants):
            pct = df[df["variant"] == v].groupby("key")["pct"].last()
            ys = [i - 0.4 + height * (j + 0.5) for i in range(n_t)]
            xs = [float(pct.get(k, np.nan)) for k in order]
            ax.barh(ys, np.nan_to_num(xs), height=height * 0.9, color=styles[v][0], edgecolor="white",
                    linewidth=0.3, label=_variant_label(v, lang))
            for y, x in zip(ys, xs, strict=True):
                ok = math.isfinite(x)
                ax.text((x if ok else 0) + 1, y, f"{x:.0f}%" if ok else lab["na"], va="center", ha="left",
                        fontsize=7.5, color="#333333" if ok else "#888888", clip_on=False)
        ax.set_yticks(range(n_t), [_target_label(first.loc[k], lang) for k in order])
        n_single = int((~first.loc[order, "indicator"].eq(ALL_TARGETS)).sum())
        if 0 < n_single < n_t:
            ax.axhline(n_single - 0.5, color="#444444", lw=0.8)
        if n_t:
            ax.set_ylim(n_t - 0.5, -0.5)
        else:
            _no_data(ax, lang)
        ax.set_xlim(0, 100)
        ax.set_xticks(range(0, 101, 25), [f"{p}%" for p in range(0, 101, 25)])
        ax.set_xlabel(lab["prob"])
        ax.grid(axis="x", alpha=0.3, lw=0.6)
        ax.tick_params(axis="y", length=0)
        fig.suptitle(_title(lab["prob_title"], region, lang), fontsize=11, x=0.01, ha="left")
        # the legend sits above the bars in as many columns as fit in the figure's width
        for ncol in range(min(n_v, 4), 0, -1) if variants else ():
            legend = ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol, frameon=False,
                               borderaxespad=0.3, handlelength=1.2)
            fig.tight_layout()
            if legend.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.bbox.x1:
                break
        fig.tight_layout()
        n_runs = pd.to_numeric(df["replicates"], errors="coerce").max() if "replicates" in df else np.nan
        runs = f"innosim, {int(n_runs)} {lab['runs']}" if pd.notna(n_runs) else "innosim"
        _note(fig, f"{lab['prob_note']} {lab['note']}: {lab['doc']} {region.document} · {runs}")
        return _save(fig, path)


# ----------------------------------------------------------------- cost chart
def _cost_detail(row: pd.Series | None, lang: str) -> str:
    """``新增 +14家 (6…22), 成本 1,850 万元`` / ``extra +14 firms (6…22), cost 1,850 万元``."""
    if row is None or pd.isna(row.get("extra_median")):
        return ""
    unit = row.get("unit", "")
    spread = ""
    if pd.notna(row.get("extra_p05")) and pd.notna(row.get("extra_p95")):
        spread = f" ({_num(row['extra_p05'])}…{_num(row['extra_p95'])})"
    extra = _with_unit(row["extra_median"], "firms" if lang == "en" and unit == "家" else unit, lang)
    extra = extra if row["extra_median"] < 0 else "+" + extra
    cost = _with_unit(row.get("cost_median", np.nan), "万元", lang)
    return f"新增 {extra}{spread}, 成本 {cost}" if lang == "zh" else f"extra {extra}{spread}, cost {cost}"


def cost_chart(additionality: pd.DataFrame, path: str | Path, lang: str = "zh") -> list[Path]:
    """Subsidy cost per additional unit of outcome by variant; one panel per outcome.

    ``additionality`` has ``variant, outcome, year, extra_median, extra_p05, extra_p95,
    cost_median, cost_per_unit_median, unit``. Each bar is labelled with its value, the
    extra outcome (5-95 %) and the cost; a variant without a cost per unit
    (``cost_per_unit_median`` NaN) gets words instead of a bar: "no gain" when its median
    extra is not positive, "gain not distinguishable from 0" when it is positive but its
    confidence interval includes zero (:func:`simulator.results.additionality`).
    Returns the PNG and SVG written.
    """
    lang = resolve_lang(lang)
    lab = _labels(lang)
    df = additionality.copy() if additionality is not None else pd.DataFrame()
    if not df.empty:
        df = df[df["variant"] != NO_POLICY]
        if "year" in df:   # one row per variant and outcome: the latest year
            df = df.sort_values("year", kind="stable").groupby(["variant", "outcome"], sort=False).tail(1)
    present = list(dict.fromkeys(df["outcome"])) if not df.empty else []
    outcomes = [o for o in OUTCOMES if o in present] + [o for o in present if o not in OUTCOMES]
    variants = _variant_order(df["variant"]) if not df.empty else []
    styles = _variant_styles(variants)
    n_p = max(len(outcomes), 1)
    with _style(lang):
        fig, axes = plt.subplots(n_p, 1, figsize=(FIG_WIDTH, 0.6 + n_p * (0.85 + 0.36 * max(len(variants), 1))),
                                 squeeze=False)
        axes = axes[:, 0]
        if not outcomes:
            axes[0].set_axis_off()
            _no_data(axes[0], lang)
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
                    head = ax.annotate(_num(x), (x, y), xytext=(3, 0), textcoords="offset points", va="center",
                                       ha="left", fontsize=9, annotation_clip=False)
                else:
                    positive = row is not None and row.get("extra_median", 0) > 0
                    words = lab["unclear_gain"] if positive else lab["no_gain"]
                    head = ax.annotate(words, (left, y), xytext=(3, 0), textcoords="offset points",
                                       va="center", ha="left", fontsize=9, style="italic", color="#555555",
                                       annotation_clip=False)
                # the detail starts where the head text ends, whatever its width
                ax.annotate(_cost_detail(row, lang), (1, 0.5), xycoords=head, xytext=(6, 0),
                            textcoords="offset points", va="center", ha="left", fontsize=7.5, color="#444444",
                            annotation_clip=False)
            ax.set_yticks(ys, [_variant_label(v, lang) for v in variants])
            ax.set_ylim(len(variants) - 0.5, -0.5)
            axis_label = _COST_AXIS[lang].get(outcome, f"万元 / {outcome}")
            if log:
                ax.set_xscale("log")
                ax.set_xlim(left, top * 40)                        # room for the labels right of the bars
                ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
                ax.xaxis.set_major_formatter(LogFormatterSciNotation())   # 10^4 … 10^9: short, never overlapping
                axis_label += " (对数刻度)" if lang == "zh" else " (log scale)"
            else:
                ax.set_xlim(0, top * 1.8)
                ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # long numbers: few ticks, never overlapping
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _num(x)))
            if not any(x > 0 for x in finite):     # no bar longer than 0: a scale would mean nothing
                ax.set_xticks([])
            ax.set_xlabel(axis_label)
            ax.tick_params(axis="y", length=0)
            ax.grid(axis="x", alpha=0.3, lw=0.6)
            year = pd.to_numeric(sub["year"], errors="coerce").dropna() if "year" in sub else pd.Series()
            when = ""
            if len(year):
                when = f" (至{int(year.max())}年)" if lang == "zh" else f" (to {int(year.max())})"
            ax.set_title(f"{_indicator_name(outcome, lang)}{when}", fontsize=10, loc="left")
        fig.suptitle(lab["cost_title"], fontsize=11, x=0.01, ha="left")
        fig.tight_layout()
        _note(fig, lab["cost_note"] + " innosim.")
        return _save(fig, path)


# ----------------------------------------------------------------- whole sets
ChartTask = tuple[Callable[..., list[Path]], tuple]


def indicator_chart_tasks(table: pd.DataFrame, region: Region, out_dir: str | Path,
                          lang: str = "zh") -> list[ChartTask]:
    """Per indicator with a target in the region file and values in ``table``: ``fan_<indicator>``
    (the ``base`` variant) and ``variants_<indicator>``, as ``(function, args)`` pairs that can be
    drawn in any order or process; each carries only its indicator's rows."""
    out = Path(out_dir)
    # split once: filtering a million-row table per chart costs more than drawing it
    by_indicator = {name: rows for name, rows in table.groupby("indicator", sort=False, observed=True)}
    tasks: list[ChartTask] = []
    for name in dict.fromkeys(t.key for t in region.targets):   # t.key: the series of any kind
        if name in by_indicator:
            rows = by_indicator[name]
            tasks.append((fan_chart, (rows, region, name, out / f"fan_{slug(name)}", lang)))
            tasks.append((variants_chart, (rows, region, name, out / f"variants_{slug(name)}", lang)))
    return tasks


def summary_chart_tasks(targets: pd.DataFrame, additionality: pd.DataFrame, region: Region, out_dir: str | Path,
                        lang: str = "zh") -> list[ChartTask]:
    """``probability`` and ``cost``, from the result tables, as ``(function, args)`` pairs."""
    out = Path(out_dir)
    return [(probability_chart, (targets, region, out / "probability", lang)),
            (cost_chart, (additionality, out / "cost", lang))]


def chart_tasks(table: pd.DataFrame, targets: pd.DataFrame, additionality: pd.DataFrame, region: Region,
                out_dir: str | Path, lang: str = "zh") -> list[ChartTask]:
    """Every chart of a report (:func:`indicator_chart_tasks` then :func:`summary_chart_tasks`)."""
    return (indicator_chart_tasks(table, region, out_dir, lang)
            + summary_chart_tasks(targets, additionality, region, out_dir, lang))


def report_charts(table: pd.DataFrame, targets: pd.DataFrame, additionality: pd.DataFrame, region: Region,
                  out_dir: str | Path, lang: str = "zh", pool: Executor | None = None) -> list[Path]:
    """Every chart of a report (:func:`chart_tasks`), as PNG and SVG in ``out_dir``; return the files written.

    That is ``2 * (2 * indicators + 2)`` files. With ``pool`` (e.g.
    :func:`simulator.ensemble.local_pool`) the charts are drawn by its workers; the files are
    the same bytes either way.
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tasks = chart_tasks(table, targets, additionality, region, out_dir, lang)
    if pool is None:
        return [file for func, args in tasks for file in func(*args)]
    return [file for future in [pool.submit(func, *args) for func, args in tasks] for file in future.result()]


def plot_indicator(table: pd.DataFrame, region: Region, indicator: str, path: Path, lang: str = "zh") -> Path:
    """Draw one indicator's projection (the ``base`` variant) against its targets; save PNG (300 dpi), return it."""
    return fan_chart(table, region, indicator, path, lang, formats=("png",))[0]


def plot_targets(table: pd.DataFrame, region: Region, out_dir: Path, lang: str = "zh") -> list[Path]:
    """One PNG per indicator that has a target in the region file."""
    targeted = dict.fromkeys(t.key for t in region.targets)
    return [plot_indicator(table, region, name, Path(out_dir) / f"{slug(name)}.png", lang) for name in targeted]

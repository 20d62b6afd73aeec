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
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, MaxNLocator  # noqa: E402

from simulator.inputs.region_file import Region  # noqa: E402
from simulator.inputs.series import higher_is_better as series_higher_is_better  # noqa: E402
from simulator.inputs.series import label as series_label  # noqa: E402
from simulator.inputs.series import parse as parse_series  # noqa: E402
from simulator.inputs.series import slug, unit_of  # noqa: E402
from simulator.model.indicators import INDICATORS  # noqa: E402

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
LEGEND_PT = 150                   # variant names in a legend beside the axes wrap at this width
TITLE_PT = FIG_WIDTH * 72 * 0.82  # title lines (11 pt), from the left axis to the legend's right edge
NO_LINE_START = ".,;:!?)]}%、，。；：！？）」』》〕"     # punctuation kept at the end of the previous line


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
                "cost_title": "每新增单位成果的补贴成本 (相对无政策情景)", "no_gain": "无新增 (增量 ≤ 0)",
                "unclear_gain": "增量与 0 无显著差异",
                "na": "无数据", "base_src": "基期",
                "cost_note": "成本 = 至该年累计补贴 (万元) 的中位数; 新增 = 相对无政策情景的中位数 "
                             "(括号内 5%–95% 区间); 单位成本 = 成本中位数 ÷ 新增中位数, "
                             "仅当新增中位数与新增均值的 90% 置信区间均高于 0.",
                "prob_note": "概率 = 在目标年份达到或超过目标值的模拟次数占比 (排名: 达到或优于).",
                "distance_title": "距目标的差距", "distance_axis": "目标年份的中位数占目标值的百分比",
                "distance_note": "点 = 目标年份各次模拟的中位数占目标值的百分比, 横线 = 5%–95% 区间; "
                                 "100% = 恰好达到目标 (排名: 目标名次 ÷ 模拟名次, 超过 100% 即优于目标).",
                "no_data": "无模拟数据", "rank_note": "1 = 最好", "log": "对数刻度",
                "doc_more": "其他文件"}
    return {"median": "median", "band50": "50% band", "band90": "90% band", "target": "target",
            "baseline": "baseline", "year": "year", "note": "Source", "runs": "replicates",
            "variant": "variant", "bands_light": "light: 50% bands", "prob": "probability of meeting the target",
            "prob_title": "Probability of meeting the plan's targets", "all_targets": "All targets met jointly",
            "cost_title": "Subsidy cost per additional unit of outcome (against no policy)", "no_gain": "no gain",
            "unclear_gain": "gain not distinguishable from 0",
            "na": "n/a", "base_src": "baseline",
            "cost_note": "Cost = median cumulative subsidies to the year (10 000 yuan); extra = median "
                         "difference from the no-policy variant (5%–95% in brackets); cost per unit = median cost "
                         "divided by median extra, shown only where the 90% confidence intervals of the median "
                         "and of the mean extra both lie above 0.",
            "prob_note": "Probability = share of replicates at or above the target in the target year "
                         "(rank: at or better).",
            "distance_title": "Distance to the plan's targets",
            "distance_axis": "median in the target year as % of the target",
            "distance_note": "Dot = median over replicates in the target year as a percentage of the target, "
                             "line = 5%–95% range; 100% = exactly on target (rank: target rank ÷ simulated rank, "
                             "above 100% = better than the target).",
            "no_data": "no simulated values", "rank_note": "1 = best", "log": "log scale",
            "doc_more": "other document"}


#: Units of the indicator table and the result tables as axis labels. English charts are all English:
#: 亿元 = 10^8 yuan, 万元 = 10^4 yuan; counts are named by what they count (:data:`_COUNT_NOUN`).
_UNIT_AXIS = {"en": {"亿元": "100 million yuan", "万元": "10 000 yuan", "家": "number", "个": "number",
                     "项": "number",
                     "%": "%", "位": "rank", "percentage points": "percentage points"},
              "zh": {"percentage points": "百分点", "家": "数量 (家)", "个": "数量 (个)", "项": "数量 (项)",
                     "位": "名次"}}
#: What an English count of an indicator counts ("200 firms", axis "number of incubators").
_COUNT_NOUN = {"hte_count": "firms", "tech_sme_count": "firms", "firm_count": "firms", "little_giants": "firms",
               "above_scale_count": "firms", "incubator_tenants": "firms", "zjtx_count": "firms",
               "hte_new_certifications": "firms", "hte_recertifications": "firms",
               "national_incubators": "incubators", "incubator_count": "carriers",
               "national_rd_institutions": "institutions", "rd_institution_count": "institutions",
               "rd_institutions_provincial_plus": "institutions", "new_type_rd_institutions": "institutions",
               "results_converted": "results"}
#: Units whose values are whole numbers (axis ticks at integers only).
COUNT_UNITS = ("家", "个", "项", "位")
_COST_AXIS = {"zh": {"hte_count": "万元 / 新增一家高新技术企业", "rd_intensity": "万元 / R&D 强度提高 1 个百分点",
                     "gdp": "万元 / 新增 1 亿元 GDP"},
              "en": {"hte_count": "10 000 yuan per additional high-tech enterprise",
                     "rd_intensity": "10 000 yuan per +1 percentage point of R&D intensity",
                     "gdp": "10 000 yuan per additional 100 million yuan of GDP"}}
#: Names of the two variants every run has; a scenario's own variants are named by their ``description``.
DEFAULT_VARIANT_NAMES = {"base": {"zh": "规划方案", "en": "policies as written"},
                         NO_POLICY: {"zh": "无政策 (反事实)", "en": "no policy (counterfactual)"}}


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


class ChartLayoutWarning(UserWarning):
    """A chart's text runs outside the figure or its tick labels overlap (:func:`layout_problems`)."""


def _drawn_ticks(axis) -> list:
    """The tick labels an axis draws: visible, non-empty, at a tick inside the view interval."""
    lo, hi = sorted(axis.get_view_interval())
    span = (hi - lo) * 1e-9
    return [t.label1 for t in axis.get_major_ticks() + axis.get_minor_ticks()
            if lo - span <= t.get_loc() <= hi + span and t.label1.get_visible() and t.label1.get_text().strip()]


def layout_problems(fig) -> list[str]:
    """Text drawn outside the figure, and tick labels that overlap, measured with the renderer.

    Every visible, non-empty text (titles, labels, legends, annotations, notes; tick labels only where
    a tick is drawn) must lie inside ``fig.bbox``; neighbouring tick labels of an axis must not overlap.
    Returns one line per problem (empty when the chart is clean).
    """
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    problems, tick_ids, drawn = [], set(), []
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            tick_ids.update(id(label) for t in axis.get_major_ticks() + axis.get_minor_ticks()
                            for label in (t.label1, t.label2))
            ticks = _drawn_ticks(axis)
            drawn += ticks
            boxes = sorted((t.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0 if name == "x" else b.y0)
            if any((a.x1 - b.x0 if name == "x" else a.y1 - b.y0) > 0.5 for a, b in itertools.pairwise(boxes)):
                problems.append(f"overlapping {name} tick labels: " + ", ".join(repr(t.get_text()) for t in ticks))
    texts = [t for t in fig.findobj(Text) if id(t) not in tick_ids] + drawn
    frame = fig.bbox
    for text in texts:
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < frame.x0 - 1 or box.x1 > frame.x1 + 1 or box.y0 < frame.y0 - 1 or box.y1 > frame.y1 + 1:
            problems.append(f"text outside the figure: {' '.join(text.get_text().split())[:70]!r}")
    return problems


def _save(fig, path: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Check the layout (:func:`layout_problems`, a :class:`ChartLayoutWarning` each), save ``fig`` once per
    format beside each other (same stem), close it and return the files (none for ``formats=()``)."""
    stem = _stem(path)
    # measured at the PNG's resolution: hinting makes text at 300 dpi wider than at the screen's 100
    fig.set_dpi(DPI)
    out = []
    try:
        for problem in layout_problems(fig):
            warnings.warn(f"{stem.name}: {problem}", ChartLayoutWarning, stacklevel=3)
        if formats:
            stem.parent.mkdir(parents=True, exist_ok=True)
            box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.08)
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


def _yuan(value: float, unit: str) -> str:
    """An amount in 亿元 or 万元 in English words: ``30 billion yuan``, ``18.5 million yuan``, ``5,000 yuan``."""
    yuan = value * (1e8 if unit == "亿元" else 1e4)
    for scale, word in ((1e9, "billion"), (1e6, "million")):
        if abs(yuan) >= scale:
            return f"{_num(yuan / scale)} {word} yuan"
    return f"{_num(yuan)} yuan"


def _with_unit(value: float, unit: str, lang: str, indicator: str | None = None) -> str:
    """``300 亿元`` / ``30 billion yuan``, ``4%``, ``200家`` / ``200 firms``, ``+0.12 pp``."""
    unit = unit if isinstance(unit, str) else ""
    if unit == "%":
        return f"{_num(value)}%"
    if lang == "en":
        if unit in ("亿元", "万元"):
            return _yuan(value, unit)
        if unit in COUNT_UNITS:
            noun = "" if unit == "位" else _count_noun(indicator)
            noun = noun[:-1] if _num(value) in ("1", "-1") and noun.endswith("s") else noun   # 1 firm, 2 firms
            return f"{_num(value)} {noun}".rstrip()
        if unit == "percentage points":
            return f"{_num(value)} pp"
    elif unit == "percentage points":
        return f"{_num(value)} 个百分点"
    if not unit:
        return _num(value)
    return f"{_num(value)}{unit}" if lang == "zh" and unit in COUNT_UNITS else f"{_num(value)} {unit}"


def _count_noun(key: str | None) -> str:
    """What a count counts in English: the indicator's noun (also inside a growth/flow key), "firms" for a
    count of firms with properties (``flow:``, ``count:``), else ""."""
    if not key:
        return ""
    if key in _COUNT_NOUN:
        return _COUNT_NOUN[key]
    series = parse_series(key)
    if series is None:
        return ""
    return _COUNT_NOUN.get(series.inner, "firms" if series.inner == key else "")


def _unit_axis(unit: str, lang: str, indicator: str | None = None) -> str:
    if lang == "en" and unit in ("家", "个", "项") and _count_noun(indicator):
        return f"number of {_count_noun(indicator)}"
    return _UNIT_AXIS.get(lang, {}).get(unit, unit)


#: English names where the indicator table's own English keeps a Chinese term.
_EN_NAMES = {"zjtx_count": "Specialised and innovative ('zhuanjingtexin') firms"}
#: Chinese terms inside English series labels (simulator.model.targets firm properties), in English.
_EN_TERMS = {"专精特新": "specialised and innovative", "规上": "above-designated-size"}


def _indicator_name(indicator: str, lang: str) -> str:
    """Name of an indicator or of a target's series key (``growth:gdp`` → 地区生产总值增速 / GDP, growth)."""
    if lang == "en" and indicator in _EN_NAMES:
        return _EN_NAMES[indicator]
    name = series_label(indicator, INDICATORS, lang)
    if lang == "en":
        for zh, en in _EN_TERMS.items():
            name = name.replace(zh, en)
    return name


def _unit_of(key: str) -> str:
    """Unit of an indicator or series key ("" when unknown)."""
    return unit_of(key, INDICATORS) or ""


def _higher_is_better(key: str) -> bool:
    """Whether the series is better higher (False for a rank)."""
    return series_higher_is_better(key, INDICATORS)


def _region_name(region: Region, lang: str) -> str:
    return region.name.zh if lang == "zh" else region.name.en


VariantNames = Mapping[str, Mapping[str, str]]


def variant_labels(scenario) -> dict[str, dict[str, str]]:
    """Chart names of a scenario's variants, ``{variant: {"zh": ..., "en": ...}}``.

    ``base`` and ``no_policy`` get :data:`DEFAULT_VARIANT_NAMES`; a named variant its ``description``
    (a ``{zh, en}`` pair, or one text used in both languages), else its id.
    """
    names = {k: dict(v) for k, v in DEFAULT_VARIANT_NAMES.items()}
    for name, variant in getattr(scenario, "variants", {}).items():
        text = variant.description
        if isinstance(text, str):
            names[name] = {"zh": text or name, "en": text or name}
        else:
            names[name] = {"zh": text.zh, "en": text.en}
    return names


def _variant_label(variant: str, lang: str, names: VariantNames | None = None) -> str:
    """A variant's name in ``lang`` (from the scenario's descriptions), never a bare id where a name is known."""
    entry = (names or {}).get(variant) or DEFAULT_VARIANT_NAMES.get(variant)
    return entry.get(lang) or variant if entry else variant


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


_CJK = "\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
#: line-breaking units: spaces; Chinese words never split (万元, 亿元, 百分点 …); a Latin run with the unit
#: character after it (14号, 2025年, 5家); any other Chinese character
_TOKENS = re.compile(rf"\s+|万元|亿元|百分点|模拟|情景|\(?(?:art\.|sec\.|row|Box|Annex) [^\s{_CJK}]+"
                     rf"|\d{{1,3}}(?: \d{{3}})+|[^\s{_CJK}]+[号年条家个行次位元]?|[{_CJK}]")
NO_LINE_END = "([{（《「『“〔"                      # opening brackets kept with the next token


@lru_cache(maxsize=4)
def _renderer(dpi: int = DPI):
    """An Agg renderer for measuring text at the PNG's resolution (hinting makes 300-dpi text wider)."""
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(10, 10, dpi)


def text_width(text: str, size: float) -> float:
    """Width in points of one line of ``text`` at ``size`` pt in the current rc fonts (with fallback)."""
    return _measure(text, float(size), tuple(plt.rcParams["font.family"]))


@lru_cache(maxsize=20000)
def _measure(text: str, size: float, family: tuple[str, ...]) -> float:
    renderer = _renderer()
    w, _, _ = renderer.get_text_width_height_descent(text, font_manager.FontProperties(family=list(family),
                                                                                       size=size), ismath=False)
    return w / renderer.points_to_pixels(1.0)


def _wrap(text: str, width_pt: float, size: float) -> str:
    """Wrap mixed Chinese/Latin text to ``width_pt`` points at ``size`` pt, measured with the chart's fonts.

    Latin words break only at spaces, Chinese between characters; closing punctuation stays at the end of
    its line and opening brackets with what follows. Nothing is dropped: a single word wider than a line
    (none in practice) is the only thing ever split. A line's width is the sum of its tokens' widths
    (each measured once), with 2 % kept free for kerning between them.
    """
    limit = width_pt * 0.98
    space = text_width("a a", size) - text_width("aa", size)
    out = []
    for para in str(text).split("\n"):
        tokens = _TOKENS.findall(para)
        line, width = "", 0.0
        for i, tok in enumerate(tokens):
            if tok.isspace():
                if line:
                    line, width = line + " ", width + space
                continue
            w = text_width(tok, size)
            # an opening bracket is measured with the token after it, so it never ends a line
            nxt = text_width(tokens[i + 1], size) if tok in NO_LINE_END and i + 1 < len(tokens) else 0.0
            if (line.strip() and tok[0] not in NO_LINE_START and line[-1:] not in NO_LINE_END
                    and width + w + nxt > limit):
                out.append(line.rstrip())
                line, width = "", 0.0
            while w > limit and len(tok) > 1:    # only a word wider than a whole line is ever split
                cut = max(1, int(len(tok) * limit / w) - 1)
                out.append(line + tok[:cut])
                line, width, tok = "", 0.0, tok[cut:]
                w = text_width(tok, size)
            line, width = line + tok, width + w
        out.append(line.rstrip())
    return "\n".join(out)


def _note(fig, text: str) -> None:
    """Source note at the bottom of the figure, wrapped to its width (never cut), with room made for it.

    The figure grows by the note's height and the axes are laid out above it, so the note is inside the
    figure (and the saved image) and the axes keep their size. Call after everything above is drawn.
    """
    width = fig.get_figwidth() * 72 * 0.97
    note = fig.text(0.01, 0.0, _wrap(text, width, NOTE_SIZE), fontsize=NOTE_SIZE, color="#444444", ha="left",
                    va="bottom")
    height = note.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi + 0.12   # inches, with a gap
    fig.set_figheight(fig.get_figheight() + height)
    note.set_y(0.04 / fig.get_figheight())
    fig.tight_layout(rect=(0, height / fig.get_figheight(), 1, 1))


# ------------------------------------------------------- documents and sources
@lru_cache(maxsize=1)
def _documents() -> dict[str, dict]:
    """``simulator/data/documents.yaml``: title, issuer, number and date of each source document."""
    import yaml

    text = resources.files("simulator").joinpath("data/documents.yaml").read_text("utf-8")
    return yaml.safe_load(text)["documents"]


def document_info(document: str) -> dict | None:
    """The entry of :func:`_documents` for a seed file name (``000_9b00245553ae58f3.txt``) or its code
    (``000``); None for a document not listed."""
    docs = _documents()
    if document in docs:
        return docs[document]
    return next((d for d in docs.values() if d["code"] == str(document)), None)


def document_title(document: str, lang: str) -> str:
    """A document's title and number for a chart footer (``《…》(齐政发〔2023〕14号)``); the name given
    when the document is not listed."""
    info = document_info(document)
    if info is None:
        return str(document)
    number = info["number"][lang]
    return f"{info['title'][lang]} ({number})" if number else info["title"][lang]


_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_int(text: str) -> int:
    """一 → 1, 十二 → 12, 二十三 → 23 (section numbers of the documents)."""
    if "十" not in text:
        return _CN_DIGIT[text]
    tens, _, units = text.partition("十")
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[units] if units else 0)


_NUMERALS = re.compile("[一二三四五六七八九十]+")
_SECTION = re.compile(r"^(?:[一二三四五六七八九十]+|\([一二三四五六七八九十]+\))"
                      r"(?:[.．]?\(?[一二三四五六七八九十\d]+\)?)*\d*$")
_CLAUSES = ((re.compile(r"^专栏(\d+)$"), "Box {0}"), (re.compile(r"^附件(\d+)$"), "Annex {0}"),
            (re.compile(r"^第(\d+)条$"), "art. {0}"), (re.compile(r"^若干政策措施$"), "Policy Measures"),
            (re.compile(r"^实施方案$"), "Implementation Plan"))


def _clause_en(token: str) -> str | None:
    """A clause reference in English (专栏1 → Box 1, 一.(二)4 → sec. 1.(2)4); None if ``token`` is not one."""
    for pattern, fmt in _CLAUSES:
        m = pattern.match(token)
        if m:
            return fmt.format(*m.groups())
    if _SECTION.match(token):
        return "sec. " + _NUMERALS.sub(lambda m: str(_cn_int(m.group())), token)
    return None


_EN_REMARK = re.compile(rf"\s*\((?=[^()]*[A-Za-z]{{3}})[^(){_CJK}]*\)")    # "(national zone)": an English aside


def _chinese_only(text: str) -> str:
    """``text`` without its English reasoning: the quotations (``"…"``, ``“…”``) where it has any, else its
    sentences that hold more Chinese characters than Latin words."""
    quotes = re.findall(r'"[^"]+"|“[^”]+”', text)
    if quotes:
        return "; ".join(quotes)
    kept = []
    for sentence in re.split(r"(?<=[.;])\s+", text.strip()):
        latin = len(re.findall(r"[A-Za-z]{2,}", sentence))
        if latin <= len(re.findall(f"[{_CJK}]", sentence)):
            kept.append(sentence)
    return " ".join(kept).strip()


def _cite_part(part: str, lang: str) -> str:
    """One ``;``-separated part of a source, in ``lang`` only.

    Chinese keeps the clause and its quotation, ``row 5`` as 第5行, and drops English asides; English keeps
    the clause in English (Box 1 row 5, sec. 3.1, Annex 2) and English asides, and drops the Chinese
    quotation (the document title says where to read it).
    """
    tokens, i, refs = [t.rstrip(":：") or t for t in part.split()], 0, []    # "三.1:" is the clause 三.1
    while i < len(tokens):
        if tokens[i] == "row" and i + 1 < len(tokens) and tokens[i + 1].isdigit():
            refs.append(f"第{tokens[i + 1]}行" if lang == "zh" else f"row {tokens[i + 1]}")
            i += 2
            continue
        en = _clause_en(tokens[i])
        if en is None:
            break
        refs.append(tokens[i] if lang == "zh" else en)
        i += 1
    rest = " ".join(tokens[i:])
    if lang == "zh":
        rest = _chinese_only(_EN_REMARK.sub("", rest))
        return " ".join(x for x in (" ".join(refs), rest) if x)
    remarks = [m.group().strip() for m in _EN_REMARK.finditer(rest)]
    return " ".join(refs + remarks)


def cite(source: str, lang: str, document: str | None = None) -> str:
    """A target's or baseline figure's ``source`` as a chart shows it, in ``lang`` only.

    ``000 专栏1 row 5; 一.(二)4 (200家以上)`` → ``专栏1 第5行; 一.(二)4 (200家以上)`` /
    ``Box 1 row 5; sec. 1.(2)4``. A part citing another document than ``document`` (the chart's own)
    starts with that document's title. Assumptions and statistics are named as such (their reasoning,
    in the region file and ``targets.csv``, is too long for a footer and is never cut).
    """
    text = " ".join(str(source).split())
    low = text.lower()
    if low.startswith(("assumption", "derived")):
        derived = low.startswith("derived")
        if lang == "zh":
            return "由统计数据推算 (见区域文件)" if derived else "模型假设 (理由见区域文件)"
        return "derived from published statistics (see the region file)" if derived else \
            "model assumption (reasoning in the region file)"
    if low.startswith("real_statistics"):
        return "统计数据" if lang == "zh" else "published statistics"
    own = document_info(document)["code"] if document and document_info(document) else None
    parts, current = [], own
    for part in text.split(";"):
        m = re.match(r"^\s*(\d{3})\b\s*(.*)$", part)
        prefix = ""
        if m:
            code, part = m.groups()
            if code != current and document_info(code) is not None:
                prefix = document_title(code, lang) + " " if code != own else ""
            current = code
        body = _cite_part(part, lang)
        if prefix or body:
            parts.append((prefix + body).strip())
    if parts:
        return "; ".join(parts)
    return "见区域文件" if lang == "zh" else "see the region file"


def _finish_axes(ax, indicator: str, lang: str) -> None:
    """Y axis: unit label; 0 at the bottom for amounts, ranks upside down (1 = best at the top);
    headroom above the highest point so target labels stay inside the axes; whole-number ticks for counts."""
    lab = _labels(lang)
    unit = _unit_of(indicator)
    lo, hi = ax.get_ylim()
    if not _higher_is_better(indicator):
        ax.set_ylabel(f"{_unit_axis(unit, lang, indicator)} ({lab['rank_note']})")
        ax.set_ylim(max(hi, lo + 1.0), max(0.0, lo - 0.1 * max(hi - lo, 1.0)))
    else:
        ax.set_ylabel(_unit_axis(unit, lang, indicator))
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
    lab = _labels(lang)
    targets = sorted(_level_targets(region, indicator), key=lambda t: (t.year, t.value))
    for i, t in enumerate(targets):
        ax.plot([t.year - 0.4, t.year + 0.4], [t.value, t.value], color=color, lw=1.2, zorder=4)
        ax.plot([t.year], [t.value], marker="*", color=color, ms=15, mec="white", mew=0.6, ls="none", zorder=5,
                label=lab["target"] if i == 0 else None)
    lower_better = not _higher_is_better(indicator)
    labels = []
    for year in dict.fromkeys(t.year for t in targets):
        same = [t for t in targets if t.year == year]
        values = " / ".join(_with_unit(t.value, t.unit, lang, indicator) for t in same)
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
            label=f"{_labels(lang)['baseline']} {region.base_year}: {_with_unit(value, unit, lang, indicator)}")
    return source


def _source_note(region: Region, sources: list[str], base_source: str | None, lang: str, extra: str) -> str:
    """``来源: 《title》(number) · 目标 clause · 基期 clause · innosim, …``, all in ``lang``."""
    lab = _labels(lang)
    parts = [f"{lab['note']}: {document_title(region.document, lang)}"]
    # each clause once, though several targets cite it ("sec. 3.1; sec. 2; sec. 3.1" -> "sec. 3.1; sec. 2")
    cited = list(dict.fromkeys(part for s in sources for part in cite(s, lang, region.document).split("; ")))
    if cited:
        parts.append(f"{lab['target']} " + "; ".join(cited))
    if base_source:
        parts.append(f"{lab['base_src']} {cite(base_source, lang, region.document)}")
    parts.append(extra)
    return " · ".join(parts)


def _title(indicator_or_text: str, region: Region, lang: str) -> str:
    """``Indicator — Region`` on one line if it fits the figure, else the region on a line of its own."""
    full = f"{indicator_or_text} — {_region_name(region, lang)}"
    if text_width(full, 11) <= TITLE_PT:
        return full
    return _wrap(f"{indicator_or_text}\n{_region_name(region, lang)}", TITLE_PT, 11)


def _no_data(ax, lang: str) -> None:
    ax.text(0.5, 0.5, _labels(lang)["no_data"], transform=ax.transAxes, ha="center", va="center",
            fontsize=10, color="#777777")


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
        names: variant names by language (:func:`variant_labels`); defaults name base and no_policy.

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
        run = (f"{lab['variant']}: {_variant_label(variant, lang, names)}, {n} {lab['runs']}" if variant
               else f"{n} {lab['runs']}")
        ax.set_title(f"{_title(_indicator_name(indicator, lang), region, lang)}\n{run}",
                     fontsize=11, loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
        _note(fig, _source_note(region, sources, base_source, lang, f"innosim, {run}"))
        _label_targets(ax, tlabels, TARGET_COLOR, series)
        return _save(fig, path, formats)


# ------------------------------------------------------------- variants chart
def variants_chart(table: pd.DataFrame, region: Region, indicator: str, path: str | Path,
                   lang: str = "zh", names: VariantNames | None = None,
                   formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Every variant's median (line) and 50 % band (light) of one indicator, with the target(s).

    Colours are Okabe-Ito (colour-blind safe) and line styles differ too, so the
    chart also reads in black and white. Variants are named by ``names``
    (:func:`variant_labels`). Returns the PNG and SVG written.
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
            label = _wrap(_variant_label(v, lang, names), LEGEND_PT, 8.5) if v else lab["median"]
            series += ax.plot(q.index, q[0.5], color=color, ls=ls, lw=2, label=label)
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
        n_runs = f"innosim, {max(counts) if counts else 0} {lab['runs']}"
        _note(fig, _source_note(region, sources, base_source, lang, n_runs))
        _label_targets(ax, tlabels, "black", series)
        return _save(fig, path, formats)


# ---------------------------------------------------------- probability chart
TICK_LABEL_PT = 150               # target names left of the bars wrap at this width (9 pt)


def _target_label(row: pd.Series, lang: str) -> str:
    """``指标 年份 目标值`` (zh) or ``Indicator year: value`` (en); the joint row by name. The ``indicator``
    column holds the target's series key, whose name says its kind (增速 / growth, 当年新增 / new …)."""
    lab = _labels(lang)
    if row["indicator"] == ALL_TARGETS:
        return lab["all_targets"]
    name = _indicator_name(row["indicator"], lang)
    year = int(row["target_year"]) if pd.notna(row.get("target_year")) else ""
    better_high = _higher_is_better(row["indicator"])
    sign = "" if better_high else "≤"
    unit = row.get("unit", "")
    if not better_high and lang == "en":
        value = f"rank {sign}{_num(row['target_value'])}"
    else:
        value = sign + _with_unit(row["target_value"], unit if isinstance(unit, str) else "", lang, row["indicator"])
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


def _grouped_rows(order: list[str], n_v: int, label_lines: list[int]) -> float:
    """Figure height (inches) for ``order`` targets of ``n_v`` bars each, enough for their wrapped labels."""
    return 1.5 + sum(max(0.08 + 0.15 * n_v, 0.17 * lines + 0.1) for lines in label_lines) if order else 2.0


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
    lab = _labels(lang)
    df = _target_frame(targets)
    prob = pd.to_numeric(df["probability_met"], errors="coerce")
    df["pct"] = prob * (1.0 if prob.max(skipna=True) > 1.0 + 1e-9 else 100.0)
    joint = df["indicator"] == ALL_TARGETS
    order = list(dict.fromkeys(df.loc[~joint, "key"])) + list(dict.fromkeys(df.loc[joint, "key"]))
    first = df.drop_duplicates("key").set_index("key")
    variants = _variant_order(df["variant"])
    styles = _variant_styles(variants)
    n_t, n_v = len(order), max(len(variants), 1)
    height = 0.8 / n_v
    with _style(lang):
        ticks = [_wrap(_target_label(first.loc[k], lang), TICK_LABEL_PT, 9) for k in order]
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, _grouped_rows(order, n_v, [t.count("\n") + 1 for t in ticks])))
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
            _no_data(ax, lang)
        ax.set_xlim(0, 108)                         # room for "100%" right of a full bar
        ax.set_xticks(range(0, 101, 25), [f"{p}%" for p in range(0, 101, 25)])
        ax.set_xlabel(lab["prob"])
        ax.grid(axis="x", alpha=0.3, lw=0.6)
        ax.tick_params(axis="y", length=0)
        fig.suptitle(_title(lab["prob_title"], region, lang), fontsize=11, x=0.01, ha="left")
        if variants:
            _legend_above(fig, ax, handles, [_variant_label(v, lang, names) for v in variants])
        n_runs = pd.to_numeric(df["replicates"], errors="coerce").max() if "replicates" in df else np.nan
        runs = f"innosim, {int(n_runs)} {lab['runs']}" if pd.notna(n_runs) else "innosim"
        _note(fig, f"{lab['prob_note']} {lab['note']}: {document_title(region.document, lang)} · {runs}")
        return _save(fig, path, formats)


# ------------------------------------------------------------- distance chart
def _distance(row: pd.Series) -> tuple[float, float, float]:
    """Median, 5 % and 95 % of a target row as % of its target (rank: target ÷ value, so > 100 % is better);
    NaN where the target is not a positive number."""
    target = pd.to_numeric(pd.Series([row.get("target_value")]), errors="coerce").iloc[0]
    vals = pd.to_numeric(pd.Series([row.get("median"), row.get("p05"), row.get("p95")]), errors="coerce")
    if not (pd.notna(target) and target > 0) or vals.isna().all():
        return (np.nan, np.nan, np.nan)
    if not _higher_is_better(row["indicator"]):     # a rank: lower is better
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
    lab = _labels(lang)
    df = _target_frame(targets)
    df = df[df["indicator"] != ALL_TARGETS]
    order = list(dict.fromkeys(df["key"]))
    first = df.drop_duplicates("key").set_index("key")
    variants = _variant_order(df["variant"])
    styles = _variant_styles(variants)
    n_t, n_v = len(order), max(len(variants), 1)
    step = 0.8 / n_v
    with _style(lang):
        ticks = [_wrap(_target_label(first.loc[k], lang), TICK_LABEL_PT, 9) for k in order]
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, _grouped_rows(order, n_v, [t.count("\n") + 1 for t in ticks])))
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
            _no_data(ax, lang)
        ax.set_xlim(lowest - 0.05 * (highest - lowest) if lowest < 0 else 0, highest * 1.15)   # a growth can fall
        if lowest < 0:
            ax.axvline(0, color="#444444", lw=0.8, zorder=1)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}%"))
        ax.set_xlabel(lab["distance_axis"])
        ax.grid(axis="x", alpha=0.3, lw=0.6)
        ax.tick_params(axis="y", length=0)
        fig.suptitle(_title(lab["distance_title"], region, lang), fontsize=11, x=0.01, ha="left")
        if variants:     # the variants, then the dashed line at 100 %
            _legend_above(fig, ax, [*handles, Line2D([], [], color=TARGET_COLOR, lw=1.0, ls="--")],
                          [*(_variant_label(v, lang, names) for v in variants), f"{lab['target']} = 100%"])
        n_runs = pd.to_numeric(df["replicates"], errors="coerce").max() if "replicates" in df else np.nan
        runs = f"innosim, {int(n_runs)} {lab['runs']}" if pd.notna(n_runs) else "innosim"
        _note(fig, f"{lab['distance_note']} {lab['note']}: {document_title(region.document, lang)} · {runs}")
        return _save(fig, path, formats)


# ----------------------------------------------------------------- cost chart
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
        spread = f" ({_num(lo * factor / scale)}{to}{_num(hi * factor / scale)})" if has_range else ""
        extra = f"{sign}{_num(med * factor / scale)}{spread} {word}yuan"
    else:
        spread = f" ({_num(lo)}{to}{_num(hi)})" if has_range else ""
        extra = sign + _with_unit(med, unit, lang, row.get("outcome")) + spread
    cost = _with_unit(row.get("cost_median", np.nan), "万元", lang)
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
                    head = ax.annotate(_num(x), (x, y), xytext=(3, 0), textcoords="offset points", va="center",
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
            ax.set_yticks(ys, [_wrap(_variant_label(v, lang, names), TICK_LABEL_PT, 9) for v in variants])
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
        costs = [c for c in ("cost_median", "cost_p05", "cost_p95") if c in df]
        idle = bool(costs) and not df.empty and bool((df[costs].fillna(0) == 0).all().all())
        # every panel says "no gain, cost 0": say why, first (instruments.csv has each instrument's reason)
        idle_note = ("本次运行没有任何政策工具支付 (原因见 instruments.csv). " if lang == "zh" else
                     "No instrument paid in this run (instruments.csv says why). ") if idle else ""
        _note(fig, idle_note + lab["cost_note"] + " innosim.")
        for ax in axes[:len(outcomes)]:
            _fit_labels_right(ax, pairs.get(id(ax), []))
        return _save(fig, path, formats)


# ----------------------------------------------------------------- whole sets
ChartTask = tuple[Callable[..., list[Path]], tuple]


def indicator_chart_tasks(table: pd.DataFrame, region: Region, out_dir: str | Path, lang: str = "zh",
                          names: VariantNames | None = None) -> list[ChartTask]:
    """Per indicator with a target in the region file and values in ``table``: ``fan_<indicator>``
    (the ``base`` variant) and ``variants_<indicator>``, as ``(function, args)`` pairs that can be
    drawn in any order or process; each carries only its indicator's rows. ``names``: variant names
    (:func:`variant_labels` of the scenario)."""
    out = Path(out_dir)
    names = {k: dict(v) for k, v in (names or {}).items()}      # plain dicts: pickled to the workers
    # split once: filtering a million-row table per chart costs more than drawing it
    by_indicator = {name: rows for name, rows in table.groupby("indicator", sort=False, observed=True)}
    tasks: list[ChartTask] = []
    for name in dict.fromkeys(t.key for t in region.targets):   # t.key: the series of any kind
        if name in by_indicator:
            rows = by_indicator[name]
            tasks.append((fan_chart, (rows, region, name, out / f"fan_{slug(name)}", lang, "base", ("png", "svg"),
                                      names)))
            tasks.append((variants_chart, (rows, region, name, out / f"variants_{slug(name)}", lang, names)))
    return tasks


def summary_chart_tasks(targets: pd.DataFrame, additionality: pd.DataFrame, region: Region, out_dir: str | Path,
                        lang: str = "zh", names: VariantNames | None = None) -> list[ChartTask]:
    """``probability``, ``distance`` and ``cost``, from the result tables, as ``(function, args)`` pairs."""
    out = Path(out_dir)
    names = {k: dict(v) for k, v in (names or {}).items()}
    return [(probability_chart, (targets, region, out / "probability", lang, names)),
            (distance_chart, (targets, region, out / "distance", lang, names)),
            (cost_chart, (additionality, out / "cost", lang, names))]


def chart_tasks(table: pd.DataFrame, targets: pd.DataFrame, additionality: pd.DataFrame, region: Region,
                out_dir: str | Path, lang: str = "zh", names: VariantNames | None = None) -> list[ChartTask]:
    """Every chart of a report (:func:`indicator_chart_tasks` then :func:`summary_chart_tasks`)."""
    return (indicator_chart_tasks(table, region, out_dir, lang, names)
            + summary_chart_tasks(targets, additionality, region, out_dir, lang, names))


def report_charts(table: pd.DataFrame, targets: pd.DataFrame, additionality: pd.DataFrame, region: Region,
                  out_dir: str | Path, lang: str = "zh", pool: Executor | None = None,
                  names: VariantNames | None = None) -> list[Path]:
    """Every chart of a report (:func:`chart_tasks`), as PNG and SVG in ``out_dir``; return the files written.

    That is ``2 * (2 * indicators + 3)`` files. With ``pool`` (e.g.
    :func:`simulator.experiments.backends.local_pool`) the charts are drawn by its workers; the files are
    the same bytes either way.
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tasks = chart_tasks(table, targets, additionality, region, out_dir, lang, names)
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

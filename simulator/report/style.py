"""Chart style, fonts and languages: the CJK font, colours, sizes, the labels of each language, rc settings."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

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
DPI = 300
FIG_WIDTH = 7.5                   # inches: scales to a report's text width without shrinking fonts much
NOTE_SIZE = 7                     # pt, source notes
LEGEND_PT = 150                   # variant names in a legend beside the axes wrap at this width
TITLE_PT = FIG_WIDTH * 72 * 0.82  # title lines (11 pt), from the left axis to the legend's right edge
TICK_LABEL_PT = 150               # target names left of the bars wrap at this width (9 pt)
#: Chinese characters, CJK punctuation and full-width forms (a regular-expression character class)
CJK_CHARS = "\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"


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


def chart_labels(lang: str) -> dict[str, str]:
    """The texts of the charts in ``lang`` (``"zh"``; any other: English), by key."""
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


def resolve_lang(lang: str) -> str:
    """Chinese labels need a CJK font; without one fall back to English rather than draw boxes."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    if lang == "zh" and cjk_font() is None:
        return "en"
    return lang


@contextmanager
def chart_style(lang: str):
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

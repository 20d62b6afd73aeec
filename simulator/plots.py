"""Charts from result tables (never from live models).

One chart per targeted indicator: the replicates' median, 50 % and 90 %
bands, the baseline point and the target marker, with units and the source
clause in a note.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from .config import Region  # noqa: E402
from .indicators import INDICATORS  # noqa: E402

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei")
#: Noto Sans CJK SC (SIL OFL) shipped inside the ``mplfonts`` package, a dependency of innosim,
#: so charts render Chinese on any machine without a system font.
BUNDLED_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")


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
                "baseline": "基期", "year": "年份", "note": "来源", "runs": "次模拟"}
    return {"median": "median", "band50": "50% band", "band90": "90% band", "target": "target",
            "baseline": "baseline", "year": "year", "note": "source", "runs": "replicates"}


def resolve_lang(lang: str) -> str:
    """Chinese labels need a CJK font; without one fall back to English rather than draw boxes."""
    if lang == "zh" and cjk_font() is None:
        return "en"
    return lang


def plot_indicator(table: pd.DataFrame, region: Region, indicator: str, path: Path, lang: str = "zh") -> Path:
    """Draw one indicator's projection against its targets; save PNG (300 dpi) and return its path."""
    lang = resolve_lang(lang)
    lab = _labels(lang)
    meta = INDICATORS[indicator]
    data = table[table["indicator"] == indicator].pivot_table(index="year", columns="replicate", values="value")
    q = data.quantile([0.05, 0.25, 0.5, 0.75, 0.95], axis=1).T
    font = cjk_font()   # also for English charts: units and source clauses are Chinese
    rc = {"font.family": ["DejaVu Sans", font] if lang == "en" else [font, "DejaVu Sans"]} if font else {}
    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(7.0, 4.2))
        ax.fill_between(q.index, q[0.05], q[0.95], color="#9ecae1", alpha=0.5, lw=0, label=lab["band90"])
        ax.fill_between(q.index, q[0.25], q[0.75], color="#4292c6", alpha=0.6, lw=0, label=lab["band50"])
        ax.plot(q.index, q[0.5], color="#08306b", lw=2, label=lab["median"])
        base_year = region.base_year
        if indicator in region.baseline:
            ax.plot([base_year], [region.base(indicator)], "o", color="black", ms=6, label=lab["baseline"])
        sources = []
        for t in region.targets:
            if t.indicator == indicator:
                ax.plot([t.year], [t.value], marker="*", color="#d62728", ms=14, ls="none",
                        label=f"{lab['target']} {t.year}: {t.value:g} {t.unit}")
                ax.axhline(t.value, color="#d62728", lw=0.8, ls="--")
                sources.append(t.source)
        name = meta.zh if lang == "zh" else meta.en
        region_name = region.name.zh if lang == "zh" else region.name.en
        ax.set_title(f"{name}\n{region_name}", fontsize=10)
        ax.set_xlabel(lab["year"])
        ax.set_ylabel(meta.unit)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best", framealpha=0.9)
        note = f"{lab['note']}: {region.document} " + "; ".join(sources) + \
            f" · innosim, {data.shape[1]} {lab['runs']}"
        fig.text(0.01, 0.01, note, fontsize=6.5, color="#555555")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(path, dpi=300)
        plt.close(fig)
    return path


def plot_targets(table: pd.DataFrame, region: Region, out_dir: Path, lang: str = "zh") -> list[Path]:
    """One PNG per indicator that has a target in the region file."""
    targeted = dict.fromkeys(t.indicator for t in region.targets)
    return [plot_indicator(table, region, name, Path(out_dir) / f"{name}.png", lang) for name in targeted]

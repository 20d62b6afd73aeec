"""Layout checks (text outside the figure, overlapping ticks), saving, and text wrapped by its measured width."""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from simulator.inputs.region_file import Region  # noqa: E402
from simulator.report.style import CJK_CHARS, DPI, NOTE_SIZE, TITLE_PT, chart_labels  # noqa: E402
from simulator.report.units import region_name  # noqa: E402


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


def save_chart(fig, path: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
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


#: line-breaking units: spaces; Chinese words never split (万元, 亿元, 百分点 …); a Latin run with the unit
#: character after it (14号, 2025年, 5家); any other Chinese character
_TOKENS = re.compile(rf"\s+|万元|亿元|百分点|模拟|情景|\(?(?:art\.|sec\.|row|Box|Annex) [^\s{CJK_CHARS}]+"
                     rf"|\d{{1,3}}(?: \d{{3}})+|[^\s{CJK_CHARS}]+[号年条家个行次位元]?|[{CJK_CHARS}]")
NO_LINE_START = ".,;:!?)]}%、，。；：！？）」』》〕"     # punctuation kept at the end of the previous line
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


def wrap_text(text: str, width_pt: float, size: float) -> str:
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


def add_note(fig, text: str) -> None:
    """Source note at the bottom of the figure, wrapped to its width (never cut), with room made for it.

    The figure grows by the note's height and the axes are laid out above it, so the note is inside the
    figure (and the saved image) and the axes keep their size. Call after everything above is drawn.
    """
    width = fig.get_figwidth() * 72 * 0.97
    note = fig.text(0.01, 0.0, wrap_text(text, width, NOTE_SIZE), fontsize=NOTE_SIZE, color="#444444", ha="left",
                    va="bottom")
    height = note.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi + 0.12   # inches, with a gap
    fig.set_figheight(fig.get_figheight() + height)
    note.set_y(0.04 / fig.get_figheight())
    fig.tight_layout(rect=(0, height / fig.get_figheight(), 1, 1))


def chart_title(indicator_or_text: str, region: Region, lang: str) -> str:
    """``Indicator — Region`` on one line if it fits the figure, else the region on a line of its own."""
    full = f"{indicator_or_text} — {region_name(region, lang)}"
    if text_width(full, 11) <= TITLE_PT:
        return full
    return wrap_text(f"{indicator_or_text}\n{region_name(region, lang)}", TITLE_PT, 11)


def no_data(ax, lang: str) -> None:
    """"No simulated values" in the middle of an empty axes."""
    ax.text(0.5, 0.5, chart_labels(lang)["no_data"], transform=ax.transAxes, ha="center", va="center",
            fontsize=10, color="#777777")

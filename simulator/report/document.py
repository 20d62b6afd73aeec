"""One self-contained report of a finished run: ``report.html`` (and, on request, ``report.pdf``).

The report answers a planner's questions in order: will each target be reached (distance,
90 % range, probability and first year, per variant), which instrument moves what and at what
cost, the charts, what is not modelled and why, the assumptions, and where the numbers come from.

Everything is read from the output folder (``targets.csv``, ``additionality.csv``,
``payments.csv``, ``summary.csv``, ``manifest.json`` and the PNG charts), so any finished folder
can be reported on; only the not-modelled targets (region file) and the parameters' kinds and
sources (the parameter table) come from the files the manifest names. The HTML is rendered with
the Jinja2 templates in ``simulator/templates``; charts are embedded as PNG data URIs and
Chinese text uses a subset of the bundled Noto Sans CJK SC (embedded, about 60 KB), so the file
opens offline on any machine. The PDF is the same HTML laid out by WeasyPrint.
"""

from __future__ import annotations

import base64
import io
import math
import os
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from simulator.errors import InputError
from simulator.inputs.series import slug
from simulator.model.indicators import INDICATORS
from simulator.report import sections as sections

REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
#: largest width (pixels) of an embedded chart: sharp at about twice the 560-700 px it is shown at
CHART_PX = 1200
#: colours of an embedded chart's palette
CHART_COLOURS = 128
#: text width of an A4 page with the template's margins, and the tallest a printed chart may be (mm):
#: half a page for a wide chart, a page for one taller than wide
PRINT_WIDTH_MM, PRINT_HEIGHT_MM = 186.0, (110.0, 235.0)
#: the font of the charts (simulator.report.style.BUNDLED_FONT; repeated so that a report does not import matplotlib)
BUNDLED_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")
#: chart order in the report: the answer first, then per-indicator detail
CHART_ORDER = ("distance", "probability", "cost", "fan_", "variants_")


def _chart_caption(stem: str, t: dict, lang: str, keys: dict[str, str]) -> str:
    """``keys``: file-name slug -> series key of the run's indicators and targets."""
    for prefix, key in (("fan_", "chart_fan"), ("variants_", "chart_variants")):
        if stem.startswith(prefix):
            name = stem[len(prefix):]
            return f"{sections.indicator_name(keys.get(name, name), lang)} — {t[key]}"
    return t.get(f"chart_{stem}", stem)


def _embed_png(path: Path) -> tuple[str, int, int]:
    """A PNG as a data URI, reduced by a whole factor to at most CHART_PX wide (the 300 dpi files are print
    size) and to a palette of CHART_COLOURS: ~30-50 KB a chart instead of ~300 KB."""
    from PIL import Image  # (Pillow: a dependency of matplotlib)

    with Image.open(path) as img:
        img.load()
    if img.mode != "RGB":   # flatten on white (the charts' background) before reducing the palette
        flat = Image.new("RGB", img.size, "white")
        flat.paste(img, mask=img.getchannel("A") if "A" in img.getbands() else None)
        img = flat
    factor = math.ceil(img.width / CHART_PX)
    if factor > 1:
        img = img.reduce(factor)   # box filter by a whole factor: as sharp as LANCZOS here, much faster
    buf = io.BytesIO()
    img.quantize(CHART_COLOURS, method=Image.Quantize.FASTOCTREE).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), img.width, img.height


def _charts(folder: Path, t: dict, lang: str, series: list[str]) -> list[dict]:
    def rank(p: Path) -> tuple[int, str]:
        return next((i for i, key in enumerate(CHART_ORDER) if p.stem.startswith(key)), len(CHART_ORDER)), p.stem

    keys = {slug(k): k for k in [*INDICATORS, *series]}
    out = []
    for path in sorted(folder.glob("*.png"), key=rank):
        uri, width, height = _embed_png(path)
        # printed: the page's width unless that makes the chart taller than two a page allow (a chart taller
        # than wide, such as one row per target, gets a page of its own)
        limit = PRINT_HEIGHT_MM[1] if height > width else PRINT_HEIGHT_MM[0]
        print_width = min(100.0, 100 * limit / (PRINT_WIDTH_MM * height / width))
        out.append({"file": path.name, "caption": _chart_caption(path.stem, t, lang, keys), "uri": uri,
                    "width": width // 2, "height": height // 2, "print_width": f"{print_width:.0f}"})
    return out


# ---------------------------------------------------------------- rendering
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("simulator", "templates"), autoescape=select_autoescape(["j2", "html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def context(folder: str | Path, lang: str = "zh", shown_as: str | Path | None = None) -> dict:
    """Everything the template shows, read from the output folder (``shown_as``: the folder's name in the
    commands the report prints, when it is written before the folder is moved into place)."""
    if lang not in ("zh", "en"):
        raise InputError("--lang", "", "unknown language", value=lang, allowed="zh, en")
    data = sections.read_folder(folder)
    data["lang"] = lang
    t, manifest = sections.text(lang), data["manifest"]
    variants = sections.ordered(data["targets"]["variant"] if not data["targets"].empty
                                else manifest.get("variants") or [])
    labels = variants   # tables name variants by id; the legend under the title says what each is
    targets, joint = sections.target_sections(data, labels, t)
    series = [tg["indicator"] for tg in targets]
    levers = sections.levers(data, labels, t)
    year = levers["year"] if levers else (max(s["year"] for s in targets) if targets else manifest.get("horizon"))
    not_modelled, population = sections.not_modelled(data, t)
    scenario = manifest.get("scenario") or {}
    region_name = sections.region_name(data, lang)
    head = {"title": sections.local(scenario.get("title"), lang) or scenario.get("name", ""),
            "region": region_name or scenario.get("region", ""), "replicates": manifest.get("replicates", ""),
            "created": manifest.get("created_utc", ""), "version": (manifest.get("versions") or {}).get("innosim", ""),
            "generated": datetime.now(UTC).isoformat(timespec="seconds")}
    return {"lang": lang, "t": t, "head": head, "variants": sections.variant_legend(manifest, variants, lang),
            "targets": targets, "joint": joint, "bar_target": 100 / sections.BAR_MAX * 100, "levers": levers,
            "payments": sections.payments(data, labels, t, year), "charts": _charts(data["folder"], t, lang, series),
            "not_modelled": not_modelled, "population": population, "assumptions": sections.assumptions(manifest, t),
            "provenance": sections.provenance(manifest, Path(shown_as or data["folder"]), t), "font_uri": ""}


@lru_cache(maxsize=8)
def _font_subset(chars: str) -> str:
    """The bundled Noto Sans CJK SC cut down to ``chars``, as a data URI ('' when the font is missing).

    The whole font is 16 MB; the few hundred characters of a report make ~60 KB, small enough to embed
    so that Chinese renders on machines without a CJK font (and in the PDF)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    try:
        path = resources.files(BUNDLED_FONT[0]).joinpath(BUNDLED_FONT[1])
        font = TTFont(str(path), lazy=True)
    except (ModuleNotFoundError, OSError):
        return ""
    options = subset.Options()
    options.layout_features, options.hinting, options.notdef_outline = [], False, True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]   # horizontal text only
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return "data:font/otf;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(folder: str | Path, lang: str = "zh", shown_as: str | Path | None = None) -> str:
    """report.html of a finished run folder, as text (charts and the Chinese font embedded)."""
    ctx = context(folder, lang, shown_as)
    template = _environment().get_template("report.html.j2")
    draft = template.render(**{**ctx, "charts": [{**c, "uri": ""} for c in ctx["charts"]]})
    # every non-ASCII character, and printable ASCII: a PDF layout keeps the CJK font for the spaces and
    # digits between Chinese words, which must not come out as empty boxes
    chars = {c for c in draft if ord(c) > 0x7E} | {chr(i) for i in range(0x20, 0x7F)}
    ctx["font_uri"] = _font_subset("".join(sorted(chars)))
    return template.render(**ctx)


def write_pdf(html: str, path: Path) -> None:
    """The report as PDF through WeasyPrint (pip install -e ".[pdf]"); it needs Pango from the system."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:   # OSError: the package is there but Pango is not
        raise InputError("--pdf", "", f"needs WeasyPrint and the Pango library ({type(exc).__name__}: {exc})",
                         allowed='pip install -e ".[pdf]" (Debian: apt-get install libpango-1.0-0 '
                                 'libpangoft2-1.0-0)') from None
    HTML(string=html).write_pdf(path)


def write_report(folder: str | Path, lang: str = "zh", pdf: bool = False,
                 shown_as: str | Path | None = None) -> list[Path]:
    """Write report.html (and report.pdf) into a finished run folder; return the files written.

    Each file is written beside its final name and renamed into place, so an interrupted
    report never leaves a half-written file."""
    folder = Path(folder)
    html = render_html(folder, lang, shown_as)
    written = []
    targets = [(folder / REPORT_HTML, lambda p: p.write_text(html, "utf-8"))]
    if pdf:
        targets.append((folder / REPORT_PDF, lambda p: write_pdf(html, p)))
    for final, write in targets:
        tmp = final.with_name(f".{final.name}.tmp")
        try:
            write(tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(final)
    return written

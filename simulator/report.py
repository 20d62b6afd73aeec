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
import json
import math
import os
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from .config import NO_POLICY
from .errors import InputError
from .indicators import INDICATORS

REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
#: the tables a report needs; a folder without them is not a finished run
REQUIRED = ("manifest.json", "targets.csv", "summary.csv")
#: largest width (pixels) of an embedded chart: sharp at about twice the 560-700 px it is shown at
CHART_PX = 1200
#: colours of an embedded chart's palette
CHART_COLOURS = 128
#: the bar of "median as % of target" spans 0 to this percentage (the target mark sits at 100)
BAR_MAX = 150.0
#: the font of the charts (simulator.plots.BUNDLED_FONT; repeated so that a report does not import matplotlib)
BUNDLED_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")
#: chart order in the report: the answer first, then per-indicator detail
CHART_ORDER = ("distance", "probability", "cost", "fan_", "variants_")


def _text(lang: str) -> dict:
    doc = yaml.safe_load(resources.files("simulator").joinpath("templates/report_text.yaml").read_text("utf-8"))
    return doc[lang]


def _num(value) -> str:
    """A number for a table cell: thousands separators, at most 2 decimals, two significant digits below 0.01."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "–"
    value = float(value)
    a = abs(value)
    if 0 < a < 0.01:
        return f"{value:.{min(10, 1 - math.floor(math.log10(a)))}f}".rstrip("0")
    if a >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.0f}" if a >= 100 else f"{value:.1f}" if a >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_unit(value, unit: str, t: dict) -> str:
    unit = t["units"].get(unit, unit) if isinstance(unit, str) else ""
    if unit == "%":
        return f"{_num(value)}%"
    return f"{_num(value)} {unit}".strip()


def _pct(p) -> str:
    return "–" if pd.isna(p) else f"{100 * float(p):.0f}%"


def _pclass(p) -> str:
    return "" if pd.isna(p) else "p-high" if p >= 0.8 else "p-mid" if p >= 0.5 else "p-low"


def _local(value, lang: str) -> str:
    """A scenario text that is either one string or ``{zh: …, en: …}``."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or value.get("zh") or "")
    return str(value or "")


def variant_legend(manifest: dict, variants: list[str], lang: str) -> list[dict]:
    """Each variant's id and what it is: ``base`` and ``no_policy`` glossed, the others' scenario description."""
    t = _text(lang)
    declared = (manifest.get("scenario") or {}).get("variants") or {}
    return [{"id": v, "what": t["variant_base"] if v == "base" else t["variant_no_policy"] if v == NO_POLICY
             else _local((declared.get(v) or {}).get("description"), lang)} for v in variants]


def _ordered(variants) -> list[str]:
    seen = list(dict.fromkeys(str(v) for v in variants))
    middle = [v for v in seen if v not in ("base", NO_POLICY)]
    return [v for v in ("base",) if v in seen] + middle + [v for v in (NO_POLICY,) if v in seen]


def _indicator_name(key: str, lang: str) -> str:
    meta = INDICATORS.get(key)
    return key if meta is None else meta.zh if lang == "zh" else meta.en


# ---------------------------------------------------------------- reading the folder
def read_folder(folder: str | Path) -> dict:
    """The tables and manifest of a finished run folder; InputError naming what is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "", "no such output folder", allowed="a folder written by innosim run")
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise InputError(folder, ", ".join(missing), "missing: not a finished innosim run folder",
                         allowed="a folder written by innosim run")
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(folder / "manifest.json", "", f"not a readable manifest ({type(exc).__name__})",
                         allowed="the manifest.json innosim wrote") from None
    if not isinstance(manifest, dict) or manifest.get("analysis"):
        raise InputError(folder, "", "a sensitivity or optimiser folder, not a scenario run",
                         allowed="a folder written by innosim run")

    def table(name: str) -> pd.DataFrame:
        path = folder / name
        try:
            return pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame()
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(path, "", f"not a readable CSV table ({type(exc).__name__}: {exc})",
                             allowed="the table innosim run wrote") from None

    return {"folder": folder, "manifest": manifest, "targets": table("targets.csv"),
            "additionality": table("additionality.csv"), "payments": table("payments.csv"),
            "summary": table("summary.csv"), "instruments": table("instruments.csv")}


def _inputs(data: dict) -> list[tuple[str, Path | None, bool]]:
    """The run's input files: manifest key, where the file is now (None if nowhere) and whether it still has
    the SHA-256 the run recorded (paths are found as ``innosim rerun`` finds them)."""
    from .runner import resolve_input

    manifest, where = data["manifest"], data["folder"] / "manifest.json"
    out = []
    for key, digest in (manifest.get("input_sha256") or {}).items():
        same = resolve_input(key, digest, where, manifest.get("repository_root"))
        path = same or resolve_input(key, None, where, manifest.get("repository_root"))
        out.append((key, path, same is not None))
    return out


def _region_file(data: dict) -> tuple[str, Path | None, bool]:
    """The region file of the run: its manifest key, where it is now, and whether it is unchanged."""
    region = (data["manifest"].get("scenario") or {}).get("region", "")
    for key, path, unchanged in _inputs(data):
        if Path(key).parent.name == "regions" and Path(key).stem == region:
            return key, path, unchanged
    return f"regions/{region}.yaml", None, False


def _catalogue_entries(data: dict) -> dict[str, dict]:
    """Instrument id -> its catalogue entry (clause, rule, document title), from the run's policy files."""
    out = {}
    for key, path, _ in _inputs(data):
        if Path(key).parent.name != "policies" or path is None:
            continue
        try:
            doc = yaml.safe_load(path.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        for entry in doc.get("instruments") or []:
            if isinstance(entry, dict) and "id" in entry:
                out[entry["id"]] = {**entry, "doc_title": doc.get("title") or doc.get("document", "")}
    return out


# ---------------------------------------------------------------- report sections
def _target_sections(data: dict, labels: list[str], t: dict) -> tuple[list[dict], list[dict]]:
    targets, summary, lang = data["targets"], data["summary"], data["lang"]
    horizon = data["manifest"].get("horizon", "")
    base_year = data["manifest"].get("base_year")
    if targets.empty:
        return [], []
    sections = []
    rows = targets[targets["indicator"] != "all_targets"]
    for (indicator, year), group in rows.groupby(["indicator", "target_year"], sort=False):
        first = group.iloc[0]
        value, unit = float(first["target_value"]), first.get("unit", "")
        meta = INDICATORS.get(indicator)
        baseline = ""
        if base_year is not None and not summary.empty:
            at = summary[(summary["indicator"] == indicator) & (summary["year"] == base_year)
                         & (summary["variant"] == "base")]
            baseline = _with_unit(at["median"].iloc[0], unit, t) + f" ({base_year})" if len(at) else ""
        out = []
        for _, r in group.set_index("variant").loc[[v for v in labels if v in set(group["variant"])]].iterrows():
            pct = 100 * r["median"] / value if value else math.nan
            first_year = r["median_first_year"]
            out.append({"variant": r.name, "median": _with_unit(r["median"], unit, t),
                        "pct": "–" if not math.isfinite(pct) else f"{pct:.0f}%",
                        "bar": 0 if not math.isfinite(pct) else max(0.0, min(pct, BAR_MAX)) / BAR_MAX * 100,
                        "range": f"{_num(r['p05'])} – {_num(r['p95'])}", "prob": _pct(r["probability_met"]),
                        "pclass": _pclass(r["probability_met"]),
                        "first": t["not_by"].format(year=horizon) if pd.isna(first_year) else f"{int(first_year)}"})
        sections.append({"indicator": indicator, "name": _indicator_name(indicator, lang), "year": int(year),
                         "value_text": _with_unit(value, unit, t), "source": first.get("source", ""),
                         "lower_better": bool(meta and not meta.higher_is_better), "baseline_text": baseline,
                         "rows": out})
    joint = targets[targets["indicator"] == "all_targets"].set_index("variant")
    joint_rows = [{"variant": v, "prob": _pct(joint.loc[v, "probability_met"]),
                   "pclass": _pclass(joint.loc[v, "probability_met"])} for v in labels if v in joint.index]
    return sections, joint_rows


def _levers(data: dict, labels: list[str], t: dict) -> dict | None:
    add = data["additionality"]
    if add.empty:
        return None
    rows = []
    for v in [v for v in labels if v in set(add["variant"])]:
        for i, (_, r) in enumerate(add[add["variant"] == v].iterrows()):
            per_unit = r["cost_per_unit_median"]
            rows.append({"first": i == 0, "variant": v, "outcome": _indicator_name(r["outcome"], data["lang"]),
                         "extra": ("+" if r["extra_median"] > 0 else "") + _with_unit(r["extra_median"], r["unit"], t),
                         "range": f"{_num(r['extra_p05'])} – {_num(r['extra_p95'])}",
                         "cost": _with_unit(r["cost_median"], "万元", t),
                         "per_unit": t["no_unit_cost"] if pd.isna(per_unit) else _with_unit(per_unit, "万元", t)})
    return {"year": int(add["year"].iloc[0]), "rows": rows}


def _payments(data: dict, labels: list[str], t: dict, year: int | None) -> dict:
    pay, targets = data["payments"], data["targets"]
    variants = [v for v in labels if v != NO_POLICY]
    if pay.empty or year is None:
        return {"rows": [], "variants": [], "total": [], "year": year, "not_paid": _not_paid(data, variants)}
    pay = pay[pay["year"] <= year]
    # replicates that paid nothing have no rows: the median counts them as 0
    n = targets.groupby("variant")["replicates"].max().to_dict() if not targets.empty else {}
    n_default = int(data["manifest"].get("replicates") or 1)
    per_rep = pay.groupby(["variant", "instrument", "replicate"])[["amount", "recipients"]].sum()
    catalogue = _catalogue_entries(data)

    def median(values: pd.Series, variant: str) -> float:
        k = max(int(n.get(variant, n_default)), len(values))
        return float(pd.Series(list(values) + [0.0] * (k - len(values))).median())

    rows = []
    for inst in sorted(pay["instrument"].unique()):
        cells = []
        for v in variants:
            part = per_rep.loc[(v, inst)] if (v, inst) in per_rep.index.droplevel(2) else None
            cells.append("–" if part is None else
                         f"{_num(median(part['amount'], v))} ({_num(median(part['recipients'], v))})")
        entry = catalogue.get(inst, {})
        detail = " · ".join(str(x) for x in (entry.get("doc_title"), entry.get("clause"), entry.get("rule")) if x)
        rows.append({"label": inst, "detail": detail, "cells": cells})
    totals = pay.groupby(["variant", "replicate"])["amount"].sum()
    total = [_num(median(totals.loc[v], v)) if v in totals.index.get_level_values(0) else "0" for v in variants]
    return {"rows": rows, "variants": variants, "total": total, "year": year, "not_paid": _not_paid(data, variants)}


def _not_paid(data: dict, order: list[str]) -> list[dict]:
    """instruments.csv: each variant's modelled instruments that paid nothing in the run, and why."""
    status = data["instruments"]
    if status.empty or "status" not in status:
        return []
    rank = {v: i for i, v in enumerate(order)}
    keep = ["variant", "instrument", "clause", "status", "reason"]
    unpaid = status[status["status"] != "paid"].reindex(columns=keep).astype(object).fillna("")
    unpaid = unpaid.assign(_rank=unpaid["variant"].map(rank).fillna(len(rank))).sort_values(["_rank", "instrument"])
    return [{k: r[k] for k in keep} for _, r in unpaid.iterrows()]


def _chart_caption(stem: str, t: dict, lang: str) -> str:
    for prefix, key in (("fan_", "chart_fan"), ("variants_", "chart_variants")):
        if stem.startswith(prefix):
            return f"{_indicator_name(stem[len(prefix):], lang)} — {t[key]}"
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


def _charts(folder: Path, t: dict, lang: str) -> list[dict]:
    def rank(p: Path) -> tuple[int, str]:
        return next((i for i, key in enumerate(CHART_ORDER) if p.stem.startswith(key)), len(CHART_ORDER)), p.stem

    out = []
    for path in sorted(folder.glob("*.png"), key=rank):
        uri, width, height = _embed_png(path)
        out.append({"file": path.name, "caption": _chart_caption(path.stem, t, lang), "uri": uri,
                    "width": width // 2, "height": height // 2})
    return out


def _not_modelled(data: dict, t: dict) -> tuple[dict, list[dict]]:
    """Rows of the region file's not_modelled, and its population assumptions."""
    key, path, unchanged = _region_file(data)
    if path is None:
        return {"note": t["region_missing"].format(path=key), "rows": []}, []
    region = yaml.safe_load(path.read_text("utf-8")) or {}
    rows = []
    for entry in region.get("not_modelled") or []:
        if isinstance(entry, dict):
            why = entry.get("why") or entry.get("reason") or ""
            what = " · ".join(str(v) for k, v in entry.items() if k not in ("why", "reason"))
            rows.append({"what": what, "why": why})
        else:
            rows.append({"what": str(entry), "why": ""})
    population = [{"name": k, "value": _value(v.get("value")), "source": " ".join(str(v.get("source", "")).split())}
                  for k, v in (region.get("population") or {}).items()
                  if isinstance(v, dict) and str(v.get("source", "")).lower().startswith("assumption")]
    return {"note": "" if unchanged else t["region_changed"].format(path=key), "rows": rows}, population


def _assumptions(manifest: dict, t: dict) -> list[dict]:
    from .parameters import parameter_specs

    used = manifest.get("parameters") or {}
    specs = [s for s in parameter_specs().values() if s.kind in ("calibrated", "assumption")]
    specs.sort(key=lambda s: s.kind != "calibrated")   # calibrated first, then assumptions, each in table order
    return [{"name": s.name, "value": _value(used.get(s.name, s.value)), "unit": s.unit, "kind": t[f"kind_{s.kind}"],
             "source": " ".join(str(s.source).split())} for s in specs]


def _value(value) -> str:
    """A parameter value: numbers to 4 significant digits, lists element by element."""
    if isinstance(value, bool) or not isinstance(value, int | float | list | tuple):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return f"{value:.4g}"


def _provenance(manifest: dict, folder: Path, t: dict) -> list[tuple[str, str]]:
    versions = manifest.get("versions") or {}
    opts = {k: v for k, v in (manifest.get("options") or {}).items() if v is not None}
    sha = str(manifest.get("scenario_sha256", ""))[:12]
    return [(t["scenario_file"], f"{manifest.get('scenario_file', '')} (SHA-256 {sha}…)"),
            (t["created"], manifest.get("created_utc", "")),
            (t["seed"], manifest.get("seed", "")), (t["replicates"], manifest.get("replicates", "")),
            (t["base_year"], manifest.get("base_year", "")), (t["horizon"], manifest.get("horizon", "")),
            (t["variants"], ", ".join(manifest.get("variants") or [])),
            (t["uncertainty"], manifest.get("uncertainty", "")),
            (t["runs"], f"{manifest.get('runs', '')} ({manifest.get('failed_runs', 0)})"),
            (t["git_commit"], manifest.get("git_commit") or "–"),
            (t["versions"], ", ".join(f"{k} {v}" for k, v in versions.items())),
            (t["platform"], manifest.get("platform", "")),
            (t["rerun"], f"innosim rerun {folder}"),
            (t["report_command"], f"innosim report {folder}" + "".join(f" --{k} {v}" for k, v in opts.items()
                                                                        if k == "lang"))]


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
    data = read_folder(folder)
    data["lang"] = lang
    t, manifest = _text(lang), data["manifest"]
    variants = _ordered(data["targets"]["variant"] if not data["targets"].empty else manifest.get("variants") or [])
    labels = variants   # tables name variants by id; the legend under the title says what each is
    targets, joint = _target_sections(data, labels, t)
    levers = _levers(data, labels, t)
    year = levers["year"] if levers else (max(s["year"] for s in targets) if targets else manifest.get("horizon"))
    not_modelled, population = _not_modelled(data, t)
    scenario = manifest.get("scenario") or {}
    region_name = ""
    _, path, _ = _region_file(data)
    if path is not None:
        region_name = _local((yaml.safe_load(path.read_text("utf-8")) or {}).get("name"), lang)
    head = {"title": _local(scenario.get("title"), lang) or scenario.get("name", ""),
            "region": region_name or scenario.get("region", ""), "replicates": manifest.get("replicates", ""),
            "created": manifest.get("created_utc", ""), "version": (manifest.get("versions") or {}).get("innosim", ""),
            "generated": datetime.now(UTC).isoformat(timespec="seconds")}
    return {"lang": lang, "t": t, "head": head, "variants": variant_legend(manifest, variants, lang),
            "targets": targets, "joint": joint, "bar_target": 100 / BAR_MAX * 100, "levers": levers,
            "payments": _payments(data, labels, t, year), "charts": _charts(data["folder"], t, lang),
            "not_modelled": not_modelled, "population": population, "assumptions": _assumptions(manifest, t),
            "provenance": _provenance(manifest, Path(shown_as or data["folder"]), t), "font_uri": ""}


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

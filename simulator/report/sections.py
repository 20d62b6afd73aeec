"""The sections of report.html, read from a finished run folder: targets, additionality, payments, the
targets not modelled, assumptions and provenance (:mod:`simulator.report.document` renders and writes them).

Every function returns plain dicts and lists of display text for the Jinja2 template; nothing here
renders HTML. Fixed words come from ``templates/report_text.yaml`` (zh/en).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from simulator.errors import InputError
from simulator.inputs.scenario_file import NO_POLICY
from simulator.inputs.series import higher_is_better
from simulator.inputs.series import label as series_label
from simulator.model.indicators import INDICATORS

#: the tables a report needs; a folder without them is not a finished run
REQUIRED = ("manifest.json", "targets.csv", "summary.csv")
#: the bar of "median as % of target" spans 0 to this percentage (the target mark sits at 100)
BAR_MAX = 150.0


def text(lang: str) -> dict:
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


def local(value, lang: str) -> str:
    """A scenario text that is either one string or ``{zh: …, en: …}``."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or value.get("zh") or "")
    return str(value or "")


def variant_legend(manifest: dict, variants: list[str], lang: str) -> list[dict]:
    """Each variant's id and what it is: ``base`` and ``no_policy`` glossed, the others' scenario description."""
    t = text(lang)
    declared = (manifest.get("scenario") or {}).get("variants") or {}
    return [{"id": v, "what": t["variant_base"] if v == "base" else t["variant_no_policy"] if v == NO_POLICY
             else local((declared.get(v) or {}).get("description"), lang)} for v in variants]


def ordered(variants) -> list[str]:
    seen = list(dict.fromkeys(str(v) for v in variants))
    middle = [v for v in seen if v not in ("base", NO_POLICY)]
    return [v for v in ("base",) if v in seen] + middle + [v for v in (NO_POLICY,) if v in seen]


def indicator_name(key: str, lang: str) -> str:
    """Label of an indicator or of a target's series key (``growth:gdp``, ``share:…``: simulator/targets.py)."""
    try:
        return series_label(key, INDICATORS, lang)
    except (KeyError, ValueError):   # a key of an older or newer innosim: shown as written
        return key


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
    from simulator.experiments.outputs import resolve_input

    manifest, where = data["manifest"], data["folder"] / "manifest.json"
    out = []
    for key, digest in (manifest.get("input_sha256") or {}).items():
        same = resolve_input(key, digest, where, manifest.get("repository_root"))
        path = same or resolve_input(key, None, where, manifest.get("repository_root"))
        out.append((key, path, same is not None))
    return out


def region_file(data: dict) -> tuple[str, Path | None, bool]:
    """The region file of the run: its manifest key, where it is now, and whether it is unchanged."""
    region = (data["manifest"].get("scenario") or {}).get("region", "")
    for key, path, unchanged in _inputs(data):
        if Path(key).parent.name == "regions" and Path(key).stem == region:
            return key, path, unchanged
    return f"regions/{region}.yaml", None, False


def region_name(data: dict, lang: str) -> str:
    """The region's name from its region file ('' when the file is not found)."""
    _, path, _ = region_file(data)
    return "" if path is None else local((yaml.safe_load(path.read_text("utf-8")) or {}).get("name"), lang)


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
def distance_pct(median: float, target: float, lower_better: bool = False) -> float:
    """How far the median is towards the target, in % (100 = met): median ÷ target, or target ÷ median for a
    target met from below (a rank: 106th against a target of 65th is 61 %); NaN where undefined."""
    num, den = (target, median) if lower_better else (median, target)
    return 100 * num / den if den and math.isfinite(num) and math.isfinite(den) else math.nan


def target_sections(data: dict, labels: list[str], t: dict) -> tuple[list[dict], list[dict]]:
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
        baseline = ""
        if base_year is not None and not summary.empty:
            at = summary[(summary["indicator"] == indicator) & (summary["year"] == base_year)
                         & (summary["variant"] == "base")]
            known = len(at) and pd.notna(at["median"].iloc[0])   # (a growth rate has none in the base year)
            baseline = _with_unit(at["median"].iloc[0], unit, t) + f" ({base_year})" if known else ""
        lower_better = not higher_is_better(indicator, INDICATORS)
        out = []
        for _, r in group.set_index("variant").loc[[v for v in labels if v in set(group["variant"])]].iterrows():
            pct = distance_pct(r["median"], value, lower_better)
            first_year = r["median_first_year"]
            out.append({"variant": r.name, "median": _with_unit(r["median"], unit, t),
                        "pct": "–" if not math.isfinite(pct) else f"{pct:.0f}%",
                        "bar": 0 if not math.isfinite(pct) else max(0.0, min(pct, BAR_MAX)) / BAR_MAX * 100,
                        "range": f"{_num(r['p05'])} – {_num(r['p95'])}", "prob": _pct(r["probability_met"]),
                        "pclass": _pclass(r["probability_met"]),
                        "first": t["not_by"].format(year=horizon) if pd.isna(first_year) else f"{int(first_year)}"})
        sections.append({"indicator": indicator, "name": indicator_name(indicator, lang), "year": int(year),
                         "value_text": _with_unit(value, unit, t), "source": first.get("source", ""),
                         "lower_better": lower_better, "baseline_text": baseline,
                         "rows": out})
    joint = targets[targets["indicator"] == "all_targets"].set_index("variant")
    joint_rows = [{"variant": v, "prob": _pct(joint.loc[v, "probability_met"]),
                   "pclass": _pclass(joint.loc[v, "probability_met"])} for v in labels if v in joint.index]
    return sections, joint_rows


def levers(data: dict, labels: list[str], t: dict) -> dict | None:
    add = data["additionality"]
    if add.empty:
        return None
    rows = []
    for v in [v for v in labels if v in set(add["variant"])]:
        for i, (_, r) in enumerate(add[add["variant"] == v].iterrows()):
            per_unit = r["cost_per_unit_median"]
            rows.append({"first": i == 0, "variant": v, "outcome": indicator_name(r["outcome"], data["lang"]),
                         "extra": ("+" if r["extra_median"] > 0 else "") + _with_unit(r["extra_median"], r["unit"], t),
                         "range": f"{_num(r['extra_p05'])} – {_num(r['extra_p95'])}",
                         "cost": _with_unit(r["cost_median"], "万元", t),
                         "per_unit": t["no_unit_cost"] if pd.isna(per_unit) else _with_unit(per_unit, "万元", t)})
    return {"year": int(add["year"].iloc[0]), "rows": rows}


def payments(data: dict, labels: list[str], t: dict, year: int | None) -> dict:
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


def not_modelled(data: dict, t: dict) -> tuple[dict, list[dict]]:
    """Rows of the region file's not_modelled, and its population assumptions."""
    key, path, unchanged = region_file(data)
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


def assumptions(manifest: dict, t: dict) -> list[dict]:
    from simulator.inputs.parameters import parameter_specs

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


def provenance(manifest: dict, folder: Path, t: dict) -> list[tuple[str, str]]:
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

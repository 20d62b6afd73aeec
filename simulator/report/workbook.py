"""results.xlsx: the run's answers as a planner's workbook (openpyxl), one sheet per question.

Every sheet has a title row, two frozen header rows (Chinese, then English, units in the
header where a column has one unit), indicator and outcome names in both languages,
probabilities as percentages and numbers rounded for display (the cell keeps the full
value; the CSV files beside the workbook are the machine-readable tables).

Sheets: 目标 Targets, 成本 Cost (by instrument and year, from the payments), 新增 Additionality,
政策工具 Instruments (which paid, and why not), 未模拟 Not modelled (targets of the plan the model
cannot represent, with the region file's reasons), 参数 Parameters (values, units, kinds and
sources of the run, and the region file's population assumptions), 汇总 Summary (bands of every
indicator by year).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from simulator.inputs.series import KIND_INFO, label
from simulator.model.indicators import INDICATORS

PERCENT = "0%"
INTEGER = "#,##0"
AMOUNT = "#,##0.0"      # 万元, 亿元
DECIMAL = "#,##0.00"
FINE = "0.000"          # R&D-intensity points and other small differences
TEXT = "@"
YEAR = "0"

#: header rows (zh, en) below the title: data start on row 4, panes frozen above it
HEADER_ROWS = (2, 3)
FIRST_DATA_ROW = 4
FREEZE = f"A{FIRST_DATA_ROW}"

_HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
_TITLE_FONT = Font(bold=True, size=13)
_HEADER_FONT = Font(bold=True)


@dataclass(frozen=True)
class Column:
    """One workbook column: the source column (or a function of the row), headers, number format, width."""

    key: str | Callable[[pd.Series], object]
    zh: str
    en: str
    fmt: str = "General"
    width: float = 12


def _name(key: str, lang: str) -> str:
    """An indicator's or a target series' name (``growth:gdp`` -> 地区生产总值增速 / GDP, growth)."""
    if key == "all_targets":
        return "全部目标同时达到" if lang == "zh" else "All targets met jointly"
    try:
        return label(key, INDICATORS, lang)
    except (KeyError, ValueError):   # a key this version cannot name: show it as written
        return key


def indicator_zh(key: str) -> str:
    return _name(key, "zh")


def indicator_en(key: str) -> str:
    return _name(key, "en")


def _kind(kind) -> str:
    """A target kind in both languages (simulator.inputs.series.KIND_INFO), e.g. 增速 growth."""
    k = KIND_INFO.get(kind) if isinstance(kind, str) else None
    return f"{k.zh} {k.en}" if k else ("" if kind is None or kind != kind else str(kind))


def _value_format(unit: str) -> str:
    """Display format of an indicator value in ``unit``."""
    if unit in ("家", "个", "位", "家/个"):
        return INTEGER
    if unit == "%":
        return DECIMAL
    return AMOUNT


def _cell_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _sheet(wb: Workbook, name: str, title: str, frame: pd.DataFrame, columns: list[Column],
           row_formats: Callable[[pd.Series], dict[int, str]] | None = None, note: str = "") -> None:
    """Write ``frame`` as a sheet: title (row 1), zh and en headers (rows 2-3, frozen), data, widths, formats.

    ``row_formats`` may override the number format of some columns (named by their English header)
    row by row, e.g. an indicator value whose unit changes from row to row.
    """
    ws = wb.create_sheet(name)
    ws.cell(1, 1, title).font = _TITLE_FONT
    if note:
        ws.cell(1, len(columns) + 2 if len(columns) < 6 else 6, note).font = Font(italic=True, color="555555")
    for j, col in enumerate(columns, start=1):
        for row, text in zip(HEADER_ROWS, (col.zh, col.en), strict=True):
            cell = ws.cell(row, j, text)
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(j)].width = col.width
    for i, (_, r) in enumerate(frame.iterrows(), start=FIRST_DATA_ROW):
        overrides = row_formats(r) if row_formats else {}
        for j, col in enumerate(columns, start=1):
            value = col.key(r) if callable(col.key) else r.get(col.key)
            cell = ws.cell(i, j, _cell_value(value))
            cell.number_format = overrides.get(col.en, col.fmt)
            if col.fmt == TEXT and col.width >= 30:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = FREEZE
    if len(frame):
        ws.auto_filter.ref = f"A{HEADER_ROWS[1]}:{get_column_letter(len(columns))}{FIRST_DATA_ROW + len(frame) - 1}"


def _targets_sheet(wb: Workbook, targets: pd.DataFrame) -> None:
    cols = [Column("variant", "情景", "Variant", TEXT, 24),
            Column(lambda r: indicator_zh(r["indicator"]), "指标", "Indicator (zh)", TEXT, 24),
            Column(lambda r: indicator_en(r["indicator"]), "指标 (英文)", "Indicator", TEXT, 30),
            Column(lambda r: _kind(r.get("kind")), "类型", "Kind", TEXT, 16),
            Column("target_year", "目标年份", "Target year", YEAR, 9),
            Column("target_value", "目标值", "Target", DECIMAL, 11),
            Column("unit", "单位", "Unit", TEXT, 7),
            Column("probability_met", "达到概率", "Probability met", PERCENT, 11),
            # a target the base year meets already (a county copied from its city) is no achievement of the plan
            Column(lambda r: "是 yes" if str(r.get("met_in_base_year")) == "True" else "", "基年已达到(构造所致)",
                   "Met in the base year already (by construction)", TEXT, 14),
            Column("median_first_year", "过半模拟首次达到年份", "Year half the replicates reach it", YEAR, 14),
            Column("median", "目标年份中位数", "Median in target year", DECIMAL, 12),
            Column("p05", "5% 分位", "5th percentile", DECIMAL, 11),
            Column("p95", "95% 分位", "95th percentile", DECIMAL, 11),
            Column("replicates", "模拟次数", "Replicates", INTEGER, 10),
            Column("source", "出处 (文件条款)", "Source (document clause)", TEXT, 50)]

    def formats(r):
        fmt = _value_format(str(r.get("unit", "")))
        return dict.fromkeys(("Target", "Median in target year", "5th percentile", "95th percentile"), fmt)

    _sheet(wb, "目标 Targets", "达到规划目标的概率 · Probability of meeting the plan's targets", targets, cols, formats,
           note="概率 = 目标年份达到或超过目标值的模拟占比 (排名: 达到或优于) · share of replicates at or beyond "
                "the target in its year")


def _cost_sheet(wb: Workbook, payments: pd.DataFrame, status: pd.DataFrame, replicates: dict[str, int]) -> None:
    """万元 per year and instrument, mean over replicates (a replicate without a payment counts as 0)."""
    clause = dict(zip(status["instrument"], status["clause"], strict=False)) if len(status) else {}
    if payments.empty:
        frame = pd.DataFrame(columns=["variant", "instrument", "clause", "total"])
        years: list[int] = []
    else:
        paid = payments.groupby(["variant", "instrument", "year"])["amount"].sum().reset_index()
        paid["amount"] = paid["amount"] / paid["variant"].map(replicates).fillna(1).clip(lower=1)
        frame = paid.pivot_table(index=["variant", "instrument"], columns="year", values="amount",
                                 fill_value=0.0).reset_index()
        years = [c for c in frame.columns if isinstance(c, int | np.integer)]
        frame["total"] = frame[years].sum(axis=1)
        frame["clause"] = frame["instrument"].map(clause).fillna("")
    cols = [Column("variant", "情景", "Variant", TEXT, 24), Column("instrument", "政策工具", "Instrument", TEXT, 34),
            Column("clause", "条款", "Clause", TEXT, 12)]
    cols += [Column(y, f"{y} 年 (万元)", f"{y} (万元)", AMOUNT, 10) for y in years]
    cols.append(Column("total", "合计 (万元)", "Total (万元)", AMOUNT, 12))
    note = ("每次模拟平均支付额, 万元 · mean paid per replicate, 万元 (CNY 10 000)" if len(frame)
            else "本次运行没有任何政策工具支付 · no instrument paid in this run (see 政策工具 Instruments)")
    _sheet(wb, "成本 Cost", "按政策工具和年份的补贴支出 · Subsidy paid by instrument and year", frame, cols, note=note)


def _additionality_sheet(wb: Workbook, add: pd.DataFrame) -> None:
    cols = [Column("variant", "情景", "Variant", TEXT, 24),
            Column(lambda r: indicator_zh(r["outcome"]), "成果", "Outcome (zh)", TEXT, 22),
            Column(lambda r: indicator_en(r["outcome"]), "成果 (英文)", "Outcome", TEXT, 28),
            Column("year", "年份", "Year", YEAR, 7), Column("unit", "新增单位", "Unit of the extra", TEXT, 12),
            Column("extra_median", "新增中位数", "Extra, median", FINE, 11),
            Column("extra_median_low", "中位数 90% 置信下限", "Median: 90 % CI low", FINE, 12),
            Column("extra_median_high", "中位数 90% 置信上限", "Median: 90 % CI high", FINE, 12),
            Column("extra_mean", "新增均值", "Extra, mean", FINE, 11),
            Column("extra_mean_low", "均值 90% 置信下限", "Mean: 90 % CI low", FINE, 12),
            Column("extra_mean_high", "均值 90% 置信上限", "Mean: 90 % CI high", FINE, 12),
            Column("extra_p05", "新增 5% 分位", "Extra, 5th percentile", FINE, 11),
            Column("extra_p95", "新增 95% 分位", "Extra, 95th percentile", FINE, 11),
            Column("cost_median", "累计补贴中位数 (万元)", "Cumulative subsidy, median (万元)", AMOUNT, 14),
            Column("cost_per_unit_median", "每新增单位成本 (万元)", "Cost per extra unit (万元)", AMOUNT, 14),
            Column("replicates", "配对模拟次数", "Replicate pairs", INTEGER, 10)]

    def formats(r):
        fmt = INTEGER if r.get("outcome") == "hte_count" else FINE if r.get("outcome") == "rd_intensity" else DECIMAL
        extras = ("Extra, median", "Median: 90 % CI low", "Median: 90 % CI high", "Mean: 90 % CI low",
                  "Mean: 90 % CI high", "Extra, 5th percentile", "Extra, 95th percentile")
        return {**dict.fromkeys(extras, fmt), "Extra, mean": DECIMAL if fmt == INTEGER else fmt}

    _sheet(wb, "新增 Additionality", "相对无政策情景的新增成果与成本 · Extra outcome and cost against no policy",
           add, cols, formats, note="单位成本仅在新增的中位数与均值的 90% 置信区间均高于 0 时给出 · cost per unit only "
                                    "where the 90 % intervals of the median and the mean extra lie above 0")


def _instruments_sheet(wb: Workbook, status: pd.DataFrame) -> None:
    cols = [Column("variant", "情景", "Variant", TEXT, 24), Column("instrument", "政策工具", "Instrument", TEXT, 34),
            Column("clause", "条款", "Clause", TEXT, 12), Column("status", "状态", "Status", TEXT, 16),
            Column("paid_mean", "平均支付 (万元)", "Paid, mean per replicate (万元)", AMOUNT, 14),
            Column("recipients_mean", "平均受益次数", "Recipients, mean per replicate", AMOUNT, 13),
            Column("first_year_paid", "首次支付年份", "First year paid", YEAR, 10),
            Column("reason", "未支付原因", "Why it did not pay", TEXT, 70)]
    paid_any = bool((status["status"] == "paid").any()) if len(status) else False
    _sheet(wb, "政策工具 Instruments", "各政策工具是否支付 · Which instruments paid, and why not", status, cols,
           note="" if paid_any else "本次运行没有任何政策工具支付 · no instrument paid in this run")


def _not_modelled_sheet(wb: Workbook, region) -> None:
    rows = pd.DataFrame(region.not_modelled)
    keys = list(rows.columns) if len(rows) else ["row", "why"]
    names = {"row": ("规划目标 (文件行)", "Target (document row)", 60), "why": ("未模拟原因", "Why not modelled", 70)}
    cols = [Column(k, *names.get(k, (k, k, 30))[:2], TEXT, names.get(k, (k, k, 30))[2]) for k in keys]
    _sheet(wb, "未模拟 Not modelled", "模型不能表示的规划目标 · Targets of the plan the model does not represent",
           rows, cols, note=f"来自 · from scenarios/regions/{region.id}.yaml")


def _parameters_sheet(wb: Workbook, prepared, meta: dict) -> None:
    from simulator.inputs.parameters import parameter_specs

    specs = parameter_specs()
    values = prepared.params.to_dict()
    overridden = set(prepared.scenario.parameters)
    rows = [{"name": name, "value": values.get(name, spec.value), "unit": spec.unit, "kind": spec.kind,
             "set_by": "scenario" if name in overridden else "default", "source": spec.source}
            for name, spec in specs.items()]
    rows += [{"name": f"population.{key}", "value": a.value if not isinstance(a.value, list | dict) else str(a.value),
              "unit": "", "kind": "region assumption", "set_by": "region file", "source": a.source}
             for key, a in prepared.region.population.items()]
    run = [("scenario", meta.get("scenario_file")), ("seed", meta.get("seed")), ("replicates", meta.get("replicates")),
           ("horizon", meta.get("horizon")), ("git commit", meta.get("git_commit")),
           ("uncertainty", meta.get("uncertainty"))]
    rows += [{"name": f"run.{k}", "value": v, "unit": "", "kind": "run", "set_by": "command line / scenario",
              "source": "manifest.json"} for k, v in run]
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].map(lambda v: v if isinstance(v, int | float | str | bool) or v is None else str(v))
    cols = [Column("name", "参数", "Parameter", TEXT, 34), Column("value", "取值", "Value", "General", 14),
            Column("unit", "单位", "Unit", TEXT, 14), Column("kind", "类别", "Kind", TEXT, 16),
            Column("set_by", "设定来源", "Set by", TEXT, 14), Column("source", "依据", "Source or reason", TEXT, 80)]
    _sheet(wb, "参数 Parameters", "参数与假设 · Parameters and assumptions of this run", frame, cols,
           note="kind: national_rule 国家规定, evidence 文献证据, assumption 假设, calibrated 校准")


def _summary_sheet(wb: Workbook, summary: pd.DataFrame) -> None:
    cols = [Column("variant", "情景", "Variant", TEXT, 24),
            Column(lambda r: indicator_zh(r["indicator"]), "指标", "Indicator (zh)", TEXT, 24),
            Column(lambda r: indicator_en(r["indicator"]), "指标 (英文)", "Indicator", TEXT, 30),
            Column(lambda r: INDICATORS[r["indicator"]].unit if r["indicator"] in INDICATORS else "", "单位", "Unit",
                   TEXT, 7),
            Column("year", "年份", "Year", YEAR, 7), Column("p05", "5% 分位", "5th percentile", DECIMAL, 11),
            Column("p25", "25% 分位", "25th percentile", DECIMAL, 11),
            Column("median", "中位数", "Median", DECIMAL, 11),
            Column("p75", "75% 分位", "75th percentile", DECIMAL, 11),
            Column("p95", "95% 分位", "95th percentile", DECIMAL, 11)]

    def formats(r):
        fmt = _value_format(INDICATORS[r["indicator"]].unit) if r["indicator"] in INDICATORS else DECIMAL
        return dict.fromkeys(("5th percentile", "25th percentile", "Median", "75th percentile", "95th percentile"), fmt)

    _sheet(wb, "汇总 Summary", "各指标逐年分位数 · Every indicator by year: median and bands", summary, cols, formats)


SHEETS = ("目标 Targets", "成本 Cost", "新增 Additionality", "政策工具 Instruments", "未模拟 Not modelled",
          "参数 Parameters", "汇总 Summary")


def write_workbook(path: str | Path, tables: dict[str, pd.DataFrame], prepared, meta: dict,
                   replicates: dict[str, int]) -> Path:
    """Write results.xlsx from a run's tables.

    Args:
        path: the .xlsx file to write.
        tables: ``targets``, ``additionality``, ``summary``, ``payments`` and ``instruments`` as the run
            writes them to CSV.
        prepared: the run's :class:`~simulator.experiments.prepared.Prepared` (region, parameters).
        meta: the run's manifest (seed, replicates, commit).
        replicates: replicates per variant that finished (payments are averaged over them).
    """
    wb = Workbook()
    wb.remove(wb.active)
    _targets_sheet(wb, tables["targets"])
    _cost_sheet(wb, tables["payments"], tables["instruments"], replicates)
    _additionality_sheet(wb, tables["additionality"])
    _instruments_sheet(wb, tables["instruments"])
    _not_modelled_sheet(wb, prepared.region)
    _parameters_sheet(wb, prepared, meta)
    _summary_sheet(wb, tables["summary"])
    path = Path(path)
    wb.save(path)
    return path

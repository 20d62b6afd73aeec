"""results.xlsx is a planner's workbook: one sheet per question, bilingual headers, formats, frozen headers."""

from __future__ import annotations

import openpyxl
import pytest

from simulator.experiments import results
from simulator.experiments.ensemble import run_ensemble
from simulator.experiments.outputs import manifest
from simulator.experiments.prepared import prepare
from simulator.inputs.parameters import parameter_specs
from simulator.model.indicators import INDICATORS
from simulator.report.workbook import FIRST_DATA_ROW, FREEZE, PERCENT, SHEETS, write_workbook
from tests.helpers import QIQIHAR


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    prepared = prepare(QIQIHAR, replicates=2, horizon=2025)
    variants = prepared.variants()
    ens = run_ensemble(variants, 2)
    table = ens.table
    tables = {"targets": results.targets(table, prepared.region),
              "additionality": results.additionality(table, prepared.region),
              "summary": results.summary(table), "payments": ens.payments,
              "instruments": results.instrument_status(variants, ens.payments, table)}
    path = tmp_path_factory.mktemp("wb") / "results.xlsx"
    write_workbook(path, tables, prepared, manifest(prepared, {}), table.groupby("variant")["replicate"].nunique())
    return openpyxl.load_workbook(path), tables, prepared


def _headers(ws) -> tuple[list, list]:
    zh = [c.value for c in ws[FIRST_DATA_ROW - 2]]
    en = [c.value for c in ws[FIRST_DATA_ROW - 1]]
    return zh, en


def _column(ws, en_header: str) -> list:
    index = _headers(ws)[1].index(en_header)
    return [row[index] for row in ws.iter_rows(min_row=FIRST_DATA_ROW)]


def test_every_question_has_its_sheet_with_frozen_bilingual_headers(workbook):
    wb, _, _ = workbook
    assert wb.sheetnames == list(SHEETS)
    for ws in wb:
        assert ws.freeze_panes == FREEZE, ws.title
        zh, en = _headers(ws)
        width = len([h for h in en if h])
        assert width >= 2 and all(zh[:width]) and all(en[:width]), ws.title
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in zh[:width]), (ws.title, zh)   # Chinese
        assert all(h.isascii() or "万元" in h for h in en[:width]), (ws.title, en)                     # English
        assert all(ws.column_dimensions[chr(ord("A") + j)].width >= 7 for j in range(min(width, 26))), ws.title


def test_targets_sheet_names_indicators_and_formats_probabilities(workbook):
    wb, tables, _ = workbook
    ws = wb["目标 Targets"]
    probs = _column(ws, "Probability met")
    assert len(probs) == len(tables["targets"])
    assert all(c.number_format == PERCENT and 0 <= c.value <= 1 for c in probs)
    names = {c.value for c in _column(ws, "Indicator")}
    assert INDICATORS["hte_count"].en in names and "hte_count" not in names
    assert INDICATORS["hte_count"].zh in {c.value for c in _column(ws, "Indicator (zh)")}
    assert not any(":" in str(n) for n in names), names          # target series named, not shown as keys
    for unit, target in zip(_column(ws, "Unit"), _column(ws, "Target"), strict=True):
        if unit.value == "家":
            assert target.number_format == "#,##0"                   # counts without decimals
    assert all("." in c.number_format or c.number_format == "#,##0" for c in _column(ws, "Median in target year"))


def test_cost_sheet_is_the_payments_by_instrument_and_year(workbook):
    wb, tables, _ = workbook
    ws = wb["成本 Cost"]
    payments = tables["payments"]
    expected = payments[payments["variant"] == "base"].groupby("instrument")["amount"].sum() / 2
    rows = {(r[0].value, r[1].value): r[-1].value for r in ws.iter_rows(min_row=FIRST_DATA_ROW)}
    for instrument, total in expected.items():
        assert rows[("base", instrument)] == pytest.approx(total)
    years = [h for h in _headers(ws)[1] if h and h[:4].isdigit()]
    assert years and all(h.endswith("(万元)") for h in years)


def test_not_modelled_and_parameters_sheets_come_from_the_region_and_parameter_files(workbook):
    wb, _, prepared = workbook
    ws = wb["未模拟 Not modelled"]
    reasons = [c.value for c in _column(ws, "Why not modelled")]
    assert reasons == [entry["why"] for entry in prepared.region.not_modelled]
    ws = wb["参数 Parameters"]
    names = {c.value for c in _column(ws, "Parameter")}
    assert set(parameter_specs()) <= names
    assert {f"population.{k}" for k in prepared.region.population} <= names
    assert all(c.value for c in _column(ws, "Source or reason")[:len(parameter_specs())])

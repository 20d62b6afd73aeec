"""Validation of every input file: one clear line (file, line, field, value, what is allowed), exit 2,
no traceback, nothing written; and, over random corruptions of valid files, never anything else.

The table covers every input file type: scenario, region, policy catalogue, calibration spec
and its targets and trend CSVs, optimiser spec, sensitivity ``--bounds`` file and ``--factors``
names, and the calibrated.yaml named by ``INNOSIM_CALIBRATED``. The property tests
(hypothesis) corrupt copies of the shipped files at random and check that the answer is
either valid input or the clean one-line error.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator.analysis import sensitivity_factors as sf
from simulator.analysis.calibration_problem import load_problem
from simulator.analysis.optimise import check_spec
from simulator.cli import main
from simulator.errors import InputError, line_of
from simulator.experiments.prepared import prepare
from simulator.inputs.parameters import _calibrated
from simulator.inputs.reading import load_yaml, parse_yaml
from simulator.inputs.scenario_file import apply_options, load_scenario
from tests.helpers import ROOT, SCENARIOS

CALIBRATION = ROOT / "calibration"
BOUNDS = "parameters:\n  hte_status_value: {bounds: [5, 20]}\n  rd_price_elasticity: [-1.0, -0.3]\n"


def _copy_tree(dest: Path) -> Path:
    """scenarios/ and the calibration inputs (no diagnostics) under ``dest``, plus a valid bounds file."""
    shutil.copytree(SCENARIOS, dest / "scenarios")
    shutil.copytree(CALIBRATION, dest / "calibration", ignore=shutil.ignore_patterns("diagnostics", "calibrated.yaml"))
    (dest / "bounds.yaml").write_text(BOUNDS, "utf-8")
    return dest


def _cli(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of ``innosim argv``; an exception escaping main() fails the test."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main([str(a) for a in argv])
        except Exception as exc:   # noqa: BLE001 - exactly what must never happen
            pytest.fail(f"exception escaped main({argv}): {exc!r}")
    return code, err.getvalue()


def _assert_clean(code: int, err: str, *words: str) -> None:
    assert code == 2, (code, err)
    assert err.startswith("innosim: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


COMMANDS = {
    "run": lambda root, out: ["run", root / "scenarios/qiqihar.yaml", "--replicates", "1", "--out", out, "--quiet"],
    "calibrate": lambda root, out: ["calibrate", root / "calibration/heilongjiang.yaml", "--small", "--out", out],
    "optimise": lambda root, out: ["optimise", root / "scenarios/optimise/qiqihar.yaml", "--trials", "3",
                                   "--replicates", "1", "--out", out, "--quiet"],
    "bounds": lambda root, out: ["sensitivity", root / "scenarios/qiqihar.yaml", "--bounds", root / "bounds.yaml",
                                 "--samples", "2", "--replicates", "1", "--out", out, "--quiet"],
}


@dataclass(frozen=True)
class Case:
    """One invalid input: edit ``file`` (replace ``old`` by ``new``; ``old=None`` replaces the whole file),
    run ``command``; the message must contain ``words`` and, when ``at`` is given, the line of the
    edited file on which the text ``at`` first appears."""

    id: str
    file: str
    old: str | None
    new: str | bytes
    command: str
    words: tuple[str, ...]
    at: str | bytes | None = None


S, R, P = "scenarios/qiqihar.yaml", "scenarios/regions/qiqihar_zone.yaml", "scenarios/policies/000_qiqihar.yaml"
C, T, OPT = "calibration/heilongjiang.yaml", "calibration/targets_heilongjiang.csv", "scenarios/optimise/qiqihar.yaml"
TR = "calibration/trend_series_heilongjiang.csv"
CASES = [
    # ---- scenario file
    Case("scenario-unknown-key", S, "replicates: 50", "replicates: 50\nreplicats: 3", "run",
         ("qiqihar.yaml", "replicats", "unknown key", "did you mean 'replicates'"), "replicats"),
    Case("scenario-unknown-nested-key", S, "{enabled: true, scale: 1.0}\n  q000_m4_tech",
         "{enabled: true, scael: 1.0}\n  q000_m4_tech", "run",
         ("policies.q000_m4_hte_award.scael", "did you mean 'scale'"), "scael"),
    Case("scenario-negative-scale", S, "scale: 1.0}\n  q000_m4_tech", "scale: -1.0}\n  q000_m4_tech", "run",
         ("policies.q000_m4_hte_award.scale", "must be >= 0", "-1.0", "allowed: from 0 to 1000"), "scale: -1.0"),
    Case("scenario-wrong-type", S, "replicates: 50", "replicates: many", "run",
         ("replicates", "wrong type", "'many'", "an integer"), "replicates: many"),
    Case("scenario-out-of-range", S, "replicates: 50", "replicates: 0", "run",
         ("replicates", "must be >= 1", "got 0", "from 1 to 100000"), "replicates: 0"),
    Case("scenario-boolean-number", S, "scale: 1.0}\n  q000_m4_tech", "scale: yes}\n  q000_m4_tech", "run",
         ("policies.q000_m4_hte_award.scale", "a boolean", "got True"), "scale: yes"),
    Case("scenario-nan", S, "scale: 1.0}\n  q000_m4_tech", "scale: .nan}\n  q000_m4_tech", "run",
         ("policies.q000_m4_hte_award.scale", "not a finite number", "'.nan'"), "scale: .nan"),
    Case("scenario-inf", S, "horizon: 2035", "horizon: .inf", "run",
         ("horizon", "not a finite number", "'.inf'"), "horizon: .inf"),
    Case("scenario-budget-wan", S, "q000_m4_tech_purchase: {enabled: true, scale: 1.0}",
         "q000_m4_tech_purchase: {enabled: true, scale: 1.0, budget: 300万}", "run",
         ("policies.q000_m4_tech_purchase.budget", "a number with a unit ('万')", "万元 a year", "'300万'",
          "e.g. 300 for 300万"), "budget: 300万"),
    Case("scenario-budget-yi", S, "q000_m4_tech_purchase: {enabled: true, scale: 1.0}",
         "q000_m4_tech_purchase: {enabled: true, scale: 1.0, budget: 3亿}", "run",
         ("budget", "a number with a unit ('亿')", "e.g. 30000 for 3亿"), "budget: 3亿"),
    Case("scenario-scale-percent", S, "scale: 1.0}\n  q000_m4_tech", "scale: 50%}\n  q000_m4_tech", "run",
         ("policies.q000_m4_hte_award.scale", "a number with a unit ('%')", "'50%'"), "scale: 50%"),
    Case("scenario-seed-wan", S, "seed: 20230302", "seed: 2023万", "run",
         ("seed", "a number with a unit", "'2023万'", "without a unit"), "seed: 2023万"),
    Case("scenario-unknown-region", S, "region: qiqihar_zone", "region: qiqihar_zon", "run",
         ("region", "unknown region", "did you mean 'qiqihar_zone'"), "region: qiqihar_zon"),
    Case("scenario-unknown-instrument", S, "q000_m4_hte_award: {", "q000_m4_hte_awrd: {", "run",
         ("policies.q000_m4_hte_awrd", "unknown instrument", "did you mean 'q000_m4_hte_award'"), "q000_m4_hte_awrd"),
    Case("scenario-unknown-parameter", S, "parameters: {}", "parameters: {rd_price_elastcity: -1}", "run",
         ("parameters.rd_price_elastcity", "unknown parameter", "did you mean 'rd_price_elasticity'"),
         "rd_price_elastcity"),
    Case("scenario-parameter-out-of-bounds", S, "parameters: {}", "parameters:\n  rd_price_elasticity: 3", "run",
         ("parameters.rd_price_elasticity", "out of bounds", "got 3", "[-2.0, 0.0]"), "rd_price_elasticity: 3"),
    Case("scenario-parameter-wan", S, "parameters: {}", "parameters:\n  hte_status_value: 10万", "run",
         ("parameters.hte_status_value", "a number with a unit ('万')", "'10万'", "e.g. 10 for 10万"),
         "hte_status_value"),
    Case("scenario-parameter-boolean", S, "parameters: {}", "parameters:\n  hte_status_value: true", "run",
         ("parameters.hte_status_value", "must be a finite number", "got True"), "hte_status_value"),
    Case("scenario-duplicate-key", S, "seed: 20230302", "seed: 20230302\nseed: 7", "run",
         ("qiqihar.yaml", "seed", "duplicate key (first on line 11)"), "seed: 7"),
    Case("scenario-duplicate-flow-key", S, "{enabled: true, scale: 1.0}\n  q000_m4_tech",
         "{enabled: true, scale: 1.0, scale: 2.0}\n  q000_m4_tech", "run",
         ("policies.q000_m4_hte_award.scale", "duplicate key"), "scale: 2.0"),
    Case("scenario-yaml-syntax", S, "horizon: 2035", "horizon: [2035", "run",
         ("qiqihar.yaml", "YAML syntax error", "flow sequence that starts on line 10"), "seed:"),
    Case("scenario-tab-indent", S, "  q000_m4_tech_purchase", "\tq000_m4_tech_purchase", "run",
         ("qiqihar.yaml", "YAML syntax error"), "\tq000"),
    Case("scenario-control-character", S, "replicates: 50", "replicates: 50\x07", "run",
         ("qiqihar.yaml", "not allowed in YAML"), "replicates"),
    Case("scenario-empty", S, None, "", "run", ("qiqihar.yaml", "line 1:", "the file is empty")),
    Case("scenario-only-comments", S, None, "# nothing here\n", "run", ("qiqihar.yaml", "the file is empty")),
    Case("scenario-top-level-list", S, None, "- name: qiqihar\n- region: qiqihar_zone\n", "run",
         ("qiqihar.yaml", "line 1:", "expected a mapping", "got 'list'", "allowed: keys name, title, region")),
    Case("scenario-top-level-text", S, None, "just some words\n", "run",
         ("qiqihar.yaml", "expected a mapping", "got 'str'")),
    Case("scenario-not-utf8", S, "# Qiqihar zone", "# 齐齐哈尔 zone".encode("gbk"), "run",
         ("qiqihar.yaml", "line 1:", "not UTF-8 text", "save the file as UTF-8")),
    Case("scenario-missing-required", S, "region: qiqihar_zone", "", "run",
         ("qiqihar.yaml", "region: required field is missing", "required: name, region")),
    Case("scenario-null-setting", S, "q000_m4_hte_award: {enabled: true, scale: 1.0}", "q000_m4_hte_award:", "run",
         ("policies.q000_m4_hte_award", "wrong type", "null (empty)", "a mapping of keys to values"),
         "q000_m4_hte_award:"),
    Case("scenario-list-for-mapping", S, "  q000_m4_hte_award: {enabled: true, scale: 1.0}\n"
         "  q000_m4_tech_purchase: {enabled: true, scale: 1.0}\n", "  - a\n  - b\n", "run",
         ("policies", "wrong type", "a mapping of keys to values", "got ['a', 'b']"), "policies:"),
    Case("scenario-horizon-before-base-year", S, "horizon: 2035", "horizon: 2019", "run",
         ("horizon", "must not precede the region's base year", "got 2019", ">= 2021"), "horizon: 2019"),
    Case("scenario-variant-negative", S, "policies: {q000_m4_hte_award: {scale: 2.0}}",
         "policies: {q000_m4_hte_award: {scale: -2.0}}", "run",
         ("variants.double_hte_award.policies.q000_m4_hte_award.scale", "must be >= 0"), "scale: -2.0"),
    Case("scenario-variant-unknown-instrument", S, "policies: {q000_m4_hte_award: {scale: 2.0}}",
         "policies: {q000_m4_hte_awrd: {scale: 2.0}}", "run",
         ("variants.double_hte_award.policies.q000_m4_hte_awrd", "did you mean 'q000_m4_hte_award'"),
         "q000_m4_hte_awrd"),
    Case("scenario-variant-reserved-name", S, "  double_hte_award:", "  no_policy:", "run",
         ("variants.no_policy", "reserved"), "no_policy:"),
    Case("scenario-start-year-text", S, "q000_m4_tech_purchase: {enabled: true, scale: 1.0}",
         "q000_m4_tech_purchase: {enabled: true, start_year: 2024年}", "run",
         ("policies.q000_m4_tech_purchase.start_year", "a number with a unit ('年')"), "2024年"),
    # ---- region file
    Case("region-number-with-unit", R, "gdp: {value: 120,", "gdp: {value: 120亿,", "run",
         ("qiqihar_zone.yaml", "baseline.gdp.value", "a number with a unit ('亿')", "亿元", "e.g. 120 for 120亿"),
         "120亿"),
    Case("region-negative-baseline", R, "revenue: {value: 900,", "revenue: {value: -900,", "run",
         ("baseline.revenue.value", "must be > 0", "-900"), "-900"),
    Case("region-percentage-over-100", R, "rd_intensity: {value: 3,", "rd_intensity: {value: 300,", "run",
         ("baseline.rd_intensity.value", "must not exceed 100", "300"), "300"),
    Case("region-fractional-count", R, "hte_count: {value: 83,", "hte_count: {value: 83.5,", "run",
         ("baseline.hte_count.value", "whole number", "83.5"), "83.5"),
    Case("region-unknown-indicator", R, "  hte_count: {value: 83", "  hte_cnt: {value: 83", "run",
         ("qiqihar_zone.yaml", "baseline.hte_cnt", "unknown indicator", "did you mean 'hte_count'"), "hte_cnt"),
    Case("region-missing-unit", R, "gdp: {value: 120, unit: 亿元,", "gdp: {value: 120,", "run",
         ("baseline.gdp.unit", "required field is missing", "required: value, unit, source"), "  gdp:"),
    Case("region-target-unknown-indicator", R, "{indicator: hte_count, year: 2025",
         "{indicator: hte_cuont, year: 2025", "run",
         ("targets.4.indicator", "unknown indicator", "did you mean 'hte_count'"), "hte_cuont"),
    Case("region-target-before-base", R, "{indicator: revenue, year: 2025", "{indicator: revenue, year: 2020", "run",
         ("targets.1.year", "after the base year", "2020"), "year: 2020"),
    Case("region-population-text", R, "value: 3000\n", "value: many\n", "run",
         ("population.n_firms.value", "must be an integer", "'many'"), "value: many"),
    Case("region-population-boolean", R, "value: 1.6\n", "value: true\n", "run",
         ("population.revenue_sigma.value", "must be a number", "True"), "value: true"),
    Case("region-population-unit", R, "value: 3000\n", "value: 3000家\n", "run",
         ("population.n_firms.value", "a number with a unit ('家')", "'3000家'"), "3000家"),
    Case("region-population-range-reversed", R, "value: [300, 30000]", "value: [30000, 300]", "run",
         ("population.hte_revenue_range.value", "low must not exceed high"), "[30000, 300]"),
    Case("region-population-shares-sum", R, "{2019: 0.11, 2020: 0.42, 2021: 0.47}",
         "{2019: 0.11, 2020: 0.42, 2021: 0.37}", "run",
         ("population.hte_grant_year_shares.value", "sum to 1"), "0.37}"),
    Case("region-population-share-out-of-range", R, "value: 0.8\n", "value: 8\n", "run",
         ("population.incubator_occupancy.value", "from 0 to 1", "got 8"), "value: 8\n"),
    Case("region-sector-shares", R, "firm_share: 0.22", "firm_share: 0.32", "run",
         ("qiqihar_zone.yaml", "sectors", "firm_share must sum to 1"), "sectors:"),
    Case("region-sector-out-of-range", R, "va_ratio: 0.28, hightech_prior: 0.35", "va_ratio: 2.8, hightech_prior: 0.35",
         "run", ("sectors.equipment.va_ratio", "must be <= 1", "2.8", "> 0 and <= 1"), "va_ratio: 2.8"),
    Case("region-carrier-kind", R, "- {kind: accelerator, level: provincial", "- {kind: acelerator, level: provincial",
         "run", ("incubators.carriers.3.kind", "not one of the allowed values", "did you mean 'accelerator'"),
         "acelerator"),
    Case("region-duplicate-key", R, "gdp: {value: 120, unit: 亿元,", "gdp: {value: 120, value: 130, unit: 亿元,", "run",
         ("baseline.gdp.value", "duplicate key"), "value: 130"),
    Case("region-yaml-syntax", R, "  revenue: {value: 900,", "  revenue: {value: 900,,", "run",
         ("qiqihar_zone.yaml", "YAML syntax error"), "900,,"),
    Case("region-not-utf8-later-line", R, "# 000 专栏1 主要经济指标体系", "# 000 专栏1".encode("gbk"), "run",
         ("qiqihar_zone.yaml", "not UTF-8 text"), b"# 000 \xd7"),
    # ---- policy catalogue
    Case("catalogue-unknown-param", P, "rate: 0.30", "rate: 0.30\n      bonus: 3", "run",
         ("000_qiqihar.yaml", "instruments.q000_m4_tech_purchase.params.bonus", "unknown amount parameter"), "bonus"),
    Case("catalogue-amount-wan", P, "first_above_scale: 10 ", "first_above_scale: 10万 ", "run",
         ("instruments.q000_m4_hte_award.params.first_above_scale", "a number with a unit ('万')", "万元",
          "e.g. 10 for 10万"), "first_above_scale: 10万"),
    Case("catalogue-rate-percent", P, "rate: 0.30", "rate: 30%", "run",
         ("instruments.q000_m4_tech_purchase.params.rate", "a number with a unit ('%')", "e.g. 0.3 for 30%"),
         "rate: 30%"),
    Case("catalogue-negative-amount", P, "cap: 30 ", "cap: -30 ", "run",
         ("instruments.q000_m4_tech_purchase.params.cap", "non-negative", "-30"), "cap: -30"),
    Case("catalogue-amount-word", P, "first_below_scale: 5 ", "first_below_scale: five ", "run",
         ("instruments.q000_m4_hte_award.params.first_below_scale", "must be a number", "'five'"), "five"),
    Case("catalogue-amount-boolean", P, "first_below_scale: 5 ", "first_below_scale: yes ", "run",
         ("instruments.q000_m4_hte_award.params.first_below_scale", "a boolean"), "first_below_scale: yes"),
    Case("catalogue-unknown-word", P, "eligible: tech_firms", "eligible: tech_firm", "run",
         ("instruments.q000_m4_tech_purchase.params.eligible", "not one of the allowed words",
          "did you mean 'tech_firms'"), "tech_firm"),
    Case("catalogue-unknown-target-group", P, "    targets: firms\n    trigger: national HTE",
         "    targets: firm\n    trigger: national HTE", "run",
         ("instruments.q000_m4_hte_award.targets", "did you mean 'firms'"), "targets: firm\n"),
    Case("catalogue-unknown-type", P, "type: certification_award", "type: certification_awrd", "run",
         ("instruments.q000_m4_hte_award.type", "unknown instrument type", "did you mean 'certification_award'"),
         "certification_awrd"),
    Case("catalogue-duplicate-id", P, "  - id: q000_m4_tech_purchase", "  - id: q000_m4_hte_award", "run",
         ("instruments.1.id", "duplicate instrument ids"), "  - id: q000_m4_hte_award\n    type: purchase"),
    Case("catalogue-bad-date", P, "issued: 2023-03-02", "issued: 2023-02-30", "run",
         ("issued", "cannot read this value", "2023-02-30"), "issued:"),
    Case("catalogue-year-out-of-range", P, "    start_year: 2023\n    end_year: null\n    params:\n      first",
         "    start_year: 20230\n    end_year: null\n    params:\n      first", "run",
         ("instruments.q000_m4_hte_award.start_year", "must be <= 2100", "20230"), "20230"),
    # ---- calibration spec, targets and trend CSVs
    Case("calibration-unknown-key", C, "replicates: 3 ", "replicate: 3 ", "calibrate",
         ("heilongjiang.yaml", "replicate", "did you mean 'replicates'"), "replicate: 3"),
    Case("calibration-unknown-parameter", C, "  hte_status_value:", "  hte_status_valu:", "calibrate",
         ("free.hte_status_valu", "unknown parameter", "did you mean 'hte_status_value'"), "hte_status_valu"),
    Case("calibration-bounds-outside", C, "bounds: [0.0, 30.0]", "bounds: [0.0, 600.0]", "calibrate",
         ("free.hte_status_value.bounds", "inside its bounds", "[0.0, 600.0]", "[0.0, 200.0]"), "600.0"),
    Case("calibration-bounds-unit", C, "bounds: [0.0, 30.0]", "bounds: [0.0, 30万]", "calibrate",
         ("free.hte_status_value.bounds.1", "a number with a unit ('万')"), "30万"),
    Case("calibration-zero-replicates", C, "replicates: 3 ", "replicates: 0 ", "calibrate",
         ("replicates", "must be >= 1", "from 1 to 1000"), "replicates: 0"),
    Case("calibration-holdout-after-end", C, "holdout_from: 2020", "holdout_from: 2030", "calibrate",
         ("holdout_from", "2030", "2019 to 2021"), "holdout_from: 2030"),
    Case("calibration-missing-targets", C, "targets: targets_heilongjiang.csv", "targets: targets_hlj.csv",
         "calibrate", ("targets", "file not found", "'targets_hlj.csv'"), "targets: targets_hlj.csv"),
    Case("calibration-yaml-syntax", C, "end_year: 2021", "end_year: 2021: 2022", "calibrate",
         ("heilongjiang.yaml", "YAML syntax error", "mapping values are not allowed"), "end_year: 2021: 2022"),
    Case("targets-number-with-unit", T, ",1250,", ",1250家,", "calibrate",
         ("targets_heilongjiang.csv", "hte_stock_2019.value", "a number with a unit ('家')", "e.g. 1250"),
         "1250家"),
    Case("targets-malformed-number", T, ",454,", ",4s4,", "calibrate",
         ("targets_heilongjiang.csv", "hte_certified_2018.value", "not a number", "'4s4'"), "4s4"),
    Case("targets-unknown-column", T, "id,region,indicator,year,ratio_to,value,",
         "id,region,indicator,year,ratio_to,valu,",
         "calibrate", ("targets_heilongjiang.csv", "line 1:", "valu", "unknown column", "did you mean 'value'")),
    Case("targets-unknown-indicator", T, "hte_stock_2020,黑龙江省,hte_count", "hte_stock_2020,黑龙江省,hte_cuont",
         "calibrate", ("hte_stock_2020.indicator", "unknown indicator", "did you mean 'hte_count'"), "hte_cuont"),
    Case("targets-extra-field", T, "rd_2019,黑龙江省,rd_expenditure,2019,,146.6,",
         "rd_2019,黑龙江省,rd_expenditure,2019,,,146.6,",
         "calibrate", ("targets_heilongjiang.csv", "11 fields where the header has 10"), "rd_2019"),
    Case("targets-empty-cell", T, "rd_2020,黑龙江省,rd_expenditure,2020,", "rd_2020,黑龙江省,rd_expenditure,,",
         "calibrate", ("rd_2020.year", "empty cell"), "rd_2020"),
    Case("targets-fractional-year", T, "rd_2021,黑龙江省,rd_expenditure,2021,",
         "rd_2021,黑龙江省,rd_expenditure,2021.5,",
         "calibrate", ("rd_2021.year", "not an integer", "'2021.5'"), "rd_2021"),
    Case("targets-negative-sd", T, ",1932,0.05,", ",1932,-0.05,", "calibrate",
         ("hte_stock_2020.rel_sd", "must be positive", "-0.05"), "-0.05"),
    Case("targets-duplicate-id", T, "hte_certified_2019,", "hte_certified_2018,", "calibrate",
         ("hte_certified_2018.id", "duplicate target id"), "hte_certified_2018,黑龙江省,hte_certified,2019"),
    Case("targets-not-utf8", T, "黑龙江省 高新技术企业数量 2019", "黑龙江省".encode("gbk"),
         "calibrate", ("targets_heilongjiang.csv", "line 2:", "not UTF-8 text")),
    Case("targets-empty", T, None, "", "calibrate", ("targets_heilongjiang.csv", "the file is empty")),
    Case("targets-header-only", T, None, "id,indicator,year,ratio_to,value,rel_sd,kind,definition,source\n",
         "calibrate", ("targets_heilongjiang.csv", "no rows under the header")),
    Case("trend-malformed-number", TR, ",146.0,", ",146亿,", "calibrate",
         ("trend_series_heilongjiang.csv", "row 2.value", "a number with a unit ('亿')", "亿元"), "146亿"),
    # ---- optimiser spec
    Case("optimise-unknown-lever", OPT, "  q000_m9_graduate_allowance:", "  q000_m9_graduate_allowanse:", "optimise",
         ("qiqihar.yaml", "levers.q000_m9_graduate_allowanse", "unknown instrument",
          "did you mean 'q000_m9_graduate_allowance'"), "allowanse"),
    Case("optimise-unknown-lever-key", OPT, "    scale: [0, 5]", "    scael: [0, 5]", "optimise",
         ("levers.q000_m4_hte_award.scael", "did you mean 'scale'"), "scael"),
    Case("optimise-reversed-range", OPT, "    scale: [0, 5]", "    scale: [5, 0]", "optimise",
         ("levers.q000_m4_hte_award.scale", "low <= high"), "scale: [5, 0]"),
    Case("optimise-boolean-range", OPT, "    scale: [0, 5]", "    scale: [0, true]", "optimise",
         ("levers.q000_m4_hte_award.scale.1", "a boolean"), "scale: [0, true]"),
    Case("optimise-rate-percent", OPT, "rate: [0.3, 0.8]", "rate: [0.3, 80%]", "optimise",
         ("levers.q000_m4_tech_purchase.params", "a number with a unit ('%')", "e.g. 0.8 for 80%"), "80%"),
    Case("optimise-budget-wan", OPT, "# budget: 5000 ", "budget: 5000万 ", "optimise",
         ("budget", "a number with a unit ('万')", "e.g. 5000 for 5000万"), "5000万"),
    Case("optimise-probability", OPT, "probability: 0.8 ", "probability: 80 ", "optimise",
         ("probability", "must be <= 1", "got 80"), "probability: 80"),
    Case("optimise-too-few-trials", OPT, "trials: 48 ", "trials: 2 ", "optimise", ("trials", "must be >= 3"),
         "trials: 2"),
    Case("optimise-unknown-plan-target", OPT, "targets: all ", "targets: [gpd] ", "optimise",
         ("targets.0", "the region has no target on 'gpd'", "did you mean 'gdp'"), "targets: [gpd]"),
    Case("optimise-unknown-indicator", OPT, "targets: all ", "targets: [{indicator: hte_cuont, year: 2025, value: 9}] ",
         "optimise", ("targets.0.indicator", "unknown indicator", "did you mean 'hte_count'"), "hte_cuont"),
    Case("optimise-target-year", OPT, "targets: all ", "targets: [{indicator: hte_count, year: 2020, value: 9}] ",
         "optimise", ("targets.0.year", "after the region's base year", "2020"), "year: 2020"),
    Case("optimise-duplicate-lever", OPT, "  q000_m9_graduate_allowance:\n    scale: [0, 3]",
         "  q000_m9_graduate_allowance:\n    scale: [0, 3]\n  q000_m4_hte_award:\n    scale: [0, 1]", "optimise",
         ("levers.q000_m4_hte_award", "duplicate key (first on line 20)"), "  q000_m4_hte_award:\n    scale: [0, 1]"),
    # ---- sensitivity --bounds file and --factors
    Case("bounds-unknown-parameter", "bounds.yaml", "hte_status_value:", "hte_status_valeu:", "bounds",
         ("bounds.yaml", "parameters.hte_status_valeu", "unknown parameter", "did you mean 'hte_status_value'"),
         "hte_status_valeu"),
    Case("bounds-national-rule", "bounds.yaml", "rd_price_elasticity: [-1.0, -0.3]", "cit_rate_hte: [0.1, 0.2]",
         "bounds", ("parameters.cit_rate_hte", "fixed national rule"), "cit_rate_hte"),
    Case("bounds-reversed", "bounds.yaml", "[-1.0, -0.3]", "[-0.3, -1.0]", "bounds",
         ("parameters.rd_price_elasticity", "not a range", "[-0.3, -1.0]"), "[-0.3, -1.0]"),
    Case("bounds-outside", "bounds.yaml", "[-1.0, -0.3]", "[-1.0, 0.3]", "bounds",
         ("parameters.rd_price_elasticity", "outside the parameter's bounds", "[-2.0, 0.0]"), "[-1.0, 0.3]"),
    Case("bounds-unit", "bounds.yaml", "[5, 20]", "[5, 20万]", "bounds",
         ("parameters.hte_status_value.bounds", "a number with a unit ('万')", "'20万'"), "20万"),
    Case("bounds-yaml-syntax", "bounds.yaml", "[-1.0, -0.3]", "[-1.0, -0.3", "bounds",
         ("bounds.yaml", "YAML syntax error")),
    Case("bounds-top-level-list", "bounds.yaml", None, "- [1, 2]\n", "bounds",
         ("bounds.yaml", "expected a mapping of parameter names to ranges")),
]


def _edit(root: Path, case: Case) -> Path:
    path = root / case.file
    new = case.new.encode("utf-8") if isinstance(case.new, str) else case.new
    if case.old is None:
        data = new
    else:
        data = path.read_bytes()
        old = case.old.encode("utf-8")
        assert old in data, (case.id, case.old)
        data = data.replace(old, new, 1)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_input_gives_one_clear_line(tmp_path, case):
    """Exit 2, one line on stderr naming the file, the line, the field and the value; nothing written."""
    root = _copy_tree(tmp_path / "tree")
    path = _edit(root, case)
    out = tmp_path / "out"
    code, err = _cli(COMMANDS[case.command](root, out))
    _assert_clean(code, err, *case.words)
    assert Path(case.file).name in err
    if case.at is not None:
        data = path.read_bytes()
        at = case.at.encode("utf-8") if isinstance(case.at, str) else case.at
        assert at in data, (case.id, at)
        line = data[:data.index(at)].count(b"\n") + 1
        assert f": line {line}: " in err, (line, err)
    assert not out.exists()
    assert not list(root.glob("scenarios/*_chosen.yaml"))      # the optimiser wrote no scenario either


def test_factor_names_suggest_the_closest():
    base = ["sensitivity", SCENARIOS / "qiqihar.yaml", "--samples", "2", "--replicates", "1"]
    code, err = _cli([*base, "--factors", "hte_aproval_rate"])
    _assert_clean(code, err, "--factors", "hte_aproval_rate", "unknown parameter", "did you mean 'hte_approval_rate'")
    code, err = _cli([*base, "--factors", "policy:q000_m4_hte_awrd"])
    _assert_clean(code, err, "policy:q000_m4_hte_awrd", "did you mean 'q000_m4_hte_award'")


@pytest.mark.parametrize("text, words, at", [
    ("parameters:\n  base_growth: {value: 5.0}\n", ["parameters.base_growth", "out of bounds", "got 5.0"], 2),
    ("parameters:\n  base_growth: {value: 5%}\n", ["parameters.base_growth", "a number with a unit ('%')"], 2),
    ("parameters:\n  base_grwth: {value: 0.05}\n", ["parameters.base_grwth", "did you mean 'base_growth'"], 2),
    ("parameters:\n  base_growth: {value: [0.05\n", ["YAML syntax error"], 3),
    ("parameters:\n  base_growth: 0.05\n", ["parameters.base_growth", "lacks a value"], 2),
])
def test_calibrated_file_of_the_environment(tmp_path, monkeypatch, text, words, at):
    """INNOSIM_CALIBRATED names the calibrated.yaml every run uses: its errors are clear too."""
    path = tmp_path / "calibrated.yaml"
    path.write_text(text, "utf-8")
    monkeypatch.setenv("INNOSIM_CALIBRATED", str(path))
    _calibrated.cache_clear()
    try:
        code, err = _cli(["run", SCENARIOS / "qiqihar.yaml", "--replicates", "1", "--out", tmp_path / "o"])
    finally:
        _calibrated.cache_clear()
    _assert_clean(code, err, "calibrated.yaml", f": line {at}: ", *words)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ the line registry itself
def test_every_key_of_a_loaded_file_knows_its_line(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb:\n  c: [1, 2]\n  d:\n    - {id: first, v: 3}\n    - id: second\n      v: 4\n", "utf-8")
    load_yaml(path)
    assert [line_of(path, f) for f in ("a", "b", "b.c", "b.c.1", "b.d.0.v", "b.d.1", "b.d.second.v")] == \
        [1, 2, 3, 3, 5, 6, 7]
    assert line_of(path, "b.nope") is None and line_of(path, "a", value=2) is None   # another value: no line
    assert InputError(path, "b.d.second.v", "bad").line == 7
    assert str(InputError(path, "b.c", "bad", value=[1, 2], allowed="x")) == \
        f"{path}: line 3: b.c: bad; got [1, 2]; allowed: x"
    with pytest.raises(InputError, match=r"line 3: a: duplicate key \(first on line 1\)"):
        parse_yaml("a: 1\nb: 2\na: 3\n", "y.yaml")


def test_csv_header_names_may_carry_spaces(tmp_path):
    """Found by the property test: ' ratio_to' in the header was accepted by the check, then missed by pandas."""
    root = _copy_tree(tmp_path / "tree")
    targets = root / T
    targets.write_text(targets.read_text("utf-8").replace(",ratio_to,", ", ratio_to ,", 1), "utf-8")
    assert "ratio_to" in load_problem(root / C).targets.columns


def test_errors_survive_pickling_and_options_are_named():
    """An InputError from a worker process keeps its message and line; a bad --replicates names the option."""
    err = InputError("a.yaml", "x.y", "bad", value=-1, allowed=">= 0", line=3)
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.line, back.field) == (str(err), 3, "x.y")
    scenario = load_scenario(SCENARIOS / "qiqihar.yaml")
    assert apply_options(scenario, replicates=3, seed=None).replicates == 3
    with pytest.raises(InputError, match=r"^--replicates: replicates: must be >= 1; got 0; allowed: from 1 to 100000$"):
        apply_options(scenario, replicates=0)
    with pytest.raises(InputError, match="^--horizon: horizon: must be >= 1990"):
        apply_options(scenario, horizon=1900)


# ------------------------------------------------------------------ property tests
JUNK = st.one_of(
    st.sampled_from(["10万", "3亿", "5%", "120亿元", "-1", "-0.5", "-1e9", "[1, 2]", "{a: 1}", "[]", "{}", "true",
                     "no", ".nan", "-.inf", "null", "''", "~", "1e400", "0x1F", "2023-02-30", "[1, [2, {b: 3}]]",
                     "&a 1", "*b", "!!python/object:os.system", "|", ">", "'", "\"", "-", "?", "@", "`", "%"]),
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=8),
)
NUMBER = re.compile(r"(?<![\w.\-])-?\d+(?:\.\d+)?(?![\w.])")
KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@st.composite
def corruptions(draw, text: str) -> bytes:
    """One to three random corruptions of a valid file's text (as bytes: a cut may split a character)."""
    rnd = draw(st.randoms(use_true_random=False))            # uniform positions, not hypothesis's small ones
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(["key", "number", "number", "value", "value", "delete", "duplicate",
                                     "punctuation", "truncate"]))
        i = rnd.randrange(len(lines))
        if kind == "key":            # an unknown key at the indentation of line i
            indent = re.match(r"[ -]*", lines[i]).group(0).replace("-", " ")
            lines.insert(i, f"{indent}{draw(KEY)}: {draw(JUNK)}")
        elif kind == "number":       # a number replaced by a string, a negative, "N万", a list, a dict ...
            spots = list(NUMBER.finditer(text))
            if spots:
                m = rnd.choice(spots)
                text = text[:m.start()] + draw(JUNK) + text[m.end():]
                continue
        elif kind == "value":        # the value of a `key: value` line replaced
            m = re.match(r"^(\s*-?\s*[\w.]+:)\s*(\S.*)?$", lines[i])
            if m:
                lines[i] = f"{m.group(1)} {draw(JUNK)}"
        elif kind == "delete":       # may remove a required key
            del lines[i]
        elif kind == "duplicate":    # a duplicate key (or list item)
            lines.insert(i, lines[i])
        elif kind == "punctuation":  # random YAML punctuation somewhere
            pos = rnd.randint(0, len(text))
            text = text[:pos] + draw(st.text(alphabet="[]{}:,-&*!|>'\"%@`#?\t\n ", min_size=1, max_size=3)) + text[pos:]
            continue
        elif kind == "truncate":     # cut at a random byte
            data = text.encode("utf-8")
            return data[:rnd.randint(0, len(data))]
        text = "\n".join(lines)
    return text.encode("utf-8")


def _valid(rel: str, root: Path = ROOT) -> str:
    base = root / rel
    return base.read_text("utf-8") if base.exists() else BOUNDS


#: examples per property test (INNOSIM_HYPOTHESIS_EXAMPLES=2000 for a thorough search)
EXAMPLES = int(os.environ.get("INNOSIM_HYPOTHESIS_EXAMPLES", "40"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _clean_or_valid(check, argv, root: Path, build=None) -> None:
    """``check()`` either passes (valid input) or raises InputError, and then the command gives the clean
    one-line error, exit 2, and writes nothing.

    ``build(checked)`` then builds and steps the models of valid input: an InputError there (a baseline the
    synthetic population cannot reproduce, found only when the population is drawn) must also come out
    of the command as one clean line naming the file, without a traceback, exit 2 (the ensemble stops on
    bad input rather than counting it as failing replicates).
    """
    try:
        checked = check()
    except InputError as exc:
        event(f"error: {re.sub(r'[0-9]+', 'N', exc.problem)[:40]}")
        assert "\n" not in str(exc)
        out = root / "out"
        code, err = _cli(argv(root, out))
        _assert_clean(code, err)
        assert not out.exists()
        return
    if build is None:
        event("valid")
        return
    try:
        build(checked)
        event("valid")
    except InputError as exc:
        event(f"model: {re.sub(r'[0-9]+', 'N', exc.problem)[:40]}")
        out = root / "out"
        code, err = _cli(argv(root, out))
        assert code == 2, (code, err)
        assert err.startswith("innosim: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
        assert Path(exc.file).name in err, (exc.file, err)
        assert not out.exists()


def _corrupt(data, rel: str) -> tuple[tempfile.TemporaryDirectory, Path]:
    tmp = tempfile.TemporaryDirectory()
    root = _copy_tree(Path(tmp.name) / "tree")
    (root / rel).write_bytes(data.draw(corruptions(_valid(rel)), label=rel))
    return tmp, root


def _run_argv(root: Path, out: Path) -> list:
    return ["run", root / S, "--replicates", "1", "--horizon", "2022", "--out", out, "--quiet"]


@pytest.mark.parametrize("rel", [S, R, P], ids=["scenario", "region", "catalogue"])
@PROPERTY
@given(data=st.data())
def test_random_corruptions_of_scenario_region_and_catalogue(rel, data):
    """Either the scenario still builds and every variant's model steps a year, or `innosim run` prints the
    one-line error and writes nothing (never a traceback). A valid corruption runs only the models here,
    not the charts and tables of a full run, to keep the test fast."""
    tmp, root = _corrupt(data, rel)
    with tmp:
        def build(prepared):
            for variant in prepared.variants().values():
                variant.model(0).run(2022)

        _clean_or_valid(lambda: prepare(root / S, replicates=1, horizon=2022), _run_argv, root, build)


@pytest.mark.parametrize("rel", [C, T, TR], ids=["spec", "targets", "trend"])
@PROPERTY
@given(data=st.data())
def test_random_corruptions_of_calibration_inputs(rel, data):
    """The calibration spec and its CSVs: load_problem accepts them or `innosim calibrate` gives the clean error
    (a valid corruption is not calibrated: that takes minutes)."""
    tmp, root = _corrupt(data, rel)
    with tmp:
        _clean_or_valid(lambda: load_problem(root / C), COMMANDS["calibrate"], root)


@pytest.mark.parametrize("rel", [OPT, "bounds.yaml"], ids=["optimiser", "bounds"])
@PROPERTY
@given(data=st.data())
def test_random_corruptions_of_optimiser_spec_and_bounds(rel, data):
    """An optimiser spec passes every check made before the first trial, a bounds file gives factors, or the
    command gives the clean error."""
    tmp, root = _corrupt(data, rel)
    with tmp:
        if rel == OPT:
            _clean_or_valid(lambda: check_spec(root / OPT, trials=3, replicates=1), COMMANDS["optimise"], root)
        else:
            _clean_or_valid(lambda: sf.parameter_factors(root / "bounds.yaml"), COMMANDS["bounds"], root)

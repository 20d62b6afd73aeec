"""The command line: a real run writes its outputs; bad input gets one clear line and writes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.report.workbook import SHEETS
from tests.helpers import QIQIHAR, SCENARIOS


@pytest.fixture()
def scenario_dir(tmp_path: Path) -> Path:
    """A copy of scenarios/ that a test may edit."""
    dest = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), "utf-8")


def test_run_writes_indicators_manifest_and_charts(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(QIQIHAR), "--replicates", "3", "--out", str(out), "--quiet"]) == 0
    df = pd.read_csv(out / "indicators.csv")
    assert list(df.columns) == ["variant", "replicate", "year", "indicator", "value"]
    assert list(df.variant.unique()) == ["base", "no_policy", "double_hte_award", "talent_instead_of_awards"]
    assert sorted(df.replicate.unique()) == [0, 1, 2]
    assert df.year.min() == 2021 and df.year.max() == 2035
    base = df[(df.year == 2021) & (df.indicator == "hte_count")]["value"]
    assert (base == 83).all()
    assert pd.read_parquet(out / "indicators.parquet").equals(df)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    for key in ("scenario", "parameters", "seed", "versions", "git_commit", "input_sha256", "replicates",
                "scenario_sha256", "options", "variants"):
        assert key in manifest
    assert manifest["replicates"] == 3 and manifest["versions"]["mesa"].startswith("3.")
    pngs = {p.stem for p in out.glob("*.png")}
    for name in ("gdp", "hte_count", "rd_intensity", "tech_contract_value"):
        assert {f"fan_{name}", f"variants_{name}"} <= pngs
    assert {"probability", "cost"} <= pngs
    assert {p.stem for p in out.glob("*.svg")} == pngs
    payments = pd.read_csv(out / "payments.csv")
    paid = df[df.indicator == "subsidy_paid"].groupby(["variant", "replicate", "year"])["value"].sum()
    ledger = payments.groupby(["variant", "replicate", "year"])["amount"].sum()
    assert paid[paid > 0].round(6).equals(ledger.round(6))
    assert "no_policy" not in set(payments.variant)               # the counterfactual pays nothing
    targets = pd.read_csv(out / "targets.csv")
    assert set(targets.indicator) >= {"gdp", "hte_count", "rd_intensity", "all_targets"}
    assert ((targets.probability_met >= 0) & (targets.probability_met <= 1)).all()
    add = pd.read_csv(out / "additionality.csv")
    assert set(add.outcome) == {"hte_count", "rd_intensity", "gdp"}
    assert set(add.variant) == {"base", "double_hte_award", "talent_instead_of_awards"}
    assert pd.ExcelFile(out / "results.xlsx").sheet_names == list(SHEETS)
    assert not list(tmp_path.glob(".*partial"))


def test_rerun_reproduces_a_run_bit_for_bit(tmp_path, capsys):
    a = tmp_path / "a"
    main(["run", str(QIQIHAR), "--replicates", "2", "--horizon", "2026", "--out", str(a), "--quiet", "--no-report"])
    assert not (a / "report.html").exists()   # --no-report (a rerun writes one: see test_report.py for its content)
    assert main(["rerun", str(a), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "report.html").is_file()
    assert "identical" in capsys.readouterr().out
    for name in ("indicators.csv", "targets.csv", "additionality.csv", "summary.csv", "payments.csv"):
        assert (a / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


BAD_INPUTS = [
    # (file to edit, old text, new text, words the message must contain)
    ("qiqihar.yaml", "replicates: 50", "replicates: 50\nreplicats: 3", ["qiqihar.yaml", "replicats", "unknown key",
                                                                        "did you mean 'replicates'"]),
    ("qiqihar.yaml", "scale: 1.0}\n  q000_m4_tech", "scale: -1.0}\n  q000_m4_tech",
     ["qiqihar.yaml", "policies.q000_m4_hte_award.scale", ">= 0"]),
    ("qiqihar.yaml", "region: qiqihar_zone", "region: qiqihar_zon", ["qiqihar.yaml", "region", "unknown region",
                                                                     "did you mean 'qiqihar_zone'"]),
    ("qiqihar.yaml", "seed: 20230302", "seed: 2023万", ["qiqihar.yaml", "seed", "2023万"]),
    ("qiqihar.yaml", "q000_m4_hte_award: {", "q000_m4_hte_awrd: {", ["policies.q000_m4_hte_awrd",
                                                                     "unknown instrument"]),
    ("qiqihar.yaml", "horizon: 2035", "horizon: [2035", ["qiqihar.yaml", "YAML syntax error", "line"]),
    ("qiqihar.yaml", "parameters: {}", "parameters: {rd_price_elasticity: 3}",
     ["parameters.rd_price_elasticity", "out of bounds", "[-2.0, 0.0]"]),
    ("qiqihar.yaml", "q000_m4_tech_purchase: {enabled: true, scale: 1.0}",
     "q000_m4_tech_purchase: {enabled: true, scale: 1.0, params: {cap: -30}}",
     ["qiqihar.yaml", "policies.q000_m4_tech_purchase.params", "non-negative", "-30"]),
    ("regions/qiqihar_zone.yaml", "gdp: {value: 120,", "gdp: {value: 120亿,",
     ["qiqihar_zone.yaml", "baseline.gdp.value", "120亿"]),
    ("regions/qiqihar_zone.yaml", "  hte_count: {value: 83", "  hte_cnt: {value: 83", ["qiqihar_zone.yaml",
                                                                                       "hte_cnt"]),
    ("policies/000_qiqihar.yaml", "rate: 0.30", "rate: 0.30\n      bonus: 3", ["000_qiqihar.yaml", "bonus",
                                                                               "unknown amount parameter"]),
]
BAD_IDS = ["unknown-key", "negative-scale", "unknown-region", "number-with-unit", "unknown-instrument",
           "yaml-syntax", "parameter-out-of-bounds", "negative-amount", "region-number-with-unit",
           "region-unknown-indicator", "catalogue-unknown-param"]


@pytest.mark.parametrize("file,old,new,words", BAD_INPUTS, ids=BAD_IDS)
def test_bad_input_gives_one_clear_message_and_writes_nothing(scenario_dir, tmp_path, capsys, file, old, new, words):
    _edit(scenario_dir / file, old, new)
    out = tmp_path / "outputs" / "qiqihar"
    code = main(["run", str(scenario_dir / "qiqihar.yaml"), "--replicates", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("innosim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "outputs").exists()


def test_missing_scenario_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "file not found" in err
    assert not (tmp_path / "o").exists()


def test_refuses_to_overwrite_a_folder_that_is_not_an_innosim_output(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["run", str(QIQIHAR), "--replicates", "1", "--out", str(out)]) == 2
    assert (out / "notes.txt").read_text() == "keep me"
    assert "refusing to overwrite" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_module(tmp_path):
    """``python -m simulator`` behaves like ``innosim``: exit 2 and no traceback on bad input."""
    proc = subprocess.run([sys.executable, "-m", "simulator", "run", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "missing.yaml" in proc.stderr

"""Targets: a region without targets runs; the terminal table names variants and sources in full."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import _print_targets, main
from simulator.results import TARGET_COLUMNS
from tests.helpers import SCENARIOS


@pytest.fixture()
def scenario_dir(tmp_path: Path) -> Path:
    """A copy of scenarios/ that a test may edit."""
    dest = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, dest, ignore=shutil.ignore_patterns("*_chosen.yaml"))
    return dest


def _without_targets(region_file: Path) -> None:
    """Replace a region file's targets block by ``targets: []`` (text edit, comments kept)."""
    lines = region_file.read_text("utf-8").splitlines()
    start = lines.index("targets:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "-", "#")))
    region_file.write_text("\n".join([*lines[:start], "targets: []", *lines[end:]]) + "\n", "utf-8")


def test_a_region_without_targets_runs_and_says_so(scenario_dir, tmp_path, capsys):
    _without_targets(scenario_dir / "regions/qiqihar_zone.yaml")
    out = tmp_path / "out"
    assert main(["run", str(scenario_dir / "qiqihar.yaml"), "--replicates", "2", "--horizon", "2023",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no targets evaluated" in printed
    assert "Traceback" not in printed
    targets = pd.read_csv(out / "targets.csv")
    assert targets.empty and tuple(targets.columns) == TARGET_COLUMNS
    for name in ("additionality.csv", "summary.csv", "payments.csv", "failures.csv"):
        assert pd.read_csv(out / name).columns.size > 1, name   # a header, never an empty file


def test_terminal_table_names_variants_and_sources_in_full(tmp_path, capsys):
    rows = []
    for variant in ("base", "no_policy", "talent_instead_of_awards"):
        for value, source in ((30, "004 三.1 2023年底确保30家"), (36, "004 二 国家高新技术企业力争达到36家")):
            rows.append({"variant": variant, "indicator": "hte_count", "target_year": 2023, "target_value": value,
                         "unit": "家", "source": source, "probability_met": 0.5, "median_first_year": 2023,
                         "median": 33.0 if variant == "base" else 20.0, "p05": 1.0, "p95": 40.0, "replicates": 4})
    pd.DataFrame(rows, columns=list(TARGET_COLUMNS)).to_csv(tmp_path / "targets.csv", index=False)
    _print_targets(tmp_path)
    printed = capsys.readouterr().out.splitlines()
    header = next(line for line in printed if line.startswith("indicator"))
    assert "median (base)" in header
    assert header.split()[-3:] == ["base", "no_policy", "talent_instead_of_awards"]   # never cut to 16 characters
    # the two 2023 HTE targets (30 确保, 36 力争) are told apart by the source row under each
    for value, source in ((30, "确保30家"), (36, "力争达到36家")):
        row = next(i for i, line in enumerate(printed) if line.startswith("hte_count") and f" {value} " in line)
        assert source in printed[row + 1] and "source:" in printed[row + 1]
        assert "33.00" in printed[row]                       # the base variant's median


def test_heilongjiang_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "hlj"
    assert main(["run", str(SCENARIOS / "heilongjiang.yaml"), "--replicates", "1", "--horizon", "2022",
                 "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert tuple(pd.read_csv(out / "targets.csv").columns) == TARGET_COLUMNS

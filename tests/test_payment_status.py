"""A run says which instruments paid nothing and why, and "no instrument paid in this run" when none did."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from simulator.cli import main
from simulator.experiments.ensemble import run_ensemble
from simulator.experiments.prepared import prepare
from simulator.experiments.results import NOTHING_PAID, instrument_status
from tests.helpers import QIQIHAR, SCENARIOS


@pytest.mark.parametrize("region, instrument, status, words", [
    ("harbin", "", "none modelled", ["hold no instrument the model pays", "innosim policies --region harbin_zone"]),
    ("baotou", "bt003_2_3_rank_award", "never triggered",
     ["national rank rises by at least 5 places", "never happened", "largest yearly gain in any replicate"]),
])
def test_a_run_in_which_nothing_pays_says_so_and_why(tmp_path, capsys, region, instrument, status, words):
    """Before: payments.csv empty, cost.png empty panels, not a word. Now printed, in the manifest and a table."""
    out = tmp_path / region
    scenarios = SCENARIOS
    if region == "harbin":   # Harbin's own layer (002) pays nothing; without the province's layers, nothing does
        scenarios = tmp_path / "scenarios"
        shutil.copytree(SCENARIOS, scenarios)
        path = scenarios / "regions/harbin_zone.yaml"
        text = path.read_text("utf-8")
        assert "policy_catalogues: [002_harbin, 001_heilongjiang, hlj_province]" in text
        path.write_text(text.replace("[002_harbin, 001_heilongjiang, hlj_province]", "[002_harbin]"), "utf-8")
    assert main(["run", str(scenarios / f"{region}.yaml"), "--replicates", "2", "--horizon", "2025",
                 "--out", str(out), "--lang", "en"]) == 0
    printed = capsys.readouterr().out
    assert f"{NOTHING_PAID}:" in printed
    note = json.loads((out / "manifest.json").read_text("utf-8"))["payments"]
    assert note["nothing_paid"] is True and note["message"] == NOTHING_PAID
    table = pd.read_csv(out / "instruments.csv", keep_default_na=False)
    row = table[(table["variant"] == "base") & (table["instrument"] == instrument)].iloc[0]
    assert row["status"] == status and (table["status"] != "paid").all()
    for word in words:
        assert word in row["reason"] and word in printed
    assert pd.read_csv(out / "payments.csv").empty
    assert "No instrument paid in this run" in (out / "cost.svg").read_text("utf-8")   # the chart says it too


def test_instrument_status_of_a_run_that_pays():
    """Qiqihar pays; the talent variant switches the HTE award off, and the table says so."""
    prepared = prepare(QIQIHAR, replicates=2, horizon=2025)
    variants = prepared.variants()
    ens = run_ensemble(variants, 2)
    status = instrument_status(variants, ens.payments, ens.table).set_index(["variant", "instrument"])
    assert "no_policy" not in status.index.get_level_values("variant")
    award = status.loc[("base", "q000_m4_hte_award")]
    assert award["status"] == "paid" and award["paid_mean"] > 0 and award["first_year_paid"] >= 2023
    expected = ens.payments.query("variant == 'base' and instrument == 'q000_m4_hte_award'")["amount"].sum() / 2
    assert award["paid_mean"] == pytest.approx(expected)
    off = status.loc[("talent_instead_of_awards", "q000_m4_hte_award")]
    assert off["status"] == "switched off" and off["paid_mean"] == 0

"""Additionality arithmetic on hand-made tables: paired differences, the median's confidence interval,
and cost per unit only where the gain is established."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from simulator.config import load_region
from simulator.results import additionality, median_interval

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.core


def test_median_interval_is_the_binomial_order_statistics():
    x = np.arange(1.0, 21.0)                       # n = 20: P(B(20, 1/2) <= 5) = 0.0207, <= 6 = 0.0577
    assert binom.cdf(5, 20, 0.5) <= 0.05 < binom.cdf(6, 20, 0.5)
    assert median_interval(x) == (6.0, 15.0)       # x_(6) and x_(20 + 1 - 6)
    assert median_interval(x[::-1]) == (6.0, 15.0)
    assert median_interval([1.0, 2.0, 3.0]) == (-np.inf, np.inf)   # three values cannot bound a median at 90 %
    rng = np.random.default_rng(1)
    cover = np.mean([lo <= 0 <= hi for lo, hi in (median_interval(rng.standard_normal(30)) for _ in range(2000))])
    assert cover >= 0.9


def _table(extra_hte: np.ndarray, paid: float) -> pd.DataFrame:
    """no_policy and base at 2025, replicate by replicate; base pays ``paid`` 万元 in 2023."""
    rows = []
    for k, extra in enumerate(extra_hte):
        for variant, hte, pay in (("no_policy", 100.0, 0.0), ("base", 100.0 + extra, paid)):
            rows += [(variant, k, 2025, "hte_count", hte), (variant, k, 2025, "rd_intensity", 3.0),
                     (variant, k, 2025, "gdp", 120.0), (variant, k, 2023, "subsidy_paid", pay)]
    return pd.DataFrame(rows, columns=["variant", "replicate", "year", "indicator", "value"])


def test_cost_per_unit_only_for_an_established_gain():
    region = load_region(ROOT / "scenarios" / "regions" / "qiqihar_zone.yaml")
    clear = additionality(_table(np.array([2.0, 3, 3, 4, 2, 3, 5, 3, 4, 2] * 2), 600.0), region)
    row = clear.set_index("outcome").loc["hte_count"]
    assert row["extra_median"] == 3 and row["extra_median_low"] > 0
    assert row["cost_per_unit_median"] == pytest.approx(600.0 / 3)
    assert row["replicates"] == 20
    noisy = additionality(_table(np.array([-3.0, 4, -2, 3, 1, -4, 5, -1, 2, 6] * 2), 600.0), region)
    row = noisy.set_index("outcome").loc["hte_count"]
    assert row["extra_median"] > 0 and row["extra_median_low"] < 0
    assert np.isnan(row["cost_per_unit_median"]), "a median extra indistinguishable from 0 has no cost per unit"
    assert np.isnan(clear.set_index("outcome").loc["rd_intensity", "cost_per_unit_median"])   # no gain at all


def test_a_replicate_missing_in_one_variant_is_left_out_of_the_pairs():
    region = load_region(ROOT / "scenarios" / "regions" / "qiqihar_zone.yaml")
    table = _table(np.full(10, 2.0), 100.0)
    table = table[~((table.variant == "base") & (table.replicate == 4))]     # replicate 4 failed in base
    row = additionality(table, region).set_index("outcome").loc["hte_count"]
    assert row["replicates"] == 9 and row["extra_median"] == 2

"""Additionality arithmetic on hand-made tables: paired differences, the median's confidence interval,
and cost per unit only where the gain is established."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from simulator.experiments.results import additionality, median_interval
from simulator.inputs.region_file import load_region

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


#: extra R&D-intensity points of talent_instead_of_awards over no_policy in 2025, replicate by replicate:
#: `innosim run scenarios/qiqihar.yaml --replicates 20 --seed 7` (rounded as innosim printed them). Six
#: replicates barely differ from no_policy, so the median gain is a hair above 0 while the mean is not.
QIQIHAR_TALENT_RD = np.array([-0.22558, -0.029, -0.02724, -0.02659, -0.00907, 0.00005, 0.00005, 0.00007, 0.00009,
                              0.00012, 0.00013, 0.00174, 0.01425, 0.01845, 0.02786, 0.04585, 0.06548, 0.07249,
                              0.08132, 0.09056])


def _rd_table(extra_rd: np.ndarray, paid: float) -> pd.DataFrame:
    table = _table(np.zeros(len(extra_rd)), paid)
    rd = (table["variant"] == "base") & (table["indicator"] == "rd_intensity")
    table.loc[rd, "value"] = 3.0 + extra_rd[table.loc[rd, "replicate"].to_numpy()]
    return table


def test_no_cost_per_unit_for_a_gain_that_is_tiny_in_the_typical_replicate_and_zero_on_average():
    """Issue 16.3: the median's interval alone was above 0 (x_(6) = +0.00005 pp) and the cost per point was
    3 324 万元 / 0.000125 pp = 26.6 million 万元 (46.8 million at another seed). The mean gain's interval
    includes 0, so there is no cost per unit."""
    region = load_region(ROOT / "scenarios" / "regions" / "qiqihar_zone.yaml")
    row = additionality(_rd_table(QIQIHAR_TALENT_RD, 3324.0), region).set_index("outcome").loc["rd_intensity"]
    assert row["extra_median_low"] > 0                                  # what let the ratio through before
    assert row["extra_mean_low"] < 0 < row["extra_mean_high"]
    assert row["extra_mean"] == pytest.approx(QIQIHAR_TALENT_RD.mean())
    assert np.isnan(row["cost_per_unit_median"])
    # the same spread shifted clearly above zero: both intervals above 0, a cost per point again
    shifted = additionality(_rd_table(QIQIHAR_TALENT_RD + 0.1, 3324.0), region).set_index("outcome")
    assert shifted.loc["rd_intensity", "extra_mean_low"] > 0
    assert shifted.loc["rd_intensity", "cost_per_unit_median"] == pytest.approx(
        3324.0 / np.median(QIQIHAR_TALENT_RD + 0.1))

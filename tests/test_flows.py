"""Stocks move only through the flows the model records, and the first simulated year continues the record.

The HTE stock identity, stock(t) - stock(t-1) = first certifications + re-entries + entrants - expired
- exits, must hold in every year of every run (simulator/model.py ``_count_flows``); the first
simulated year must not jump where the record does not (issue 12).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.experiments import flows
from simulator.experiments.prepared import prepare
from simulator.model.indicators import INDICATORS
from simulator.model.region_model import RegionModel
from simulator.report import flows_chart as flows_chart_mod
from simulator.report.flows_chart import flows_chart

ROOT = Path(__file__).resolve().parents[1]

IN, OUT = flows.HTE_IN, flows.HTE_OUT


def _records(model: RegionModel) -> pd.DataFrame:
    return pd.DataFrame(model.records).set_index("year")


@pytest.mark.core
@pytest.mark.parametrize("region,seed", [("qiqihar_zone", 0), ("qiqihar_zone", 5), ("shuangyashan", 1),
                                         ("harbin_zone", 2)])
def test_hte_stock_moves_only_by_its_flows(region, seed):
    model = RegionModel.from_files(ROOT / "scenarios" / "regions" / f"{region}.yaml", seed=seed).run(2029)
    r = _records(model)
    change = r["hte_count"].diff().iloc[1:]
    moved = (r[list(IN)].sum(axis=1) - r[list(OUT)].sum(axis=1)).iloc[1:]
    np.testing.assert_array_equal(change.to_numpy(), moved.to_numpy())
    assert (r[list(IN + OUT + flows.HTE_KEEP)] >= 0).all().all()
    # every certification is a first one, a renewal or a re-entry
    np.testing.assert_array_equal(r["hte_recertifications"], r["hte_renewals"] + r["hte_reentries"])
    assert r.loc[2021, list(IN + OUT)].eq(0).all()     # the base year is a state, not a year of flows
    assert r["hte_new_certifications"].iloc[1:].sum() > 0


@pytest.mark.core
def test_tech_sme_stock_moves_only_by_its_flows():
    model = RegionModel.from_files(ROOT / "scenarios" / "regions" / "qiqihar_zone.yaml", seed=3).run(2028)
    r = _records(model)
    change = r["tech_sme_count"].diff().iloc[1:]
    moved = (r["tech_sme_new"] - r["tech_sme_dropped"] - r["tech_sme_exits"]).iloc[1:]
    np.testing.assert_array_equal(change.to_numpy(), moved.to_numpy())


@pytest.mark.core
def test_flow_tables_add_up(tmp_path):
    prepared = prepare(ROOT / "scenarios" / "qiqihar.yaml", replicates=3, horizon=2026)
    tables = []
    for name, variant in prepared.variants().items():
        for k in range(3):
            tables.append(variant.model(k).run().indicators(name, k))
    table = pd.concat(tables, ignore_index=True)
    hte = flows.hte_flows(table)
    assert set(hte["variant"]) == set(prepared.variants())
    assert hte.loc[hte["year"] > 2021, "residual"].abs().max() < 1e-6
    assert hte.loc[hte["year"] == 2021, "net_change"].isna().all()
    assert (hte["replicates"] == 3).all()
    other = flows.stock_flows(table)
    assert set(other["family"]) == {"tech_smes", "incubators", "rd_institutions"}
    files = flows_chart(hte, "base", tmp_path / "flows_hte", "en")
    assert all(f.stat().st_size > 5_000 for f in files)


# Largest yearly changes in Heilongjiang's record 2011-2021 (real_statistics_to_2021.csv, 黑龙江省): R&D
# intensity 1.08 -> 1.26 % (2019 -> 2020, +16.7 %) and 0.92 -> 0.83 % (2017 -> 2018, -9.8 %); HTE stock
# +24 to +55 % a year 2017-2021 (929, 1250, 1932, ~2842); tech SMEs +65 % in 2020.
RECORD = {"rd_intensity": (-0.10, 0.17), "hte_count": (-0.05, 0.55), "tech_sme_count": (-0.30, 0.65)}


@pytest.mark.parametrize("scenario", ["qiqihar", "harbin", "shuangyashan"])
def test_the_first_simulated_year_changes_no_more_than_the_record(scenario):
    """Without any payment (no_policy) the first year continues the record instead of jumping."""
    prepared = prepare(ROOT / "scenarios" / f"{scenario}.yaml", horizon=2022)
    no_policy = prepared.variants()["no_policy"]
    change = []
    for k in range(4):
        r = _records(no_policy.model(k).run())
        change.append(r.loc[2022] / r.loc[2021] - 1.0)
    mean = pd.concat(change, axis=1).mean(axis=1)
    for name, (low, high) in RECORD.items():
        assert low <= mean[name] <= high, f"{scenario}: {name} changes {mean[name]:+.1%} in 2022"


@pytest.fixture(scope="module")
def stock_table() -> pd.DataFrame:
    """Means of the other families' stocks and flows, base variant of Qiqihar, 3 replicates to 2027."""
    prepared = prepare(ROOT / "scenarios" / "qiqihar.yaml", replicates=3, horizon=2027)
    base = prepared.variants()["base"]
    return flows.stock_flows(pd.concat([base.model(k).run().indicators("base", k) for k in range(3)],
                                       ignore_index=True))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_family_chart_is_written_in_each_language(stock_table, tmp_path, lang):
    files = [f for func, args in flows_chart_mod.family_chart_tasks(stock_table, "base", tmp_path, lang)
             for f in func(*args)]
    assert {f.name for f in files} == {f"flows_{family}.{ext}" for family in flows_chart_mod.FAMILY_PANELS
                                       for ext in ("png", "svg")}
    assert all(f.stat().st_size > 5_000 for f in files)


def test_every_family_of_stock_flows_has_a_chart():
    assert set(flows_chart_mod.FAMILY_PANELS) == {family for family, _, _ in flows.OTHER_FAMILIES}


# stocks that move only by the flows drawn with them: (family, stock column, inflows, outflows)
IDENTITIES = [("tech_smes", "stock", ("tech_sme_new",), ("tech_sme_dropped", "tech_sme_exits")),
              ("incubators", "stock", ("incubators_founded",), ()),           # carriers never close
              ("incubators", "national_incubators", ("incubator_upgrades_national",), ()),
              ("rd_institutions", "stock", ("rd_institutions_founded",), ())]  # institutions never close


@pytest.mark.parametrize("family,stock,inflows,outflows", IDENTITIES)
def test_family_stocks_move_only_by_their_flows(stock_table, family, stock, inflows, outflows):
    rows = flows_chart_mod.family_rows(stock_table, family, "base")
    assert len(rows) == 6 and rows["year"].min() == 2022
    moved = rows[list(inflows)].sum(axis=1) - rows[list(outflows)].sum(axis=1)
    np.testing.assert_allclose(rows[f"net_{stock}"], moved, atol=1e-9)


def test_national_rd_institutions_grow_by_at_most_the_upgrades(stock_table):
    rows = flows_chart_mod.family_rows(stock_table, "rd_institutions", "base")
    assert (rows["net_national_rd_institutions"] <= rows["rd_institution_upgrades"] + 1e-9).all()
    assert (rows["net_national_rd_institutions"] >= -1e-9).all()


@pytest.mark.parametrize("family", list(flows_chart_mod.FAMILY_PANELS))
def test_family_chart_draws_the_tables_values(stock_table, family):
    """Every bar is a flow of the table (outflows drawn below 0) and every line the change of its stock."""
    import matplotlib.pyplot as plt

    rows = stock_table[(stock_table["family"] == family) & (stock_table["variant"] == "base")].sort_values("year")
    fig = flows_chart_mod.family_figure(stock_table, family, "base", "en")
    try:
        panels = flows_chart_mod.FAMILY_PANELS[family][0]
        for ax, panel in zip(fig.axes, panels, strict=True):
            by_label = {c.get_label(): c for c in ax.containers}
            for sign, names in ((1, panel.inflows), (-1, panel.outflows)):
                for name in names:
                    heights = [b.get_height() for b in by_label[INDICATORS[name].en]]
                    np.testing.assert_allclose(heights, sign * rows[name].to_numpy()[1:])
            (line,) = ax.get_lines()[:1]
            np.testing.assert_array_equal(line.get_xdata(), rows["year"].to_numpy()[1:])
            np.testing.assert_allclose(line.get_ydata(), np.diff(rows[panel.stock].to_numpy()), atol=1e-9)
    finally:
        plt.close(fig)

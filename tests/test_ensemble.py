"""Ensembles: common random numbers, the same result whatever the back-end, variants validated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.experiments.ensemble import run_ensemble
from simulator.experiments.prepared import prepare
from tests.helpers import SCENARIOS


def _with_variants(tmp_path: Path, text: str) -> Path:
    dest = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, dest)
    path = dest / "qiqihar.yaml"
    base = path.read_text("utf-8").replace("horizon: 2035", "horizon: 2027")
    base = base[:base.index("\nvariants:")]   # the file's own variants give way to the test's (no duplicate key)
    path.write_text(base + text, "utf-8")
    return path


VARIANTS = """
variants:
  same_as_base:
    description: identical policies to base (CRN check)
  double_hte_award:
    policies: {q000_m4_hte_award: {scale: 2.0}}
  talent_instead:
    policies: {q000_m4_hte_award: {enabled: false}, q000_m9_graduate_allowance: {scale: 2.0}}
"""


def test_identical_policies_give_exactly_zero_differences(tmp_path):
    """Replicate k of every variant uses the same random streams: a variant equal to base is base."""
    prepared = prepare(_with_variants(tmp_path, VARIANTS))
    table = run_ensemble(prepared.variants(), 4).table
    assert list(table.variant.unique()) == ["base", "no_policy", "same_as_base", "double_hte_award",
                                            "talent_instead"]
    a = table[table.variant == "base"].drop(columns="variant").reset_index(drop=True)
    b = table[table.variant == "same_as_base"].drop(columns="variant").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c = table[table.variant == "double_hte_award"].drop(columns="variant").reset_index(drop=True)
    assert not a["value"].equals(c["value"])
    paid = table[(table.variant == "no_policy") & (table.indicator == "subsidy_paid")]["value"]
    assert (paid == 0).all()
    base_year = table[table.year == 2021].pivot_table(index=["variant", "replicate"], columns="indicator",
                                                       values="value")
    assert (base_year.groupby("replicate").nunique() == 1).all().all()   # every variant starts identical


def test_results_are_identical_whatever_the_number_of_jobs(tmp_path):
    prepared = prepare(_with_variants(tmp_path, VARIANTS))
    one = run_ensemble(prepared.variants(), 5, jobs=1)
    two = run_ensemble(prepared.variants(), 5, jobs=2, chunk_size=2)
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    pd.testing.assert_frame_equal(one.payments, two.payments, check_exact=True)


def test_dask_back_end_gives_the_same_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    prepared = prepare(_with_variants(tmp_path, VARIANTS))
    local = run_ensemble(prepared.variants(), 3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = run_ensemble(prepared.variants(), 3, scheduler=cluster.scheduler_address, chunk_size=1)
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    pd.testing.assert_frame_equal(local.payments, remote.payments, check_exact=True)


@pytest.mark.parametrize("text,words", [
    ("\nvariants:\n  no_policy: {}\n", ["variants", "reserved"]),
    ("\nvariants:\n  x:\n    policies: {q000_m4_hte_awrd: {scale: 2}}\n",
     ["variants.x.policies.q000_m4_hte_awrd", "did you mean 'q000_m4_hte_award'"]),
    ("\nvariants:\n  x:\n    policies: {q000_m4_hte_award: {scale: -2}}\n",
     ["variants.x.policies.q000_m4_hte_award.scale"]),
    ("\nvariants:\n  x:\n    polices: {}\n", ["variants.x.polices", "did you mean 'policies'"]),
    ("\nvariants:\n  x:\n    parameters: {rd_price_elastcity: -1}\n", ["rd_price_elastcity", "did you mean"]),
])
def test_bad_variants_get_a_clear_error_and_nothing_is_written(tmp_path, capsys, text, words):
    path = _with_variants(tmp_path, text)
    out = tmp_path / "outputs" / "x"
    assert main(["run", str(path), "--replicates", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("innosim: error: ") and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not out.parent.exists()


def test_additionality_against_no_policy(qiqihar):
    """The base variant pays subsidies and its extra HTEs are measured replicate by replicate."""
    from simulator.experiments.results import additionality

    table = run_ensemble(qiqihar.variants(), 4).table
    add = additionality(table, qiqihar.region)
    add = add[add.variant == "base"].set_index("outcome")
    assert add.loc["hte_count", "year"] == 2025
    assert add.loc["hte_count", "cost_median"] > 0
    base = table[(table.variant == "base") & (table.year == 2025) & (table.indicator == "hte_count")]
    none = table[(table.variant == "no_policy") & (table.year == 2025) & (table.indicator == "hte_count")]
    extra = base["value"].to_numpy() - none["value"].to_numpy()
    assert add.loc["hte_count", "extra_median"] == pytest.approx(pd.Series(extra).median())


def test_models_are_freed_after_an_ensemble(qiqihar):
    """Memory does not grow with the replicate count: no model outlives its run (Mesa 3.3 kept them all)."""
    import gc
    import weakref

    from simulator.experiments.replicates import run_chunk

    seen = []
    original = type(qiqihar).model

    def spy(self, replicate=0):
        model = original(self, replicate)
        seen.append(weakref.ref(model))
        return model

    type(qiqihar).model = spy
    try:
        run_chunk({"base": qiqihar}, [0, 1])
    finally:
        type(qiqihar).model = original
    gc.collect()
    assert len(seen) == 2 and all(ref() is None for ref in seen)

"""``innosim backtest``: on pseudo-data the model made itself at known parameters (the real
Heilongjiang 2017 region with fewer firms, the real targets' structure), the fit to 2019 must
put the held-out pseudo-data inside its 80 % band; the table must cover every held-out
series and year, with errors, trends and bands that follow from the written columns and inputs
(the bands' mechanism on synthetic inputs: tests/test_backtest_bands.py)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml

from simulator.analysis.backtest_series import INTENSITY, POST_CENSUS_FROM, run_paths
from simulator.analysis.calibration_fit import moments
from simulator.analysis.calibration_problem import load_problem
from simulator.analysis.calibration_result import sha256
from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
CAL = ROOT / "calibration"
#: known parameters of the pseudo-data: both informed by targets up to 2019 (technology contracts,
#: R&D spending); every other free parameter stays at its prior (= its truth)
TRUE = {"institute_external_sales_growth": 0.20, "institute_rd_growth": 0.10}
N_FIRMS = 8000   # the real region with fewer firms: a run takes a fraction of a second


def _spec(tmp: Path, targets: str, seed: int, name: str = "heilongjiang") -> Path:
    real = yaml.safe_load((CAL / "heilongjiang.yaml").read_text("utf-8"))
    spec = real | {"name": name, "region": str(tmp / "region.yaml"), "policies_dir": str(CAL / real["policies_dir"]),
                   "targets": targets, "trend_series": str(CAL / real["trend_series"]), "data": None, "seed": seed,
                   "free": {k: real["free"][k] for k in TRUE}}
    path = tmp / f"{name}_{seed}.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    return path


@pytest.fixture(scope="module")
def pseudo(tmp_path_factory):
    """Pseudo-data made by the model at TRUE (replicate seeds the backtest never uses), a spec fitting it
    and the backtest's output folder (``--small``)."""
    tmp = tmp_path_factory.mktemp("backtest")
    region = yaml.safe_load((CAL / "regions/heilongjiang_2017.yaml").read_text("utf-8"))
    region["population"]["n_firms"]["value"] = N_FIRMS
    (tmp / "region.yaml").write_text(yaml.safe_dump(region, allow_unicode=True), "utf-8")
    truth = load_problem(_spec(tmp, str(CAL / "targets_heilongjiang.csv"), seed=999))
    runs = run_paths(truth, [dict(TRUE)] * 4)
    targets = truth.targets.copy()
    targets["value"] = np.mean([moments(r, targets) for r in runs], axis=0)
    targets["rel_sd"] = 0.03
    targets.to_csv(tmp / "pseudo_targets.csv", index=False)
    intensity = pd.concat([r[INTENSITY] for r in runs], axis=1).mean(axis=1)
    pd.DataFrame({"indicator": INTENSITY, "year": intensity.index, "value": intensity.to_numpy(),
                  "source": "pseudo-data"}).to_csv(tmp / "rd_intensity_heilongjiang.csv", index=False)
    spec = _spec(tmp, "pseudo_targets.csv", seed=yaml.safe_load((CAL / "heilongjiang.yaml").read_text())["seed"])
    out = tmp / "out"
    assert main(["backtest", str(spec), "--small", "--replicates", "12", "--out", str(out), "--lang", "en",
                 "--quiet"]) == 0
    return tmp, spec, targets, out


def test_table_has_every_held_out_series_and_year(pseudo):
    tmp, spec, targets, out = pseudo
    table = pd.read_csv(out / "backtest.csv")
    held = targets[targets["year"] >= 2020]
    assert sorted(table["id"]) == sorted([*held["id"], f"{INTENSITY}_2020", f"{INTENSITY}_2021"])
    assert set(table["year"]) == {2020, 2021}
    assert table["actual"].notna().all() and table["model_median"].notna().all()
    summary = pd.read_csv(out / "backtest_summary.csv")
    assert set(summary["series"]) == set(table["series"]) | {"all"}
    assert summary.loc[summary["series"] == "all", "points"].item() == len(table)


def test_errors_and_trend_follow_from_the_written_columns_and_inputs(pseudo):
    tmp, spec, targets, out = pseudo
    t = pd.read_csv(out / "backtest.csv")
    np.testing.assert_allclose(t["model_error_pct"], 100 * (t["model_median"] / t["actual"] - 1))
    has = t["trend"].notna()
    np.testing.assert_allclose(t.loc[has, "trend_error_pct"], 100 * (t.loc[has, "trend"] / t.loc[has, "actual"] - 1))
    assert (t["inside_80"] == ((t["actual"] >= t["model_p10"]) & (t["actual"] <= t["model_p90"]))).all()
    np.testing.assert_allclose(t["raw_error_pct"], 100 * (t["raw_median"] / t["actual"] - 1))
    # the point projection and its stochastic band are those of the written runs at the estimate; the
    # predictive band is the written bands.csv row, and holds the posterior runs' median
    paths = pd.read_csv(out / "paths.csv")
    bands = pd.read_csv(out / "bands.csv").set_index(["series", "year"])
    for r in t.itertuples():
        at = paths[(paths["series"] == r.series) & (paths["year"] == r.year)]
        v = at.loc[at["set"] == "estimate", "value"]
        assert len(v) == 12 and (at["set"] == "posterior").sum() == 48
        assert r.point_median == pytest.approx(v.median())
        assert (r.stochastic_p10, r.stochastic_p90) == pytest.approx((v.quantile(0.1), v.quantile(0.9)))
        b = bands.loc[(r.series, r.year)]
        assert (r.model_p10, r.model_median, r.model_p90) == pytest.approx((b["p10"], b["p50"], b["p90"]))
        assert b["p10"] <= at.loc[at["set"] == "posterior", "value"].median() <= b["p90"]
    np.testing.assert_allclose(t["band80_width_pct"], 100 * (t["model_p90"] - t["model_p10"]) / t["model_median"])
    # the drawn vectors are evaluations of the fit, each with its posterior weight
    ev = pd.read_csv(out / "evaluations.csv")
    post = pd.read_csv(out / "posterior.csv")
    assert len(post) == 48 and ev["weight"].sum() == pytest.approx(1.0)
    names = [c for c in post.columns if c != "evaluation_row"]
    np.testing.assert_allclose(post[names].to_numpy(), ev.iloc[post["evaluation_row"]][names].to_numpy())
    # trends by hand: log-linear through the series' data up to 2019 (targets + earlier trend years)
    earlier = pd.read_csv(CAL / "trend_series_heilongjiang.csv")
    for r in t[has & (t["series"] != INTENSITY)].itertuples():
        own = targets[(targets["indicator"] == r.indicator) & targets["ratio_to"].isna() & (targets["year"] <= 2019)]
        more = earlier[(earlier["indicator"] == r.indicator) & ~earlier["year"].isin(own["year"])]
        pts = pd.concat([own[["year", "value"]], more[["year", "value"]]])
        b, a = np.polyfit(pts["year"], np.log(pts["value"]), 1)
        assert r.trend == pytest.approx(np.exp(a + b * r.year), rel=1e-9), r.id
    # ratios get no trend; the HTE stock has one (2017 + 2019)
    assert t.loc[t["ratio_to"].notna(), "trend"].isna().all()
    assert t.loc[(t["indicator"] == "hte_count") & t["ratio_to"].isna(), "trend"].notna().all()
    # R&D intensity: slope from the years before the census break, level through the last fitted year
    pub = pd.read_csv(tmp / "rd_intensity_heilongjiang.csv")
    before = pub[pub["year"] < POST_CENSUS_FROM]
    slope = np.polyfit(before["year"], np.log(before["value"]), 1)[0]
    i2019 = pub.loc[pub["year"] == 2019, "value"].item()
    for r in t[t["series"] == INTENSITY].itertuples():
        assert r.trend == pytest.approx(i2019 * np.exp(slope * (r.year - 2019)), rel=1e-9)


def test_bands_are_ordered_and_contain_the_median(pseudo):
    t = pd.read_csv(pseudo[3] / "backtest.csv")
    assert (t["model_p5"] <= t["model_p10"]).all() and (t["model_p10"] <= t["model_median"]).all()
    assert (t["model_median"] <= t["model_p90"]).all() and (t["model_p90"] <= t["model_p95"]).all()
    assert (t["model_p90"] > t["model_p10"]).all()
    # the predictive holds at least the discrepancy: never narrower than exp(+-1.28 sd) would make it
    assert (np.log(t["model_p90"] / t["model_p10"]) >= 0.9 * 2 * 1.2816 * t["discrepancy_sd"]).all()


def test_discrepancy_is_measured_on_the_fitted_years(pseudo):
    tmp, spec, targets, out = pseudo
    d = pd.read_csv(out / "discrepancy.csv").set_index("series")
    e = pd.read_csv(out / "in_sample_errors.csv")
    assert (e["year"] <= 2019).all() and set(e["id"]) == set(targets.loc[targets["year"] <= 2019, "id"])
    t = pd.read_csv(out / "backtest.csv")
    assert set(d.index) == set(t["series"])
    for key, row in d.iterrows():
        own = e.loc[e["series"] == key, "log_error"]
        rms = np.sqrt((own ** 2).mean()) if len(own) else np.sqrt((e["log_error"] ** 2).mean())
        assert row["sd"] == pytest.approx(max(rms, row["floor"])), key
    assert d.loc[INTENSITY, "floor"] == 0 and (d.drop(index=INTENSITY)["floor"] == 0.03).all()


def test_held_out_pseudo_data_lie_inside_the_80_percent_band(pseudo):
    """The estimator, fitted to 2018-2019 pseudo-data, projects 2020-2021 where the model put them."""
    t = pd.read_csv(pseudo[3] / "backtest.csv")
    shown = t[["id", "actual", "model_p5", "model_p10", "model_median", "model_p90", "model_p95"]]
    # most series: at least half of a series' held-out points inside its 80 % band in 3 series of 4
    by_series = t.groupby("series")["inside_80"].mean()
    assert (by_series >= 0.5).mean() >= 0.75, shown
    assert t["inside_90"].mean() >= 0.75, shown
    assert t["model_error_pct"].abs().median() < 5.0
    doc = json.loads((pseudo[3] / "manifest.json").read_text("utf-8"))
    used = doc["estimate"]["used"]
    rng = yaml.safe_load((CAL / "heilongjiang.yaml").read_text("utf-8"))["free"]
    name = "institute_external_sales_growth"   # the contracts 2018-2019 pin it down
    assert doc["estimate"]["identified"][name]
    assert abs(used[name] - TRUE[name]) < 0.15 * (rng[name]["bounds"][1] - rng[name]["bounds"][0])


def test_charts_manifest_and_report(pseudo):
    tmp, spec, targets, out = pseudo
    series = set(pd.read_csv(out / "backtest.csv")["series"])
    for key in series:
        for ext in ("png", "svg"):
            f = out / "charts" / f"{key}.{ext}"
            assert f.is_file() and f.stat().st_size > 10_000, f
        img = mpimg.imread(out / "charts" / f"{key}.png")
        assert img.shape[0] > 500 and img.std() > 0.01   # not blank
    doc = json.loads((out / "manifest.json").read_text("utf-8"))
    assert doc["spec_sha256"] == sha256(spec) and doc["seed"] == yaml.safe_load(spec.read_text())["seed"]
    assert set(doc["estimate"]["used"]) == set(TRUE) and doc["small_budget"] is True
    assert "git_commit" in doc and doc["versions"]["mesa"]
    assert doc["held_out_years"] == "2020-2021"
    text = (out / "report.md").read_text("utf-8")
    assert "Small test budget" in text and "R&D intensity" in text
    assert not list(out.parent.glob(".*partial"))


def test_existing_folder_kept_without_force(pseudo, tmp_path):
    from simulator.analysis.backtest_report import write

    tmp, spec, targets, out = pseudo
    before = (out / "manifest.json").read_bytes()
    # a second folder, not the first one overwritten; --force replaces
    bt = _reload(spec)
    second = write(bt, out, lang="zh")
    assert second.name == "out-2" and (out / "manifest.json").read_bytes() == before
    assert write(bt, out, lang="zh", force=True) == out
    assert json.loads((out / "manifest.json").read_text("utf-8"))["replicates"] == 2


def _reload(spec: Path):
    """A cheap backtest of the same spec (no search, 2 replicates), to exercise the writer."""
    from simulator.analysis.backtest import backtest

    return backtest(spec, small=True, replicates=2, budget={"design_points": 1, "local_evaluations": 0,
                                                           "profile_points": 0, "replicates": 1})


def test_bad_input_is_one_line_and_writes_nothing(pseudo, tmp_path, capsys):
    tmp, spec, targets, out = pseudo
    doc = yaml.safe_load(spec.read_text("utf-8"))
    doc.pop("holdout_from")
    bad = tmp / "no_holdout.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    assert main(["backtest", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "holdout_from" in err and "no_holdout.yaml" in err and len(err.splitlines()) == 1
    assert main(["backtest", str(spec), "--replicates", "1", "--out", str(tmp_path / "x")]) == 2
    assert "--replicates" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

"""Files ``innosim backtest`` writes: the held-out table and summary, paths, a chart per series, report.md.

backtest.csv, backtest_summary.csv, bands.csv (predictive quantiles per series and year),
discrepancy.csv (sd per series and the in-sample errors behind it), posterior.csv (the drawn parameter
vectors), paths.csv, evaluations.csv (with each evaluation's posterior weight), a chart per series
(PNG + SVG), manifest.json and report.md.

The folder is assembled in ``.<folder>.partial`` beside it and renamed into place at the end
(:func:`simulator.experiments.outputs.replace_folder`), so an interrupted or failed backtest leaves nothing
half-written; an existing folder is replaced only with ``force``
(:func:`simulator.experiments.outputs.output_folder`).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulator.analysis.backtest import Backtest  # noqa: E402
from simulator.analysis.backtest_series import BAND80, BAND90, INTENSITY, POST_CENSUS_FROM, intensity_path  # noqa: E402
from simulator.analysis.calibration_result import sha256  # noqa: E402
from simulator.analysis.markdown import markdown_table  # noqa: E402
from simulator.experiments.outputs import MANIFEST, git_commit, output_folder, replace_folder, versions  # noqa: E402
from simulator.model.indicators import INDICATORS  # noqa: E402
from simulator.report.layout import add_note, save_chart  # noqa: E402
from simulator.report.style import FAN_BLUES, FIG_WIDTH, TARGET_COLOR, chart_style, resolve_lang  # noqa: E402
from simulator.report.units import indicator_name, unit_axis  # noqa: E402

TREND_COLOR = "#E69F00"     # Okabe-Ito orange against the blue bands and the vermillion actuals
TABLE = "backtest.csv"
SUMMARY = "backtest_summary.csv"

_NAMES = {"hte_certified": {"zh": "高新技术企业当年认定数(含重新认定)",
                            "en": "HTE certificates granted (incl. re-certification)"}}


def _labels(lang: str) -> dict[str, str]:
    if lang == "zh":
        return {"data": "统计数据 (拟合期内)", "history": "统计数据 (更早年份, 仅用于趋势)",
                "held_out": "实际值 (留出检验年份)", "fit": "模型拟合: 中位数与 80% 区间",
                "band80": "样本外预测 80% 区间", "band90": "样本外预测 90% 区间", "median": "样本外中位数",
                "trend": "对数线性趋势", "year": "年份", "split": "拟合 | 留出", "census": "2018年经济普查修订GDP",
                "title": "回测: 拟合至 {fit} 年, 预测 {a}–{b} 年", "ratio": "相对 {y} 年之比",
                "runs": "次后验模拟",
                "note": "样本外区间 = 预测分布的分位数: 随机波动 + 参数不确定性 "
                        "(按拟合评估点的目标函数加权抽样) + 模型偏差 "
                        "(拟合期内对数误差的均方根, 不低于目标的 rel_sd). 趋势 = 拟合期数据的对数线性趋势外推."}
    return {"data": "data (in-sample years)", "history": "data (earlier years, trend only)",
            "held_out": "actual (held-out years)", "fit": "model in sample: median and 80% band",
            "band80": "out-of-sample 80% band", "band90": "out-of-sample 90% band", "median": "out-of-sample median",
            "trend": "log-linear trend", "year": "year", "split": "fit | held out",
            "census": "2018 economic census revised GDP", "title": "Backtest: fitted to {fit}, projected {a}–{b}",
            "ratio": "ratio to {y}", "runs": "posterior runs",
            "note": "Out-of-sample bands = quantiles of the predictive: stochastic variation + parameter "
                    "uncertainty (vectors drawn from the fit's evaluations by their objective) + model discrepancy "
                    "(RMS of the in-sample log errors, at least the targets' rel_sd). Trend = log-linear trend of "
                    "the fitted years' data, extrapolated."}


def _series_name(bt: Backtest, key: str, lang: str) -> tuple[str, str]:
    """Display name and axis label of a series."""
    row = bt.table[bt.table["series"] == key].iloc[0]
    ind = row["indicator"]
    name = _NAMES.get(ind, {}).get(lang) or indicator_name(ind, lang)
    if pd.notna(row["ratio_to"]):
        axis = _labels(lang)["ratio"].format(y=int(row["ratio_to"]))
        return f"{name} ({axis})", axis
    unit = INDICATORS[ind].unit if ind in INDICATORS else "家"
    return name, unit_axis(unit, lang)


def series_chart(bt: Backtest, key: str, path: Path, lang: str = "zh") -> list[Path]:
    """One series: data, the in-sample fit, the out-of-sample bands, the trend and the held-out actuals."""
    lang = resolve_lang(lang)
    lab = _labels(lang)
    fit_until, end = bt.fit_until, bt.problem.spec.end_year
    p = bt.paths[(bt.paths["series"] == key) & (bt.paths["set"] == "estimate")]
    q = p.groupby("year")["value"].quantile([BAND90[0], BAND80[0], 0.5, BAND80[1], BAND90[1]]).unstack()
    pb = bt.bands[bt.bands["series"] == key].set_index("year")[["p5", "p10", "p50", "p90", "p95"]]
    pb.columns = [BAND90[0], BAND80[0], 0.5, BAND80[1], BAND90[1]]
    data = bt.data[bt.data["series"] == key]
    trend = bt.trend[bt.trend["series"] == key]
    breaks = [POST_CENSUS_FROM] if key == INTENSITY else []
    name, axis = _series_name(bt, key, lang)
    with chart_style(lang):
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.2))
        ins = q[q.index <= fit_until]
        for seg in _segments(ins, breaks):
            ax.fill_between(seg.index, seg[BAND80[0]], seg[BAND80[1]], color="#c6dbef", lw=0)
            ax.plot(seg.index, seg[0.5], color=FAN_BLUES[1], lw=1.6)
        if (ins.index < fit_until).any():
            ax.fill_between([], [], [], color="#c6dbef", lw=0, label=lab["fit"])
        out = pb
        for seg in _segments(out, breaks):
            ax.fill_between(seg.index, seg[BAND90[0]], seg[BAND90[1]], color=FAN_BLUES[0], alpha=0.6, lw=0)
            ax.fill_between(seg.index, seg[BAND80[0]], seg[BAND80[1]], color=FAN_BLUES[1], alpha=0.7, lw=0)
            ax.plot(seg.index, seg[0.5], color=FAN_BLUES[2], lw=2)
        ax.fill_between([], [], [], color=FAN_BLUES[0], alpha=0.6, lw=0, label=lab["band90"])
        ax.fill_between([], [], [], color=FAN_BLUES[1], alpha=0.7, lw=0, label=lab["band80"])
        ax.plot([], [], color=FAN_BLUES[2], lw=2, label=lab["median"])
        if not trend.empty:
            for seg in _segments(trend.set_index("year")[["value"]], breaks):
                ax.plot(seg.index, seg["value"], color=TREND_COLOR, lw=1.5, ls="--")
            ax.plot([], [], color=TREND_COLOR, lw=1.5, ls="--", label=lab["trend"])
        hist = data[data["role"] == "history"]
        if not hist.empty:
            ax.plot(hist["year"], hist["value"], "o", mfc="white", mec="#555555", ms=5, label=lab["history"])
        ins_d = data[data["role"] == "in_sample"]
        if not ins_d.empty:
            ax.plot(ins_d["year"], ins_d["value"], "o", color="black", ms=5, label=lab["data"])
        held = data[data["role"] == "held_out"]
        ax.plot(held["year"], held["value"], "D", color=TARGET_COLOR, ms=7, mec="black", mew=0.6,
                label=lab["held_out"], zorder=5)
        ax.axvline(fit_until + 0.5, color="#777777", lw=0.8, ls=":")
        ax.annotate(lab["split"], (fit_until + 0.5, 0.99), xycoords=("data", "axes fraction"), ha="center",
                    va="top", fontsize=8, color="#555555", backgroundcolor="white")
        for b in breaks:
            ax.axvline(b - 0.5, color="#999999", lw=0.8, ls="-.")
            ax.annotate(lab["census"], (b - 0.5, 0.02), xycoords=("data", "axes fraction"), xytext=(-3, 0),
                        textcoords="offset points", ha="right", va="bottom", fontsize=7.5, color="#555555",
                        rotation=90)
        lo = min(q.values.min(), pb.values.min(), data["value"].min(),
                 trend["value"].min() if len(trend) else np.inf)
        hi = max(q.values.max(), pb.values.max(), data["value"].max(),
                 trend["value"].max() if len(trend) else -np.inf)
        bottom = 0.0 if 0 <= lo < 0.5 * hi else lo - 0.1 * (hi - lo)
        ax.set_ylim(max(bottom, 0.0) if lo >= 0 else bottom, hi + 0.1 * (hi - lo))
        years = sorted(set(data["year"]) | set(q.index))
        ax.set_xlim(min(years) - 0.5, end + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(lab["year"])
        ax.set_ylabel(axis)
        ax.grid(alpha=0.3, lw=0.6)
        region = bt.problem.region
        ax.set_title(f"{name}, {region.name.zh if lang == 'zh' else region.name.en}\n"
                     + lab["title"].format(fit=fit_until, a=fit_until + 1, b=end)
                     + f", {bt.draws} {lab['runs']}", fontsize=11, loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
        fig.tight_layout()
        add_note(fig, lab["note"])
        return save_chart(fig, path)


def _segments(frame: pd.DataFrame, breaks: list[int]) -> list[pd.DataFrame]:
    """Rows split at each break year (a series on two statistical bases is not joined by a line)."""
    if frame.empty:
        return []
    edges = [-np.inf, *breaks, np.inf]
    parts = [frame[(frame.index >= a) & (frame.index < b)] for a, b in zip(edges, edges[1:], strict=False)]
    return [s for s in parts if not s.empty]


def manifest(bt: Backtest, command: str) -> dict:
    p, h = bt.problem, bt.holdout
    inputs = [p.spec_path, p.region_path, p.spec_path.parent / p.spec.targets,
              *(p.policies_dir / f"{c}.yaml" for c in p.region.policy_catalogues)]
    if p.spec.trend_series:
        inputs.append(p.spec_path.parent / p.spec.trend_series)
    if intensity_path(p).is_file():
        inputs.append(intensity_path(p))
    return {"tool": "innosim", "analysis": "backtest", "command": command,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec_file": str(p.spec_path), "spec_sha256": sha256(p.spec_path),
            "inputs_sha256": {str(f): sha256(f) for f in inputs},
            "seed": p.spec.seed, "small_budget": bt.small, "budget": bt.budget, "replicates": bt.replicates,
            "posterior_runs": bt.draws, "effective_support": round(bt.effective_support, 2),
            "discrepancy_sd": {r["series"]: {"sd": r["sd"], "from": r["from"], "floor": r["floor"]}
                               for _, r in bt.discrepancy.iterrows()},
            "fitted_years": f"{p.region.base_year + 1}-{h.fit_until}",
            "held_out_years": f"{h.fit_until + 1}-{p.spec.end_year}",
            "estimate": {"used": h.values(), "raw": h.estimate, "identified": h.identified,
                         "interval90": {k: list(v) for k, v in h.intervals.items()},
                         "objective": h.loss, "dispersion": h.dispersion, "evaluations": int(len(h.history))},
            "band_includes": bt.band_includes, "intensity": bt.intensity_note,
            "seconds": round(bt.seconds, 1), "versions": versions(), "git_commit": git_commit()}


def report(bt: Backtest, charts: list[str]) -> str:
    p, h = bt.problem, bt.holdout
    s = bt.summary.set_index("series")
    out = [f"# Backtest `{p.spec.name}`: fitted to {h.fit_until}, projected {h.fit_until + 1}-{p.spec.end_year}", ""]
    if bt.small:
        out += ["**Small test budget: these numbers are not a backtest.**", ""]
    out += [f"Spec `{p.spec_path}`, seed {p.spec.seed}; the calibration estimator (`innosim calibrate`) on the "
            f"targets up to {h.fit_until} ({len(h.history)} evaluations, objective {h.loss:.2f}, dispersion "
            f"{h.dispersion:.2f}); then {bt.replicates} runs {p.region.base_year}-{p.spec.end_year} at the "
            f"estimate (point projection) and {bt.draws} at drawn parameter vectors. Bands: {bt.band_includes}. "
            f"{bt.seconds:.0f} s in all.", "",
            "Estimate (used value; prior where the fitted years do not identify a parameter): "
            + ", ".join(f"`{n}` {h.values()[n]:.4g}" + ("" if h.identified[n] else " (prior, not identified; "
                                                        f"raw {h.estimate[n]:.4g})") for n in p.names), "",
            "## Summary", "",
            f"Over all {int(s.loc['all', 'points'])} held-out points: mean absolute error model "
            f"{s.loc['all', 'model_mape']:.1f} % (on the points with a trend "
            f"{s.loc['all', 'model_mape_where_trend']:.1f} %; point projection {s.loc['all', 'point_mape']:.1f} %) "
            f"vs trend {s.loc['all', 'trend_mape']:.1f} %; {_count(bt.table, 'inside_80')} of the actual values "
            f"inside the predictive 80 % band (mean width {s.loc['all', 'band80_width_pct']:.0f} % of the median), "
            f"{_count(bt.table, 'inside_90')} inside the 90 % band; {_count(bt.table, 'inside_80_stochastic')} inside "
            "the stochastic-only 80 % band at the estimate.", "",
            _verdict(bt.summary), "",
            markdown_table(bt.summary), "",
            "## Every held-out point", "",
            markdown_table(bt.table[["series", "year", "actual", "model_median", "model_p10", "model_p90",
                                     "band80_width_pct", "inside_80", "model_error_pct", "trend", "trend_error_pct",
                                     "point_median", "stochastic_p10", "stochastic_p90", "inside_80_stochastic",
                                     "discrepancy_sd", "raw_median", "raw_error_pct"]]), "",
            "error % = 100 (model median or trend / actual - 1); model = the predictive (median, 10-90 % band, "
            "width in % of the median); point = the runs at the fit's values, their stochastic-only 10-90 % band; "
            "raw = the same runs at the raw estimate of every free parameter (identified or not, no draws). "
            "The trend is the log-linear trend of the same series fitted to the data up to "
            f"{h.fit_until} (with the earlier years of `{p.spec.trend_series}`), extrapolated; ratios and series "
            "with fewer than two fitted points have none.", "",
            "## How the bands are made", "",
            f"Parameter uncertainty: each of the fit's {len(h.history)} evaluations (prior, Sobol design, local "
            f"search, profiles) weighs exp(-(L - L_min) / (2 x {h.dispersion:.3g})), L its objective, the dispersion "
            f"the objective per degree of freedom (at least 1); {bt.draws} vectors drawn by these weights "
            f"(effective support {bt.effective_support:.1f} evaluations; {bt.theta['evaluation_row'].nunique()} "
            "distinct) are run once each. Model discrepancy: each run's value times exp(sd z), z standard normal, "
            "sd per series from the in-sample log errors of the runs at the raw estimate (years up to "
            f"{h.fit_until} only):", "",
            markdown_table(bt.discrepancy), "",
            markdown_table(bt.in_sample.drop(columns=["year"])), "",
            "## R&D intensity", "", bt.intensity_note, "",
            "## Charts", "", *[f"* `{c}`" for c in charts], ""]
    return "\n".join(out)


def _count(table: pd.DataFrame, column: str) -> str:
    return f"{int(table[column].sum())} of {len(table)}"


def _verdict(summary: pd.DataFrame) -> str:
    """Which series the model forecasts better than the trend, and where the actuals fell in its band."""
    per = summary[summary["series"] != "all"]
    wins = per.loc[per["better"] == "model", "series"].tolist()
    losses = per.loc[per["better"] == "trend", "series"].tolist()
    inside = per.loc[per["coverage_80"] == 1.0, "series"].tolist()
    fmt = lambda names: ", ".join(f"`{n}`" for n in names) or "none"   # noqa: E731
    return (f"Model closer than the trend (mean absolute error on the same points): {fmt(wins)}; trend closer: "
            f"{fmt(losses)}. Every held-out actual inside the 80 % band: {fmt(inside)}.")


def write(bt: Backtest, out: str | Path | None = None, *, lang: str = "zh", force: bool = False, echo=None,
          command: str = "") -> Path:
    """Write the backtest folder (default ``outputs/<spec name>_backtest``); return it."""
    dest = output_folder(Path(out) if out is not None else Path("outputs") / f"{bt.problem.spec.name}_backtest",
                         force, echo)
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)   # what an interrupted backtest left
    partial.mkdir(parents=True)
    try:
        bt.table.to_csv(partial / TABLE, index=False)
        bt.summary.to_csv(partial / SUMMARY, index=False)
        bt.bands.to_csv(partial / "bands.csv", index=False)
        bt.discrepancy.to_csv(partial / "discrepancy.csv", index=False)
        bt.in_sample.to_csv(partial / "in_sample_errors.csv", index=False)
        bt.theta.to_csv(partial / "posterior.csv", index=False)
        bt.paths.to_csv(partial / "paths.csv", index=False)
        bt.holdout.history.assign(weight=bt.weights).to_csv(partial / "evaluations.csv", index=False)
        charts = []
        for key in bt.series:
            files = series_chart(bt, key, partial / "charts" / key, lang)
            charts += [str(f.relative_to(partial)) for f in files]
        (partial / "report.md").write_text(report(bt, charts), "utf-8")
        (partial / MANIFEST).write_text(json.dumps(manifest(bt, command), ensure_ascii=False, indent=2,
                                                   default=_json), "utf-8")
        replace_folder(dest, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return dest


def _json(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return str(x)

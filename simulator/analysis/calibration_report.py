"""Files a calibration writes: calibrated.yaml, fit and out-of-sample tables, charts, a markdown report.

Everything is written to a temporary folder first and moved into place at the end, so a
failed calibration leaves the previous files untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from simulator.analysis.calibration_result import Result, calibrated_document  # noqa: E402
from simulator.analysis.markdown import markdown_table  # noqa: E402


def write_outputs(result: Result, folder: Path, small: bool = False) -> Path:
    """Write ``<output>`` and ``<diagnostics>/`` of the spec into ``folder``; return the diagnostics folder."""
    spec = result.final.problem.spec
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".calibration.", suffix=".partial", dir=folder))
    try:
        diag = tmp / "diag"
        diag.mkdir()
        doc = calibrated_document(result, small)
        (tmp / "calibrated.yaml").write_text(
            "# Written by `innosim calibrate " + str(result.final.problem.spec_path) + "`; do not edit by hand.\n"
            + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100), "utf-8")
        result.fit_table.to_csv(diag / "fit_table.csv", index=False)
        result.final.history.to_csv(diag / "evaluations.csv", index=False)
        result.final.profiles.to_csv(diag / "profiles.csv", index=False)
        if result.out_of_sample is not None:
            result.out_of_sample.to_csv(diag / "out_of_sample.csv", index=False)
        convergence_chart(result, diag / "convergence.png")
        profile_chart(result, diag / "profiles.png")
        (diag / "report.md").write_text(report(result, doc), "utf-8")
        dest_yaml, dest_diag = folder / spec.output, folder / spec.diagnostics
        if dest_diag.exists():
            shutil.rmtree(dest_diag)
        (tmp / "diag").rename(dest_diag)
        (tmp / "calibrated.yaml").replace(dest_yaml)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / spec.diagnostics


def convergence_chart(result: Result, path: Path) -> None:
    """Objective by evaluation (design, local search, profiles), with the best so far."""
    fig, axes = plt.subplots(1, 1 + (result.holdout is not None), figsize=(10, 4), squeeze=False)
    for ax, (title, fit_) in zip(axes[0], [("all targets", result.final), ("fit to the holdout year - 1",
                                                                            result.holdout)], strict=False):
        h = fit_.history
        for phase, colour in (("prior", "k"), ("design", "tab:blue"), ("local", "tab:orange"), ("polish", "tab:purple"),
                              ("estimate", "tab:red")):
            sel = h[h["phase"] == phase]
            ax.scatter(sel["evaluation"], sel["loss"], s=10, c=colour, label=phase)
        prof = h[h["phase"].str.startswith("profile")]
        ax.scatter(prof["evaluation"], prof["loss"], s=6, c="0.6", label="profiles")
        search = h[~h["phase"].str.startswith("profile")]
        ax.plot(search["evaluation"], search["loss"].cummin(), c="tab:red", lw=1, label="best so far")
        ax.set_yscale("log")
        ax.set_xlabel("evaluation")
        ax.set_ylabel("objective (sum of squared standardised log errors)")
        ax.set_title(f"{title} (to {fit_.fit_until})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def profile_chart(result: Result, path: Path) -> None:
    """Conditional profile of the objective along each free parameter, with the 90 % threshold."""
    fit_ = result.final
    names = fit_.problem.names
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        p = fit_.profiles[fit_.profiles["parameter"] == name]
        ax.plot(p["value"], p["delta_loss"], "o-", ms=3)
        if not p.empty:
            ax.axhline(p["threshold"].iloc[0], c="tab:red", lw=0.8, ls="--")
        ax.axvline(fit_.estimate[name], c="k", lw=0.8)
        lo, hi = fit_.intervals[name]
        ax.axvspan(lo, hi, color="tab:green", alpha=0.15)
        ax.set_title(name + ("" if fit_.identified[name] else "\n(NOT identified)"), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.supylabel("objective - minimum")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(result: Result, doc: dict) -> str:
    """The markdown report: method, estimates and identification, fit table, out-of-sample check."""
    fit_ = result.final
    p = fit_.problem
    out = [f"# Calibration `{p.spec.name}`", ""]
    if doc["small_budget"]:
        out += ["**Small test budget: these numbers are not a calibration.**", ""]
    n_fitted = int((p.targets["year"] <= fit_.fit_until).sum())
    out += [f"Spec `{p.spec_path}`; region `{p.region_path.name}` (base year {p.region.base_year}); "
            f"seed {p.spec.seed}; {doc['evaluations']} evaluations x {doc['replicates_per_evaluation']} replicates "
            f"(common random numbers); {result.seconds:.0f} s in all. Data: {doc['data_vintage']}.", "",
            doc["method"] + ".", "",
            f"Objective at the estimate {fit_.loss:.2f} for {n_fitted} "
            f"targets; dispersion (objective per degree of freedom, at least 1) {fit_.dispersion:.2f}; "
            "profile thresholds and intervals are scaled by it.", "", "## Parameters", ""]
    rows = []
    for name in p.names:
        e = doc["parameters"][name]
        rows.append({"parameter": name, "prior": e["prior"], "estimate": e["estimate"],
                     "90% interval": f"{e['interval90'][0]:.4g} - {e['interval90'][1]:.4g}",
                     "identified": e["identified"], "used value": e["value"], "unit": e["unit"]})
    out += [markdown_table(pd.DataFrame(rows)), ""]
    weak = [n for n in p.names if not fit_.identified[n]]
    if weak:
        out += ["**WARNING: the data cannot identify " + ", ".join(f"`{n}`" for n in weak) + ".** "
                "Their profiles stay under the 90 % threshold over most of the search range; they keep "
                "their prior value and are not drawn for parameter uncertainty.", ""]
    below = fit_.profiles.groupby("parameter")["delta_loss"].min()
    below = below[below < 0]
    if not below.empty:
        out += ["**Convergence:** the profiles found points below the estimate's objective ("
                + ", ".join(f"`{n}` {v:.2f}" for n, v in below.items())
                + f", against an objective of {fit_.loss:.1f}): the local search stopped short of the "
                "minimum by that much; each interval extends from the lowest point of its profile, "
                "with the threshold measured from the estimate.", ""]
    out += ["Intervals are conditional profiles (other parameters held at the estimate): they understate "
            "uncertainty where parameters trade off against each other.", "",
            "## Fit (all targets)", "", markdown_table(result.fit_table.drop(columns=["definition", "rel_sd"])), "",
            "error_pct = simulated median / data - 1; band = 5-95 % over replicates at the used values "
            "(stochastic uncertainty only).", ""]
    if result.out_of_sample is not None:
        h = result.holdout
        out += [f"## Out of sample: fitted to {h.fit_until}, projected {p.spec.holdout_from}-{p.spec.end_year}", "",
                "Estimates of that fit (used value; raw estimate): " + ", ".join(
                    f"`{n}` {h.values()[n]:.4g}" + ("" if h.identified[n] else
                                                    f" (prior, not identified; raw {h.estimate[n]:.4g})")
                                                      for n in p.names), "",
                markdown_table(result.out_of_sample), "",
                "trend = log-linear trend of the same series fitted to the data up to "
                f"{h.fit_until} (including earlier years of calibration/{p.spec.trend_series}), extrapolated. "
                "Mean absolute error, model "
                f"{result.out_of_sample['error_pct'].abs().mean():.1f} % (raw estimates "
                f"{result.out_of_sample['raw_error_pct'].abs().mean():.1f} %) vs trend "
                f"{result.out_of_sample.dropna(subset=['trend'])['trend_error_pct'].abs().mean():.1f} % "
                f"(trend where it exists; model on the same targets "
                f"{result.out_of_sample.dropna(subset=['trend'])['error_pct'].abs().mean():.1f} %).", ""]
    return "\n".join(out) + "\n"

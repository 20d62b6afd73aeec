"""Predictive bands of a backtest: parameter uncertainty from the fit's evaluations, model discrepancy
from its in-sample residuals, stochastic variation from the runs.

Pieces of :func:`simulator.analysis.backtest.backtest`. Only the fitted years (``year <= fit_until``)
set any width; a held-out value enters nothing but the comparison.

1. **Parameter uncertainty** (:func:`evaluation_weights`, :func:`posterior_parameters`): every
   parameter vector the fit evaluated (prior, Sobol design, Nelder-Mead, polish and profile
   points, each with its objective L) is a support point of an approximate posterior with weight
   ``w ∝ exp(-(L - L_min) / (2 φ))``, φ = the fit's dispersion (objective per degree of freedom,
   at least 1; :func:`simulator.analysis.calibration_fit.fit`). L is a sum of squared standardised
   log errors, so ``exp(-L / 2)`` is a Gaussian likelihood and φ its quasi-likelihood scale: a fit
   that cannot reach its data spreads the weight over more points. Runs draw vectors with
   replacement by these weights, every free parameter included (identified or not). The support
   is the points the search happened to visit: the local search crowds points near the minimum,
   so this approximation is, if anything, too narrow there.
2. **Model discrepancy** (:func:`discrepancy_sd`): the relative (log) errors of the model's median
   at the fit's raw estimate (its residuals, where the objective is lowest) on the in-sample
   targets give, per series (indicator, ratio), the RMS of the log errors; a series without an
   in-sample point takes the RMS over all in-sample targets (``POOLED``). The sd is floored by the
   largest ``rel_sd`` of the series' targets (their stated data uncertainty, not their values). It
   does not grow with the horizon; a fit with about as many free parameters as fitted targets
   leaves small residuals, so the floor then sets most widths.
3. **Predictive** (:func:`predictive`): every posterior run's value times ``exp(sd z)``, z standard
   normal, :data:`DISCREPANCY_DRAWS` factors per run; bands are quantiles of that mixture.

Example:
    >>> import pandas as pd
    >>> h = pd.DataFrame({"loss": [3.0, 5.0, 40.0], "a": [0.1, 0.2, 0.9]})
    >>> evaluation_weights(h, dispersion=2.0).round(3).tolist()
    [0.622, 0.378, 0.0]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: discrepancy factors drawn per run (cheap: no model run)
DISCREPANCY_DRAWS = 200
#: the discrepancy key of series without an in-sample point
POOLED = "all in-sample targets"


def evaluation_weights(history: pd.DataFrame, dispersion: float) -> pd.Series:
    """Posterior weight of every evaluated parameter vector (``history`` rows, column ``loss``).

    ``w ∝ exp(-(loss - min loss) / (2 max(dispersion, 1)))``, summing to 1; non-finite losses weigh 0.
    """
    loss = history["loss"].to_numpy(dtype=float)
    ok = np.isfinite(loss)
    if not ok.any():
        raise ValueError("no evaluation with a finite objective")
    phi = max(float(dispersion), 1.0)
    w = np.where(ok, np.exp(-(np.where(ok, loss, 0.0) - loss[ok].min()) / (2.0 * phi)), 0.0)
    return pd.Series(w / w.sum(), index=history.index, name="weight")


def effective_size(weights: pd.Series) -> float:
    """Kish effective number of support points, ``1 / sum w^2``."""
    w = weights.to_numpy(dtype=float)
    return float(1.0 / np.sum(w ** 2))


def posterior_parameters(history: pd.DataFrame, names, dispersion: float, n: int, seed: int) -> pd.DataFrame:
    """``n`` parameter vectors (columns ``names``) drawn with replacement by :func:`evaluation_weights`;
    column ``evaluation_row`` holds the row of ``history`` each came from."""
    w = evaluation_weights(history, dispersion)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,)))
    rows = rng.choice(len(history), size=n, replace=True, p=w.to_numpy())
    out = history.iloc[rows][list(names)].astype(float).reset_index(drop=True)
    out["evaluation_row"] = rows
    return out


def in_sample_errors(sims: pd.DataFrame, targets: pd.DataFrame, fit_until: int) -> pd.DataFrame:
    """Log error of the median run on every in-sample target.

    Args:
        sims: simulated values, rows runs, columns target ids (at least the in-sample ones).
        targets: ``id, series, year, value`` (``series`` = the discrepancy family).
        fit_until: last fitted year; later targets are left out.
    """
    t = targets[targets["year"] <= fit_until]
    med = sims[t["id"]].median()
    out = t[["id", "series", "year", "value"]].copy()
    out["model"] = out["id"].map(med).to_numpy(dtype=float)
    out["log_error"] = np.log(out["model"] / out["value"])
    return out.reset_index(drop=True)


def discrepancy_sd(errors: pd.DataFrame, series: list[str], floors: dict[str, float]) -> pd.DataFrame:
    """Discrepancy sd of every series (``series, sd, from, in_sample_points, rms, floor``).

    ``errors``: :func:`in_sample_errors` (in-sample only). The sd is the RMS of the series' log errors,
    or the RMS over all of ``errors`` (``from`` = :data:`POOLED`) when the series has none, floored by
    ``floors[series]`` (its targets' rel_sd; 0 if absent).
    """
    e = errors.dropna(subset=["log_error"])
    if e.empty:
        raise ValueError("no finite in-sample error to measure the model's discrepancy")
    pooled = math.sqrt(float((e["log_error"] ** 2).mean()))
    rows = []
    for s in series:
        own = e.loc[e["series"] == s, "log_error"]
        rms = math.sqrt(float((own ** 2).mean())) if len(own) else pooled
        floor = float(floors.get(s, 0.0))
        rows.append({"series": s, "sd": max(rms, floor), "from": s if len(own) else POOLED,
                     "in_sample_points": len(own), "rms": rms, "floor": floor})
    return pd.DataFrame(rows)


def predictive(sims: pd.DataFrame, sd: pd.Series, seed: int, draws: int = DISCREPANCY_DRAWS) -> pd.DataFrame:
    """Predictive sample: every run (row of ``sims``) times ``draws`` factors ``exp(sd[col] z)``.

    Columns of ``sims`` are points (ids, or years of one series); ``sd`` gives each column's
    discrepancy sd (missing: 0). Returns ``len(sims) * draws`` rows, the same columns.
    """
    if draws < 1:
        raise ValueError("draws must be at least 1")
    s = sd.reindex(sims.columns).fillna(0.0).to_numpy(dtype=float)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
    z = rng.standard_normal((len(sims), draws, sims.shape[1]))
    values = sims.to_numpy(dtype=float)[:, None, :] * np.exp(s[None, None, :] * z)
    return pd.DataFrame(values.reshape(-1, sims.shape[1]), columns=sims.columns)


def quantiles(sample: pd.DataFrame, probs) -> pd.DataFrame:
    """Quantiles of every column (rows ``probs``)."""
    return sample.quantile(list(probs))

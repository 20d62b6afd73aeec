"""Calibration of behavioural parameters against historical statistics (simulated method of moments).

A calibration spec (``calibration/<name>.yaml``) names a historical region file (a
population built from an earlier base year), the policy catalogues in force then, a
targets table (one published figure a row, with its relative uncertainty and a note on
its definition) and the free parameters with search bounds. :func:`calibrate` then

1. evaluates a scrambled Sobol design over the search box (a uniform prior) and refines
   the best point with Nelder-Mead (:mod:`scipy.optimize`), restarted once from any lower
   point the profiles (step 2) find; every parameter vector is run
   with the same replicate seeds (common random numbers), so the objective is a smooth,
   deterministic function of the parameters rather than a noisy one;
2. profiles the objective along each parameter through the estimate (conditional profile
   likelihood) for a 90 % interval, and warns where the data cannot identify a parameter
   (the profile stays within the 90 % threshold over the whole search range): such a
   parameter keeps its prior value;
3. reports the fit (median and 90 % band over replicates against every target), and
4. repeats the fit on the data up to the year before ``holdout_from`` and compares its
   projections for the held-out years with a log-linear trend of the same series.

The objective is the sum over targets of ((ln simulated mean - ln data) / s)^2 with
s^2 = rel_sd^2 + (Monte Carlo sd of the log mean)^2. Where the model cannot fit the data
within those uncertainties (objective per degree of freedom above 1) the profile
thresholds are scaled by that ratio (a quasi-likelihood correction), so intervals widen
rather than claim precision the fit does not have.

The pieces: :mod:`~simulator.analysis.calibration_problem` (spec and tables),
:mod:`~simulator.analysis.calibration_fit` (simulation, objective, fit),
:mod:`~simulator.analysis.calibration_result` (tables, draws, calibrated.yaml) and
:mod:`~simulator.analysis.calibration_report` (the files written).

Example:
    >>> from simulator.analysis.calibration import calibrate
    >>> result = calibrate("calibration/heilongjiang.yaml", small=True)   # doctest: +SKIP
    >>> result.estimate                                                     # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

from simulator.analysis.calibration_fit import fit
from simulator.analysis.calibration_problem import SMALL, load_problem
from simulator.analysis.calibration_report import write_outputs
from simulator.analysis.calibration_result import Result, fit_table, out_of_sample, posterior_draws


def calibrate(path: str | Path, *, small: bool = False, holdout: bool = True, out: str | Path | None = None,
              progress: bool = False, write: bool = True) -> Result:
    """Run a calibration spec end to end and (``write=True``) write calibrated.yaml and diagnostics.

    Args:
        path: calibration spec (``calibration/<name>.yaml``).
        small: tiny budget (:data:`SMALL`) for tests and notebooks; results are not for use.
        holdout: also fit on the years before ``holdout_from`` and report the out-of-sample check.
        out: folder for calibrated.yaml and the diagnostics (default: the spec's folder).
        progress: print each evaluation.
        write: write the files (False: return the result only).
    """
    t0 = time.perf_counter()
    problem = load_problem(path)
    budget = dict(SMALL) if small else None
    b = {k: getattr(problem.spec, k) for k in SMALL} | (budget or {})
    holdout_fit = oos = None
    if holdout and problem.spec.holdout_from is not None:
        holdout_fit = fit(problem, problem.spec.holdout_from - 1, budget, progress)
        oos = out_of_sample(problem, holdout_fit, b["fit_replicates"])
    final = fit(problem, problem.spec.end_year, budget, progress)
    table = fit_table(final, b["fit_replicates"])
    draws = posterior_draws(final, b["posterior_draws"], problem.spec.seed)
    result = Result(final, table, holdout_fit, oos, draws, time.perf_counter() - t0)
    if write:
        write_outputs(result, Path(out) if out is not None else problem.spec_path.parent, small=small)
    return result

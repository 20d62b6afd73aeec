"""Global sensitivity analysis: which behavioural parameter or policy lever moves the targets?

Two methods from `SALib <https://salib.readthedocs.io>`_:

* **Morris screening** (elementary effects): ``r`` one-at-a-time trajectories through the
  factor space, ``r (k + 1)`` model points for ``k`` factors. ``mu_star`` ranks factors by
  their mean absolute effect on an output, ``sigma`` flags non-linearity or interaction.
  Cheap; use it to screen dozens of factors.
* **Sobol indices** (variance decomposition, Saltelli's scheme): ``N (k + 2)`` points.
  ``S1`` is the share of the output variance a factor explains alone, ``ST`` including all
  its interactions. Use it on the few factors Morris kept.

A *factor* is either a behavioural parameter (kinds ``evidence`` and ``assumption`` of
``simulator/data/parameters.yaml``; national rules are law, not uncertainty) or a policy lever
(the ``scale`` of a modelled instrument, i.e. all its amounts times a factor, applied through
the scenario machinery exactly as a scenario file would; both are built in
:mod:`simulator.analysis.sensitivity_factors`). Its :func:`~simulator.analysis.sensitivity_factors.parameter_factors`
is the one place that decides the range of each parameter, so calibrated ranges can replace the priors.

Every sample point is run with the same replicate seeds (common random numbers), so two
points differ only by their factor values. The *outputs* of a point are, for each target of
the region in its year, the mean indicator value over the replicates and the share of
replicates meeting the target, plus the share meeting every target jointly
(:func:`point_outputs`). Points run in parallel on the ensemble back-ends
(:func:`simulator.experiments.ensemble.run_variants`).

Example:
    >>> from simulator.experiments.prepared import prepare
    >>> from simulator.analysis import sensitivity as sa
    >>> p = prepare("scenarios/qiqihar.yaml", horizon=2025)                       # doctest: +SKIP
    >>> res = sa.run(p, method="morris", samples=10, replicates=2, jobs=2)         # doctest: +SKIP
    >>> res.indices.query("output == 'hte_count_2025'").head()                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.analysis.sensitivity_factors import Factor, default_factors, factors_table
from simulator.errors import InputError
from simulator.experiments.ensemble import run_variants
from simulator.experiments.outputs import MANIFEST, manifest, output_folder, staged_folder
from simulator.inputs.series import slug
from simulator.model.indicators import INDICATORS
from simulator.report.sensitivity_plots import sensitivity_chart

METHODS = ("morris", "sobol")


def target_horizon(prepared) -> int:
    """The last year any output needs: the region's last target year (else the scenario's horizon)."""
    years = [t.year for t in prepared.region.targets]
    return max(years) if years else prepared.scenario.horizon


def problem(factors: list[Factor]) -> dict:
    """The SALib problem dictionary of ``factors``."""
    return {"num_vars": len(factors), "names": [f.name for f in factors],
            "bounds": [[f.low, f.high] for f in factors]}


# ------------------------------------------------------------------ designs and analyses
def design(method: str, factors: list[Factor], samples: int, seed: int = 0) -> np.ndarray:
    """Sample points (rows, in factor units) for ``method``.

    Morris: ``samples`` trajectories of 4 levels, ``samples (k + 1)`` rows. Sobol: Saltelli's
    scheme with ``samples`` base points (a power of 2), ``samples (k + 2)`` rows (first-order
    and total indices, no second-order).
    """
    if method not in METHODS:
        raise InputError("--method", "method", f"unknown method {method!r}", allowed=", ".join(METHODS))
    if samples < 2:
        raise InputError("--samples", "samples", "too few", value=samples, allowed=">= 2")
    prob = problem(factors)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(prob, samples, num_levels=4, seed=seed)
    if samples & (samples - 1):
        raise InputError("--samples", "samples", "Sobol' sequences need a power of 2", value=samples,
                         allowed="2, 4, 8, 16, 32, 64, ...")
    from SALib.sample import sobol

    return sobol.sample(prob, samples, calc_second_order=False, seed=seed)


def analyse(method: str, factors: list[Factor], X: np.ndarray, Y: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Indices of every output column of ``Y`` (rows matching ``X``), as a long table.

    Columns: ``output, factor, rank`` and, for Morris, ``mu_star, mu_star_conf, mu, sigma``
    (effects per unit of the factor's range, in output units); for Sobol, ``S1, S1_conf, ST,
    ST_conf``. An output that does not vary over the sample (e.g. a target met in no run)
    has no indices: one row with ``factor`` empty and ``note`` saying so.
    """
    prob = problem(factors)
    rows = []
    for output in Y.columns:
        y = Y[output].to_numpy(dtype=float)
        if not np.isfinite(y).all() or np.ptp(y) == 0:
            note = f"constant over the sample ({y[0]:g}): no sensitivity" if np.isfinite(y).all() else "not finite"
            rows.append(pd.DataFrame({"output": [output], "factor": [""], "note": [note]}))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if method == "morris":
                from SALib.analyze import morris

                r = morris.analyze(prob, X, y, num_levels=4, seed=seed)
                part = pd.DataFrame({"factor": prob["names"], "mu_star": r["mu_star"],
                                     "mu_star_conf": r["mu_star_conf"], "mu": r["mu"], "sigma": r["sigma"]})
                key = "mu_star"
            else:
                from SALib.analyze import sobol

                r = sobol.analyze(prob, y, calc_second_order=False, seed=seed)
                part = pd.DataFrame({"factor": prob["names"], "S1": r["S1"], "S1_conf": r["S1_conf"],
                                     "ST": r["ST"], "ST_conf": r["ST_conf"]})
                key = "ST"
        part = part.sort_values(key, ascending=False, kind="stable")
        part.insert(0, "output", output)
        part["rank"] = np.arange(1, len(part) + 1)
        part["note"] = ""
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------ the model as a function
def point(prepared, factors: list[Factor], x: np.ndarray):
    """The scenario with the factors set to ``x``: parameters overridden, levers' scales set
    (through :meth:`Prepared._with`, as a scenario file would)."""
    params, policies = {}, {}
    for f, v in zip(factors, x, strict=True):
        if f.is_lever:
            policies[f.instrument] = {"scale": max(f.value(v), 0.0)}
        else:
            params[f.name] = f.value(v)
    return prepared._with(policies, params)


def _key(target) -> str:
    """The series a target measures (``key`` for a region target of any kind, the indicator for a goal)."""
    return getattr(target, "key", None) or target.indicator


def point_outputs(table: pd.DataFrame, region, targets: list | None = None) -> pd.DataFrame:
    """Outputs of every variant (one row each, in order of appearance) from its replicates.

    For each target (default: the region's) in its year: ``<indicator>_<year>`` the mean
    over replicates and ``p_<indicator>_<year>`` the share meeting the target; and
    ``p_all_targets`` the share meeting all of them jointly.
    """
    targets = region.targets if targets is None else targets
    years = sorted({t.year for t in targets})
    sub = table[table["year"].isin(years) & table["indicator"].isin({_key(t) for t in targets})]
    wide = sub.pivot_table(index=["variant", "replicate"], columns=["indicator", "year"], values="value",
                           sort=False)
    variants = list(dict.fromkeys(table["variant"]))
    out = pd.DataFrame(index=pd.Index(variants, name="variant"))
    joint = None
    for t in targets:
        v = wide[(_key(t), t.year)]
        met = (v >= t.value) if INDICATORS[_key(t)].higher_is_better else (v <= t.value)
        joint = met if joint is None else joint & met
        name = slug(_key(t))           # output names become file names (sensitivity_<output>.png)
        out[f"{name}_{t.year}"] = v.groupby(level="variant", sort=False).mean()
        out[f"p_{name}_{t.year}"] = met.groupby(level="variant", sort=False).mean()
    if joint is not None:
        out["p_all_targets"] = joint.groupby(level="variant", sort=False).mean()
    return out


def evaluate(prepared, factors: list[Factor], X: np.ndarray, replicates: int, *, jobs: int = 1,
             scheduler: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Run every sample point ``replicates`` times (common random numbers); one row of outputs per point."""
    variants = {f"s{i:06d}": point(prepared, factors, x) for i, x in enumerate(X)}
    table = run_variants(variants, replicates, jobs=jobs, scheduler=scheduler, progress=progress).table
    return point_outputs(table, prepared.region).reset_index(drop=True)


@dataclass
class SensitivityResult:
    """A finished analysis: design, outputs and indices."""

    method: str
    factors: list[Factor]
    X: np.ndarray
    Y: pd.DataFrame
    indices: pd.DataFrame
    options: dict = field(default_factory=dict)

    def factors_table(self) -> pd.DataFrame:
        return factors_table(self.factors)

    def samples_table(self) -> pd.DataFrame:
        x = pd.DataFrame(self.X, columns=[f.name for f in self.factors])
        return pd.concat([x, self.Y.reset_index(drop=True)], axis=1)

    def top(self, output: str, n: int = 5) -> pd.DataFrame:
        """The ``n`` most influential factors for ``output`` (by mu_star or ST)."""
        part = self.indices[(self.indices["output"] == output) & (self.indices["factor"] != "")]
        return part.head(n).reset_index(drop=True)


def run(prepared, method: str = "morris", samples: int | None = None, replicates: int = 2,
        factors: list[Factor] | None = None, seed: int = 0, jobs: int = 1, scheduler: str | None = None,
        progress: bool = False, bounds: str | Path = "calibrated") -> SensitivityResult:
    """Design, evaluate and analyse.

    Args:
        prepared: the scenario (its horizon should be its last target year; later years are not used).
        method: ``morris`` or ``sobol``.
        samples: Morris trajectories (default 10) or Sobol base points (default 64, a power of 2).
        replicates: runs per point (common random numbers across points).
        factors: default :func:`default_factors` (every uncertain parameter and every lever).
        bounds: parameter ranges when ``factors`` is None (see
            :func:`simulator.analysis.sensitivity_factors.parameter_factors`).
        seed: seed of the design and of the bootstrap confidence intervals.
    """
    factors = default_factors(prepared, bounds) if factors is None else factors
    if not factors:
        raise InputError("--factors", "factors", "no factor to vary", allowed="parameters or policy levers")
    samples = samples or (10 if method == "morris" else 64)
    X = design(method, factors, samples, seed)
    Y = evaluate(prepared, factors, X, replicates, jobs=jobs, scheduler=scheduler, progress=progress)
    indices = analyse(method, factors, X, Y, seed)
    options = {"method": method, "samples": samples, "points": len(X), "replicates": replicates, "seed": seed,
               "scenario_seed": prepared.scenario.seed, "horizon": prepared.scenario.horizon, "bounds": str(bounds)}
    return SensitivityResult(method, factors, X, Y, indices, options)


def write(result: SensitivityResult, prepared, dest: str | Path, lang: str = "zh", outputs: list[str] | None = None,
          top: int = 15, force: bool = False, echo=None) -> Path:
    """Write ``indices.csv``, ``factors.csv``, ``samples.csv``, bar charts and a manifest, atomically; return
    the folder. An existing ``dest`` is replaced only with ``force``; otherwise ``<dest>-2`` (…) is written
    (:func:`simulator.experiments.outputs.output_folder`)."""
    dest = output_folder(dest, force, echo)
    with staged_folder(dest) as tmp:
        result.indices.to_csv(tmp / "indices.csv", index=False)
        result.factors_table().to_csv(tmp / "factors.csv", index=False)
        result.samples_table().to_csv(tmp / "samples.csv", index=False)
        varying = set(result.indices.loc[result.indices["factor"] != "", "output"])
        charted = outputs or [c for c in result.Y.columns if c in varying and not c.startswith("p_")]
        for output in charted:
            sensitivity_chart(result, output, tmp / f"sensitivity_{output}", prepared.region, lang=lang, top=top)
        meta = manifest(prepared, {"lang": lang})
        meta["analysis_kind"] = "sensitivity"
        meta["command"] = command(result, prepared, dest, lang)
        meta["analysis"] = {"kind": "sensitivity", **result.options,
                            "factors": result.factors_table().to_dict(orient="records"),
                            "design": "SALib " + ("morris.sample(num_levels=4)" if result.method == "morris"
                                                  else "sobol.sample(calc_second_order=False, scramble=True)")}
        (tmp / MANIFEST).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), "utf-8")
    return dest


def command(result: SensitivityResult, prepared, dest: Path, lang: str) -> str:
    """The ``innosim sensitivity`` command that regenerates this result."""
    o = result.options
    return (f"innosim sensitivity {prepared.scenario_path} --method {result.method} --samples {o['samples']} "
            f"--replicates {o['replicates']} --factors {','.join(f.name for f in result.factors)} "
            f"--bounds {o.get('bounds', 'prior')} --horizon {o['horizon']} --seed {o['scenario_seed']} "
            f"--design-seed {o['seed']} --out {dest} --lang {lang}")

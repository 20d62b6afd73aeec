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
the scenario machinery exactly as a scenario file would). :func:`parameter_factors` is the one
place that decides the range of each parameter, so calibrated ranges can replace the priors.

Every sample point is run with the same replicate seeds (common random numbers), so two
points differ only by their factor values. The *outputs* of a point are, for each target of
the region in its year, the mean indicator value over the replicates and the share of
replicates meeting the target, plus the share meeting every target jointly
(:func:`point_outputs`). Points run in parallel on the ensemble back-ends
(:func:`simulator.experiments.ensemble.run_variants`).

Example:
    >>> from simulator.experiments.prepared import prepare
    >>> from simulator import sensitivity as sa
    >>> p = prepare("scenarios/qiqihar.yaml", horizon=2025)                       # doctest: +SKIP
    >>> res = sa.run(p, method="morris", samples=10, replicates=2, jobs=2)         # doctest: +SKIP
    >>> res.indices.query("output == 'hte_count_2025'").head()                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.errors import InputError, closest, unit_problem
from simulator.inputs.parameters import calibrated_document, calibrated_path, parameter_specs
from simulator.inputs.reading import load_yaml
from simulator.inputs.series import slug
from simulator.model.indicators import INDICATORS

METHODS = ("morris", "sobol")
#: parameter kinds that are uncertain (national rules are fixed by law)
UNCERTAIN_KINDS = ("evidence", "assumption", "calibrated")
#: default range of a parameter: its prior value times (1 - w, 1 + w), clipped to its bounds
PRIOR_WIDTH = 0.5
#: default range of a policy lever's scale: switched off (0) to doubled (2)
LEVER_RANGE = (0.0, 2.0)
LEVER = "policy:"


@dataclass(frozen=True)
class Factor:
    """One uncertain input: a parameter (``name``) or a policy lever (``policy:<instrument>.scale``)."""

    name: str
    low: float
    high: float
    integer: bool = False
    origin: str = ""

    @property
    def is_lever(self) -> bool:
        return self.name.startswith(LEVER)

    @property
    def instrument(self) -> str:
        return self.name.removeprefix(LEVER).rsplit(".", 1)[0]

    def value(self, x: float) -> float | int:
        """The factor's value at ``x`` (in its own units): rounded for integer parameters."""
        return int(round(x)) if self.integer else float(x)


# ------------------------------------------------------------------ factor ranges
def _calibrated_ranges(path: Path) -> dict[str, tuple[float, float]]:
    """Ranges from a file: ``{name: [low, high]}`` or ``{name: {bounds|interval90|interval: [low, high]}}``,
    optionally under a top-level ``parameters`` key (the layout of ``calibration/calibrated.yaml``).

    Every name must be an uncertain scalar parameter and every range inside its bounds in parameters.yaml.
    """
    data = load_yaml(path)
    prefix = ""
    if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
        data, prefix = data["parameters"], "parameters."
    if not isinstance(data, dict):
        raise InputError(path, "", "expected a mapping of parameter names to ranges", value=type(data).__name__,
                         allowed="name: [low, high]")
    specs = parameter_specs()
    candidates = _candidates(specs)
    out = {}
    for name, entry in data.items():
        field = f"{prefix}{name}"
        if name not in candidates:
            why = ("fixed national rule or list-valued" if name in specs
                   else "unknown parameter" + closest(name, candidates))
            raise InputError(path, field, why,
                             allowed="scalar evidence/assumption/calibrated parameters (see `innosim parameters`)")
        rng = entry
        if isinstance(entry, dict):
            key = next((k for k in ("bounds", "interval90", "interval", "range") if k in entry), None)
            rng, field = (entry[key], f"{field}.{key}") if key else (None, field)
        unit = specs[name].unit.split(" (")[0]
        for x in rng if isinstance(rng, list) else [rng]:
            hint = unit_problem(x, unit)
            if hint:
                raise InputError(path, field, hint[0], value=x, allowed=hint[1])
            if isinstance(x, bool):
                raise InputError(path, field, "a boolean where a number belongs", value=x, allowed="[low, high]")
        if (not isinstance(rng, (list, tuple)) or len(rng) != 2
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in rng) or rng[0] > rng[1]):
            raise InputError(path, field, "not a range", value=None if isinstance(entry, dict) else entry,
                             allowed="[low, high] with low <= high")
        lo, hi = specs[name].bounds
        if not lo <= rng[0] <= rng[1] <= hi:
            raise InputError(path, field, "outside the parameter's bounds", value=list(rng),
                             allowed=f"a range within [{lo}, {hi}] (parameters.yaml)")
        out[str(name)] = (float(rng[0]), float(rng[1]))
    return out


def _candidates(specs: dict) -> dict:
    """The parameters that may be factors: scalar, of an uncertain kind."""
    return {s.name: s for s in specs.values()
            if s.kind in UNCERTAIN_KINDS and not isinstance(s.value, list) and not isinstance(s.value, bool)}


def parameter_factors(bounds: str | Path = "calibrated", names: list[str] | None = None,
                      width: float = PRIOR_WIDTH) -> list[Factor]:
    """The behavioural parameters as factors, each with the range sensitivity samples from.

    This is the one function that decides parameter ranges:

    * ``"calibrated"`` (default): the 90 % interval of every parameter the calibration in use
      (``calibration/calibrated.yaml``, see :func:`simulator.inputs.parameters.calibrated_path`) lists,
      identified or not (an unidentified one spans most of its search range, which is the
      honest uncertainty); the ``"prior"`` range for the others. Without a calibration, ``"prior"``.
    * ``"prior"``: the documented value times ``(1 - width, 1 + width)``, clipped to
      the parameter's bounds (a value of 0 ranges over the first ``width`` x 10 % of its bounds).
      The bounds of ``parameters.yaml`` are what a scenario may set, often orders of magnitude
      wide (e.g. 1-10 000 万元 revenue per employee): sampling them whole would make the widest
      range look the most influential. ±50 % is an assumption of the analysis, recorded with
      every result.
    * ``"full"``: the whole bounds of ``parameters.yaml``.
    * a path to a YAML file (e.g. ``calibration/calibrated.yaml``): ``name: [low, high]`` (or
      ``{bounds: [low, high]}``) per parameter; parameters it does not list keep their prior range.

    Only scalar parameters of kinds evidence, assumption or calibrated are factors.
    ``names`` restricts (and orders) them.
    """
    specs = parameter_specs()
    calibrated: dict[str, tuple[float, float]] = {}
    source = bounds
    if isinstance(bounds, Path) or bounds not in ("prior", "full", "calibrated"):
        calibrated = _calibrated_ranges(Path(bounds))
    elif bounds == "calibrated":
        path = calibrated_path()
        calibrated = {name: (float(e["interval90"][0]), float(e["interval90"][1]))
                      for name, e in (calibrated_document().get("parameters") or {}).items() if e.get("interval90")}
        source = path.name if path is not None else bounds
    by_name = _candidates(specs)
    candidates = list(by_name.values())
    if names is not None:
        for n in names:
            if n not in by_name:
                why = "fixed national rule or list-valued" if n in specs else "unknown parameter"
                raise InputError("--factors", n, why + closest(n, by_name),
                                 allowed="scalar evidence/assumption parameters (see `innosim parameters`)")
        candidates = [by_name[n] for n in names]
    out = []
    for s in candidates:
        lo_b, hi_b = float(s.bounds[0]), float(s.bounds[1])
        if s.name in calibrated:
            lo, hi = calibrated[s.name]
            origin = f"calibrated 90 % interval ({source})"
        elif bounds == "full":
            lo, hi, origin = lo_b, hi_b, "parameters.yaml bounds"
        else:
            v = float(s.value)
            if v == 0:
                lo, hi = lo_b, lo_b + width * 0.1 * (hi_b - lo_b)
            else:
                lo, hi = sorted((v * (1 - width), v * (1 + width)))
            lo, hi = max(lo, lo_b), min(hi, hi_b)
            origin = f"prior {s.value} ±{width:.0%}, within bounds [{s.bounds[0]}, {s.bounds[1]}]"
        integer = isinstance(s.value, int)
        if integer:
            lo, hi = math.ceil(lo) - 0.49, math.floor(hi) + 0.49   # every integer in range equally likely
        if hi > lo:
            out.append(Factor(s.name, lo, hi, integer, origin))
    return out


def lever_factors(prepared, low: float = LEVER_RANGE[0], high: float = LEVER_RANGE[1],
                  instruments: list[str] | None = None) -> list[Factor]:
    """The scale of each modelled, enabled instrument of the scenario as a factor in [low, high]."""
    active = [i.id for i in prepared.instruments() if i.enabled]
    if instruments is not None:
        for n in instruments:
            if n not in active:
                raise InputError("--factors", f"{LEVER}{n}", "not a modelled instrument enabled in the scenario"
                                 + closest(n, active), allowed=", ".join(active))
        active = [n for n in instruments]
    origin = f"scale {low:g}-{high:g} x the amounts as written"
    return [Factor(f"{LEVER}{i}.scale", low, high, False, origin) for i in active]


def default_factors(prepared, bounds: str | Path = "calibrated", names: list[str] | None = None) -> list[Factor]:
    """Parameters and policy levers. ``names`` may mix parameter names and ``policy:<instrument>``;
    ``None`` means every uncertain scalar parameter and every active instrument."""
    if names is None:
        return parameter_factors(bounds) + lever_factors(prepared)
    params = [n for n in names if not n.startswith(LEVER)]
    levers = [n.removeprefix(LEVER).removesuffix(".scale") for n in names if n.startswith(LEVER)]
    return (parameter_factors(bounds, params) if params else []) + (lever_factors(prepared, instruments=levers)
                                                                    if levers else [])


def target_horizon(prepared) -> int:
    """The last year any output needs: the region's last target year (else the scenario's horizon)."""
    years = [t.year for t in prepared.region.targets]
    return max(years) if years else prepared.scenario.horizon


def factors_table(factors: list[Factor]) -> pd.DataFrame:
    """The factors with kind, range and where the range comes from."""
    return pd.DataFrame([{"factor": f.name, "kind": "policy lever" if f.is_lever else "parameter",
                          "low": f.low, "high": f.high, "integer": f.integer, "range_from": f.origin}
                         for f in factors])


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
    from simulator.experiments.ensemble import run_variants

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
        bounds: parameter ranges when ``factors`` is None (see :func:`parameter_factors`).
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
    from simulator.experiments.outputs import MANIFEST, manifest, output_folder, replace_folder
    from simulator.report.sensitivity_plots import sensitivity_chart

    dest = output_folder(dest, force, echo)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        tmp.chmod(0o755)
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
        replace_folder(dest, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def command(result: SensitivityResult, prepared, dest: Path, lang: str) -> str:
    """The ``innosim sensitivity`` command that regenerates this result."""
    o = result.options
    return (f"innosim sensitivity {prepared.scenario_path} --method {result.method} --samples {o['samples']} "
            f"--replicates {o['replicates']} --factors {','.join(f.name for f in result.factors)} "
            f"--bounds {o.get('bounds', 'prior')} --horizon {o['horizon']} --seed {o['scenario_seed']} "
            f"--design-seed {o['seed']} --out {dest} --lang {lang}")

"""Policy-mix optimiser: the cheapest mix that meets the targets, or the best one within a budget.

A *spec* file (``scenarios/optimise/qiqihar.yaml``) names a scenario, the targets that must be
met (default: all of the region's), the instruments a planner may change with their bounds
(``scale``, amounts in ``params``, ``start_year``/``end_year``) and either

* a required probability ``probability`` (default 0.8): find the **cheapest mix** meeting every
  required target in its year with at least that probability; or
* a ``budget`` (万元, cumulative to the last target year): find the mix with the **highest
  probability** whose expected cost stays within it.

Each candidate mix is run ``replicates`` times with the same replicate seeds as every other
mix (common random numbers), so two mixes differ by policy, not by luck. *Cost* is the
cumulative subsidy paid by every instrument from the base year to the last target year (mean
over replicates; 5-95 % reported). The search is optuna's seeded TPE sampler with constraints,
asked in fixed batches (results do not depend on ``--jobs``), started from anchor mixes: the
scenario as written, every lever at its cheapest and every lever at its most generous bound.

The answer reports every mix tried, the cost-versus-probability Pareto front, the chosen mix
as a ready-to-run scenario file, and, per required target, the best probability any mix
reached: a target no mix within the bounds reaches is declared out of reach with that
probability (a finding, not a failure).

Example:
    >>> from simulator.analysis.optimise import optimise
    >>> res = optimise("scenarios/optimise/qiqihar.yaml", trials=16, replicates=4)   # doctest: +SKIP
    >>> print(res.report())                                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.errors import InputError, closest, unit_problem
from simulator.inputs.reading import load_yaml
from simulator.inputs.schema import FIELD_UNITS, amount_unit
from simulator.inputs.validation import validate
from simulator.model.indicators import INDICATORS

Range = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _range(v, what: str):
    for x in (v if isinstance(v, (list, tuple)) else [v]):
        unit = amount_unit(what.removeprefix("params.")) if what.startswith("params.") else FIELD_UNITS.get(what)
        hint = unit_problem(x, unit)
        if hint:
            raise ValueError(f"{what}: {hint[0]}; write {hint[1]}")
        if isinstance(x, bool):
            raise ValueError(f"{what} must be a number or [low, high], not a boolean")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        if not all(math.isfinite(x) for x in v) or v[0] > v[1]:
            raise ValueError(f"{what} must be [low, high] with low <= high")
        return (v[0], v[1])
    raise ValueError(f"{what} must be a number or [low, high]")


class LeverSpec(_Strict):
    """What may change in one instrument: a number fixes it, ``[low, high]`` lets the optimiser choose."""

    scale: Range | None = None
    start_year: tuple[int, int] | None = None
    end_year: tuple[int, int] | None = None
    params: dict[str, Range] = {}

    @field_validator("scale", "start_year", "end_year", mode="before")
    @classmethod
    def _as_range(cls, v, info):
        return None if v is None else _range(v, info.field_name)

    @field_validator("scale")
    @classmethod
    def _scale(cls, v):
        if v is not None and v[0] < 0:
            raise ValueError("scale must be >= 0")
        return v

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, v):
        if not isinstance(v, dict):
            raise ValueError("params must map amount names to a number or [low, high]")
        out = {}
        for k, x in v.items():
            r = _range(x, f"params.{k}")
            if r[0] < 0:
                raise ValueError(f"params.{k} must be a non-negative amount, got {list(r)}")
            out[k] = r
        return out

    @model_validator(mode="after")
    def _something(self):
        if self.scale is None and self.start_year is None and self.end_year is None and not self.params:
            raise ValueError("a lever needs at least one of scale, start_year, end_year, params")
        return self


class TargetSpec(_Strict):
    """A target of the planner's own (not the plan's): indicator, year, value."""

    indicator: str
    year: int
    value: float

    @field_validator("indicator")
    @classmethod
    def _known(cls, v):
        if v not in INDICATORS:
            raise ValueError(f"unknown indicator{closest(v, INDICATORS)}")
        return v


class OptimiseSpec(_Strict):
    """An optimiser spec file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    scenario: str
    targets: Literal["all"] | list[str | TargetSpec] = "all"
    probability: float = Field(default=0.8, gt=0, le=1)
    budget: float | None = Field(default=None, ge=0)
    levers: dict[str, LeverSpec]
    replicates: int = Field(default=20, ge=1, le=10_000)
    trials: int = Field(default=60, ge=3, le=100_000)
    batch: int = Field(default=8, ge=1, le=1000)
    seed: int = Field(default=0, ge=0)
    scenario_out: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]+\.yaml$")

    @field_validator("levers")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("name at least one instrument the optimiser may change")
        return v


# ------------------------------------------------------------------ search space and goals
@dataclass(frozen=True)
class Dim:
    """One searched quantity: ``instrument``'s ``field`` (scale, start_year, end_year or params.<name>)."""

    instrument: str
    field: str
    low: float
    high: float
    integer: bool = False

    @property
    def name(self) -> str:
        return f"{self.instrument}.{self.field}"


@dataclass(frozen=True)
class Goal:
    """A required target: indicator at or beyond ``value`` in ``year``."""

    indicator: str
    year: int
    value: float
    higher_is_better: bool = True
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.indicator}_{self.year}"

    def met(self, v: np.ndarray) -> np.ndarray:
        return v >= self.value if self.higher_is_better else v <= self.value

    def ratio(self, v: np.ndarray) -> np.ndarray:
        """How far toward the target (1 = exactly met): value / target (target / value for a rank)."""
        v = np.asarray(v, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = v / self.value if self.higher_is_better else self.value / v
        return np.nan_to_num(r, nan=0.0, posinf=np.inf)


def attainment(ratios: np.ndarray, probability: float) -> float:
    """The joint margin reached with ``probability``: the ``ceil(p R)``-th largest over replicates of the
    smallest target ratio. It is >= 1 exactly when at least a share ``p`` of the replicates meets every
    target, and says how close a mix comes when none does (0.6 = 60 % of the way to the hardest target)."""
    worst = np.min(ratios, axis=0) if ratios.ndim == 2 else ratios
    worst = np.sort(worst)
    k = math.ceil(probability * len(worst) - 1e-9)
    return float(worst[len(worst) - k])


def mix_settings(dims: Sequence[Dim], values: dict[str, float]) -> dict[str, dict]:
    """Instrument settings (as in a scenario file) of a point of the search space; every instrument
    named is switched on (a scale of 0 is the way to switch it off)."""
    out: dict[str, dict] = {}
    for d in dims:
        v = values[d.name]
        v = int(round(v)) if d.integer else float(v)
        s = out.setdefault(d.instrument, {"enabled": True})
        if d.field.startswith("params."):
            s.setdefault("params", {})[d.field.removeprefix("params.")] = v
        else:
            s[d.field] = v
    return out


# ------------------------------------------------------------------ the search (model-free)
@dataclass
class Evaluation:
    """One mix's replicates: cumulative cost and each goal's indicator value, arrays over replicates."""

    cost: np.ndarray
    values: dict[str, np.ndarray]


def _row(trial: int, origin: str, values: dict, ev: Evaluation, goals: Sequence[Goal], p: float) -> dict:
    ratios = np.array([g.ratio(ev.values[g.key]) for g in goals])
    mets = np.array([g.met(ev.values[g.key]) for g in goals])
    row = {"trial": trial, "origin": origin, **values,
           "cost_mean": float(np.mean(ev.cost)), "cost_p05": float(np.quantile(ev.cost, 0.05)),
           "cost_p95": float(np.quantile(ev.cost, 0.95))}
    for g, met in zip(goals, mets, strict=True):
        row[f"p_{g.key}"] = float(met.mean())
        row[f"median_{g.key}"] = float(np.median(ev.values[g.key]))
    row["p_required"] = float(mets.all(axis=0).mean())
    row["attainment"] = attainment(ratios, p)
    return row


def pareto_mask(cost: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Mixes no other mix beats on both cost (lower) and probability (higher)."""
    cost, prob = np.asarray(cost, float), np.asarray(prob, float)
    keep = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        better = (cost <= cost[i]) & (prob >= prob[i]) & ((cost < cost[i]) | (prob > prob[i]))
        keep[i] = not better.any()
    return keep


def search(dims: Sequence[Dim], evaluate: Callable[[list[dict]], list[Evaluation]], goals: Sequence[Goal], *,
           probability: float = 0.8, budget: float | None = None, trials: int = 60, batch: int = 8,
           seed: int = 0, anchors: Sequence[tuple[str, dict]] = (), refine: float = 0.3) -> pd.DataFrame:
    """Search the mixes; return one row per mix tried (``trials`` in all, anchors first).

    The first ``1 - refine`` of the trials are optuna's (TPE, after the anchors and a few
    random mixes); the rest refine the best mix so far by seeded Gaussian perturbations of
    shrinking width, which TPE alone is slow at when the best mixes lie on a constraint's edge.

    Without a budget: minimise mean cost subject to attainment >= 1 (every goal met with
    ``probability``). With a budget: maximise attainment subject to mean cost <= budget.
    ``evaluate`` runs a batch of points (dicts dim name -> value).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    modern = hasattr(optuna.trial.Trial, "set_constraint")    # optuna >= 5; before, a constraints_func
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=max(len(anchors) + 4, 8),
                                         **({} if modern else {"constraints_func": _constraint}))
    study = optuna.create_study(direction="minimize" if budget is None else "maximize", sampler=sampler)
    rows: list[dict] = []
    queue = list(anchors)
    rng = np.random.default_rng(seed)
    global_trials = trials - int(refine * trials)
    while len(rows) < trials:
        n = min(batch, trials - len(rows))
        if not queue and len(rows) >= global_trials:     # local phase: perturb the best mix so far
            queue = _around(dims, pd.DataFrame(rows), probability, budget, n, rng,
                            width=0.15 * (1 - (len(rows) - global_trials) / max(trials - global_trials, 1)) + 0.01)
        asked, origins = [], []
        for _ in range(n):
            if queue:
                origin, values = queue.pop(0)
                study.enqueue_trial({d.name: int(round(values[d.name])) if d.integer else float(values[d.name])
                                     for d in dims if d.low < d.high})
            else:
                origin = "search"
            t = study.ask()
            point = {}
            for d in dims:
                if d.low == d.high:
                    point[d.name] = d.low
                elif d.integer:
                    point[d.name] = t.suggest_int(d.name, int(d.low), int(d.high))
                else:   # 4 significant digits: the mix written out is the mix evaluated
                    point[d.name] = min(max(float(f"{t.suggest_float(d.name, d.low, d.high):.4g}"), d.low), d.high)
            asked.append((t, point))
            origins.append(origin)
        evals = evaluate([p for _, p in asked])
        for (t, point), origin, ev in zip(asked, origins, evals, strict=True):
            row = _row(len(rows), origin, point, ev, goals, probability)
            rows.append(row)
            constraint = [1.0 - row["attainment"]] if budget is None else [row["cost_mean"] - budget]
            if modern:
                t.set_constraint("requirement", constraint[0])
            else:
                t.set_user_attr("constraint", constraint)
            study.tell(t, row["cost_mean"] if budget is None else min(row["attainment"], 10.0) + row["p_required"])
    out = pd.DataFrame(rows)
    out["pareto"] = pareto_mask(out["cost_mean"].to_numpy(), out["p_required"].to_numpy())
    return out


def _around(dims: Sequence[Dim], rows: pd.DataFrame, probability: float, budget: float | None, n: int,
            rng: np.random.Generator, width: float) -> list[tuple[str, dict]]:
    """``n`` perturbations of the best mix so far (``width`` = sd as a share of each range)."""
    rows = rows.assign(pareto=False)
    best = rows.set_index("trial").loc[choose(rows, probability, budget)[0]]
    out = []
    for _ in range(n):
        point = {}
        for d in dims:
            v = float(best[d.name]) + rng.normal(0.0, width * (d.high - d.low))
            point[d.name] = min(max(v, d.low), d.high)
        out.append(("refine", point))
    return out


def _constraint(trial) -> list[float]:
    return trial.user_attrs.get("constraint", [0.0])


def choose(trials: pd.DataFrame, probability: float, budget: float | None) -> tuple[int, bool]:
    """The chosen trial and whether it satisfies the requirement.

    Without a budget: the cheapest mix with P(all required) >= probability; if none, the mix
    with the highest probability (then attainment, then lower cost). With a budget: among mixes
    within it, the highest probability (then attainment, then lower cost); if none is within
    the budget, the cheapest mix.
    """
    t = trials
    if budget is None:
        ok = t[t["p_required"] >= probability - 1e-12]
        if not ok.empty:
            return int(ok.sort_values(["cost_mean", "trial"]).iloc[0]["trial"]), True
        best = t.sort_values(["p_required", "attainment", "cost_mean"], ascending=[False, False, True])
        return int(best.iloc[0]["trial"]), False
    ok = t[t["cost_mean"] <= budget]
    if ok.empty:
        return int(t.sort_values(["cost_mean", "trial"]).iloc[0]["trial"]), False
    best = ok.sort_values(["p_required", "attainment", "cost_mean"], ascending=[False, False, True])
    return int(best.iloc[0]["trial"]), True


# ------------------------------------------------------------------ the model side
def load_spec(path: str | Path) -> OptimiseSpec:
    """Load and validate a spec file (InputError on any problem)."""
    return validate(OptimiseSpec, load_yaml(Path(path)), Path(path))


def _dims(spec: OptimiseSpec, prepared, path: Path) -> list[Dim]:
    instruments = {i.id: i for i in prepared.instruments()}
    dims = []
    for inst_id, lever in spec.levers.items():
        where = f"levers.{inst_id}"
        if inst_id not in instruments:
            known = prepared.instrument_ids()
            why = "not modelled (see `innosim policies`)" if inst_id in known else "unknown instrument"
            raise InputError(path, where, why + closest(inst_id, list(instruments)),
                             allowed=", ".join(instruments) or "none")
        inst = instruments[inst_id]
        if lever.scale is not None:
            dims.append(Dim(inst_id, "scale", *lever.scale))
        for key in ("start_year", "end_year"):
            rng = getattr(lever, key)
            if rng is not None:
                lo = prepared.region.base_year + 1
                if rng[0] < lo or rng[1] > 2100:
                    raise InputError(path, f"{where}.{key}", "year out of range", value=list(rng),
                                     allowed=f"years from {lo}")
                dims.append(Dim(inst_id, key, rng[0], rng[1], integer=True))
        names = inst.param_names + inst.optional_params
        for key, rng in lever.params.items():
            if key not in names:
                raise InputError(path, f"{where}.params.{key}", "unknown amount parameter" + closest(key, names),
                                 allowed=", ".join(names))
            if isinstance(inst.params.get(key), str):
                raise InputError(path, f"{where}.params.{key}", "not a number (cannot be searched)",
                                 value=inst.params[key], allowed="numeric amounts: " + ", ".join(
                                     k for k in names if not isinstance(inst.params.get(k), str)))
            dims.append(Dim(inst_id, f"params.{key}", *rng, integer=key == "years"))
    return dims


def _goals(spec: OptimiseSpec, region, path: Path) -> list[Goal]:
    plan = {t.key: t for t in region.targets}   # t.key: the series of a target of any kind
    if spec.targets == "all":
        chosen = list(region.targets)
        if not chosen:
            raise InputError(path, "targets", "the region sets no target; name your own",
                             allowed="a list of {indicator, year, value}")
        return [Goal(t.key, t.year, t.value, INDICATORS[t.key].higher_is_better, t.source) for t in chosen]
    goals = []
    for i, t in enumerate(spec.targets):
        if isinstance(t, str):
            if t not in plan:
                raise InputError(path, f"targets.{i}", f"the region has no target on {t!r}" + closest(t, plan),
                                 allowed=", ".join(plan) + " (or {indicator, year, value})")
            p = plan[t]
            goals.append(Goal(p.key, p.year, p.value, INDICATORS[p.key].higher_is_better, p.source))
        else:
            if not region.base_year < t.year <= 2100:
                raise InputError(path, f"targets.{i}.year", "must fall after the region's base year", value=t.year,
                                 allowed=f"{region.base_year + 1} to 2100")
            goals.append(Goal(t.indicator, t.year, t.value, INDICATORS[t.indicator].higher_is_better,
                              "the spec's own target (not the plan's)"))
    return goals


def _current(dims: Sequence[Dim], prepared) -> dict[str, float]:
    """Lever values of the scenario as written, clipped to the bounds."""
    instruments = {i.id: i for i in prepared.instruments()}
    out = {}
    for d in dims:
        inst = instruments[d.instrument]
        if d.field == "scale":
            v = inst.scale if inst.enabled else 0.0
        elif d.field in ("start_year", "end_year"):
            v = getattr(inst, d.field)
            v = (d.low if d.field == "start_year" else d.high) if v is None else v
        else:
            v = float(inst.params[d.field.removeprefix("params.")])
        out[d.name] = min(max(v, d.low), d.high)
    return out


def _corner(dims: Sequence[Dim], generous: bool) -> dict[str, float]:
    """Every lever at its cheapest (``generous=False``) or most generous bound; years: earliest start
    and latest end are the generous ones."""
    out = {}
    for d in dims:
        high = d.high if d.field != "start_year" else d.low
        low = d.low if d.field != "start_year" else d.high
        out[d.name] = high if generous else low
    return out


class _ModelEvaluator:
    """Runs mixes on the model: common random numbers, ensemble back-ends."""

    def __init__(self, prepared, dims, goals, replicates, jobs, scheduler, progress):
        self.prepared, self.dims, self.goals = prepared, dims, goals
        self.replicates, self.jobs, self.scheduler, self.progress = replicates, jobs, scheduler, progress
        self.last_year = max(g.year for g in goals)
        self.calls = 0

    def __call__(self, points: list[dict]) -> list[Evaluation]:
        from simulator.experiments.ensemble import run_variants

        variants = {f"m{self.calls:04d}_{i:04d}": self.prepared._with(mix_settings(self.dims, p), {})
                    for i, p in enumerate(points)}
        self.calls += 1
        table = run_variants(variants, self.replicates, jobs=self.jobs, scheduler=self.scheduler).table
        paid = table[(table["indicator"] == "subsidy_paid") & (table["year"] <= self.last_year)]
        cost = paid.groupby(["variant", "replicate"], sort=False)["value"].sum()
        out = []
        for name in variants:
            part = table[table["variant"] == name]
            values = {}
            for g in self.goals:
                v = part[(part["indicator"] == g.indicator) & (part["year"] == g.year)]
                values[g.key] = v.sort_values("replicate")["value"].to_numpy()
            out.append(Evaluation(cost.loc[name].sort_index().to_numpy(), values))
        return out


@dataclass
class OptimiseResult:
    """Everything the optimiser found."""

    spec: OptimiseSpec
    spec_path: Path
    goals: list[Goal]
    dims: list[Dim]
    trials: pd.DataFrame
    chosen: int
    satisfied: bool
    scenario: dict
    years: tuple[int, int]
    options: dict = field(default_factory=dict)

    @property
    def chosen_row(self) -> pd.Series:
        return self.trials.set_index("trial").loc[self.chosen]

    def per_target(self) -> pd.DataFrame:
        """Per required target: the best probability any mix reached (ties: the mix whose median comes
        closest to the target), its median and cost, and whether the target is in reach."""
        rows = []
        for g in self.goals:
            col = f"p_{g.key}"
            closeness = self.trials[f"median_{g.key}"] * (1 if g.higher_is_better else -1)
            best = (self.trials.assign(_close=closeness)
                    .sort_values([col, "_close", "cost_mean"], ascending=[False, False, True]).iloc[0])
            rows.append({"target": g.key, "value": g.value, "source": g.source,
                         "best_probability": best[col], "best_trial": int(best["trial"]),
                         "cost_mean_at_best": best["cost_mean"], "median_at_best": best[f"median_{g.key}"],
                         "chosen_probability": self.chosen_row[col],
                         "in_reach": bool(best[col] >= self.spec.probability - 1e-12)})
        return pd.DataFrame(rows)

    def pareto(self) -> pd.DataFrame:
        return self.trials[self.trials["pareto"]].sort_values("cost_mean").reset_index(drop=True)

    def report(self) -> str:
        """A plain statement of the answer."""
        s, r = self.spec, self.chosen_row
        names = ", ".join(f"{g.key} {'≥' if g.higher_is_better else '≤'} {g.value:g}" for g in self.goals)
        lines = [f"required: {names}, jointly, "
                 + (f"with probability ≥ {s.probability:.0%}" if s.budget is None
                    else f"highest probability within {s.budget:,.0f} 万元")
                 + f" ({len(self.trials)} mixes x {s.replicates} replicates, common random numbers)"]
        cost = f"{r['cost_mean']:,.0f} 万元 (5-95 %: {r['cost_p05']:,.0f}-{r['cost_p95']:,.0f}), " \
               f"{self.years[0]}-{self.years[1]}"
        if s.budget is None and self.satisfied:
            lines.append(f"cheapest mix meeting them: trial {self.chosen}, P = {r['p_required']:.0%}, cost {cost}")
        elif s.budget is None:
            lines.append(f"NO mix within the levers' bounds meets them with probability ≥ {s.probability:.0%}; "
                         f"best achievable P(all required) = {r['p_required']:.0%} (trial {self.chosen}, "
                         f"cost {cost}; attainment {r['attainment']:.2f} of the hardest target)")
        elif self.satisfied:
            lines.append(f"best mix within the budget: trial {self.chosen}, P = {r['p_required']:.0%}, cost {cost}")
        else:
            lines.append(f"NO mix fits within the budget; the cheapest costs {cost}")
        for row in self.per_target().itertuples():
            verdict = "in reach" if row.in_reach else "OUT OF REACH within the bounds"
            lines.append(f"  {row.target} (target {row.value:g}): best P {row.best_probability:.0%} "
                         f"(trial {row.best_trial}: median {row.median_at_best:.4g}, "
                         f"cost {row.cost_mean_at_best:,.0f} 万元) - {verdict}; "
                         f"chosen mix P {row.chosen_probability:.0%}")
        mix = mix_settings(self.dims, {d.name: r[d.name] for d in self.dims})
        lines.append("chosen mix: " + "; ".join(f"{k}: {v}" for k, v in mix.items()))
        return "\n".join(lines)


@dataclass(frozen=True)
class Checked:
    """A validated spec with everything the search needs (see :func:`check_spec`)."""

    spec: OptimiseSpec
    spec_path: Path
    base: Any
    prepared: Any
    goals: list[Goal]
    dims: list[Dim]
    anchors: list[tuple[str, dict[str, float]]]


def check_spec(spec_path: str | Path, *, replicates: int | None = None, trials: int | None = None) -> Checked:
    """Validate a spec file and everything it names (scenario, targets, instruments and bounds, the three
    anchor mixes) without running a model: what :func:`optimise` checks before its first trial.
    Raises InputError on any problem."""
    from simulator.experiments.prepared import prepare

    spec_path = Path(spec_path)
    spec = load_spec(spec_path)
    updates = {k: v for k, v in (("replicates", replicates), ("trials", trials)) if v is not None}
    if updates:
        spec = validate(OptimiseSpec, {**spec.model_dump(), **updates}, spec_path)
    scenario_path = spec_path.parent / spec.scenario
    if not scenario_path.is_file():
        raise InputError(spec_path, "scenario", "file not found", value=spec.scenario,
                         allowed=f"a scenario file relative to {spec_path.parent}")
    base = prepare(scenario_path)
    goals = _goals(spec, base.region, spec_path)
    last = max(g.year for g in goals)
    prepared = prepare(scenario_path, horizon=last)
    dims = _dims(spec, prepared, spec_path)
    anchors = [("as_written", _current(dims, prepared)), ("cheapest_corner", _corner(dims, False)),
               ("generous_corner", _corner(dims, True))]
    for origin, values in anchors:   # fail early, with the spec's name, on a mix the scenario rejects
        try:
            prepared._with(mix_settings(dims, values), {})
        except InputError as exc:
            raise InputError(spec_path, "levers", f"{origin} mix is invalid: {exc.problem} ({exc.field})",
                             value=exc.value, allowed=exc.allowed) from None
    return Checked(spec, spec_path, base, prepared, goals, dims, anchors)


def optimise(spec_path: str | Path, *, replicates: int | None = None, trials: int | None = None,
             jobs: int = 1, scheduler: str | None = None, progress: bool = False) -> OptimiseResult:
    """Run the optimiser of a spec file (``replicates``/``trials`` override the file's)."""
    c = check_spec(spec_path, replicates=replicates, trials=trials)
    spec, spec_path, base, prepared, goals, dims = c.spec, c.spec_path, c.base, c.prepared, c.goals, c.dims
    last = max(g.year for g in goals)
    evaluate = _ModelEvaluator(prepared, dims, goals, spec.replicates, jobs, scheduler, progress)
    table = search(dims, evaluate, goals, probability=spec.probability, budget=spec.budget, trials=spec.trials,
                   batch=spec.batch, seed=spec.seed, anchors=c.anchors)
    chosen, ok = choose(table, spec.probability, spec.budget)
    row = table.set_index("trial").loc[chosen]
    scenario = _chosen_scenario(base, mix_settings(dims, {d.name: row[d.name] for d in dims}), spec)
    options = {"replicates": spec.replicates, "trials": spec.trials, "batch": spec.batch, "seed": spec.seed,
               "scenario_seed": prepared.scenario.seed}
    return OptimiseResult(spec, spec_path, goals, dims, table, chosen, ok, scenario,
                          (base.region.base_year + 1, last), options)


def _chosen_scenario(base, mix: dict, spec: OptimiseSpec) -> dict:
    """The base scenario with the chosen mix applied, and the mix as written kept as a variant."""
    data = base.scenario.model_dump(mode="json", exclude_unset=True)
    policies = {k: v.model_dump(mode="json", exclude_unset=True) for k, v in base.scenario.policies.items()}
    as_written = {}
    for inst, setting in mix.items():
        original = policies.get(inst, {})
        policies[inst] = {**original, **setting, "params": {**original.get("params", {}), **setting.get("params", {})}}
        if not policies[inst]["params"]:
            del policies[inst]["params"]
    for inst in mix:
        spec_inst = next(i for i in base.instruments() if i.id == inst)
        as_written[inst] = {"scale": spec_inst.scale, "enabled": spec_inst.enabled,
                            "start_year": spec_inst.start_year, "end_year": spec_inst.end_year,
                            "params": {k: v for k, v in spec_inst.params.items() if not isinstance(v, str)}}
    data["name"] = spec.scenario_out.removesuffix(".yaml") if spec.scenario_out else f"{spec.name}_chosen"
    data["policies"] = policies
    data["variants"] = {"as_written": {"description": f"the levers of {spec.name} as in {spec.scenario}",
                                       "policies": as_written}}
    return data


def write(result: OptimiseResult, out: str | Path | None = None, lang: str = "zh", force: bool = False,
          echo=None) -> tuple[Path, Path]:
    """Write the output folder: trials, Pareto front, per-target table, chart, report, manifest and the
    chosen mix as a runnable scenario file (``chosen_scenario.yaml``, or the spec's ``scenario_out``).

    The scenario file stays in the output folder and names the base scenario's folder in
    ``scenario_dir`` (relative), so ``innosim run`` finds its region and catalogues; nothing is
    written beside the base scenario (``scenarios/`` holds only what the repository ships, which the
    tests check). Returns (folder, scenario file). An existing folder is replaced only with
    ``force``; otherwise ``<folder>-2`` (…) is written (:func:`simulator.experiments.outputs.output_folder`)."""
    from simulator.experiments.outputs import MANIFEST, file_sha256, git_commit, output_folder, replace_folder, versions
    from simulator.experiments.prepared import prepare
    from simulator.report.sensitivity_plots import pareto_chart

    spec = result.spec
    dest = output_folder(Path(out) if out is not None else Path("outputs") / spec.name, force, echo)
    scenario_dir = (result.spec_path.parent / spec.scenario).parent
    scen_name = spec.scenario_out or "chosen_scenario.yaml"
    scen_file = dest / scen_name
    try:   # relative, so a repository moved or cloned elsewhere keeps working
        library = os.path.relpath(scenario_dir.resolve(), dest.resolve())
    except ValueError:   # another drive (Windows)
        library = str(scenario_dir.resolve())
    scenario = {}
    for key, value in result.scenario.items():   # scenario_dir just after region, where a reader looks for it
        scenario[key] = value
        if key == "region":
            scenario["scenario_dir"] = Path(library).as_posix()
    r = result.chosen_row
    header = (f"# Written by `innosim optimise {result.spec_path}`: "
              + ("the cheapest mix found that meets" if spec.budget is None and result.satisfied
                 else "the best mix found for" if result.satisfied else "NOT reaching; the best mix found for")
              + f" {', '.join(g.key for g in result.goals)}.\n"
              f"# P(all required met) = {r['p_required']:.2f}, mean cumulative cost {r['cost_mean']:.0f} 万元 "
              f"({result.years[0]}-{result.years[1]}), {spec.replicates} replicates. Run: innosim run {scen_file}\n")
    text = header + yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        tmp.chmod(0o755)
        result.trials.to_csv(tmp / "trials.csv", index=False)
        result.pareto().to_csv(tmp / "pareto.csv", index=False)
        result.per_target().to_csv(tmp / "targets.csv", index=False)
        (tmp / "report.txt").write_text(result.report() + "\n", "utf-8")
        (tmp / scen_name).write_text(text, "utf-8")
        prepare(tmp / scen_name)   # the written scenario must be valid (tmp sits beside dest: same relative path)
        as_written = result.trials.loc[result.trials["origin"] == "as_written", "trial"]
        pareto_chart(result.trials, tmp / "pareto", required=spec.probability if spec.budget is None else None,
                     budget=spec.budget, chosen=result.chosen,
                     as_written=int(as_written.iloc[0]) if len(as_written) else None,
                     targets=", ".join(g.key for g in result.goals), replicates=spec.replicates,
                     years=result.years, lang=lang)
        meta = {"tool": "innosim", "analysis": "optimise", "analysis_kind": "optimiser",
                "command": f"innosim optimise {result.spec_path} --trials {spec.trials} --replicates "
                           f"{spec.replicates} --out {dest} --lang {lang}",
                "spec_file": str(result.spec_path),
                "spec_sha256": file_sha256(result.spec_path), "spec": spec.model_dump(mode="json"),
                "options": result.options, "chosen_trial": result.chosen, "satisfied": result.satisfied,
                "base_scenario": str(result.spec_path.parent / spec.scenario),
                "base_scenario_sha256": file_sha256(result.spec_path.parent / spec.scenario),
                "scenario_file": str(scen_file), "versions": versions(), "git_commit": git_commit(),
                "search": "optuna TPESampler(multivariate, constraints) seeded, asked in fixed batches; "
                          "anchors as_written, cheapest_corner, generous_corner"}
        (tmp / MANIFEST).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), "utf-8")
        replace_folder(dest, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest, scen_file

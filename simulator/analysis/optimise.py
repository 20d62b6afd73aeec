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

The pieces: :mod:`~simulator.analysis.optimise_spec` (the spec file),
:mod:`~simulator.analysis.optimise_search` (the model-free search and the choice), this module
(the model side: levers, goals, the evaluator, the result) and
:mod:`~simulator.analysis.optimise_report` (the files written).

Example:
    >>> from simulator.analysis.optimise import optimise
    >>> res = optimise("scenarios/optimise/qiqihar.yaml", trials=16, replicates=4)   # doctest: +SKIP
    >>> print(res.report())                                                          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.analysis.optimise_search import Dim, Evaluation, Goal, choose, mix_settings, search
from simulator.analysis.optimise_spec import OptimiseSpec, load_spec
from simulator.errors import InputError, closest
from simulator.experiments.ensemble import run_variants
from simulator.experiments.prepared import prepare
from simulator.inputs.validation import validate
from simulator.model.indicators import INDICATORS


# ------------------------------------------------------------------ the model side
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

"""The optimiser's search, free of the model: search space, goals, attainment, TPE with refinement, the choice.

:func:`search` asks any ``evaluate`` function for batches of mixes, so it is tested on a known
function as well as run on the model (:mod:`simulator.analysis.optimise`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


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

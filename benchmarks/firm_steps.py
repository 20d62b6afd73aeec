"""Benchmark: firm-steps per second of the full yearly step, and ensemble wall time.

Usage:
    python benchmarks/firm_steps.py                 # 5 000 and 50 000 firms
    python benchmarks/firm_steps.py --firms 20000 --repeats 5

A firm-step is one firm going through one year of every phase of
``RegionModel.step`` (growth, R&D, purchases, certification, registration,
knowledge, exit, entry; incubators, institutes and indicators included).
The region is Qiqihar's scaled by k = n_firms / 3000: the firm count and
the extensive baseline figures (GDP, revenue, technology contracts, HTE
and little-giant counts) are multiplied by k, so firms keep their sizes.
Single process, one core. Goal (issue 2): >= 2 M firm-steps/s at 50 000 firms.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from simulator.experiments.prepared import prepare
from simulator.inputs.region_file import load_region
from simulator.model.region_model import RegionModel
from simulator.policy.build import build_instruments

ROOT = Path(__file__).resolve().parents[1]


EXTENSIVE = ("gdp", "revenue", "tech_contract_value", "hte_count", "little_giants")


def model_with_firms(n_firms: int, seed: int) -> RegionModel:
    prepared = prepare(ROOT / "scenarios" / "qiqihar.yaml")
    region = load_region(prepared.region_path)
    k = n_firms / region.pop("n_firms")
    population = dict(region.population)
    population["n_firms"] = population["n_firms"].model_copy(update={"value": n_firms})
    zjtx = round(k * region.pop("zjtx_firms"))
    population["zjtx_firms"] = population["zjtx_firms"].model_copy(update={"value": zjtx})
    baseline = {name: fig.model_copy(update={"value": round(fig.value * k) if name in EXTENSIVE else fig.value})
                for name, fig in region.baseline.items()}
    region = region.model_copy(update={"population": population, "baseline": baseline})
    instruments = build_instruments(region, prepared.scenario, ROOT / "scenarios" / "policies", "bench")
    return RegionModel(region, prepared.params, instruments, seed=seed, horizon=2035)


def bench(n_firms: int, repeats: int) -> None:
    best_rate, setup = 0.0, 0.0
    for rep in range(repeats):
        t0 = time.perf_counter()
        model = model_with_firms(n_firms, seed=rep)
        t1 = time.perf_counter()
        firm_steps = 0
        while model.year < model.horizon:
            firm_steps += len(model.firms)
            model.step()
        t2 = time.perf_counter()
        best_rate = max(best_rate, firm_steps / (t2 - t1))
        setup = t1 - t0
    print(f"{n_firms:>7} firms: {best_rate / 1e6:6.2f} M firm-steps/s (best of {repeats}), "
          f"{(2035 - 2021) * n_firms / best_rate * 1e3:7.1f} ms per run 2021-2035, set-up {setup * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, nargs="*", default=[5_000, 50_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for n in args.firms:
        bench(n, args.repeats)


if __name__ == "__main__":
    main()

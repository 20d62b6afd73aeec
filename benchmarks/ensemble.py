"""Benchmark: wall time of a whole scenario run (ensemble + tables + charts), as a planner runs it.

Usage:
    python benchmarks/ensemble.py                                   # issue 4's case
    python benchmarks/ensemble.py --replicates 200 --jobs 2 --scenario scenarios/harbin.yaml

Issue 4's case is Qiqihar, 1 000 replicates of every variant (base, no_policy and the
scenario's two named variants), 2021-2035, ``--jobs 2``; its goal is <= 60 s.
Reports the ensemble's wall time, model-runs per second, firm-steps per second
(sum over runs and years of the firms stepped, from the ``firm_count`` indicator),
the time spent writing tables and charts, and peak memory of the parent and of the
largest worker process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import simulator.runner as runner

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "qiqihar.yaml"))
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=2035)
    args = parser.parse_args()

    timing: dict[str, float] = {}
    captured = {}
    ensemble = runner.run_ensemble

    def timed_ensemble(*a, **k):
        t = time.perf_counter()
        result = ensemble(*a, **k)
        timing["ensemble"] = time.perf_counter() - t
        captured["table"] = result.table
        return result

    runner.run_ensemble = timed_ensemble
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        runner.write_run(args.scenario, out=Path(tmp) / "run", replicates=args.replicates, horizon=args.horizon,
                         jobs=args.jobs)
        total = time.perf_counter() - t0
    table = captured["table"]
    runs = table.groupby(["variant", "replicate"]).ngroups
    firms = table[(table["indicator"] == "firm_count") & (table["year"] > table["year"].min())]["value"].sum()
    ens = timing["ensemble"]
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"scenario {Path(args.scenario).name}: {args.replicates} replicates x {runs // args.replicates} variants "
          f"to {args.horizon}, --jobs {args.jobs}, Python {sys.version.split()[0]}")
    print(f"  whole run        {total:7.1f} s wall")
    print(f"  ensemble         {ens:7.1f} s wall, {runs / ens:6.1f} model-runs/s, "
          f"{firms / ens / 1e6:5.2f} M firm-steps/s")
    print(f"  tables + charts  {total - ens:7.1f} s")
    print(f"  peak memory      {peak_self:5.2f} GB parent, {peak_child:5.2f} GB largest worker")


if __name__ == "__main__":
    main()

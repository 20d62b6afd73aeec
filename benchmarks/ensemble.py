"""Benchmark: wall time of a whole scenario run (ensemble + tables + charts), as a planner runs it.

Usage:
    python benchmarks/ensemble.py                                   # issue 4's case, every variant
    python benchmarks/ensemble.py --variants double_hte_award       # base, no_policy and one named variant
    python benchmarks/ensemble.py --replicates 200 --jobs 2 --scenario scenarios/harbin.yaml

Issue 4's case is Qiqihar, 1 000 replicates x 3 variants, 2021-2035, ``--jobs 2``; its goal
is <= 60 s. The scenario file names two variants besides ``base`` and the automatic
``no_policy``, so by default 4 are run; ``--variants NAME[,NAME]`` keeps only those named ones
(a copy of the scenario folder with the others removed, in a temporary folder).
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

import simulator.jobs as jobs

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "qiqihar.yaml"))
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=2035)
    parser.add_argument("--variants", help="comma-separated named variants to keep (default: all)")
    args = parser.parse_args()
    keep_dir = tempfile.TemporaryDirectory()
    if args.variants:
        args.scenario = str(_with_variants(Path(args.scenario), args.variants.split(","), Path(keep_dir.name)))

    timing: dict[str, float] = {}
    captured = {}
    ensemble = jobs.run_ensemble

    def timed_ensemble(*a, **k):
        t = time.perf_counter()
        result = ensemble(*a, **k)
        timing["ensemble"] = time.perf_counter() - t
        captured["table"] = result.table
        return result

    jobs.run_ensemble = timed_ensemble
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        jobs.write_run(args.scenario, out=Path(tmp) / "run", replicates=args.replicates, horizon=args.horizon,
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


def _with_variants(scenario: Path, names: list[str], tmp: Path) -> Path:
    """A copy of the scenario's folder where the scenario keeps only the named variants."""
    import shutil

    import yaml

    shutil.copytree(scenario.parent, tmp / "scenarios", ignore=shutil.ignore_patterns("optimise"))
    data = yaml.safe_load(scenario.read_text("utf-8"))
    unknown = [n for n in names if n not in data.get("variants", {})]
    if unknown:
        sys.exit(f"unknown variants {unknown}; the scenario names {list(data.get('variants', {}))}")
    data["variants"] = {n: v for n, v in data["variants"].items() if n in names}
    path = tmp / "scenarios" / scenario.name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


if __name__ == "__main__":
    main()

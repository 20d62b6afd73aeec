"""Command line: ``innosim run``, ``innosim policies``, ``innosim parameters``.

Bad input ends with one line naming the file, the field and what is allowed,
exit status 2, and nothing written (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import time

from .errors import InputError


def _cmd_run(args: argparse.Namespace) -> int:
    from .runner import write_run

    t0 = time.perf_counter()
    dest = write_run(args.scenario, out=args.out, seed=args.seed, replicates=args.replicates,
                     horizon=args.horizon, lang=args.lang, jobs=args.jobs, scheduler=args.scheduler,
                     progress=not args.quiet)
    if not args.quiet:
        print(f"wrote {dest} in {time.perf_counter() - t0:.1f} s")
        _print_targets(dest)
    return 0


def _print_targets(dest) -> None:
    """The run's targets.csv as a short table: probability of each target per variant."""
    import pandas as pd

    t = pd.read_csv(dest / "targets.csv")
    if t.empty:
        print("(the region file sets no target the model can evaluate)")
        return
    blocks = {v: g.reset_index(drop=True) for v, g in t.groupby("variant", sort=False)}  # same row order each
    print(f"{'indicator':<26}{'year':>6}{'target':>9}{'median':>10}" + "".join(f"{v[:16]:>18}" for v in blocks))
    for i, r in blocks["base"].iterrows():
        year = "" if pd.isna(r.target_year) else f"{int(r.target_year)}"
        target = "" if pd.isna(r.target_value) else f"{r.target_value:g}"
        median = "" if pd.isna(r["median"]) else f"{r['median']:.2f}"
        probs = "".join(f"{b.loc[i, 'probability_met']:>18.0%}" for b in blocks.values())
        print(f"{r.indicator:<26}{year:>6}{target:>9}{median:>10}{probs}")
    print("per variant: probability that the target is met in its year (median = base variant)")


def _cmd_rerun(args: argparse.Namespace) -> int:
    from .runner import rerun

    dest, differ = rerun(args.folder, out=args.out, jobs=args.jobs)
    if differ:
        print(f"wrote {dest}; these files DIFFER from the original: {', '.join(differ)}")
        return 1
    print(f"wrote {dest}; results identical to {args.folder} bit for bit")
    return 0


def _cmd_parameters(args: argparse.Namespace) -> int:
    from .parameters import parameter_specs

    for spec in parameter_specs().values():
        print(f"{spec.name:<34} {spec.value!s:<14} [{spec.kind}] {spec.unit}\n    source: {spec.source}")
    return 0


def _cmd_policies(args: argparse.Namespace) -> int:
    import pandas as pd

    from .catalogue import catalogue_table

    table = catalogue_table(args.scenarios, args.region)
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
        return 0
    for r in table.itertuples():
        years = f"{'…' if pd.isna(r.start_year) else r.start_year}–{'…' if pd.isna(r.end_year) else r.end_year}"
        print(f"{r.id}  [{r.regions or '-'}]  {r.document[:3]} {r.clause}  → {r.targets}  {years}\n"
              f"    {r.type}: {r.rule}\n    {r.status}")
    modelled = (table["status"] == "modelled").sum()
    print(f"{len(table)} instruments, {modelled} modelled")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="innosim", description="Regional innovation scenario simulator.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario file and write indicators, manifest and charts")
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/qiqihar.yaml")
    run.add_argument("--out", help="output folder (default outputs/<scenario name>)")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--replicates", type=int, help="override the number of replicates")
    run.add_argument("--horizon", type=int, help="override the last simulated year")
    run.add_argument("--lang", choices=("zh", "en"), default="zh", help="chart labels: Chinese (default) or English")
    run.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    run.add_argument("--scheduler", help="Dask distributed scheduler address, e.g. tcp://host:8786")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    run.set_defaults(func=_cmd_run)
    again = sub.add_parser("rerun", help="regenerate an output folder from its manifest and compare")
    again.add_argument("folder")
    again.add_argument("--out", help="where to write (default <folder>-rerun)")
    again.add_argument("--jobs", type=int, default=1)
    again.set_defaults(func=_cmd_rerun)
    pol = sub.add_parser("policies", help="list the policy catalogue: clause, amount rule, modelled or not")
    pol.add_argument("--region", help="only the catalogues a region uses (e.g. qiqihar_zone)")
    pol.add_argument("--format", choices=("table", "csv"), default="table")
    pol.add_argument("--scenarios", default="scenarios", help="scenarios folder (default ./scenarios)")
    pol.set_defaults(func=_cmd_policies)
    params = sub.add_parser("parameters", help="list every parameter with unit and source")
    params.set_defaults(func=_cmd_parameters)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"innosim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("innosim: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

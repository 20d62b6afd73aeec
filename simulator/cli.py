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
                     horizon=args.horizon, lang=args.lang, progress=not args.quiet)
    if not args.quiet:
        print(f"wrote {dest} in {time.perf_counter() - t0:.1f} s")
        _print_targets(dest)
    return 0


def _print_targets(dest) -> None:
    """The run's targets.csv as a short table."""
    import pandas as pd

    t = pd.read_csv(dest / "targets.csv")
    print(f"{'indicator':<26}{'year':>6}{'target':>9}{'median':>10}{'5-95 %':>19}{'met in':>9}")
    for r in t.itertuples():
        band = f"{r.p05:.2f}-{r.p95:.2f}"
        print(f"{r.indicator:<26}{r.target_year:>6}{r.target_value:>9g}{r.median:>10.2f}{band:>19}"
              f"{r.share_met:>8.0%}")
    print("'met in' = share of replicates at or above the target in its year")


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
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    run.set_defaults(func=_cmd_run)
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

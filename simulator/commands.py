"""The bodies of the ``innosim`` sub-commands: one ``cmd_<name>(args)`` each, returning the exit status.

:mod:`simulator.cli` parses the command line and calls them, turning bad input and faults of the
machine into one line and exit status 2. The analysis commands and the dashboard import their
modules when they run: SALib, optuna, scipy and matplotlib add about a second to every
``innosim`` start, and the dashboard's packages are an optional extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from simulator.errors import InputError
from simulator.experiments.outputs import PROJECT_ROOT
from simulator.experiments.prepared import prepare
from simulator.inputs.parameters import parameter_specs
from simulator.jobs import rerun, stderr_echo, write_run
from simulator.policy.catalogue import catalogue_table
from simulator.report.document import write_report

#: exit status of a run that finished but in which some replicates failed (see failures.csv)
EXIT_FAILED_REPLICATES = 3


def cmd_run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    outcome = write_run(args.scenario, out=args.out, seed=args.seed, replicates=args.replicates,
                        horizon=args.horizon, lang=args.lang, jobs=args.jobs, scheduler=args.scheduler,
                        progress=not args.quiet, force=args.force, resume=args.resume, report=not args.no_report)
    dest = outcome.folder
    if not args.quiet:
        print(f"wrote {dest} in {time.perf_counter() - t0:.1f} s")
        print_targets(dest)
        _print_unpaid(dest)
    if outcome.failures:
        print(f"innosim: {outcome.failures} of {outcome.runs} runs failed and are left out of the results; "
              f"each is listed with its variant, replicate, seed, year, error and parameters in "
              f"{dest / 'failures.csv'}", file=sys.stderr)
        return EXIT_FAILED_REPLICATES
    return 0


def print_targets(dest) -> None:
    """The run's targets.csv as a short table: probability of each target per variant.

    Variant names are printed in full (each column as wide as its name); every target row is
    followed by its source row of the document, so two targets on one indicator and year (e.g.
    004's HTE count 30 "确保" and 36 "力争" in 2023) can be told apart. The median column is the
    base variant's, and the header says so.
    """
    t = pd.read_csv(dest / "targets.csv")
    if t.empty:
        print("no targets evaluated: the region file sets no target the model can evaluate "
              "(its not_modelled rows say why); targets.csv has the header only")
        return
    blocks = {v: g.reset_index(drop=True) for v, g in t.groupby("variant", sort=False)}  # same row order each
    first = "base" if "base" in blocks else next(iter(blocks))
    widths = {v: max(len(v), 5) + 2 for v in blocks}
    label = max(26, *(len(str(x)) + 2 for x in blocks[first]["indicator"]))
    median_head = f"median ({first})"
    print(f"{'indicator':<{label}}{'year':>6}{'target':>9}{median_head:>{len(median_head) + 2}}"
          + "".join(f"{v:>{widths[v]}}" for v in blocks))
    for i, r in blocks[first].iterrows():
        year = "" if pd.isna(r.target_year) else f"{int(r.target_year)}"
        target = "" if pd.isna(r.target_value) else f"{r.target_value:g}"
        median = "" if pd.isna(r["median"]) else f"{r['median']:.2f}"
        probs = "".join(f"{b.loc[i, 'probability_met']:>{widths[v]}.0%}" for v, b in blocks.items())
        print(f"{r.indicator:<{label}}{year:>6}{target:>9}{median:>{len(median_head) + 2}}{probs}")
        if isinstance(r.source, str) and r.source and r.indicator != "all_targets":
            base_met = r.get("met_in_base_year")
            flag = ("  [met already in the base year, before any simulated year (by construction of the "
                    "base): not an achievement of the plan]"
                    if base_met is True or str(base_met) == "True" else "")
            print(f"    source: {r.source}{flag}")
    print(f"columns per variant: probability that the target is met in its year; median = the {first} "
          "variant's median in the target year")


def _print_unpaid(dest) -> None:
    """Which instruments of the base variant paid nothing, and why; the whole run's "nothing paid" first."""
    note = json.loads((dest / "manifest.json").read_text("utf-8")).get("payments", {})
    base = [r for r in note.get("not_paid", []) if r["variant"] == "base"]
    if note.get("nothing_paid"):
        print(f"{note['message']}:")
    elif base:
        print("paid nothing in the base variant:")
    for r in base:
        name = f"{r['instrument']} ({r['clause']})" if r["instrument"] else "(no instrument)"
        print(f"  {name}: {r['status']}: {r['reason']}")


def cmd_report(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    written = write_report(args.folder, lang=args.lang, pdf=args.pdf)
    print(f"wrote {', '.join(str(p) for p in written)} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    dest, differ = rerun(args.folder, out=args.out, jobs=args.jobs)
    if differ:
        print(f"wrote {dest}; these files DIFFER from the original: {', '.join(differ)}")
        return 1
    print(f"wrote {dest}; results identical to {args.folder} bit for bit")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from simulator.analysis import sensitivity as sa
    from simulator.analysis.sensitivity_factors import default_factors

    prepared = prepare(args.scenario, seed=args.seed)
    needed = sa.target_horizon(prepared)
    if args.horizon is not None and args.horizon < needed:
        raise InputError(args.scenario, "--horizon", "stops before the last target year, whose outcomes the "
                         "analysis measures", value=args.horizon, allowed=f">= {needed}")
    prepared = prepare(args.scenario, seed=args.seed, horizon=args.horizon or needed)
    names = [n.strip() for n in args.factors.split(",") if n.strip()] if args.factors else None
    factors = default_factors(prepared, args.bounds, names)
    t0 = time.perf_counter()
    result = sa.run(prepared, args.method, args.samples, args.replicates, factors, seed=args.design_seed,
                    jobs=args.jobs, scheduler=args.scheduler, progress=not args.quiet, bounds=args.bounds)
    dest = Path(args.out) if args.out else Path("outputs") / f"{prepared.scenario.name}_sensitivity_{args.method}"
    dest = sa.write(result, prepared, dest, lang=args.lang, top=args.top, force=args.force, echo=_echo(args))
    if not args.quiet:
        key = "mu_star" if args.method == "morris" else "ST"
        print(f"wrote {dest} in {time.perf_counter() - t0:.1f} s: {result.options['points']} points x "
              f"{args.replicates} replicates, {len(factors)} factors; top 5 by {key}:")
        for output in result.Y.columns:
            top = result.top(output, 5)
            if top.empty:
                note = result.indices.loc[result.indices["output"] == output, "note"].iloc[0]
                print(f"  {output}: {note}")
            else:
                print(f"  {output}: " + ", ".join(f"{r.factor} {getattr(r, key):.3g}" for r in top.itertuples()))
    return 0


def _echo(args: argparse.Namespace):
    """Notes to the user on stderr, unless --quiet."""
    return stderr_echo(not args.quiet)


def cmd_optimise(args: argparse.Namespace) -> int:
    from simulator.analysis.optimise import optimise
    from simulator.analysis.optimise_report import write

    t0 = time.perf_counter()
    result = optimise(args.spec, replicates=args.replicates, trials=args.trials, jobs=args.jobs,
                      scheduler=args.scheduler)
    dest, scenario = write(result, out=args.out, lang=args.lang, force=args.force, echo=_echo(args))
    if not args.quiet:
        print(result.report())
        print(f"wrote {dest} (trials, Pareto front, chart) and {scenario} in {time.perf_counter() - t0:.1f} s; "
              f"run it: innosim run {scenario}")
    return 0


def cmd_parameters(args: argparse.Namespace) -> int:
    for spec in parameter_specs().values():
        print(f"{spec.name:<34} {spec.value!s:<14} [{spec.kind}] {spec.unit}\n    source: {spec.source}")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """One block per scenario file: what it runs, for which region and document, to which years."""
    folder = Path(args.scenarios) if args.scenarios else (
        Path("scenarios") if Path("scenarios").is_dir() else PROJECT_ROOT / "scenarios")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise InputError(folder, "--scenarios", "no scenario files (*.yaml) in this folder",
                         allowed="a folder such as the repository's scenarios/")
    bad = 0
    for path in files:
        try:
            p = prepare(path)
        except InputError as exc:
            print(f"{path}: INVALID: {exc}")
            bad += 1
            continue
        region, scenario = p.region, p.scenario
        years = sorted({t.year for t in region.targets})
        span = (f"{region.base_year} → {', '.join(map(str, years))}" if years
                else f"{region.base_year} (no target modelled)")
        title = scenario.title.en if scenario.title else scenario.name
        variants = ", ".join(["base", "no_policy", *scenario.variants])
        paid = len(p.instruments())
        print(f"{path}  ({scenario.name}: {title})\n"
              f"    region {region.id} ({region.name.en}), document {region.document.split('_')[0]}, {span}, "
              f"horizon {scenario.horizon}\n    variants: {variants}; {paid} instrument{'s' if paid != 1 else ''} "
              f"the model pays, {scenario.replicates} replicates")
    print(f"{len(files)} scenario files" + (f", {bad} invalid" if bad else ""))
    return 2 if bad else 0


def cmd_policies(args: argparse.Namespace) -> int:
    table = catalogue_table(args.scenarios, args.region)
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
        return 0
    if args.region:   # the policy layers a run of the region applies, all at once
        layers = table.drop_duplicates("layer")
        print(f"policy stack of {args.region} (every layer applies; each instrument is paid by its payer):")
        for r in layers.itertuples():
            n = int((table["layer"] == r.layer).sum())
            paid = int(((table["layer"] == r.layer) & (table["status"] == "modelled")).sum())
            print(f"  layer {r.layer}: {r.document[:3]}, paid by {r.payer}; {n} instruments, {paid} modelled")
        print()
    for r in table.itertuples():
        years = f"{'…' if pd.isna(r.start_year) else r.start_year}–{'…' if pd.isna(r.end_year) else r.end_year}"
        print(f"{r.id}  [{r.regions or '-'}]  {r.document[:3]} {r.clause}  → {r.targets}  {years}\n"
              f"    {r.type}: {r.rule}\n    payer: {r.payer}\n    {r.status}")
    modelled = (table["status"] == "modelled").sum()
    print(f"{len(table)} instruments, {modelled} modelled")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from simulator.analysis.calibration import calibrate

    result = calibrate(args.spec, small=args.small, holdout=not args.no_holdout, out=args.out,
                       progress=args.verbose)
    fit = result.final
    print(f"calibrated {fit.problem.spec.name} in {result.seconds:.0f} s "
          f"({len(fit.history)} evaluations of the final fit; objective {fit.loss:.2f})")
    for name in fit.problem.names:
        lo, hi = fit.intervals[name]
        flag = "" if fit.identified[name] else "  NOT IDENTIFIED: prior kept"
        print(f"  {name:<34} {fit.values()[name]:<10.4g} 90 % [{lo:.4g}, {hi:.4g}]{flag}")
    if args.small:
        print("small budget: for tests only; such a file is never used as the default")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from simulator.analysis.backtest import backtest
    from simulator.analysis.backtest_report import write

    if args.replicates is not None and args.replicates < 2:
        raise InputError(args.spec, "--replicates", "bands need at least 2 runs", value=args.replicates,
                         allowed="2 to 10000")
    bt = backtest(args.spec, small=args.small, replicates=args.replicates, progress=args.verbose)
    command = " ".join(["innosim backtest", args.spec] + (["--small"] if args.small else [])
                       + ([f"--replicates {args.replicates}"] if args.replicates else [])
                       + ([f"--out {args.out}"] if args.out else []) + [f"--lang {args.lang}"])
    dest = write(bt, args.out, lang=args.lang, force=args.force, echo=_echo(args), command=command)
    if not args.quiet:
        print(f"wrote {dest} in {bt.seconds:.0f} s: fitted to {bt.fit_until}, {bt.replicates} replicates; "
              f"bands: {bt.band_includes}")
        print(f"{'series':<28}{'points':>7}{'model MAPE':>12}{'trend MAPE':>12}{'in 80 %':>9}{'raw MAPE':>11}")
        for r in bt.summary.itertuples():
            trend = "" if r.trend_mape != r.trend_mape else f"{r.trend_mape:.1f} %"
            print(f"{r.series:<28}{r.points:>7}{r.model_mape:>10.1f} %{trend:>12}{r.coverage_80:>9.0%}"
                  f"{r.raw_mape:>9.1f} %")
        print("MAPE = mean absolute % error of the median (model at the used values: prior where not identified; "
              "raw: every free parameter at its raw estimate) and of the log-linear trend")
        if args.small:
            print("small budget: for tests only")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from simulator.dashboard import serve
    except ImportError as exc:   # solara is in the [dashboard] (and [test]) extra, not a core dependency
        raise InputError("innosim dashboard", "", f"needs the dashboard packages ({exc.name} is missing)",
                         allowed='pip install -e ".[dashboard]"') from None
    print(f"innosim dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(host=args.host, port=args.port, scenarios=args.scenarios, lang=args.lang, jobs=args.jobs)
    return 0

"""Command line: ``innosim run``, ``rerun``, ``report``, ``sensitivity``, ``optimise``, ``policies``,
``parameters``, ``calibrate``, ``backtest``, ``dashboard``.

Bad input ends with one line naming the file, the field and what is allowed,
exit status 2, and nothing written (``--debug`` shows the traceback). So does a fault of the
machine (a folder that cannot be written, a full disk, an unreachable scheduler), naming the
path and what to do. SIGTERM stops a command as Ctrl-C does (status 143; 130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from simulator.errors import EnvironmentFaultError, InputError, os_fault
from simulator.jobs import RunFailedError

#: exit status of a run that finished but in which some replicates failed (see failures.csv)
EXIT_FAILED_REPLICATES = 3


def _cmd_run(args: argparse.Namespace) -> int:
    from simulator.jobs import write_run

    t0 = time.perf_counter()
    outcome = write_run(args.scenario, out=args.out, seed=args.seed, replicates=args.replicates,
                        horizon=args.horizon, lang=args.lang, jobs=args.jobs, scheduler=args.scheduler,
                        progress=not args.quiet, force=args.force, resume=args.resume, report=not args.no_report)
    dest = outcome.folder
    if not args.quiet:
        print(f"wrote {dest} in {time.perf_counter() - t0:.1f} s")
        _print_targets(dest)
        _print_unpaid(dest)
    if outcome.failures:
        print(f"innosim: {outcome.failures} of {outcome.runs} runs failed and are left out of the results; "
              f"each is listed with its variant, replicate, seed, year, error and parameters in "
              f"{dest / 'failures.csv'}", file=sys.stderr)
        return EXIT_FAILED_REPLICATES
    return 0


def _print_targets(dest) -> None:
    """The run's targets.csv as a short table: probability of each target per variant.

    Variant names are printed in full (each column as wide as its name); every target row is
    followed by its source row of the document, so two targets on one indicator and year (e.g.
    004's HTE count 30 "确保" and 36 "力争" in 2023) can be told apart. The median column is the
    base variant's, and the header says so.
    """
    import pandas as pd

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
    import json

    note = json.loads((dest / "manifest.json").read_text("utf-8")).get("payments", {})
    base = [r for r in note.get("not_paid", []) if r["variant"] == "base"]
    if note.get("nothing_paid"):
        print(f"{note['message']}:")
    elif base:
        print("paid nothing in the base variant:")
    for r in base:
        name = f"{r['instrument']} ({r['clause']})" if r["instrument"] else "(no instrument)"
        print(f"  {name}: {r['status']}: {r['reason']}")


def _cmd_report(args: argparse.Namespace) -> int:
    from simulator.report.document import write_report

    t0 = time.perf_counter()
    written = write_report(args.folder, lang=args.lang, pdf=args.pdf)
    print(f"wrote {', '.join(str(p) for p in written)} in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_rerun(args: argparse.Namespace) -> int:
    from simulator.jobs import rerun

    dest, differ = rerun(args.folder, out=args.out, jobs=args.jobs)
    if differ:
        print(f"wrote {dest}; these files DIFFER from the original: {', '.join(differ)}")
        return 1
    print(f"wrote {dest}; results identical to {args.folder} bit for bit")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simulator.analysis import sensitivity as sa
    from simulator.experiments.prepared import prepare

    prepared = prepare(args.scenario, seed=args.seed)
    needed = sa.target_horizon(prepared)
    if args.horizon is not None and args.horizon < needed:
        raise InputError(args.scenario, "--horizon", "stops before the last target year, whose outcomes the "
                         "analysis measures", value=args.horizon, allowed=f">= {needed}")
    prepared = prepare(args.scenario, seed=args.seed, horizon=args.horizon or needed)
    names = [n.strip() for n in args.factors.split(",") if n.strip()] if args.factors else None
    factors = sa.default_factors(prepared, args.bounds, names)
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
    from simulator.jobs import stderr_echo

    return stderr_echo(not args.quiet)


def _cmd_optimise(args: argparse.Namespace) -> int:
    from simulator.analysis.optimise import optimise, write

    t0 = time.perf_counter()
    result = optimise(args.spec, replicates=args.replicates, trials=args.trials, jobs=args.jobs,
                      scheduler=args.scheduler)
    dest, scenario = write(result, out=args.out, lang=args.lang, force=args.force, echo=_echo(args))
    if not args.quiet:
        print(result.report())
        print(f"wrote {dest} (trials, Pareto front, chart) and {scenario} in {time.perf_counter() - t0:.1f} s; "
              f"run it: innosim run {scenario}")
    return 0


def _cmd_parameters(args: argparse.Namespace) -> int:
    from simulator.inputs.parameters import parameter_specs

    for spec in parameter_specs().values():
        print(f"{spec.name:<34} {spec.value!s:<14} [{spec.kind}] {spec.unit}\n    source: {spec.source}")
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    """One block per scenario file: what it runs, for which region and document, to which years."""
    from pathlib import Path

    from simulator.experiments.outputs import PROJECT_ROOT
    from simulator.experiments.prepared import prepare

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


def _cmd_policies(args: argparse.Namespace) -> int:
    import pandas as pd

    from simulator.policy.catalogue import catalogue_table

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


def _cmd_calibrate(args: argparse.Namespace) -> int:
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


def _cmd_backtest(args: argparse.Namespace) -> int:
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


def _cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from simulator.dashboard import serve
    except ImportError as exc:   # solara is in the [dashboard] (and [test]) extra, not a core dependency
        raise InputError("innosim dashboard", "", f"needs the dashboard packages ({exc.name} is missing)",
                         allowed='pip install -e ".[dashboard]"') from None
    print(f"innosim dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(host=args.host, port=args.port, scenarios=args.scenarios, lang=args.lang, jobs=args.jobs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from simulator import __version__

    parser = argparse.ArgumentParser(prog="innosim", description="Regional innovation scenario simulator.")
    parser.add_argument("--version", action="version", version=f"innosim {__version__}",
                        help="print the version and exit")
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
    run.add_argument("--force", action="store_true",
                     help="replace the output folder if it exists (default: write <folder>-2, -3, ...) and "
                          "discard any interrupted run of it")
    run.add_argument("--resume", action="store_true",
                     help="continue an interrupted run of the same scenario and options from the replicates "
                          "it saved (the result is the same as an uninterrupted run)")
    run.add_argument("--no-report", action="store_true", help="do not write report.html (see innosim report)")
    run.set_defaults(func=_cmd_run)
    rep = sub.add_parser("report", help="write report.html (and report.pdf) of a finished run folder: targets, "
                                        "additionality, cost, charts, assumptions, provenance in one file")
    rep.add_argument("folder", help="output folder of innosim run, e.g. outputs/qiqihar")
    rep.add_argument("--lang", choices=("zh", "en"), default="zh", help="Chinese (default) or English")
    rep.add_argument("--pdf", action="store_true", help='also write report.pdf (needs pip install -e ".[pdf]")')
    rep.set_defaults(func=_cmd_report)
    again = sub.add_parser("rerun", help="regenerate an output folder from its manifest and compare")
    again.add_argument("folder", help="an output folder of innosim run (holding its manifest.json)")
    again.add_argument("--out", help="where to write (default <folder>-rerun)")
    again.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    again.set_defaults(func=_cmd_rerun)
    pol = sub.add_parser("policies", help="list the policy catalogue: clause, amount rule, modelled or not")
    pol.add_argument("--region", help="only the catalogues a region uses (e.g. qiqihar_zone)")
    pol.add_argument("--format", choices=("table", "csv"), default="table",
                     help="a readable table (default) or CSV on stdout")
    pol.add_argument("--scenarios", default="scenarios", help="scenarios folder (default ./scenarios)")
    pol.set_defaults(func=_cmd_policies)
    sens = sub.add_parser("sensitivity", help="global sensitivity (Morris or Sobol) of the target outcomes "
                                              "to behavioural parameters and policy levers")
    sens.add_argument("scenario", help="scenario YAML file, e.g. scenarios/qiqihar.yaml")
    sens.add_argument("--method", choices=("morris", "sobol"), default="morris",
                      help="morris: screening of many factors (default); sobol: variance shares of a few")
    sens.add_argument("--samples", type=int, help="Morris trajectories (default 10) or Sobol base points "
                                                   "(a power of 2, default 64)")
    sens.add_argument("--replicates", type=int, default=2, help="runs per sample point (default 2, common "
                                                                 "random numbers across points)")
    sens.add_argument("--factors", help="comma-separated parameters and policy:<instrument> levers "
                                        "(default: every uncertain scalar parameter and every active instrument)")
    sens.add_argument("--bounds", default="calibrated",
                      help="parameter ranges: calibrated (default: the 90%% intervals of calibration/calibrated.yaml, "
                           "prior ±50%% for parameters it does not list), prior (value ±50%%), full "
                           "(parameters.yaml bounds) or a YAML file of [low, high]")
    sens.add_argument("--horizon", type=int, help="last simulated year (default: the region's last target year)")
    sens.add_argument("--seed", type=int, help="override the scenario's seed (replicate streams)")
    sens.add_argument("--design-seed", type=int, default=0, help="seed of the SALib design (default 0)")
    sens.add_argument("--top", type=int, default=15, help="factors per chart (default 15)")
    sens.add_argument("--out", help="output folder (default outputs/<scenario>_sensitivity_<method>)")
    sens.add_argument("--lang", choices=("zh", "en"), default="zh", help="chart labels (default zh)")
    sens.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    sens.add_argument("--scheduler", help="Dask distributed scheduler address")
    sens.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sens.add_argument("--force", action="store_true", help="replace the output folder if it exists "
                                                           "(default: write <folder>-2, -3, ...)")
    sens.set_defaults(func=_cmd_sensitivity)
    opt = sub.add_parser("optimise", help="cheapest policy mix meeting the targets with a given probability, "
                                          "or the best within a budget, from an optimiser spec file")
    opt.add_argument("spec", help="optimiser spec YAML, e.g. scenarios/optimise/qiqihar.yaml")
    opt.add_argument("--trials", type=int, help="override the number of mixes tried")
    opt.add_argument("--replicates", type=int, help="override the replicates per mix")
    opt.add_argument("--out", help="output folder (default outputs/<spec name>)")
    opt.add_argument("--lang", choices=("zh", "en"), default="zh", help="chart labels (default zh)")
    opt.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    opt.add_argument("--scheduler", help="Dask distributed scheduler address")
    opt.add_argument("--quiet", action="store_true", help="print nothing but errors")
    opt.add_argument("--force", action="store_true", help="replace the output folder if it exists "
                                                          "(default: write <folder>-2, -3, ...)")
    opt.set_defaults(func=_cmd_optimise)
    dash = sub.add_parser("dashboard", help="browser app: move a scenario's levers, run a small ensemble, "
                                            "compare with the plan as written, download the mix")
    dash.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    dash.add_argument("--scenarios", default="scenarios", help="folder of scenario files (default ./scenarios)")
    dash.add_argument("--lang", choices=("zh", "en"), default="zh", help="chart labels")
    dash.add_argument("--jobs", type=int, default=1, help="local worker processes per run (default 1)")
    dash.set_defaults(func=_cmd_dashboard)
    params = sub.add_parser("parameters", help="list every parameter with unit and source")
    params.set_defaults(func=_cmd_parameters)
    scen = sub.add_parser("scenarios", help="list the scenario files: region, document, years, variants, "
                                            "instruments the model pays")
    scen.add_argument("--scenarios", default=None,
                      help="scenarios folder (default ./scenarios, else the repository's scenarios/)")
    scen.set_defaults(func=_cmd_scenarios)
    cal = sub.add_parser("calibrate", help="fit behavioural parameters to historical statistics")
    cal.add_argument("spec", help="calibration spec, e.g. calibration/heilongjiang.yaml")
    cal.add_argument("--out", help="folder for calibrated.yaml and diagnostics (default: the spec's folder)")
    cal.add_argument("--small", action="store_true", help="tiny budget for tests (result not used by default)")
    cal.add_argument("--no-holdout", action="store_true", help="skip the out-of-sample fit")
    cal.add_argument("--verbose", action="store_true", help="print every evaluation")
    cal.set_defaults(func=_cmd_calibrate)
    bt = sub.add_parser("backtest", help="fit a calibration spec on the years before its holdout_from, project "
                                         "the held-out years and compare with the data and a log-linear trend")
    bt.add_argument("spec", help="calibration spec, e.g. calibration/heilongjiang.yaml")
    bt.add_argument("--out", help="output folder (default outputs/<spec name>_backtest)")
    bt.add_argument("--small", action="store_true", help="the calibration's tiny budget (tests; numbers mean nothing)")
    bt.add_argument("--replicates", type=int, help="runs behind the bands (default: the spec's fit_replicates)")
    bt.add_argument("--lang", choices=("zh", "en"), default="zh", help="chart labels (default zh)")
    bt.add_argument("--force", action="store_true", help="replace the output folder if it exists "
                                                         "(default: write <folder>-2, -3, ...)")
    bt.add_argument("--verbose", action="store_true", help="print every evaluation of the fit")
    bt.add_argument("--quiet", action="store_true", help="print nothing but errors")
    bt.set_defaults(func=_cmd_backtest)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM received: handled like Ctrl-C (workers stopped, finished replicates kept), exit status 143."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (kill, a batch system's time limit) stops the run as Ctrl-C does: local workers are
    # terminated, a Dask client closes, saved replicates stay for --resume. Without this handler
    # Python dies at once and the workers run on as orphans.
    main_thread = threading.current_thread() is threading.main_thread()   # (signals: main thread only)
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        if getattr(args, "jobs", None) is not None:
            from simulator.experiments.backends import usable_jobs
            from simulator.jobs import stderr_echo

            args.jobs = usable_jobs(args.jobs, stderr_echo(not getattr(args, "quiet", False)))
        if getattr(args, "scheduler", None):   # before any work (sensitivity, optimise; run checks it too)
            from simulator.experiments.backends import check_scheduler

            check_scheduler(args.scheduler)
        return args.func(args)
    except (InputError, EnvironmentFaultError) as exc:
        if args.debug:
            raise
        print(f"innosim: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a fault of the machine not met where it is handled: still one line
        if args.debug:
            raise
        print(f"innosim: error: {os_fault(exc)}", file=sys.stderr)
        return 2
    except BrokenProcessPool:   # a worker killed from outside (the OOM killer, kill -9 of a worker)
        if args.debug:
            raise
        saved = (" Replicates that finished are saved: the same command with --resume continues from them."
                 if args.command == "run" else "")
        print("innosim: error: a worker process died unexpectedly (killed by the system, e.g. out of memory); "
              f"no result folder was written.{saved}", file=sys.stderr)
        return 2
    except RunFailedError as exc:
        if args.debug:
            raise
        print(f"innosim: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        if args.command == "run":
            print(f"innosim: {what}; no result folder was written. Replicates that finished are saved: "
                  "the same command with --resume continues from them", file=sys.stderr)
        else:
            print(f"innosim: {what}; nothing was written", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

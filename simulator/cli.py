"""Command line of ``innosim``: the argument parser and :func:`main` (exit statuses, SIGTERM, one-line errors).

Sub-commands ``run``, ``rerun``, ``report``, ``sensitivity``, ``optimise``, ``policies``,
``parameters``, ``scenarios``, ``calibrate``, ``backtest``, ``dashboard``.

Bad input ends with one line naming the file, the field and what is allowed,
exit status 2, and nothing written (``--debug`` shows the traceback). So does a fault of the
machine (a folder that cannot be written, a full disk, an unreachable scheduler), naming the
path and what to do. SIGTERM stops a command as Ctrl-C does (status 143; 130 for Ctrl-C).
Each command's body is in :mod:`simulator.commands`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from concurrent.futures.process import BrokenProcessPool

from simulator import __version__, commands
from simulator.errors import EnvironmentFaultError, InputError, os_fault
from simulator.experiments.backends import check_scheduler, usable_jobs
from simulator.jobs import RunFailedError, stderr_echo


def build_parser() -> argparse.ArgumentParser:
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
    run.set_defaults(func=commands.cmd_run)
    rep = sub.add_parser("report", help="write report.html (and report.pdf) of a finished run folder: targets, "
                                        "additionality, cost, charts, assumptions, provenance in one file")
    rep.add_argument("folder", help="output folder of innosim run, e.g. outputs/qiqihar")
    rep.add_argument("--lang", choices=("zh", "en"), default="zh", help="Chinese (default) or English")
    rep.add_argument("--pdf", action="store_true", help='also write report.pdf (needs pip install -e ".[pdf]")')
    rep.set_defaults(func=commands.cmd_report)
    again = sub.add_parser("rerun", help="regenerate an output folder from its manifest and compare")
    again.add_argument("folder", help="an output folder of innosim run (holding its manifest.json)")
    again.add_argument("--out", help="where to write (default <folder>-rerun)")
    again.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    again.set_defaults(func=commands.cmd_rerun)
    pol = sub.add_parser("policies", help="list the policy catalogue: clause, amount rule, modelled or not")
    pol.add_argument("--region", help="only the catalogues a region uses (e.g. qiqihar_zone)")
    pol.add_argument("--format", choices=("table", "csv"), default="table",
                     help="a readable table (default) or CSV on stdout")
    pol.add_argument("--scenarios", default="scenarios", help="scenarios folder (default ./scenarios)")
    pol.set_defaults(func=commands.cmd_policies)
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
    sens.set_defaults(func=commands.cmd_sensitivity)
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
    opt.set_defaults(func=commands.cmd_optimise)
    dash = sub.add_parser("dashboard", help="browser app: move a scenario's levers, run a small ensemble, "
                                            "compare with the plan as written, download the mix")
    dash.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    dash.add_argument("--scenarios", default="scenarios", help="folder of scenario files (default ./scenarios)")
    dash.add_argument("--lang", choices=("zh", "en"), default="zh", help="chart labels")
    dash.add_argument("--jobs", type=int, default=1, help="local worker processes per run (default 1)")
    dash.set_defaults(func=commands.cmd_dashboard)
    params = sub.add_parser("parameters", help="list every parameter with unit and source")
    params.set_defaults(func=commands.cmd_parameters)
    scen = sub.add_parser("scenarios", help="list the scenario files: region, document, years, variants, "
                                            "instruments the model pays")
    scen.add_argument("--scenarios", default=None,
                      help="scenarios folder (default ./scenarios, else the repository's scenarios/)")
    scen.set_defaults(func=commands.cmd_scenarios)
    cal = sub.add_parser("calibrate", help="fit behavioural parameters to historical statistics")
    cal.add_argument("spec", help="calibration spec, e.g. calibration/heilongjiang.yaml")
    cal.add_argument("--out", help="folder for calibrated.yaml and diagnostics (default: the spec's folder)")
    cal.add_argument("--small", action="store_true", help="tiny budget for tests (result not used by default)")
    cal.add_argument("--no-holdout", action="store_true", help="skip the out-of-sample fit")
    cal.add_argument("--verbose", action="store_true", help="print every evaluation")
    cal.set_defaults(func=commands.cmd_calibrate)
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
    bt.set_defaults(func=commands.cmd_backtest)
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
            args.jobs = usable_jobs(args.jobs, stderr_echo(not getattr(args, "quiet", False)))
        if getattr(args, "scheduler", None):   # before any work (sensitivity, optimise; run checks it too)
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

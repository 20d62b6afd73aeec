"""Files ``innosim optimise`` writes: trials, Pareto front, targets, chart, report, manifest, chosen scenario.

The chosen mix is written as a runnable scenario file (``chosen_scenario.yaml`` or the spec's
``scenario_out``) beside the tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from simulator.analysis.optimise import OptimiseResult
from simulator.experiments.outputs import MANIFEST, file_sha256, git_commit, output_folder, staged_folder, versions
from simulator.experiments.prepared import prepare
from simulator.report.sensitivity_plots import pareto_chart


def write(result: OptimiseResult, out: str | Path | None = None, lang: str = "zh", force: bool = False,
          echo=None) -> tuple[Path, Path]:
    """Write the output folder: trials, Pareto front, per-target table, chart, report, manifest and the
    chosen mix as a runnable scenario file (``chosen_scenario.yaml``, or the spec's ``scenario_out``).

    The scenario file stays in the output folder and names the base scenario's folder in
    ``scenario_dir`` (relative), so ``innosim run`` finds its region and catalogues; nothing is
    written beside the base scenario (``scenarios/`` holds only what the repository ships, which the
    tests check). Returns (folder, scenario file). An existing folder is replaced only with
    ``force``; otherwise ``<folder>-2`` (…) is written (:func:`simulator.experiments.outputs.output_folder`)."""
    spec = result.spec
    dest = output_folder(Path(out) if out is not None else Path("outputs") / spec.name, force, echo)
    scenario_dir = (result.spec_path.parent / spec.scenario).parent
    scen_name = spec.scenario_out or "chosen_scenario.yaml"
    scen_file = dest / scen_name
    try:   # relative, so a repository moved or cloned elsewhere keeps working
        library = os.path.relpath(scenario_dir.resolve(), dest.resolve())
    except ValueError:   # another drive (Windows)
        library = str(scenario_dir.resolve())
    scenario = {}
    for key, value in result.scenario.items():   # scenario_dir just after region, where a reader looks for it
        scenario[key] = value
        if key == "region":
            scenario["scenario_dir"] = Path(library).as_posix()
    r = result.chosen_row
    header = (f"# Written by `innosim optimise {result.spec_path}`: "
              + ("the cheapest mix found that meets" if spec.budget is None and result.satisfied
                 else "the best mix found for" if result.satisfied else "NOT reaching; the best mix found for")
              + f" {', '.join(g.key for g in result.goals)}.\n"
              f"# P(all required met) = {r['p_required']:.2f}, mean cumulative cost {r['cost_mean']:.0f} 万元 "
              f"({result.years[0]}-{result.years[1]}), {spec.replicates} replicates. Run: innosim run {scen_file}\n")
    text = header + yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False)
    with staged_folder(dest) as tmp:
        result.trials.to_csv(tmp / "trials.csv", index=False)
        result.pareto().to_csv(tmp / "pareto.csv", index=False)
        result.per_target().to_csv(tmp / "targets.csv", index=False)
        (tmp / "report.txt").write_text(result.report() + "\n", "utf-8")
        (tmp / scen_name).write_text(text, "utf-8")
        prepare(tmp / scen_name)   # the written scenario must be valid (tmp sits beside dest: same relative path)
        as_written = result.trials.loc[result.trials["origin"] == "as_written", "trial"]
        pareto_chart(result.trials, tmp / "pareto", required=spec.probability if spec.budget is None else None,
                     budget=spec.budget, chosen=result.chosen,
                     as_written=int(as_written.iloc[0]) if len(as_written) else None,
                     targets=", ".join(g.key for g in result.goals), replicates=spec.replicates,
                     years=result.years, lang=lang)
        meta = {"tool": "innosim", "analysis": "optimise", "analysis_kind": "optimiser",
                "command": f"innosim optimise {result.spec_path} --trials {spec.trials} --replicates "
                           f"{spec.replicates} --out {dest} --lang {lang}",
                "spec_file": str(result.spec_path),
                "spec_sha256": file_sha256(result.spec_path), "spec": spec.model_dump(mode="json"),
                "options": result.options, "chosen_trial": result.chosen, "satisfied": result.satisfied,
                "base_scenario": str(result.spec_path.parent / spec.scenario),
                "base_scenario_sha256": file_sha256(result.spec_path.parent / spec.scenario),
                "scenario_file": str(scen_file), "versions": versions(), "git_commit": git_commit(),
                "search": "optuna TPESampler(multivariate, constraints) seeded, asked in fixed batches; "
                          "anchors as_written, cheapest_corner, generous_corner"}
        (tmp / MANIFEST).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), "utf-8")
    return dest, scen_file

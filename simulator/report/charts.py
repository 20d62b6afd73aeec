"""Every chart of a report as tasks for any process, drawn together or as the PNGs of ``innosim run``.

Every chart is drawn from pandas DataFrames written by the runner (never from live models):

* :func:`simulator.report.projection_charts.fan_chart` - one variant's projection of one indicator: the
  replicates' median, 50 % and 90 % bands, the baseline point, the target marker(s) with value and year,
  units, and a note citing the document and clause;
* :func:`simulator.report.projection_charts.variants_chart` - the medians (and light 50 % bands) of every
  variant of a scenario on one chart, with the target;
* :func:`simulator.report.target_charts.probability_chart` - the probability of meeting each target (and
  all of them jointly) by variant; :func:`simulator.report.target_charts.distance_chart` - how far from it;
* :func:`simulator.report.cost_chart.cost_chart` - subsidy cost per additional unit of outcome against the
  ``no_policy`` counterfactual;
* :func:`report_charts` - all of them for a report; :func:`plot_targets` - the
  PNG per targeted indicator that ``innosim run`` writes.

Chinese (``lang="zh"``) and English (``lang="en"``) labels; both use the bundled
Noto Sans CJK SC as a fallback so units and clauses quoted in Chinese never render
as boxes. Charts are saved as PNG (300 dpi) and SVG (text as paths) with the same stem.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import pandas as pd

from simulator.inputs.region_file import Region
from simulator.inputs.series import slug
from simulator.report.cost_chart import cost_chart
from simulator.report.projection_charts import fan_chart, variants_chart
from simulator.report.target_charts import distance_chart, probability_chart
from simulator.report.variants import VariantNames

ChartTask = tuple[Callable[..., list[Path]], tuple]


def indicator_chart_tasks(table: pd.DataFrame, region: Region, out_dir: str | Path, lang: str = "zh",
                          names: VariantNames | None = None) -> list[ChartTask]:
    """Per indicator with a target in the region file and values in ``table``: ``fan_<indicator>``
    (the ``base`` variant) and ``variants_<indicator>``, as ``(function, args)`` pairs that can be
    drawn in any order or process; each carries only its indicator's rows. ``names``: variant names
    (:func:`simulator.report.variants.variant_labels` of the scenario)."""
    out = Path(out_dir)
    names = {k: dict(v) for k, v in (names or {}).items()}      # plain dicts: pickled to the workers
    # split once: filtering a million-row table per chart costs more than drawing it
    by_indicator = {name: rows for name, rows in table.groupby("indicator", sort=False, observed=True)}
    tasks: list[ChartTask] = []
    for name in dict.fromkeys(t.key for t in region.targets):   # t.key: the series of any kind
        if name in by_indicator:
            rows = by_indicator[name]
            tasks.append((fan_chart, (rows, region, name, out / f"fan_{slug(name)}", lang, "base", ("png", "svg"),
                                      names)))
            tasks.append((variants_chart, (rows, region, name, out / f"variants_{slug(name)}", lang, names)))
    return tasks


def summary_chart_tasks(targets: pd.DataFrame, additionality: pd.DataFrame, region: Region, out_dir: str | Path,
                        lang: str = "zh", names: VariantNames | None = None) -> list[ChartTask]:
    """``probability``, ``distance`` and ``cost``, from the result tables, as ``(function, args)`` pairs."""
    out = Path(out_dir)
    names = {k: dict(v) for k, v in (names or {}).items()}
    return [(probability_chart, (targets, region, out / "probability", lang, names)),
            (distance_chart, (targets, region, out / "distance", lang, names)),
            (cost_chart, (additionality, out / "cost", lang, names))]


def chart_tasks(table: pd.DataFrame, targets: pd.DataFrame, additionality: pd.DataFrame, region: Region,
                out_dir: str | Path, lang: str = "zh", names: VariantNames | None = None) -> list[ChartTask]:
    """Every chart of a report (:func:`indicator_chart_tasks` then :func:`summary_chart_tasks`)."""
    return (indicator_chart_tasks(table, region, out_dir, lang, names)
            + summary_chart_tasks(targets, additionality, region, out_dir, lang, names))


def report_charts(table: pd.DataFrame, targets: pd.DataFrame, additionality: pd.DataFrame, region: Region,
                  out_dir: str | Path, lang: str = "zh", pool: Executor | None = None,
                  names: VariantNames | None = None) -> list[Path]:
    """Every chart of a report (:func:`chart_tasks`), as PNG and SVG in ``out_dir``; return the files written.

    That is ``2 * (2 * indicators + 3)`` files. With ``pool`` (e.g.
    :func:`simulator.experiments.backends.local_pool`) the charts are drawn by its workers; the files are
    the same bytes either way.
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tasks = chart_tasks(table, targets, additionality, region, out_dir, lang, names)
    if pool is None:
        return [file for func, args in tasks for file in func(*args)]
    return [file for future in [pool.submit(func, *args) for func, args in tasks] for file in future.result()]


def plot_indicator(table: pd.DataFrame, region: Region, indicator: str, path: Path, lang: str = "zh") -> Path:
    """Draw one indicator's projection (the ``base`` variant) against its targets; save PNG (300 dpi), return it."""
    return fan_chart(table, region, indicator, path, lang, formats=("png",))[0]


def plot_targets(table: pd.DataFrame, region: Region, out_dir: Path, lang: str = "zh") -> list[Path]:
    """One PNG per indicator that has a target in the region file."""
    targeted = dict.fromkeys(t.key for t in region.targets)
    return [plot_indicator(table, region, name, Path(out_dir) / f"{slug(name)}.png", lang) for name in targeted]

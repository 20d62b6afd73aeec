"""``innosim dashboard``: a browser app to move a scenario's levers and see what the mix reaches.

Built on `Solara <https://solara.dev>`_, Mesa 3's own visualisation stack: pure Python
components, a server that runs on 127.0.0.1 and serves every script and font from installed
packages (``solara-assets``; nothing is fetched at run time). A planner picks a scenario file
(a region), changes each modelled instrument's scale, annual budget and years, the replicates
and the seed, runs a small ensemble (progress bar) and reads the target probabilities, cost and
fan charts of the mix against the plan as written; the mix downloads as a scenario file that
``innosim run`` accepts. Every number comes from :mod:`simulator.analysis.mix` (the CLI's pipeline).

Start it with ``innosim dashboard [--port 8765] [--host 127.0.0.1] [--scenarios scenarios]``.
"""

from __future__ import annotations

import html
import os
import shutil
import signal
import tempfile
import uuid
from pathlib import Path

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")   # before solara reads its settings

import matplotlib  # noqa: E402

matplotlib.use("Agg")   # charts are drawn in worker threads, never on screen

import pandas as pd  # noqa: E402
import solara  # noqa: E402
import solara.lab  # noqa: E402

from simulator.analysis import mix
from simulator.errors import InputError  # noqa: E402
from simulator.experiments.prepared import Prepared, prepare  # noqa: E402
from simulator.inputs.series import label as series_label  # noqa: E402
from simulator.model.indicators import INDICATORS  # noqa: E402
from simulator.report.cost_chart import cost_chart  # noqa: E402
from simulator.report.projection_charts import fan_chart, variants_chart  # noqa: E402
from simulator.report.style import BUNDLED_FONT  # noqa: E402
from simulator.report.target_charts import distance_chart, probability_chart  # noqa: E402
from simulator.report.variants import variant_labels  # noqa: E402

#: set by ``innosim dashboard`` before the server starts
SETTINGS = {"scenarios": Path("scenarios"), "lang": "zh", "jobs": 1}
#: labels of the variants of a dashboard run
VARIANTS = {"base": "仪表盘组合 dashboard mix", mix.AS_WRITTEN: "规划方案 as written", "no_policy": "无政策 no policy"}
FIELD_LABELS = {"scale": "倍数 scale", "budget": "预算 万元/年 budget", "start_year": "起始年 start",
                "end_year": "终止年 end"}

#: the page's own rules; Chinese text in the font the charts use (bundled with mplfonts, served locally)
STYLE = f"""
@font-face {{font-family: "Noto Sans CJK SC"; src: url("/static/assets/{BUNDLED_FONT[1]}");}}
.v-application, .v-application .text-h5, .v-application .text-h6, .v-application .title, .v-application .body-1,
.v-application .body-2, .v-application .subtitle-1, .v-application .subtitle-2, .v-btn {{
    font-family: Roboto, "Noto Sans CJK SC", sans-serif !important; }}
.innosim-table td, .innosim-table th {{padding: 2px 8px; text-align: right}}
.innosim-table td:first-child, .innosim-table td:nth-child(2) {{text-align: left}}
.chart {{margin: 4px}}
"""

scenario_name = solara.reactive("")
form = solara.reactive({})
outcome = solara.reactive(None)       # (MixResult, prepared mix, chart folder) of the last run
form_error = solara.reactive("")


def _workdir() -> Path:
    """A folder for this browser session's mix file and charts (removed when the server stops)."""
    root = Path(tempfile.gettempdir()) / f"innosim-dashboard-{os.getpid()}"
    return root / uuid.uuid4().hex[:12]


@solara.lab.task
def run_task(original: Prepared, text: str) -> None:
    """Validate the mix, run its ensemble, draw the summary charts (in a thread: the page stays live)."""
    folder = _workdir()
    try:
        prepared = mix.check_mix(original, text, folder)
    except InputError as exc:
        form_error.set(str(exc))
        return
    form_error.set("")
    run_task.progress = 0.0
    result = mix.run_mix(prepared, progress=lambda share: setattr(run_task, "progress", 100 * share),
                         jobs=SETTINGS["jobs"])
    charts = folder / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    lang, names = SETTINGS["lang"], chart_names(prepared)
    if not result.targets.empty:
        distance_chart(result.targets, prepared.region, charts / "distance", lang, names, formats=("png",))
        probability_chart(result.targets, prepared.region, charts / "probability", lang, names, formats=("png",))
    if not result.additionality.empty:
        cost_chart(result.additionality, charts / "cost", lang, names, formats=("png",))
    outcome.set((result, prepared, charts))


def chart_names(prepared: Prepared) -> dict[str, dict[str, str]]:
    """Chart names of the variants: ``base`` is the dashboard's mix here, not the plan."""
    names = variant_labels(prepared.scenario)
    names["base"] = {"zh": "仪表盘组合", "en": "dashboard mix"}
    return names


def _fmt_probability(p: float) -> str:
    return "" if pd.isna(p) else f"{p:.0%}"


def _fmt_number(v: float) -> str:
    return "" if pd.isna(v) else f"{v:.2f}"


def targets_frame(targets: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The targets table shown: per target, median and probability of the mix and of the plan as written
    (formatted as ``innosim run`` prints them: median to 2 decimals, probability in whole per cent)."""
    rows = []
    base = targets[targets["variant"] == "base"].reset_index(drop=True)
    for i, t in base.iterrows():
        name = "全部目标 all targets" if t.indicator == "all_targets" else series_label(t.indicator, INDICATORS, lang)
        row = {"indicator": t.indicator, "name": name,
               "year": "" if pd.isna(t.target_year) else int(t.target_year),
               "target": "" if pd.isna(t.target_value) else f"{t.target_value:g} {t.unit}"}
        for variant, label in (("base", "mix"), (mix.AS_WRITTEN, "as written"), ("no_policy", "no policy")):
            other = targets[targets["variant"] == variant].reset_index(drop=True)
            if len(other) > i:
                row[f"{label}: median"] = _fmt_number(other.loc[i, "median"])
                row[f"{label}: P(met)"] = _fmt_probability(other.loc[i, "probability_met"])
        rows.append(row)
    return pd.DataFrame(rows)


def cost_frame(additionality: pd.DataFrame) -> pd.DataFrame:
    """Cumulative subsidy cost and the extra outcomes against no_policy, per variant (medians)."""
    rows = []
    for variant, part in additionality.groupby("variant", sort=False):
        row = {"variant": VARIANTS.get(variant, variant), "year": int(part["year"].iloc[0]),
               "cost (万元)": f"{part['cost_median'].iloc[0]:,.0f}"}
        for r in part.itertuples():
            row[f"extra {r.outcome} ({r.unit})"] = f"{r.extra_median:.3g}"
            per_unit = r.cost_per_unit_median
            row[f"万元 per extra {r.outcome}"] = "" if pd.isna(per_unit) else f"{per_unit:,.0f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _html_table(frame: pd.DataFrame, table_id: str) -> None:
    solara.HTML(tag="div", unsafe_innerHTML=frame.to_html(index=False, table_id=table_id, border=0,
                                                         classes="innosim-table", escape=True))


@solara.component
def LeverCard(lever: mix.Lever):
    """One instrument: on/off, scale, annual budget, first and last year (text: checked like a file)."""
    fields = form.value.get("levers", {}).get(lever.id, {})

    def update(key, value):
        levers = dict(form.value["levers"])
        levers[lever.id] = {**levers[lever.id], key: value}
        form.set({**form.value, "levers": levers})

    with solara.Row(classes=[f"lever-{lever.id}"], style={"align-items": "center"}):
        with solara.Div(style={"width": "19em"}):
            solara.HTML(tag="div", unsafe_innerHTML=f"<b>{_escape(lever.id)}</b><br><small>{_escape(lever.clause)} · "
                                                   f"{_escape(lever.family)}</small>")
        with solara.Div(classes=[f"lever-{lever.id}-enabled"]):
            solara.Checkbox(label="启用", value=bool(fields.get("enabled", True)),
                            on_value=lambda v: update("enabled", v))
        for key, label in FIELD_LABELS.items():
            solara.InputText(label, value=fields.get(key, ""), on_value=lambda v, k=key: update(k, v),
                             continuous_update=True, classes=[f"lever-{lever.id}-{key}"], style={"max-width": "9em"})


@solara.component
def Results(lang: str):
    """Targets, cost and charts of the last run."""
    if outcome.value is None:
        solara.Info("运行后显示结果 · Run the ensemble to see the mix against the plan as written.",
                    classes=["no-results"])
        return
    result, prepared, charts = outcome.value
    n = prepared.scenario.replicates
    solara.HTML(tag="p", unsafe_innerHTML=_escape(
        f"{prepared.region.name.zh} · {n} replicates · seed {prepared.scenario.seed} · horizon "
        f"{prepared.scenario.horizon} (failed runs: {result.failures} of {result.runs})"), classes=["run-info"])
    solara.HTML(tag="h4", unsafe_innerHTML="目标 Targets: median and probability of meeting each target in its year")
    _html_table(targets_frame(result.targets, lang), "targets-table")
    if not result.additionality.empty:
        solara.HTML(tag="h4", unsafe_innerHTML="成本 Cost: cumulative subsidy and extra outcomes against no policy "
                                               "(medians)")
        _html_table(cost_frame(result.additionality), "cost-table")
    IndicatorCharts(result, prepared, charts, lang)


@solara.component
def IndicatorCharts(result: mix.MixResult, prepared: Prepared, charts: Path, lang: str):
    """Fan chart of the mix and every variant's median for the chosen targeted indicator; probability, cost."""
    indicators = list(dict.fromkeys(t.indicator for t in prepared.region.targets
                                    if t.indicator in set(result.table["indicator"].unique())))
    chosen = solara.use_reactive(indicators[0] if indicators else "")
    fan = solara.use_memo(lambda: _indicator_charts(result, prepared, charts, chosen.value, lang) if chosen.value
                          else [], [id(result), chosen.value, lang])
    if indicators:
        solara.Select("指标 indicator", values=indicators, value=chosen, classes=["indicator-select"])
    with solara.ColumnsResponsive(12, large=6):
        for path in fan:
            solara.Image(path, width="100%", classes=["chart"])
    with solara.ColumnsResponsive(12, large=6):
        for name in ("distance", "probability", "cost"):
            if (charts / f"{name}.png").is_file():
                solara.Image(charts / f"{name}.png", width="100%", classes=["chart"])


def _indicator_charts(result: mix.MixResult, prepared: Prepared, charts: Path, indicator: str,
                      lang: str) -> list[Path]:
    """Fan chart of the mix and every variant's median for one indicator, drawn once per run."""
    rows = result.table[result.table["indicator"] == indicator]
    fan, variants = charts / f"fan_{indicator}", charts / f"variants_{indicator}"
    if not fan.with_suffix(".png").is_file():
        names = chart_names(prepared)
        fan_chart(rows, prepared.region, indicator, fan, lang, formats=("png",), names=names)
        variants_chart(rows, prepared.region, indicator, variants, lang, names=names, formats=("png",))
    return [fan.with_suffix(".png"), variants.with_suffix(".png")]


@solara.component
def Page():
    files = mix.scenario_files(SETTINGS["scenarios"])
    names = [p.stem for p in files]
    if not scenario_name.value and names:
        scenario_name.set("qiqihar" if "qiqihar" in names else names[0])
    lang = SETTINGS["lang"]
    path = Path(SETTINGS["scenarios"]) / f"{scenario_name.value}.yaml"

    def load():
        try:
            return prepare(path), ""
        except InputError as exc:
            return None, str(exc)

    original, load_error = solara.use_memo(load, [str(path)])

    def reset():
        form.set(mix.default_form(original) if original is not None else {})
        outcome.set(None)
        form_error.set("")

    solara.use_effect(reset, [str(path)])
    solara.Title("innosim dashboard")
    solara.Style(STYLE)
    with solara.Columns([1, 2]):
        with solara.Column():
            Controls(original, load_error, names)
        with solara.Column():
            if original is not None and form.value:
                solara.HTML(tag="h3", unsafe_innerHTML=_escape(f"{original.region.name.zh} · "
                                                               f"{original.region.name.en}"))
                with solara.Card("政策工具 Instruments modelled",
                                 subtitle="scale × the amounts as written; budget caps a year's payments (pro rata); "
                                          "empty budget = no cap; empty year = the catalogue's (the document's)"):
                    for lever in mix.levers(original):
                        LeverCard(lever)
    Results(lang)


@solara.component
def Controls(original: Prepared | None, load_error: str, names: list[str]):
    """Scenario choice, ensemble settings, run button and progress, download, errors."""
    with solara.Card("innosim 政策仪表盘 · policy dashboard",
                     subtitle="Move the levers, run a small ensemble, compare with the plan as written."):
        solara.Select("地区情景 scenario (region)", values=names, value=scenario_name, classes=["scenario-select"])
        if original is None or not form.value:
            if load_error:
                solara.Error(load_error, classes=["load-error"])
            return
        with solara.Row():
            for key, label in (("replicates", "重复次数 replicates"), ("seed", "随机种子 seed"),
                               ("horizon", "终止年 horizon")):
                solara.InputText(label, value=form.value.get(key, ""), continuous_update=True,
                                 on_value=lambda v, k=key: form.set({**form.value, k: v}), classes=[f"run-{key}"])
        text = mix.mix_yaml(original, form.value)
        changed = mix.changes(original, form.value)
        ensemble = (f"{form.value['replicates']} replicates · seed {form.value['seed']} · "
                    f"horizon {form.value['horizon']}")
        solara.HTML(tag="div", classes=["changes"], unsafe_innerHTML="<small>" + _escape(ensemble) + "<br>" + (
            "与现行不同 changed from the plan as written:<br>" + "<br>".join(_escape(c) for c in changed)
            if changed else "现行政策 the levers as written") + "</small>")
        with solara.Column():
            solara.Button("运行 Run", icon_name="mdi-play", color="primary", classes=["run-button"],
                          disabled=run_task.pending, on_click=lambda: run_task(original, text))
            solara.FileDownload(text, filename=f"{original.scenario.name}_dashboard.yaml", mime_type="text/yaml",
                                children=[solara.Button("下载情景文件 Download scenario YAML",
                                                        icon_name="mdi-cloud-download-outline",
                                                        classes=["download-button"])])
        if run_task.pending:
            done = run_task.progress
            solara.ProgressLinear(done if done is not None else True, classes=["run-progress"])
            solara.Text(f"运行中 running: {done or 0:.0f} % of the replicates", classes=["run-progress-text"])
        if form_error.value:
            solara.Error(form_error.value, classes=["form-error"])
        if run_task.error:
            solara.Error(f"{type(run_task.exception).__name__}: {run_task.exception}", classes=["form-error"])


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def serve(host: str = "127.0.0.1", port: int = 8765, scenarios: str | Path = "scenarios", lang: str = "zh",
          jobs: int = 1) -> None:
    """Run the dashboard server until interrupted (Ctrl-C)."""
    from solara.__main__ import run as solara_run

    folder = Path(scenarios)
    if not mix.scenario_files(folder):
        raise InputError(folder, "--scenarios", "no scenario file (*.yaml) in this folder",
                         allowed="a folder of scenario files, e.g. scenarios")
    SETTINGS.update(scenarios=folder, lang=lang, jobs=jobs)
    from solara.server import settings as server_settings

    server_settings.assets.extra_locations.append(BUNDLED_FONT[0])   # the CJK font at /static/assets/
    root = Path(tempfile.gettempdir()) / f"innosim-dashboard-{os.getpid()}"
    # uvicorn re-raises a SIGTERM it caught once the server has stopped; exiting through Python then
    # lets the session folders (mix files, charts) be removed below instead of dying with them in place
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        solara_run.main(["simulator.dashboard", "--host", host, "--port", str(port), "--production", "--no-open",
                         "--no-check-version"], standalone_mode=False)
    except KeyboardInterrupt:   # Ctrl-C: the server has stopped
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(root, ignore_errors=True)


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)

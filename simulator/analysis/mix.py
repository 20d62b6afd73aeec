"""A planner's policy mix, from the dashboard's form to a scenario file and its ensemble.

The dashboard (:mod:`simulator.dashboard`) computes no number itself. The form's fields become a
scenario file (YAML text, each field parsed as a YAML scalar, exactly as if typed into a file), which
:func:`simulator.experiments.prepared.prepare` validates as it validates any file given to ``innosim run``; the
ensemble is :func:`simulator.experiments.ensemble.run_ensemble` of the prepared variants and the tables are
:mod:`simulator.experiments.results`'. So the numbers shown are those ``innosim run`` writes for the downloaded
file with the same seed and replicates (``tests/test_dashboard.py`` checks it in a browser).

The mix is the file's ``base``; the scenario's levers as written are kept as the variant ``as_written``
(the convention of ``innosim optimise``), and ``no_policy`` is added by the runner as always.

Example:
    >>> original = prepare("scenarios/qiqihar.yaml")                                   # doctest: +SKIP
    >>> form = default_form(original)
    >>> form["levers"]["q000_m4_hte_award"]["scale"] = "2"
    >>> text = mix_yaml(original, form)
    >>> result = run_mix(check_mix(original, text, Path("/tmp/mix")))
    >>> result.targets.query("variant == 'base'")
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from simulator.errors import InputError
from simulator.experiments import results
from simulator.experiments.checkpoints import saved_replicates
from simulator.experiments.ensemble import run_ensemble
from simulator.experiments.prepared import Prepared, prepare

#: the variant that keeps the scenario's levers as written
AS_WRITTEN = "as_written"
#: the levers of one instrument the form offers (InstrumentSetting fields)
LEVER_FIELDS = ("enabled", "scale", "budget", "start_year", "end_year")
#: replicates the dashboard proposes: a small ensemble that answers in seconds
DEFAULT_REPLICATES = 5
#: how the dashboard names itself in an error about a form field (instead of a file name)
FORM = "dashboard form"


@dataclass(frozen=True)
class Lever:
    """One modelled instrument's settings as the scenario writes them (catalogue defaults filled in).

    Attributes:
        id: instrument id (``q000_m4_hte_award``).
        clause: document clause it implements (``若干政策措施 第4条``).
        family: instrument family (class name, e.g. ``CertificationAward``).
        enabled, scale: as in a scenario's ``policies`` entry.
        budget: 万元 a year; None = no cap.
        start_year, end_year: first and last year paid; None = open-ended.
    """

    id: str
    clause: str
    family: str
    enabled: bool
    scale: float
    budget: float | None
    start_year: int | None
    end_year: int | None

    def setting(self) -> dict:
        """The lever as a ``policies`` entry, every field explicit (None = none / the catalogue's)."""
        return {name: getattr(self, name) for name in LEVER_FIELDS}


def scenario_files(folder: str | Path) -> list[Path]:
    """Scenario files of a folder (``scenarios/*.yaml``), by name."""
    return sorted(p for p in Path(folder).glob("*.yaml") if not p.name.startswith(("_", ".")))


def levers(prepared: Prepared) -> list[Lever]:
    """The modelled instruments of a prepared scenario, with its settings."""
    return [Lever(i.id, i.clause, type(i).__name__, i.enabled, i.scale, i.budget, i.start_year, i.end_year)
            for i in prepared.instruments()]


def _text(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _field(lever: Lever, key: str) -> bool | str:
    """A lever's field as the form holds it: ``enabled`` a bool, the others text."""
    return lever.enabled if key == "enabled" else _text(getattr(lever, key))


def default_form(prepared: Prepared) -> dict:
    """The form's initial fields: the levers as written (text, ``enabled`` a bool), a small ensemble, the
    scenario's seed and a horizon at the last target year (where the answer is; the file's otherwise)."""
    scenario, region = prepared.scenario, prepared.region
    years = [t.year for t in region.targets if t.year >= region.base_year]
    return {"levers": {lv.id: {k: _field(lv, k) for k in LEVER_FIELDS} for lv in levers(prepared)},
            "replicates": str(min(DEFAULT_REPLICATES, scenario.replicates)), "seed": str(scenario.seed),
            "horizon": str(max(years) if years else scenario.horizon)}


def _shown(value: object) -> str:
    return "(none)" if value in ("", None) else str(value)


def changes(prepared: Prepared, form: dict) -> list[str]:
    """The form's levers that differ from the scenario as written, e.g. ``q000_m4_hte_award scale: 1 → 2``."""
    written = default_form(prepared)["levers"]
    out = []
    for lever_id, fields in form.get("levers", {}).items():
        for key, value in fields.items():
            before = written.get(lever_id, {}).get(key)
            if value != before:
                out.append(f"{lever_id} {key}: {_shown(before)} → {_shown(value)}")
    return out


def _scalar(text: object) -> object:
    """A form field as a YAML file would read it (``2`` -> 2, ``10万`` stays text); empty -> None."""
    if not isinstance(text, str):
        return text
    if not text.strip():
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def mix_document(prepared: Prepared, form: dict) -> dict:
    """The scenario file of the form's mix: ``base`` = the mix, variant ``as_written`` = the levers as the
    scenario writes them. Region, parameters and other instrument settings (amounts) are the scenario's."""
    scenario = prepared.scenario
    written = {k: v.model_dump(exclude_unset=True) for k, v in scenario.policies.items()}
    policies, as_written = {k: dict(v) for k, v in written.items()}, {}
    for lever in levers(prepared):
        fields = form["levers"].get(lever.id, {})
        own = written.get(lever.id, {})   # what the scenario file itself sets (the rest is the catalogue's)
        for key in LEVER_FIELDS:
            text = fields.get(key, _field(lever, key))
            if text == _field(lever, key):
                continue   # as written: the file's own setting (or none) stays, nothing to restore
            value = _scalar(text)
            setting = policies.setdefault(lever.id, {})
            if value is None:   # emptied: the catalogue's years, no budget
                setting.pop(key, None)
            else:
                setting[key] = value
            # the plan as written: the file's value, else null (= the catalogue's; enabled/scale have defaults)
            restore = own.get(key, getattr(lever, key) if key in ("enabled", "scale") else None)
            as_written.setdefault(lever.id, {})[key] = restore
    title = scenario.title.model_dump() if scenario.title else {"zh": scenario.name, "en": scenario.name}
    doc = {"name": f"{scenario.name}_dashboard",
           "title": {"zh": f"{title['zh']}（仪表盘组合）", "en": f"{title['en']} (dashboard mix)"},
           "region": scenario.region,
           "horizon": _scalar(form["horizon"]), "seed": _scalar(form["seed"]),
           "replicates": _scalar(form["replicates"]),
           "policies": policies, "parameters": dict(scenario.parameters)}
    if scenario.parameter_uncertainty:
        doc["parameter_uncertainty"] = True
    doc["variants"] = {AS_WRITTEN: {"description": {"zh": f"规划方案（{prepared.scenario_path.name} 原文）",
                                                    "en": f"policies as written ({prepared.scenario_path.name})"},
                                    "policies": as_written}}
    return doc


def mix_yaml(prepared: Prepared, form: dict) -> str:
    """The mix as scenario-file text (see :func:`mix_document`), with a header saying how to run it."""
    name = f"{prepared.scenario.name}_dashboard.yaml"
    head = (f"# A policy mix chosen in `innosim dashboard` from {prepared.scenario_path.name}.\n"
            f"# Save it beside that file (its regions/ and policies/ folders) and run:\n"
            f"#   innosim run {prepared.scenario_path.parent.name}/{name}\n"
            f"# base = the mix; variant {AS_WRITTEN} = the levers as written; no_policy is added by innosim.\n")
    return head + yaml.safe_dump(mix_document(prepared, form), allow_unicode=True, sort_keys=False,
                                 default_flow_style=None, width=120)


def check_mix(original: Prepared, text: str, workdir: str | Path) -> Prepared:
    """Validate mix text as ``innosim run`` validates a file; return it prepared.

    The text is written to ``workdir`` beside links to the scenario folder's ``regions/`` and
    ``policies/`` (so it reads exactly what a file saved beside the scenario reads). A problem
    is an :class:`InputError` naming the field (``policies.q000_m4_hte_award.scale``), the bad
    value and what is allowed, with :data:`FORM` in place of the temporary file's name.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for folder in ("regions", "policies"):
        link, target = workdir / folder, (original.scenario_path.parent / folder).resolve()
        if not link.exists():
            try:
                link.symlink_to(target, target_is_directory=True)
            except OSError:   # (no symlinks on this file system: a copy reads the same)
                shutil.copytree(target, link)
    path = workdir / f"{original.scenario.name}_dashboard.yaml"
    path.write_text(text, "utf-8")
    try:
        return prepare(path)
    except InputError as exc:
        if Path(exc.file) != path:
            raise
        raise InputError(FORM, exc.field, exc.problem, value=exc.value, allowed=exc.allowed) from None


@dataclass(frozen=True)
class MixResult:
    """An ensemble of the mix: the tidy table and the tables ``innosim run`` writes from it."""

    table: pd.DataFrame
    targets: pd.DataFrame
    additionality: pd.DataFrame
    failures: int
    runs: int


def run_mix(prepared: Prepared, progress: Callable[[float], None] | None = None, jobs: int = 1) -> MixResult:
    """Run the prepared mix's ensemble (base, no_policy, as_written); ``progress(share done)`` while it runs.

    Progress is read from the finished chunks saved in a checkpoint folder (one replicate of every
    variant per chunk); chunking does not change results (common random numbers per replicate).
    """
    replicates = prepared.scenario.replicates
    chunks = Path(prepared.scenario_path.parent) / ".chunks"
    shutil.rmtree(chunks, ignore_errors=True)
    done = threading.Event()
    box: dict = {}

    def work() -> None:
        try:
            box["ens"] = run_ensemble(prepared.variants(), replicates, jobs=jobs, chunk_size=1, checkpoint=chunks)
        except BaseException as exc:   # re-raised in the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    while not done.wait(0.3):
        if progress is not None:
            progress(len(saved_replicates(chunks)) / replicates)
    shutil.rmtree(chunks, ignore_errors=True)
    if "error" in box:
        raise box["error"]
    ens = box["ens"]
    if progress is not None:
        progress(1.0)
    return MixResult(ens.table, results.targets(ens.table, prepared.region),
                     results.additionality(ens.table, prepared.region), len(ens.failures),
                     replicates * len(prepared.variants()))

"""From a scenario file to results: validate, build models, run replicates, write outputs.

``run_scenario(path)`` returns the tidy indicator table; ``write_run`` also
writes the output folder (indicators, manifest, charts) atomically.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .config import NO_POLICY, Region, Scenario, load_catalogue, load_region, load_scenario, validate
from .ensemble import run_ensemble
from .errors import InputError, closest
from .model import RegionModel
from .parameters import Parameters, calibrated_draw, calibrated_path
from .policies import Instrument, build_instrument

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Prepared:
    """A validated scenario with everything needed to build its models."""

    scenario: Scenario
    scenario_path: Path
    region: Region
    region_path: Path
    params: Parameters
    policy_files: tuple[Path, ...]

    def instruments(self) -> list[Instrument]:
        return build_instruments(self.region, self.scenario, self.scenario_path.parent / "policies",
                                 str(self.scenario_path))

    def variants(self) -> dict[str, Prepared]:
        """``base``, ``no_policy`` (every instrument off) and each named variant, as runnable scenarios."""
        out = {"base": self}
        known = [spec_id for spec_id in self.instrument_ids()]
        off = {i: {"enabled": False} for i in known}
        out[NO_POLICY] = self._with(off, {})
        for name, variant in self.scenario.variants.items():
            policies = {k: v.model_dump(exclude_unset=True) for k, v in variant.policies.items()}
            out[name] = self._with(policies, variant.parameters, where=f"variants.{name}")
        return out

    def instrument_ids(self) -> list[str]:
        """Ids of every instrument in the region's catalogues (modelled or not)."""
        return [spec.id for path in self.policy_files for spec in load_catalogue(path).instruments]

    def variant(self, policies: dict | None = None, parameters: dict | None = None) -> Prepared:
        """This scenario with some instrument settings and parameters changed, as a scenario file's
        ``variants`` entry would (validated the same way).

        Example:
            >>> doubled = prepared.variant({"q000_m4_hte_award": {"scale": 2.0}},     # doctest: +SKIP
            ...                            {"rd_price_elasticity": -1.0})
        """
        return self._with(policies or {}, parameters or {})

    def _with(self, policies: dict, parameters: dict, where: str = "") -> Prepared:
        data = self.scenario.model_dump(exclude_unset=True)
        merged = {k: v.model_dump(exclude_unset=True) for k, v in self.scenario.policies.items()}
        for key, setting in policies.items():
            merged[key] = {**merged.get(key, {}), **setting}
        data["policies"] = merged
        data["parameters"] = {**self.scenario.parameters, **parameters}
        data["variants"] = {}
        scenario = validate(Scenario, data, self.scenario_path)
        params = Parameters.defaults().with_overrides(scenario.parameters, str(self.scenario_path))
        prepared = replace(self, scenario=scenario, params=params)
        try:
            prepared.instruments()
        except InputError as exc:
            raise InputError(exc.file, f"{where}.{exc.field}" if where else exc.field, exc.problem,
                             value=exc.value, allowed=exc.allowed) from None
        return prepared

    def model(self, replicate: int = 0) -> RegionModel:
        """A fresh model for ``replicate`` (its seed derives from the scenario seed).

        With ``parameter_uncertainty: true`` the replicate's calibrated parameters are a draw
        from calibration/calibrated.yaml (the same in every variant); parameters the
        scenario or variant sets explicitly keep their set values.
        """
        params = self.params
        if self.scenario.parameter_uncertainty:
            draw = calibrated_draw(self.scenario.seed, replicate)
            params = params.with_overrides({k: v for k, v in draw.items() if k not in self.scenario.parameters},
                                           "calibration/calibrated.yaml")
        return RegionModel(self.region, params, self.instruments(),
                           seed=replicate_seed(self.scenario.seed, replicate),
                           horizon=self.scenario.horizon, region_path=self.region_path)


def replicate_seed(seed: int, replicate: int) -> np.random.SeedSequence:
    """Seed of replicate ``k``: the same for every variant of a scenario (common random numbers)."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(replicate,))


def build_instruments(region: Region, scenario: Scenario, policies_dir: Path, origin: str) -> list[Instrument]:
    """Instruments of the region's catalogues, with the scenario's settings applied."""
    instruments, known = [], []
    for name in region.policy_catalogues:
        path = policies_dir / f"{name}.yaml"
        catalogue = load_catalogue(path)
        for spec in catalogue.instruments:
            known.append(spec.id)
            if not spec.modelled:
                continue
            instruments.append(build_instrument(spec, scenario.policies.get(spec.id), origin, str(path),
                                                spec.payer or catalogue.payer))
    for key in scenario.policies:
        if key not in known:
            raise InputError(origin, f"policies.{key}", "unknown instrument" + closest(key, known),
                             allowed=", ".join(known) or "none (the region has no catalogue)")
    return instruments


def prepare(path: str | Path, *, seed: int | None = None, replicates: int | None = None,
            horizon: int | None = None) -> Prepared:
    """Validate a scenario file and everything it refers to. Raises InputError on any problem."""
    path = Path(path)
    scenario = load_scenario(path)
    updates = {k: v for k, v in (("seed", seed), ("replicates", replicates), ("horizon", horizon)) if v is not None}
    if updates:
        scenario = Scenario.model_validate({**scenario.model_dump(), **updates})
    regions_dir = path.parent / "regions"
    region_path = regions_dir / f"{scenario.region}.yaml"
    if not region_path.is_file():
        available = sorted(p.stem for p in regions_dir.glob("*.yaml"))
        raise InputError(path, "region", f"unknown region {scenario.region!r}" + closest(scenario.region, available),
                         allowed=", ".join(available) or f"a file in {regions_dir}")
    region = load_region(region_path)
    if scenario.horizon < region.base_year:
        raise InputError(path, "horizon", "must not precede the region's base year", value=scenario.horizon,
                         allowed=f">= {region.base_year}")
    params = Parameters.defaults().with_overrides(scenario.parameters, str(path))
    prepared = Prepared(scenario, path, region, region_path, params,
                        tuple(path.parent / "policies" / f"{c}.yaml" for c in region.policy_catalogues))
    prepared.instruments()   # validate the catalogues and the scenario's policy settings now
    prepared.variants()      # ... and every variant's
    return prepared


def run_scenario(path: str | Path, *, seed: int | None = None, replicates: int | None = None,
                 horizon: int | None = None, jobs: int = 1, scheduler: str | None = None) -> pd.DataFrame:
    """Run a scenario file (base, no_policy and its variants); return the tidy indicator table.

    Args:
        path: scenario YAML file (e.g. ``scenarios/qiqihar.yaml``).
        seed: overrides the file's seed.
        replicates: overrides the file's number of replicates.
        horizon: overrides the file's last year.
        jobs: local worker processes.
        scheduler: Dask scheduler address, instead of local processes.

    Returns:
        Columns ``variant, replicate, year, indicator, value``.

    Example:
        >>> df = run_scenario("scenarios/qiqihar.yaml", replicates=2)      # doctest: +SKIP
        >>> df.query("indicator == 'hte_count' and year == 2025")            # doctest: +SKIP
    """
    prepared = prepare(path, seed=seed, replicates=replicates, horizon=horizon)
    return run_ensemble(prepared.variants(), prepared.scenario.replicates, jobs=jobs, scheduler=scheduler).table


# ------------------------------------------------------------------ outputs
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=Path(__file__).parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    """Versions of Python and the packages that determine results."""
    out = {"python": platform.python_version()}
    for pkg in ("innosim", "mesa", "numpy", "pandas", "scipy", "matplotlib", "pydantic", "PyYAML"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def manifest(prepared: Prepared, options: dict) -> dict:
    """Everything needed to regenerate a run: inputs (with hashes), options, parameters, seed, versions."""
    files = [prepared.scenario_path, prepared.region_path, *prepared.policy_files]
    calibrated = calibrated_path()
    if calibrated is not None and calibrated.is_file():
        files.append(calibrated)   # default parameter values (and draws) come from it
    return {
        "tool": "innosim",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_file": str(prepared.scenario_path),
        "scenario_sha256": _sha256(prepared.scenario_path),
        "options": options,
        "scenario": prepared.scenario.model_dump(mode="json"),
        "variants": list(prepared.variants()),
        "seed": prepared.scenario.seed,
        "replicates": prepared.scenario.replicates,
        "replicate_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replicate,)), the same for every variant",
        "horizon": prepared.scenario.horizon,
        "base_year": prepared.region.base_year,
        "input_sha256": {str(p): _sha256(p) for p in files},
        "parameters": prepared.params.to_dict(),
        "uncertainty": ("replicates: stochastic (random streams) and parameter (calibrated draws per replicate of "
                        + ", ".join(calibrated_draw(prepared.scenario.seed, 0)) + ")"
                        if prepared.scenario.parameter_uncertainty and calibrated_draw(prepared.scenario.seed, 0) else
                        "replicates: stochastic only (random streams); parameters fixed at their values above"),
        "versions": versions(),
        "git_commit": _git_commit(),
        "platform": platform.platform(),
    }


def write_run(path: str | Path, *, out: str | Path | None = None, seed: int | None = None,
              replicates: int | None = None, horizon: int | None = None, lang: str = "zh",
              jobs: int = 1, scheduler: str | None = None, progress: bool = False) -> Path:
    """Run a scenario ensemble and write its output folder; return the folder.

    Everything is validated before anything is written. Results go to a
    temporary folder beside the destination, renamed into place only when
    complete, so a failed run leaves nothing that looks finished. An existing
    destination is replaced only if it is an innosim output folder.
    """
    from . import results
    from .plots import report_charts

    prepared = prepare(path, seed=seed, replicates=replicates, horizon=horizon)
    dest = Path(out) if out is not None else Path("outputs") / prepared.scenario.name
    if dest.exists() and not (dest / MANIFEST).is_file():
        raise InputError(dest, "--out", "exists and is not an innosim output folder; refusing to overwrite",
                         allowed="a new folder or an earlier innosim output")
    variants = prepared.variants()
    ens = run_ensemble(variants, prepared.scenario.replicates, jobs=jobs, scheduler=scheduler, progress=progress)
    table = ens.table
    tables = {"targets": results.targets(table, prepared.region),
              "additionality": results.additionality(table, prepared.region),
              "summary": results.summary(table),
              "payments": ens.payments}
    options = {"seed": seed, "replicates": replicates, "horizon": horizon, "lang": lang}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        tmp.chmod(0o755)   # mkdtemp makes it private; results are meant to be shared
        table.to_csv(tmp / "indicators.csv", index=False)
        table.to_parquet(tmp / "indicators.parquet", index=False)
        for name, frame in tables.items():
            frame.to_csv(tmp / f"{name}.csv", index=False)
        with pd.ExcelWriter(tmp / "results.xlsx") as xlsx:
            for name in ("targets", "additionality", "summary"):
                tables[name].to_excel(xlsx, sheet_name=name, index=False)
        report_charts(table, tables["targets"], tables["additionality"], prepared.region, tmp, lang=lang)
        (tmp / MANIFEST).write_text(json.dumps(manifest(prepared, options), ensure_ascii=False, indent=2), "utf-8")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


#: files of an output folder that must be identical when the run is repeated
REPRODUCIBLE = ("indicators.csv", "summary.csv", "targets.csv", "additionality.csv", "payments.csv")


def rerun(folder: str | Path, out: str | Path | None = None, jobs: int = 1) -> tuple[Path, list[str]]:
    """Regenerate an output folder from its manifest; return the new folder and the files that differ.

    Refuses (InputError) when an input file changed since the run (its SHA-256 differs).
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(folder, "", "not an innosim output folder (no manifest.json)", allowed="an output folder")
    meta = json.loads(path.read_text("utf-8"))
    if meta.get("analysis"):
        raise InputError(folder, "", f"a {meta.get('analysis_kind', 'sensitivity or optimiser')} folder, not a "
                         "scenario run; regenerate it with the command in its manifest",
                         allowed=meta.get("command", "an innosim run output folder"))
    for file, digest in meta["input_sha256"].items():
        if not Path(file).is_file() or _sha256(Path(file)) != digest:
            raise InputError(file, "", "input changed or missing since the run; cannot reproduce it",
                             allowed=f"the file with SHA-256 {digest[:12]}…")
    opts = meta["options"]
    dest = Path(out) if out else folder.with_name(folder.name + "-rerun")
    write_run(meta["scenario_file"], out=dest, seed=opts["seed"], replicates=opts["replicates"],
              horizon=opts["horizon"], lang=opts["lang"], jobs=jobs)
    differ = [f for f in REPRODUCIBLE if (folder / f).read_bytes() != (dest / f).read_bytes()]
    return dest, differ

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
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Region, Scenario, load_catalogue, load_region, load_scenario
from .errors import InputError, closest
from .model import RegionModel
from .parameters import Parameters
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

    def model(self, replicate: int = 0) -> RegionModel:
        """A fresh model for ``replicate`` (its seed derives from the scenario seed)."""
        return RegionModel(self.region, self.params, self.instruments(),
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
    return prepared


def run_replicate(prepared: Prepared, replicate: int, variant: str = "base",
                  payments: list[pd.DataFrame] | None = None) -> pd.DataFrame:
    """Run one replicate to the horizon; return its tidy indicator table.

    If ``payments`` is a list, the replicate's payment ledger is appended to it.
    """
    model = prepared.model(replicate).run()
    if payments is not None:
        ledger = model.government.payments()
        ledger.insert(0, "replicate", replicate)
        ledger.insert(0, "variant", variant)
        payments.append(ledger)
    return model.indicators(variant, replicate)


def target_table(table: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Per target: the replicates' median and 5-95 % range in the target year, and the share meeting it.

    A target "达到" is met when the indicator is at or above it in the target year
    (DOMAIN.md); for a rank (lower is better) at or below it.
    """
    from .indicators import INDICATORS

    rows = []
    for t in region.targets:
        v = table[(table["indicator"] == t.indicator) & (table["year"] == t.year)]["value"]
        met = v >= t.value if INDICATORS[t.indicator].higher_is_better else v <= t.value
        rows.append({"indicator": t.indicator, "target_year": t.year, "target_value": t.value, "unit": t.unit,
                     "source": t.source, "median": v.median(), "p05": v.quantile(0.05), "p95": v.quantile(0.95),
                     "share_met": float(met.mean()) if len(v) else float("nan"), "replicates": len(v)})
    return pd.DataFrame(rows)


def payment_summary(ledgers: list[pd.DataFrame]) -> pd.DataFrame:
    """Payments per replicate, year and instrument: number of recipients and total 万元."""
    ledger = pd.concat(ledgers, ignore_index=True)
    keys = ["variant", "replicate", "year", "instrument", "payer"]
    return (ledger.groupby(keys, sort=True)["amount"].agg(recipients="size", amount="sum").reset_index())


def run_prepared(prepared: Prepared, progress: bool = False,
                 payments: list[pd.DataFrame] | None = None) -> pd.DataFrame:
    """Run every replicate of a prepared scenario (payment ledgers appended to ``payments``)."""
    frames = []
    n = prepared.scenario.replicates
    for k in range(n):
        frames.append(run_replicate(prepared, k, payments=payments))
        if progress and sys.stdout.isatty():
            print(f"\r  replicate {k + 1}/{n}", end="", flush=True)
    if progress and sys.stdout.isatty():
        print()
    return pd.concat(frames, ignore_index=True)


def run_scenario(path: str | Path, *, seed: int | None = None, replicates: int | None = None,
                 horizon: int | None = None) -> pd.DataFrame:
    """Run a scenario file and return the tidy table ``variant, replicate, year, indicator, value``.

    Args:
        path: scenario YAML file (e.g. ``scenarios/qiqihar.yaml``).
        seed: overrides the file's seed.
        replicates: overrides the file's number of replicates.
        horizon: overrides the file's last year.

    Example:
        >>> df = run_scenario("scenarios/qiqihar.yaml", replicates=2)      # doctest: +SKIP
        >>> df.query("indicator == 'hte_count' and year == 2025")            # doctest: +SKIP
    """
    return run_prepared(prepare(path, seed=seed, replicates=replicates, horizon=horizon))


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


def manifest(prepared: Prepared) -> dict:
    """Everything needed to regenerate a run: inputs (with hashes), parameters, seed, versions."""
    files = [prepared.scenario_path, prepared.region_path, *prepared.policy_files]
    return {
        "tool": "innosim",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_file": str(prepared.scenario_path),
        "scenario": prepared.scenario.model_dump(mode="json"),
        "seed": prepared.scenario.seed,
        "replicates": prepared.scenario.replicates,
        "replicate_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replicate,))",
        "horizon": prepared.scenario.horizon,
        "base_year": prepared.region.base_year,
        "input_sha256": {str(p): _sha256(p) for p in files},
        "parameters": prepared.params.to_dict(),
        "versions": versions(),
        "git_commit": _git_commit(),
        "platform": platform.platform(),
    }


def write_run(path: str | Path, *, out: str | Path | None = None, seed: int | None = None,
              replicates: int | None = None, horizon: int | None = None, lang: str = "zh",
              progress: bool = False) -> Path:
    """Run a scenario and write its output folder; return the folder.

    Everything is validated before anything is written. Results go to a
    temporary folder beside the destination, renamed into place only when
    complete, so a failed run leaves nothing that looks finished. An existing
    destination is replaced only if it is an innosim output folder.
    """
    from .plots import plot_targets

    prepared = prepare(path, seed=seed, replicates=replicates, horizon=horizon)
    dest = Path(out) if out is not None else Path("outputs") / prepared.scenario.name
    if dest.exists() and not (dest / MANIFEST).is_file():
        raise InputError(dest, "--out", "exists and is not an innosim output folder; refusing to overwrite",
                         allowed="a new folder or an earlier innosim output")
    ledgers: list[pd.DataFrame] = []
    table = run_prepared(prepared, progress=progress, payments=ledgers)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        tmp.chmod(0o755)   # mkdtemp makes it private; results are meant to be shared
        table.to_csv(tmp / "indicators.csv", index=False)
        payment_summary(ledgers).to_csv(tmp / "payments.csv", index=False)
        target_table(table, prepared.region).to_csv(tmp / "targets.csv", index=False)
        plot_targets(table, prepared.region, tmp, lang=lang)
        (tmp / MANIFEST).write_text(json.dumps(manifest(prepared), ensure_ascii=False, indent=2), "utf-8")
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

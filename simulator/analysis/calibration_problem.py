"""Calibration problem: the spec file, its region and catalogues, the targets and trend-series tables.

:func:`load_problem` reads and checks everything a fit needs before the first model run
(:mod:`simulator.analysis.calibration` describes the method).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from simulator.errors import InputError, closest
from simulator.inputs.parameters import prior_specs
from simulator.inputs.reading import load_yaml, read_csv_checked
from simulator.inputs.region_file import Region, load_region
from simulator.inputs.scenario_file import Scenario
from simulator.inputs.validation import validate
from simulator.model.indicators import INDICATORS
from simulator.policy.build import build_instruments

#: moments that are not a single indicator: name -> indicators summed
DERIVED = {"hte_certified": ("hte_new_certifications", "hte_recertifications")}
#: budget of ``small=True`` (tests, notebooks): a few minutes at most on a zone-sized region
SMALL = {"replicates": 2, "design_points": 8, "local_evaluations": 8, "profile_points": 3,
         "fit_replicates": 3, "posterior_draws": 20}
TARGET_COLUMNS = ("id", "indicator", "year", "ratio_to", "value", "rel_sd", "kind", "definition", "source")


# ------------------------------------------------------------------ spec
class FreeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bounds: tuple[float, float]
    why: str = ""


class CalibrationSpec(BaseModel):
    """A calibration file (``calibration/<name>.yaml``); paths are relative to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    region: str
    policies_dir: str
    targets: str
    trend_series: str | None = None
    data: str | None = None
    end_year: int
    holdout_from: int | None = None
    seed: int = Field(ge=0)
    output: str = "calibrated.yaml"
    diagnostics: str = "diagnostics"
    replicates: int = Field(ge=1, le=1000)
    design_points: int = Field(ge=1, le=100_000)
    local_evaluations: int = Field(ge=0, le=100_000)
    profile_points: int = Field(ge=0, le=1000)
    fit_replicates: int = Field(ge=1, le=10_000)
    posterior_draws: int = Field(ge=0, le=100_000)
    free: dict[str, FreeSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Problem:
    """Everything one fit needs: region, instruments' source, targets, free parameters, budget."""

    spec: CalibrationSpec
    spec_path: Path
    region: Region
    region_path: Path
    policies_dir: Path
    targets: pd.DataFrame
    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    @property
    def horizon(self) -> int:
        return int(self.targets["year"].max())

    def theta(self, u: np.ndarray) -> dict[str, float]:
        """Parameter values at unit-box coordinates ``u``."""
        x = self.lower + np.clip(u, 0.0, 1.0) * (self.upper - self.lower)
        return {n: float(v) for n, v in zip(self.names, x, strict=True)}

    def unit(self, theta: dict[str, float]) -> np.ndarray:
        x = np.array([theta[n] for n in self.names])
        return (x - self.lower) / (self.upper - self.lower)


def load_problem(path: str | Path) -> Problem:
    """Read and check a calibration spec, its region file, policy catalogues, targets table and trend series."""
    path = Path(path)
    spec = validate(CalibrationSpec, load_yaml(path), path)
    here = path.parent
    region_path = here / spec.region
    if not region_path.is_file():
        raise InputError(path, "region", "file not found", value=spec.region, allowed="a region file")
    region = load_region(region_path)
    policies_dir = here / spec.policies_dir
    for name in region.policy_catalogues:
        if not (policies_dir / f"{name}.yaml").is_file():
            raise InputError(path, "policies_dir", f"has no catalogue {name}.yaml named by {region_path.name}",
                             value=spec.policies_dir, allowed="the folder of the region's catalogues")
    if not region.base_year < spec.end_year <= 2100:
        raise InputError(path, "end_year", "must fall after the region's base year", value=spec.end_year,
                         allowed=f"{region.base_year + 1} to 2100")
    # the catalogues and their instruments, checked now rather than in the first evaluation
    build_instruments(region, Scenario(name="calibration", region=region.id, horizon=spec.end_year, seed=spec.seed),
                      policies_dir, str(path))
    if spec.holdout_from is not None and not region.base_year + 1 < spec.holdout_from <= spec.end_year:
        raise InputError(path, "holdout_from", "the held-out years must leave fitted years before them and "
                         "end by end_year", value=spec.holdout_from,
                         allowed=f"{region.base_year + 2} to {spec.end_year}")
    specs = prior_specs()
    for name, free in spec.free.items():
        if name not in specs:
            raise InputError(path, f"free.{name}", "unknown parameter" + closest(name, specs),
                             allowed="see `innosim parameters`")
        lo, hi = specs[name].bounds
        if isinstance(specs[name].value, list) or not (lo <= free.bounds[0] < free.bounds[1] <= hi):
            raise InputError(path, f"free.{name}.bounds", "must be a scalar parameter's increasing range "
                             "inside its bounds in parameters.yaml", value=list(free.bounds), allowed=f"[{lo}, {hi}]")
    for key in ("targets", "trend_series"):
        name = getattr(spec, key)
        if name is not None and not (here / name).is_file():
            raise InputError(path, key, "file not found", value=name, allowed=f"a CSV file relative to {here}")
    targets = read_targets(here / spec.targets, region.base_year)
    if spec.trend_series:
        read_trend_series(here / spec.trend_series)
    names = tuple(spec.free)
    return Problem(spec, path, region, region_path, policies_dir, targets, names,
                   np.array([spec.free[n].bounds[0] for n in names], dtype=float),
                   np.array([spec.free[n].bounds[1] for n in names], dtype=float))


#: columns of a targets table and their kinds (:func:`simulator.inputs.reading.read_csv_checked`); ``region`` is a note
TARGET_KINDS = {"id": "text", "region": "text?", "indicator": "text", "year": "int", "ratio_to": "number?",
                "value": "number", "rel_sd": "number", "kind": "text?", "definition": "text?", "source": "text?"}
TREND_KINDS = {"indicator": "text", "year": "int", "value": "number", "source": "text?"}


def _indicator_unit(column: str, row: dict) -> str | None:
    """Unit a numeric cell implies: the indicator's for ``value`` (a ratio has none), a share for ``rel_sd``."""
    if column == "value" and not (row.get("ratio_to") or "").strip():
        ind = INDICATORS.get((row.get("indicator") or "").strip())
        return ind.unit if ind else None
    return "share 0-1" if column == "rel_sd" else None


def _read_table(path: Path, kinds: dict[str, str], required, what: str) -> tuple[pd.DataFrame, list[int]]:
    """A checked CSV table (every cell of its kind, with its line) as read by pandas, and each row's line."""
    rows, lines = read_csv_checked(path, kinds, required, unit_of=_indicator_unit, what=what)
    if not rows:
        raise InputError(path, "", "no rows under the header", allowed=what, line=2)
    t = pd.read_csv(path, dtype={"id": str} if "id" in kinds else None, encoding="utf-8-sig")
    t.columns = [str(c).strip() for c in t.columns]   # as the checked reader reads the header
    if len(t) != len(rows):   # pandas skips what the checked reader skips; fall back to row numbers if not
        lines = [i + 2 for i in range(len(t))]
    return t, lines


def read_targets(path: Path, base_year: int) -> pd.DataFrame:
    """The targets table, checked: known indicators, positive values and uncertainties, years after the base.

    Every problem names the file, the line, the row (its id) and the column.
    """
    what = "a CSV with columns " + ", ".join(TARGET_COLUMNS)
    t, lines = _read_table(path, TARGET_KINDS, TARGET_COLUMNS, what)
    known = set(INDICATORS) | set(DERIVED)
    for row, line in zip(t.itertuples(), lines, strict=True):
        where = f"{row.id}"
        if row.indicator not in known:
            raise InputError(path, f"{where}.indicator", "unknown indicator" + closest(row.indicator, known),
                             value=row.indicator, allowed=", ".join(sorted(known)), line=line)
        for column in ("value", "rel_sd"):
            if not getattr(row, column) > 0:
                raise InputError(path, f"{where}.{column}", "must be positive", value=getattr(row, column),
                                 allowed="a positive number", line=line)
        if row.year <= base_year or row.year > 2100:
            raise InputError(path, f"{where}.year", "must fall after the region's base year",
                             value=row.year, allowed=f"{base_year + 1} to 2100", line=line)
        ratio_to = row.ratio_to
        if not pd.isna(ratio_to) and not (base_year <= ratio_to < row.year and ratio_to == int(ratio_to)):
            raise InputError(path, f"{where}.ratio_to", "must be a year from the base year to before the target's",
                             value=row.ratio_to, allowed=f"{base_year} to {row.year - 1}", line=line)
    if t["id"].duplicated().any():
        dup = sorted(t.loc[t["id"].duplicated(), "id"])
        line = lines[int(np.flatnonzero(t["id"].duplicated().to_numpy())[0])]
        raise InputError(path, f"{dup[0]}.id", "duplicate target id", value=dup[0], allowed="one row per id", line=line)
    return t.reset_index(drop=True)


def read_trend_series(path: Path) -> pd.DataFrame:
    """The earlier years of the targets' series (for the trend benchmark), checked like the targets."""
    what = "a CSV with columns indicator, year, value"
    t, lines = _read_table(path, TREND_KINDS, ("indicator", "year", "value"), what)
    for row, line in zip(t.itertuples(), lines, strict=True):
        if row.indicator not in INDICATORS:
            raise InputError(path, f"row {row.Index + 1}.indicator",
                             "unknown indicator" + closest(row.indicator, INDICATORS), value=row.indicator,
                             allowed=", ".join(INDICATORS), line=line)
        if not row.value > 0:
            raise InputError(path, f"row {row.Index + 1}.value", "must be positive", value=row.value,
                             allowed="a positive number", line=line)
    return t

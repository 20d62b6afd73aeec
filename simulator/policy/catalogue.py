"""The policy catalogue as a table: every quantified instrument of the documents and its status.

Used by ``innosim policies``. A catalogue file is ``scenarios/policies/<name>.yaml``;
a region uses the catalogues its region file lists under ``policy_catalogues``, all of
them at once: a zone or city of Heilongjiang runs its own document's instruments and the
province's (001), each paid by its catalogue's payer. ``--region`` lists that stack in
the region file's order (column ``layer``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator.errors import InputError, closest
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.region_file import load_region
from simulator.policy.instruments import INSTRUMENT_TYPES

COLUMNS = ["id", "regions", "layer", "document", "clause", "targets", "type", "rule", "start_year", "end_year",
           "payer", "status", "quote"]


def regions_by_catalogue(scenarios_dir: Path) -> dict[str, list[str]]:
    """Catalogue name -> ids of the regions that use it."""
    out: dict[str, list[str]] = {}
    for path in sorted((scenarios_dir / "regions").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        region = load_region(path)
        for name in region.policy_catalogues:
            out.setdefault(name, []).append(region.id)
    return out


def status(spec) -> str:
    """'modelled', or 'not modelled: <why>'."""
    if spec.modelled and spec.type in INSTRUMENT_TYPES:
        return "modelled"
    why = spec.not_modelled_because or f"no model class for type {spec.type!r} yet"
    return f"not modelled: {why}"


def catalogue_table(scenarios_dir: str | Path = "scenarios", region: str | None = None) -> pd.DataFrame:
    """Every instrument of every catalogue (or of those one region uses), one row each."""
    scenarios_dir = Path(scenarios_dir)
    policies_dir = scenarios_dir / "policies"
    if not policies_dir.is_dir():
        raise InputError(policies_dir, "--scenarios", "no policies/ folder here",
                         allowed="the scenarios folder of an innosim checkout")
    users = regions_by_catalogue(scenarios_dir)
    if region is not None:
        known = sorted({r for rs in users.values() for r in rs})
        if region not in known:
            raise InputError(scenarios_dir / "regions", "--region",
                             f"unknown region {region!r}" + closest(region, known), allowed=", ".join(known))
    paths = sorted(policies_dir.glob("*.yaml"))
    stack: list[str] = []
    if region is not None:    # the region's layers in its file's order (its own document first)
        stack = [c for path in sorted((scenarios_dir / "regions").glob("*.yaml")) if not path.name.startswith("_")
                 for r in [load_region(path)] if r.id == region for c in r.policy_catalogues]
        paths = sorted((p for p in paths if p.stem in stack), key=lambda p: stack.index(p.stem))
    rows = []
    for path in paths:
        regions = users.get(path.stem, [])
        if region is not None and region not in regions:
            continue
        cat = load_catalogue(path)
        for spec in cat.instruments:
            layer = f"{stack.index(path.stem) + 1} {path.stem}" if path.stem in stack else ""
            rows.append({"id": spec.id, "regions": " ".join(regions), "layer": layer, "document": cat.document,
                         "clause": spec.clause, "targets": spec.targets, "type": spec.type, "rule": spec.rule,
                         "start_year": spec.start_year, "end_year": spec.end_year,
                         "payer": spec.payer or cat.payer, "status": status(spec), "quote": spec.quote})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.astype({"start_year": "Int64", "end_year": "Int64"})

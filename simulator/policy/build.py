"""Building a region's instruments from its policy catalogues, with a scenario's settings applied."""

from __future__ import annotations

from pathlib import Path

from simulator.errors import InputError, closest
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.region_file import Region
from simulator.inputs.scenario_file import Scenario
from simulator.policy.instruments import Instrument, build_instrument


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

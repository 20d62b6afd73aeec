"""A validated scenario ready to run (Prepared): its variants, instruments and models; prepare() builds it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from simulator.errors import InputError, closest
from simulator.experiments.seeds import replicate_seed
from simulator.inputs.catalogue_file import load_catalogue
from simulator.inputs.parameters import Parameters, calibrated_draw
from simulator.inputs.reading import file_problem
from simulator.inputs.region_file import Region, load_region
from simulator.inputs.scenario_file import NO_POLICY, Scenario, apply_options, load_scenario
from simulator.inputs.validation import validate
from simulator.model.region_model import RegionModel
from simulator.policy.build import build_instruments
from simulator.policy.instruments import Instrument


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
        return build_instruments(self.region, self.scenario, self.region_path.parent.parent / "policies",
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
        try:   # a variant's bad parameter or instrument setting is named under variants.<name>
            params = Parameters.defaults().with_overrides(scenario.parameters, str(self.scenario_path))
            prepared = replace(self, scenario=scenario, params=params)
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
        return RegionModel(self.region, self.replicate_params(replicate), self.instruments(),
                           seed=replicate_seed(self.scenario.seed, replicate),
                           horizon=self.scenario.horizon, region_path=self.region_path,
                           past_instruments=self.catalogue_instruments())

    def catalogue_instruments(self) -> list[Instrument]:
        """The region's instruments as the catalogues write them (no scenario or variant settings): the
        policy in force before the base year, which shaped the base-year state of every variant."""
        return build_instruments(self.region, self.scenario.model_copy(update={"policies": {}}),
                                 self.region_path.parent.parent / "policies", str(self.scenario_path))

    def replicate_params(self, replicate: int = 0) -> Parameters:
        """The parameters of ``replicate``'s model (see :meth:`model`)."""
        if not self.scenario.parameter_uncertainty:
            return self.params
        draw = calibrated_draw(self.scenario.seed, replicate)
        return self.params.with_overrides({k: v for k, v in draw.items() if k not in self.scenario.parameters},
                                          "calibration/calibrated.yaml")


def prepare(path: str | Path, *, seed: int | None = None, replicates: int | None = None,
            horizon: int | None = None) -> Prepared:
    """Validate a scenario file and everything it refers to. Raises InputError on any problem."""
    path = Path(path)
    scenario = load_scenario(path)
    scenario = apply_options(scenario, seed=seed, replicates=replicates, horizon=horizon)   # named --seed, …
    library = path.parent / scenario.scenario_dir if scenario.scenario_dir else path.parent
    if scenario.scenario_dir and not (library / "regions").is_dir():
        raise InputError(path, "scenario_dir", f"no regions/ folder in {library}", value=scenario.scenario_dir,
                         allowed="a folder (relative to the scenario file) holding regions/ and policies/, "
                                 "such as the repository's scenarios/")
    regions_dir = library / "regions"
    region_path = regions_dir / f"{scenario.region}.yaml"
    problem = file_problem(region_path)
    if problem and problem != "file not found":   # a folder, a symlink loop, a broken link: say so
        raise InputError(path, "region", f"the region file {region_path} is unreadable: {problem}",
                         value=scenario.region, allowed=f"a region file in {regions_dir}")
    if problem:
        available = sorted(p.stem for p in regions_dir.glob("*.yaml") if not p.name.startswith("_"))   # (data notes)
        raise InputError(path, "region", f"unknown region {scenario.region!r}" + closest(scenario.region, available),
                         allowed=", ".join(available) or f"a file in {regions_dir}")
    region = load_region(region_path)
    if scenario.horizon < region.base_year:
        raise InputError(path, "horizon", "must not precede the region's base year", value=scenario.horizon,
                         allowed=f">= {region.base_year}")
    _check_years(scenario, path, horizon)
    params = Parameters.defaults().with_overrides(scenario.parameters, str(path))
    prepared = Prepared(scenario, path, region, region_path, params,
                        tuple(library / "policies" / f"{c}.yaml" for c in region.policy_catalogues))
    prepared.instruments()   # validate the catalogues and the scenario's policy settings now
    prepared.variants()      # ... and every variant's
    return prepared


def _check_years(scenario: Scenario, path: Path, horizon_option: int | None) -> None:
    """An instrument setting (of the scenario or a variant) that starts after the horizon would never pay:
    refused, naming the setting (and --horizon when the horizon came from it)."""
    where = "--horizon" if horizon_option is not None else "horizon"
    settings = [(f"policies.{k}", v) for k, v in scenario.policies.items()]
    settings += [(f"variants.{n}.policies.{k}", v) for n, var in scenario.variants.items()
                 for k, v in var.policies.items()]
    for field, setting in settings:
        if setting.start_year is not None and setting.start_year > scenario.horizon:
            raise InputError(path, f"{field}.start_year", f"starts after the run's last year ({where} "
                             f"{scenario.horizon}), so it would never pay", value=setting.start_year,
                             allowed=f"<= {scenario.horizon}, or a later {where}")

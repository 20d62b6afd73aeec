"""Factors of a sensitivity analysis: behavioural parameters and policy levers, each with its sampled range.

:func:`parameter_factors` is the one place that decides the range of each parameter (priors,
the calibrated intervals, the full bounds or a file of ranges); :func:`lever_factors` makes the
``scale`` of each modelled instrument a factor (see :mod:`simulator.analysis.sensitivity`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulator.errors import InputError, closest, unit_problem
from simulator.inputs.parameters import calibrated_document, calibrated_path, parameter_specs
from simulator.inputs.reading import load_yaml

#: parameter kinds that are uncertain (national rules are fixed by law)
UNCERTAIN_KINDS = ("evidence", "assumption", "calibrated")
#: default range of a parameter: its prior value times (1 - w, 1 + w), clipped to its bounds
PRIOR_WIDTH = 0.5
#: default range of a policy lever's scale: switched off (0) to doubled (2)
LEVER_RANGE = (0.0, 2.0)
LEVER = "policy:"


@dataclass(frozen=True)
class Factor:
    """One uncertain input: a parameter (``name``) or a policy lever (``policy:<instrument>.scale``)."""

    name: str
    low: float
    high: float
    integer: bool = False
    origin: str = ""

    @property
    def is_lever(self) -> bool:
        return self.name.startswith(LEVER)

    @property
    def instrument(self) -> str:
        return self.name.removeprefix(LEVER).rsplit(".", 1)[0]

    def value(self, x: float) -> float | int:
        """The factor's value at ``x`` (in its own units): rounded for integer parameters."""
        return int(round(x)) if self.integer else float(x)


# ------------------------------------------------------------------ factor ranges
def _calibrated_ranges(path: Path) -> dict[str, tuple[float, float]]:
    """Ranges from a file: ``{name: [low, high]}`` or ``{name: {bounds|interval90|interval: [low, high]}}``,
    optionally under a top-level ``parameters`` key (the layout of ``calibration/calibrated.yaml``).

    Every name must be an uncertain scalar parameter and every range inside its bounds in parameters.yaml.
    """
    data = load_yaml(path)
    prefix = ""
    if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
        data, prefix = data["parameters"], "parameters."
    if not isinstance(data, dict):
        raise InputError(path, "", "expected a mapping of parameter names to ranges", value=type(data).__name__,
                         allowed="name: [low, high]")
    specs = parameter_specs()
    candidates = _candidates(specs)
    out = {}
    for name, entry in data.items():
        field = f"{prefix}{name}"
        if name not in candidates:
            why = ("fixed national rule or list-valued" if name in specs
                   else "unknown parameter" + closest(name, candidates))
            raise InputError(path, field, why,
                             allowed="scalar evidence/assumption/calibrated parameters (see `innosim parameters`)")
        rng = entry
        if isinstance(entry, dict):
            key = next((k for k in ("bounds", "interval90", "interval", "range") if k in entry), None)
            rng, field = (entry[key], f"{field}.{key}") if key else (None, field)
        unit = specs[name].unit.split(" (")[0]
        for x in rng if isinstance(rng, list) else [rng]:
            hint = unit_problem(x, unit)
            if hint:
                raise InputError(path, field, hint[0], value=x, allowed=hint[1])
            if isinstance(x, bool):
                raise InputError(path, field, "a boolean where a number belongs", value=x, allowed="[low, high]")
        if (not isinstance(rng, (list, tuple)) or len(rng) != 2
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in rng) or rng[0] > rng[1]):
            raise InputError(path, field, "not a range", value=None if isinstance(entry, dict) else entry,
                             allowed="[low, high] with low <= high")
        lo, hi = specs[name].bounds
        if not lo <= rng[0] <= rng[1] <= hi:
            raise InputError(path, field, "outside the parameter's bounds", value=list(rng),
                             allowed=f"a range within [{lo}, {hi}] (parameters.yaml)")
        out[str(name)] = (float(rng[0]), float(rng[1]))
    return out


def _candidates(specs: dict) -> dict:
    """The parameters that may be factors: scalar, of an uncertain kind."""
    return {s.name: s for s in specs.values()
            if s.kind in UNCERTAIN_KINDS and not isinstance(s.value, list) and not isinstance(s.value, bool)}


def parameter_factors(bounds: str | Path = "calibrated", names: list[str] | None = None,
                      width: float = PRIOR_WIDTH) -> list[Factor]:
    """The behavioural parameters as factors, each with the range sensitivity samples from.

    This is the one function that decides parameter ranges:

    * ``"calibrated"`` (default): the 90 % interval of every parameter the calibration in use
      (``calibration/calibrated.yaml``, see :func:`simulator.inputs.parameters.calibrated_path`) lists,
      identified or not (an unidentified one spans most of its search range, which is the
      honest uncertainty); the ``"prior"`` range for the others. Without a calibration, ``"prior"``.
    * ``"prior"``: the documented value times ``(1 - width, 1 + width)``, clipped to
      the parameter's bounds (a value of 0 ranges over the first ``width`` x 10 % of its bounds).
      The bounds of ``parameters.yaml`` are what a scenario may set, often orders of magnitude
      wide (e.g. 1-10 000 万元 revenue per employee): sampling them whole would make the widest
      range look the most influential. ±50 % is an assumption of the analysis, recorded with
      every result.
    * ``"full"``: the whole bounds of ``parameters.yaml``.
    * a path to a YAML file (e.g. ``calibration/calibrated.yaml``): ``name: [low, high]`` (or
      ``{bounds: [low, high]}``) per parameter; parameters it does not list keep their prior range.

    Only scalar parameters of kinds evidence, assumption or calibrated are factors.
    ``names`` restricts (and orders) them.
    """
    specs = parameter_specs()
    calibrated: dict[str, tuple[float, float]] = {}
    source = bounds
    if isinstance(bounds, Path) or bounds not in ("prior", "full", "calibrated"):
        calibrated = _calibrated_ranges(Path(bounds))
    elif bounds == "calibrated":
        path = calibrated_path()
        calibrated = {name: (float(e["interval90"][0]), float(e["interval90"][1]))
                      for name, e in (calibrated_document().get("parameters") or {}).items() if e.get("interval90")}
        source = path.name if path is not None else bounds
    by_name = _candidates(specs)
    candidates = list(by_name.values())
    if names is not None:
        for n in names:
            if n not in by_name:
                why = "fixed national rule or list-valued" if n in specs else "unknown parameter"
                raise InputError("--factors", n, why + closest(n, by_name),
                                 allowed="scalar evidence/assumption parameters (see `innosim parameters`)")
        candidates = [by_name[n] for n in names]
    out = []
    for s in candidates:
        lo_b, hi_b = float(s.bounds[0]), float(s.bounds[1])
        if s.name in calibrated:
            lo, hi = calibrated[s.name]
            origin = f"calibrated 90 % interval ({source})"
        elif bounds == "full":
            lo, hi, origin = lo_b, hi_b, "parameters.yaml bounds"
        else:
            v = float(s.value)
            if v == 0:
                lo, hi = lo_b, lo_b + width * 0.1 * (hi_b - lo_b)
            else:
                lo, hi = sorted((v * (1 - width), v * (1 + width)))
            lo, hi = max(lo, lo_b), min(hi, hi_b)
            origin = f"prior {s.value} ±{width:.0%}, within bounds [{s.bounds[0]}, {s.bounds[1]}]"
        integer = isinstance(s.value, int)
        if integer:
            lo, hi = math.ceil(lo) - 0.49, math.floor(hi) + 0.49   # every integer in range equally likely
        if hi > lo:
            out.append(Factor(s.name, lo, hi, integer, origin))
    return out


def lever_factors(prepared, low: float = LEVER_RANGE[0], high: float = LEVER_RANGE[1],
                  instruments: list[str] | None = None) -> list[Factor]:
    """The scale of each modelled, enabled instrument of the scenario as a factor in [low, high]."""
    active = [i.id for i in prepared.instruments() if i.enabled]
    if instruments is not None:
        for n in instruments:
            if n not in active:
                raise InputError("--factors", f"{LEVER}{n}", "not a modelled instrument enabled in the scenario"
                                 + closest(n, active), allowed=", ".join(active))
        active = [n for n in instruments]
    origin = f"scale {low:g}-{high:g} x the amounts as written"
    return [Factor(f"{LEVER}{i}.scale", low, high, False, origin) for i in active]


def default_factors(prepared, bounds: str | Path = "calibrated", names: list[str] | None = None) -> list[Factor]:
    """Parameters and policy levers. ``names`` may mix parameter names and ``policy:<instrument>``;
    ``None`` means every uncertain scalar parameter and every active instrument."""
    if names is None:
        return parameter_factors(bounds) + lever_factors(prepared)
    params = [n for n in names if not n.startswith(LEVER)]
    levers = [n.removeprefix(LEVER).removesuffix(".scale") for n in names if n.startswith(LEVER)]
    return (parameter_factors(bounds, params) if params else []) + (lever_factors(prepared, instruments=levers)
                                                                    if levers else [])


def factors_table(factors: list[Factor]) -> pd.DataFrame:
    """The factors with kind, range and where the range comes from."""
    return pd.DataFrame([{"factor": f.name, "kind": "policy lever" if f.is_lever else "parameter",
                          "low": f.low, "high": f.high, "integer": f.integer, "range_from": f.origin}
                         for f in factors])

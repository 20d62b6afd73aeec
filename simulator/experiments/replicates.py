"""The replicate loop: a chunk of replicates of every variant run to aggregates, and chunks put together.

Each chunk runs every variant for its replicates and returns only aggregates (indicator values
and payment totals), so memory does not grow with agent detail. A replicate that raises is
recorded as a :class:`Failure` (variant, replicate, seed, parameters, year, error) and the
others go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from simulator.errors import InputError
from simulator.experiments.seeds import replicate_seed
from simulator.inputs.parameters import Parameters
from simulator.model.region_model import RegionModel
from simulator.policy.instruments import active_terms

PAYMENT_COLUMNS = ["variant", "replicate", "year", "instrument", "payer", "recipients", "amount"]
TABLE_COLUMNS = ["variant", "replicate", "year", "indicator", "value"]
FAILURE_COLUMNS = ["variant", "replicate", "seed", "year", "error", "message", "parameters"]


@dataclass(frozen=True)
class Failure:
    """A replicate of a variant that raised instead of finishing.

    ``seed`` is the replicate's random seed as ``numpy.random.SeedSequence`` arguments,
    ``parameters`` the values that differ from the defaults (scenario overrides and any
    calibrated draw), ``year`` the year being simulated when it failed (empty if the model
    could not be built).
    """

    variant: str
    replicate: int
    seed: str
    year: int | None
    error: str
    message: str
    parameters: str

    def __str__(self) -> str:
        when = f" in {self.year}" if self.year is not None else " while building the model"
        return (f"variant {self.variant} replicate {self.replicate} ({self.seed}) failed{when}: "
                f"{self.error}: {self.message}; parameters {self.parameters}")


@dataclass
class EnsembleResult:
    """Aggregates of an ensemble: the tidy indicator table, the payment totals and any failed replicates."""

    table: pd.DataFrame
    payments: pd.DataFrame
    failures: list[Failure] = field(default_factory=list)

    def failures_frame(self) -> pd.DataFrame:
        """The failures as a table (``FAILURE_COLUMNS``), one row per failed replicate and variant."""
        return pd.DataFrame([asdict(f) for f in self.failures], columns=FAILURE_COLUMNS)


@dataclass
class ChunkResult:
    """What one task returns: per variant its indicator rows (replicate, year, indicator order),
    the payment totals and the failures of its replicates."""

    replicates: list[int]
    variants: list[str]
    tables: dict[str, pd.DataFrame]
    payments: pd.DataFrame
    failures: list[Failure]


def run_chunk(variants: dict, replicates: list[int]) -> ChunkResult:
    """Run every variant (name -> Prepared) for each replicate; return indicator rows and payment totals.

    Rows are built from numpy blocks (one per model: years x indicators), so an
    ensemble's memory is a few bytes per value, not a Python object per value. A
    replicate that raises (an ``Exception``, e.g. a :class:`~simulator.model.guards.NumericalError`)
    becomes a :class:`Failure`; an interrupt is not caught, and neither is an
    :class:`~simulator.errors.InputError` (bad input stops the run with its message).
    """
    blocks: dict[str, list] = {name: [] for name in variants}
    pays, failures = [], []
    for k in replicates:
        for variant, model in replicate_models(variants, k):
            if isinstance(model, Failure):
                failures.append(model)
                continue
            try:
                model.run()
            except InputError:         # bad input, not a failing replicate: the run stops with the clear message
                raise
            except Exception as exc:   # reported, the other replicates go on
                failures.append(_failure(variants[variant], variant, k, exc, model.year))
                continue
            finally:
                model.release()
            # the indicators in their order, then target series (simulator/targets.py); a growth has no value
            # in the base year (no year before), which stays NaN
            names = list(dict.fromkeys(n for rec in model.records for n in rec if n != "year"))
            values = np.array([[rec.get(n, np.nan) for n in names] for rec in model.records], dtype=float)
            years = np.array([rec["year"] for rec in model.records], dtype=np.int64)
            blocks[variant].append((k, values, years, names))
            pays.extend((variant, k, *row) for row in model.government.payment_totals())
    tables = {}
    for variant, rows in blocks.items():
        parts = []
        for k, values, years, names in rows:
            n_years, n_ind = values.shape
            parts.append(pd.DataFrame({
                "variant": np.repeat(variant, n_years * n_ind).astype(object),
                "replicate": np.full(n_years * n_ind, k, dtype=np.int64),
                "year": np.repeat(years, n_ind),
                "indicator": np.tile(np.array(names, dtype=object), n_years),
                "value": values.ravel()}))
        if parts:
            tables[variant] = pd.concat(parts, ignore_index=True)
    return ChunkResult(list(replicates), list(variants), tables, pd.DataFrame(pays, columns=PAYMENT_COLUMNS),
                       failures)


def _failure(prepared, variant: str, replicate: int, exc: BaseException, year: int | None) -> Failure:
    seed = replicate_seed(prepared.scenario.seed, replicate)
    try:
        params = prepared.replicate_params(replicate).to_dict()
    except Exception:  # the draw itself failed; report the scenario's parameters
        params = prepared.params.to_dict()
    defaults = Parameters.defaults().to_dict()
    changed = {k: v for k, v in params.items() if defaults.get(k) != v}
    return Failure(variant, replicate, f"SeedSequence(entropy={seed.entropy}, spawn_key={seed.spawn_key})",
                   year, type(exc).__name__, str(exc), repr(changed) if changed else "defaults")


def replicate_models(variants: dict, replicate: int) -> Iterator[tuple[str, RegionModel | Failure]]:
    """Replicate ``replicate``'s model of every variant (name -> Prepared), in order, ready to run
    (or the :class:`Failure` of building it).

    Each is exactly the model ``prepared.model(replicate)`` would build, but variants that share
    region, seed, horizon and parameters, and differ only in instruments, also share every year
    before the first in which any of their instruments pays: the policies of a plan typically start
    a year or two after its baseline, so those years are simulated once per replicate and the
    model is copied from there (:meth:`RegionModel.snapshot`). Copies continue exactly as fresh
    models would (tested); the saving is the build and the shared years of every variant but one.
    """
    groups: list[tuple[tuple, list[tuple[str, list, Parameters]]]] = []
    models: dict[str, RegionModel | Failure] = {}
    for name, prepared in variants.items():
        try:
            params = prepared.replicate_params(replicate)
            member = (name, prepared.instruments(), params)
        except InputError:
            raise
        except Exception as exc:  # reported as this variant's failure
            models[name] = _failure(prepared, name, replicate, exc, None)
            continue
        key = (id(prepared.region), str(prepared.region_path), prepared.scenario.seed, prepared.scenario.horizon)
        for gkey, members in groups:
            if gkey == key and members[0][2] == params:
                members.append(member)
                break
        else:
            groups.append((key, [member]))
    for _key, group in groups:
        # variants that pay alike in the base year (e.g. all but no_policy, where a provincial award is
        # in force) share every year up to the one before their payments first differ
        clusters: dict[frozenset, list] = {}
        base_year = variants[group[0][0]].region.base_year
        for member in group:
            clusters.setdefault(active_terms(member[1], base_year), []).append(member)
        for members in clusters.values():
            if len(members) == 1:
                models[members[0][0]] = _build(variants[members[0][0]], members[0][0], replicate)
                continue
            _share_years(variants, members, replicate, models)
    for name in variants:
        yield name, models.pop(name)


def _share_years(variants: dict, members: list, replicate: int, models: dict) -> None:
    """Build the first member, run it to the year before the members' payments first differ, and copy it."""
    first = variants[members[0][0]]
    fork = _first_difference_year(first, [insts for _, insts, _ in members]) - 1
    built = _build(first, members[0][0], replicate)
    failed = built if isinstance(built, Failure) else None
    if failed is None:
        try:
            built.run(fork)
            snap = built.snapshot()
        except InputError:
            raise
        except Exception as exc:  # the shared years failed: every member fails there
            failed = _failure(first, members[0][0], replicate, exc, built.year)
        finally:
            built.release()
    for name, insts, _params in members:   # a failure in the shared years is every member's
        models[name] = replace(failed, variant=name) if failed else RegionModel.from_snapshot(snap, insts)


def _build(prepared, name: str, replicate: int) -> RegionModel | Failure:
    try:
        return prepared.model(replicate)
    except InputError:   # e.g. a region file whose baseline the population cannot reproduce: bad input
        raise
    except Exception as exc:  # reported as this replicate's failure
        return _failure(prepared, name, replicate, exc, None)


def _first_difference_year(prepared, instrument_sets: list[list]) -> int:
    """First year from the base year on in which the sets of ``instrument_sets`` do not all pay alike
    (:func:`~simulator.policy.instruments.active_terms`); horizon + 1 if they never differ."""
    first, last = prepared.region.base_year, prepared.scenario.horizon
    for year in range(first, last + 1):
        if len({active_terms(insts, year) for insts in instrument_sets}) > 1:
            return year
    return last + 1


class ReplicateError(RuntimeError):
    """Replicates failed where every one is needed (sensitivity points, optimiser mixes)."""

    def __init__(self, failures: list[Failure]) -> None:
        self.failures = failures
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"{len(failures)} replicate(s) failed; first: {failures[0]}{more}")


def collect(parts: list[ChunkResult], names: list[str]) -> EnsembleResult:
    """Put chunks together: rows by variant (declared order), then replicate, year, indicator; payments
    and failures in the same order, whatever order the chunks finished in."""
    rank = {name: i for i, name in enumerate(names)}
    parts = sorted(parts, key=lambda p: (min(rank.get(v, len(rank)) for v in p.variants), p.replicates[0]))
    tables = [p.tables[v] for v in names for p in parts if v in p.tables]
    table = (pd.concat(tables, ignore_index=True) if tables
             else pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS}))
    if not _ranges(parts, names):
        # chunks that are not replicate ranges in order (a caller's own chunking): sort the blocks
        var = table["variant"].map(rank).to_numpy()
        table = table.iloc[np.lexsort((table["replicate"].to_numpy(), var))].reset_index(drop=True)   # stable
    pays = [p.payments for p in parts if len(p.payments)]
    payments = pd.concat(pays, ignore_index=True) if pays else pd.DataFrame(columns=PAYMENT_COLUMNS)
    failures = sorted((f for p in parts for f in p.failures), key=lambda f: (rank.get(f.variant, 0), f.replicate))
    return EnsembleResult(table, payments, failures)


def _ranges(parts: list[ChunkResult], names: list[str]) -> bool:
    """Whether, variant by variant, the sorted parts hold increasing replicates (rows then need no sort)."""
    for v in names:
        reps = [k for p in parts if v in p.tables for k in p.replicates]
        if any(b <= a for a, b in zip(reps, reps[1:], strict=False)):
            return False
    return True

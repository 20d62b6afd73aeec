"""Snapshots: a model's pickled state, sharing its read-only inputs by reference, and how to restore one."""

from __future__ import annotations

import io
import itertools
import pickle
from dataclasses import dataclass
from typing import Any

import mesa

from simulator.policy.instruments import Instrument, active_terms


@dataclass(frozen=True)
class Snapshot:
    """A model's pickled state at the end of ``year`` (:meth:`RegionModel.snapshot`); ``shared`` are the
    read-only objects it refers to without copying."""

    data: bytes
    shared: tuple
    year: int


class _SharedPickler(pickle.Pickler):
    """Pickles a model, writing the ``shared`` objects as references (their position) instead of copies."""

    def __init__(self, file, shared: tuple) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._positions = {id(obj): k for k, obj in enumerate(shared)}

    def persistent_id(self, obj):
        return self._positions.get(id(obj))


class _SharedUnpickler(pickle.Unpickler):
    def __init__(self, file, shared: tuple) -> None:
        super().__init__(file)
        self._shared = shared

    def persistent_load(self, pid):
        return self._shared[pid]


def take(model: Any, shared: tuple) -> Snapshot:
    """Snapshot of ``model`` now, the ``shared`` objects (region, parameters, instruments) referenced."""
    buf = io.BytesIO()
    _SharedPickler(buf, shared).dump(model)
    return Snapshot(buf.getvalue(), shared, model.year)


def check_same_past(snap: Snapshot, instruments: list[Instrument]) -> None:
    """Raise ValueError if ``instruments`` would have paid otherwise than the snapshot's in a year up to its own."""
    base_year = snap.shared[0].base_year   # shared[0] is the region, shared[2:] its instruments
    had = list(snap.shared[2:])
    early = {t[0] for y in range(base_year, snap.year + 1)
             for t in active_terms(instruments, y) ^ active_terms(had, y)}
    if early:
        raise ValueError(f"instruments {sorted(early)} pay otherwise in a year up to {snap.year} than "
                         "in the years the snapshot has already simulated")


def restore(snap: Snapshot) -> Any:
    """The model pickled in ``snap`` (a new copy on every call)."""
    model = _SharedUnpickler(io.BytesIO(snap.data), snap.shared).load()
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):   # Mesa 3.3 numbers agents from a class-level counter per model
        ids[model] = itertools.count(max((a.unique_id for a in model.agents), default=0) + 1)
    return model

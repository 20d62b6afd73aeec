"""The policy-catalogue file's schema: the quantified instruments of one seed document."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from simulator.errors import unit_problem
from simulator.inputs.reading import load_yaml
from simulator.inputs.schema import MAX_AMOUNT, TEXT_PARAMS, YEAR, Strict, amount_unit, invalid, years_in_order
from simulator.inputs.validation import validate

TARGET_GROUPS = ("firms", "incubators", "institutes", "talent", "inventors", "alliances", "zone", "all")


class InstrumentSpec(Strict):
    """One quantified instrument as transcribed from a document.

    ``type`` is the instrument family (``simulator.policy.instruments.INSTRUMENT_TYPES`` for those
    the model pays). Entries with ``modelled: false`` are listed by ``innosim policies``
    with the reason, and not paid.
    """

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    type: str
    modelled: bool = True
    not_modelled_because: str = ""
    clause: str
    quote: str = Field(min_length=4)
    targets: Literal[TARGET_GROUPS]  # type: ignore[valid-type]
    trigger: str
    rule: str = ""
    payer: str | None = None
    start_year: int | None = YEAR
    end_year: int | None = YEAR
    params: dict[str, float | str | list[float]] = {}
    reading: str = ""

    @field_validator("params")
    @classmethod
    def _amounts(cls, v: dict[str, float | str | list[float]]) -> dict[str, float | str | list[float]]:
        for key, value in v.items():
            for i, x in enumerate(value if isinstance(value, list) else [value]):
                at = (key, i) if isinstance(value, list) else (key,)
                if isinstance(x, str):
                    hint = unit_problem(x, amount_unit(key))
                    if hint:
                        raise invalid(hint[0], at=at, value=x, allowed=hint[1])
                    if key not in TEXT_PARAMS:
                        raise invalid("must be a number", at=at, value=x,
                                      allowed=f"a non-negative number ({amount_unit(key)}); words only for "
                                              + ", ".join(TEXT_PARAMS))
                elif not 0 <= x <= MAX_AMOUNT:
                    raise invalid("must be a non-negative amount" if x < 0 else f"must not exceed {MAX_AMOUNT:g}",
                                  at=at, value=x, allowed=f"0 to {MAX_AMOUNT:g} ({amount_unit(key)})")
        return v

    @model_validator(mode="after")
    def _reason_when_not_modelled(self) -> InstrumentSpec:
        if not self.modelled and not self.not_modelled_because:
            raise ValueError(f"{self.id}: not_modelled_because is required when modelled is false")
        years_in_order(self.start_year, self.end_year)
        return self


class Catalogue(Strict):
    """A policy catalogue file: the quantified instruments of one seed document."""

    document: str
    title: str = ""
    issued: dt.date | None = None
    payer: str
    instruments: list[InstrumentSpec]

    @field_validator("instruments")
    @classmethod
    def _unique_ids(cls, v: list[InstrumentSpec]) -> list[InstrumentSpec]:
        ids = [i.id for i in v]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            second = [k for k, i in enumerate(ids) if i == dupes[0]][1]
            raise invalid(f"duplicate instrument ids {dupes}", at=(second, "id"), value=dupes[0],
                          allowed="one entry per id")
        return v


def load_catalogue(path: Path) -> Catalogue:
    """Load and validate a policy catalogue file (parsed once per file version: every model of
    an ensemble builds its instruments from it)."""
    path = Path(path)
    if not path.is_file():
        return validate(Catalogue, load_yaml(path), path)   # raises "file not found"
    stat = path.stat()
    return _load_catalogue(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load_catalogue(path: str, mtime_ns: int, size: int) -> Catalogue:
    return validate(Catalogue, load_yaml(Path(path)), Path(path))

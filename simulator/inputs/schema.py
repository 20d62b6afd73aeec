"""Pieces the input-file schemas share: the strict base model, error helper, units and limits."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

#: unit a numeric field implies, by field name (a field's ``json_schema_extra={"unit": ...}`` wins);
#: used to say what "10万" should have been. Fields absent here take a plain number (a count, a year).
FIELD_UNITS = {
    "budget": "万元", "scale": "times the amounts as written", "probability": "share 0-1 (0.8 = 80 %)",
    "firm_share": "share 0-1", "va_ratio": "share 0-1", "hightech_prior": "share 0-1",
    "rd_prior": "share 0-1 of revenue", "size": "times the average firm's revenue", "rel_sd": "share 0-1",
}
#: unit of an instrument's amount parameter, by name (default 万元)
AMOUNT_UNITS = {"rate": "share 0-1 of the payment", "recertification_factor": "share 0-1 of the first award",
                "years": "years", "places": "ranking places", "phd": "万元 a month", "master": "万元 a month",
                "bachelor": "万元 a month", "technician": "万元 a month", "senior_skilled_worker": "万元 a month"}
#: instrument parameters that are words, not amounts
TEXT_PARAMS = ("eligible", "level", "kind", "exclude_kind", "paid_to")


def amount_unit(name: object) -> str:
    """Unit of an instrument's amount parameter ``name``."""
    return AMOUNT_UNITS.get(str(name), "万元")


def invalid(problem: str, *, at: Sequence[object] = (), value: object = None, allowed: str | None = None):
    """A validation error carrying a sub-path below the validated field, the bad value and what is allowed."""
    return PydanticCustomError("innosim", "{problem}", {"problem": problem, "at": ".".join(str(a) for a in at),
                                                        "value": value, "allowed": allowed})


#: largest baseline or target figure accepted (in the indicator's unit: 亿元, 家, %, ...); the largest real
#: one is a few thousand 亿元, so a bigger number is a typo, and 1e308 would overflow the model's sums
MAX_FIGURE = 1e9
#: largest factor a scenario may scale an instrument's amounts by (an assumption: 1000 x a written
#: amount is far beyond any policy variant; larger factors only overflow the payments)
MAX_SCALE = 1_000
#: largest annual budget or amount in a scenario or catalogue (万元: 1e10 万元 = 1e14 元, beyond any
#: regional budget)
MAX_AMOUNT = 1e10


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: a name that stands for a file of a scenarios folder (regions/<name>.yaml, policies/<name>.yaml): no
#: folder separators and no leading dot, so it cannot point outside the scenarios tree ("../../etc/x")
FILE_STEM = r"^[^/\\.\x00-\x1f][^/\\\x00-\x1f]*$"


class LocalName(Strict):
    zh: str
    en: str


#: a year field of an instrument's validity (optional)
YEAR = Field(default=None, ge=1990, le=2100)


def years_in_order(start: int | None, end: int | None) -> None:
    """An instrument ending before it starts would never pay: refused (the end year is named)."""
    if start is not None and end is not None and end < start:
        raise invalid("ends before it starts", at=("end_year",), value=end, allowed=f">= start_year ({start})")

"""Checking data against a file schema: pydantic's errors as InputErrors naming line, field, value, what is allowed.

:func:`validate` checks the data against a pydantic model that forbids unknown keys and reports
the first problem as an InputError naming the file, the line, the field path, the bad value and
what is allowed; booleans and numbers written with a unit ("10万", "3亿", "5%") where a number
belongs are reported as such.
"""

from __future__ import annotations

import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from simulator.errors import NULL, InputError, closest, line_of, unit_problem
from simulator.inputs.schema import FIELD_UNITS, amount_unit


def validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    """Validate ``data`` against ``model``; raise InputError (with the line, where known) on the first problem."""
    path = Path(path)
    keys = ", ".join(model.model_fields)
    if data is None:
        raise InputError(path, "", "the file is empty (or holds only comments)", allowed=f"a mapping with keys {keys}")
    if not isinstance(data, dict):
        raise InputError(path, "", "expected a mapping of keys to values", value=type(data).__name__,
                         allowed=f"keys {keys}", line=line_of(path, ""))
    hit = _scan(model, data, ())
    if hit is not None:
        loc, problem, allowed, value = hit
        raise InputError(path, _dotted(data, loc), problem, value=value, allowed=allowed)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise input_error(model, data, path, first_error(data, exc.errors())) from None


def first_error(data: dict, errors: list[dict]) -> dict:
    """The error to report: of the first field with errors, the one reaching deepest into the data (in a
    union, the arm that matched the input's shape); an unknown key rather than the required key it misspells."""
    group = [e for e in errors if e["loc"][:1] == errors[0]["loc"][:1]]
    best = max(group, key=lambda e: len(_data_loc(data, e["loc"])))   # first of the deepest
    if best["type"] == "missing":
        for e in errors:
            if e["type"] == "extra_forbidden" and tuple(e["loc"][:-1]) == tuple(best["loc"][:-1]) and closest(
                    str(e["loc"][-1]), [str(best["loc"][-1])]):
                return e
    return best


def input_error(model: type[BaseModel], data: dict, path: Path, err: dict) -> InputError:
    """The InputError for one pydantic error."""
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    raw = err.get("input")
    value: Any = NULL if raw is None else (None if _structured(raw) else raw)
    if kind == "innosim":
        loc = (*_data_loc(data, loc), *(p for p in str(ctx.get("at") or "").split(".") if p))
        bad = ctx.get("value")
        return InputError(path, _dotted(data, loc), str(ctx["problem"]),
                          value=None if _structured(bad) else bad, allowed=ctx.get("allowed"))
    if kind in ("missing", "extra_forbidden"):
        loc = (*_data_loc(data, loc[:-1]), loc[-1])
    if kind == "missing":
        owner = _owner(model, loc[:-1])
        required = [n for n, f in owner.model_fields.items() if f.is_required()] if owner else []
        return InputError(path, _dotted(data, loc), "required field is missing",
                          allowed=("required: " + ", ".join(required)) if required else None,
                          line=line_of(path, _dotted(data, loc[:-1])) if len(loc) > 1 else None)
    if kind == "extra_forbidden":
        owner = _owner(model, loc[:-1])
        valid = list(owner.model_fields) if owner else []
        return InputError(path, _dotted(data, loc), "unknown key" + closest(str(loc[-1]), valid),
                          allowed=", ".join(valid) or None)
    dloc = _data_loc(data, loc)
    field = _dotted(data, dloc)
    msg = err["msg"].removeprefix("Value error, ")
    info = _field_info(model, dloc)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return InputError(path, field, "not one of the allowed values" + closest(str(raw), choices), value=value,
                          allowed=str(ctx.get("expected", "")) or None)
    limits = _limits(info)
    for name, op in (("greater_than_equal", ">="), ("greater_than", ">"), ("less_than_equal", "<="),
                     ("less_than", "<")):
        if kind == name:
            limit = next(iter(ctx.values())) if ctx else ""
            limit = f"{limit:g}" if isinstance(limit, float) else limit
            return InputError(path, field, f"must be {op} {limit}", value=value, allowed=limits or f"{op} {limit}")
    if kind == "finite_number":
        return InputError(path, field, "must be a finite number", value=value, allowed=limits or "a finite number")
    if kind == "int_from_float":
        return InputError(path, field, "must be a whole number", value=value, allowed=limits or "an integer")
    if kind.endswith("_parsing") or kind.endswith("_type"):
        unit = _unit(dloc[-1], info, _at(data, dloc[:-1]), dloc[-2] if len(dloc) > 1 else None) if dloc else None
        hint = unit_problem(raw, unit, "an integer" if kind.startswith("int") else "a plain number")
        if hint and (kind.startswith("int") or kind.startswith("float")):
            return InputError(path, field, hint[0], value=value, allowed=hint[1])
        return InputError(path, field, "wrong type", value=value, allowed=_TYPE_WORDS.get(kind) or
                          msg.removeprefix("Input should be "))
    return InputError(path, field, msg, value=value)


def _structured(value: Any) -> bool:
    """A mapping, or a list holding mappings or lists: too long to quote as the bad value."""
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value))


_TYPE_WORDS = {
    "int_parsing": "an integer", "int_type": "an integer", "float_parsing": "a number", "float_type": "a number",
    "string_type": "text", "bool_parsing": "true or false", "bool_type": "true or false",
    "dict_type": "a mapping of keys to values", "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values", "list_type": "a list", "tuple_type": "a list",
    "date_parsing": "a date (YYYY-MM-DD)", "date_type": "a date (YYYY-MM-DD)", "date_from_datetime_parsing":
    "a date (YYYY-MM-DD)",
}


def _data_loc(data: Any, loc: Sequence[object]) -> tuple:
    """The parts of a pydantic ``loc`` that address ``data``: union tags such as ``'float'`` or
    ``'TargetSpec'`` (and a missing key) are left out."""
    out, cur = [], data
    for part in loc:
        if isinstance(cur, dict):
            key = part if part in cur else next((k for k in cur if str(k) == str(part)), _NOKEY)
            if key is _NOKEY:
                continue
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            continue
        out.append(part)
    return tuple(out)


_NOKEY = object()


def _dotted(data: Any, loc: Sequence[object]) -> str:
    """``loc`` as a dotted path; a list item with a unique ``id`` is named by it (``instruments.q000_m4_hte_award``)."""
    parts, cur = [], data
    for part in loc:
        if isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            item = cur[part]
            ident = item.get("id") if isinstance(item, dict) else None
            ids = [x.get("id") for x in cur if isinstance(x, dict)]
            parts.append(ident if isinstance(ident, str) and ident and ids.count(ident) == 1 else str(part))
            cur = item
            continue
        parts.append(str(part))
        cur = cur.get(part) if isinstance(cur, dict) else None
    return ".".join(parts)


def _field_info(model: type[BaseModel], loc: Sequence[object]):
    """The pydantic FieldInfo of the field at ``loc`` (or None)."""
    if not loc:
        return None
    owner = _owner(model, loc[:-1])
    return owner.model_fields.get(str(loc[-1])) if owner else None


def _limits(info) -> str | None:
    """'from 1 to 100000' from a field's ge/gt/le/lt constraints."""
    if info is None:
        return None
    lo = hi = None
    for m in getattr(info, "metadata", []):
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(m, attr, None) is not None:
                lo = (op, getattr(m, attr))
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                hi = (op, getattr(m, attr))
    if lo and hi and lo[0] == ">=" and hi[0] == "<=":
        return f"from {lo[1]} to {hi[1]}"
    text = " and ".join(f"{b[0]} {b[1]}" for b in (lo, hi) if b)
    return text or None


def _unit(name: object, info, parent: Any, parent_key: object = None) -> str | None:
    """The unit the field ``name`` implies: a sibling ``unit`` (region figures), an amount parameter's,
    the field's own (``json_schema_extra``), or :data:`FIELD_UNITS` by name."""
    name = str(name)
    if name == "value" and isinstance(parent, dict) and isinstance(parent.get("unit"), str):
        return parent["unit"]
    if str(parent_key) == "params":
        return amount_unit(name)
    extra = getattr(info, "json_schema_extra", None)
    if isinstance(extra, dict) and extra.get("unit"):
        return str(extra["unit"])
    return FIELD_UNITS.get(name)


def _at(data: Any, loc: Sequence[object]) -> Any:
    """The data at ``loc`` (None where it does not exist)."""
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


_PARAMS = object()   # marker: the children of a ``params`` mapping, whose unit depends on the key


def _scan(annotation: Any, value: Any, loc: tuple, unit: Any = None) -> tuple | None:
    """The first boolean, or number written with a unit, where only a number belongs.

    Pydantic turns ``true`` into 1 and reports "10万" as a parsing error; this walks the data
    along the model's annotations first so both get a clear message. Returns
    ``(loc, problem, allowed, value)`` or None.
    """
    annotation = _strip(annotation)
    origin = get_origin(annotation)
    if annotation is Any or origin is Literal:
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return None
        for key, item in value.items():
            info = annotation.model_fields.get(key) if isinstance(key, str) else None
            if info is None:
                continue
            sub = _PARAMS if key == "params" else _unit(key, info, value)
            hit = _scan(info.annotation, item, (*loc, key), sub)
            if hit:
                return hit
        return None
    if origin in (Union, types.UnionType):
        arms = [_strip(a) for a in get_args(annotation)]
        if isinstance(value, bool):
            if any(a is bool or a is Any for a in arms) or not any(a in (int, float) for a in arms):
                return None
            return _bool_hit(loc, value, unit)
        if isinstance(value, str) and str in arms:
            return None
        for arm in arms:
            if arm is not type(None):
                hit = _scan(arm, value, loc, unit)
                if hit:
                    return hit
        return None
    if origin is dict:
        args = get_args(annotation)
        if not isinstance(value, dict) or len(args) != 2:
            return None
        for key, item in value.items():
            hit = _scan(args[1], item, (*loc, key), amount_unit(key) if unit is _PARAMS else unit)
            if hit:
                return hit
        return None
    if origin in (list, tuple):
        args = get_args(annotation)
        if not isinstance(value, list):
            return None
        for i, item in enumerate(value):
            if origin is tuple and args and args[-1] is not Ellipsis:
                if i >= len(args):
                    return None
                arm = args[i]
            else:
                arm = args[0] if args else Any
            hit = _scan(arm, item, (*loc, i), unit)
            if hit:
                return hit
        return None
    if annotation in (int, float):
        unit = None if unit is _PARAMS else unit
        if isinstance(value, bool):
            return _bool_hit(loc, value, unit)
        hint = unit_problem(value, unit, "an integer" if annotation is int else "a plain number")
        if hint:
            return loc, hint[0], hint[1], value
    return None


def _bool_hit(loc: tuple, value: bool, unit: Any) -> tuple:
    unit = None if unit is _PARAMS else unit
    return (loc, "a boolean (true/false, yes/no, on/off) where a number belongs",
            f"a number ({unit})" if unit else "a number", value)


def _owner(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for key suggestions)."""
    current: Any = model
    skip_key = False
    for part in loc:
        if isinstance(part, int) or skip_key:   # a list index or a dict key: stay on the item's model
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        skip_key = get_origin(_strip(field.annotation)) is dict
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``Variant``, ``dict[str, Variant]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None

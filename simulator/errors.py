"""One error type for bad input, with a message a planner can act on.

Every input file is read by a loader that records where each field is written
(:func:`simulator.inputs.reading.load_yaml` for YAML, :func:`simulator.inputs.reading.read_csv_checked`
for CSV) and registers that map here with :func:`register_lines`. An
:class:`InputError` raised for a file and a field path, wherever in the package,
then looks up the line itself, so call sites name the field and need not know
the line.
"""

from __future__ import annotations

import difflib
import errno
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: longest value repr shown in a message
MAX_VALUE_CHARS = 120


class _Null:
    """A YAML ``null`` (or empty entry) as the bad value of a message (``value=None`` means no value)."""

    def __repr__(self) -> str:
        return "null (empty)"


NULL = _Null()


class InputError(Exception):
    """A problem with a file or value the user supplied.

    The message names the file, the line where the format has lines, the field
    (dotted path), the bad value and what is allowed, on one line:
    ``qiqihar.yaml: line 14: policies.q000_m4_hte_award.scale: must be >= 0; got -1.0; allowed: >= 0``.
    The CLI prints it and exits with status 2.

    ``line`` is looked up from the file's loader registry (see :func:`register_lines`)
    when not given; it stays None when the file has no lines (a command-line option)
    or the field cannot be found in it.
    """

    def __init__(self, file: object, field: str, problem: str, *, value: object = None,
                 allowed: str | None = None, line: int | None = None) -> None:
        self.file = visible(str(file)) if file is not None else "<input>"
        self.field = field
        self.problem = problem
        self.value = value
        self.allowed = allowed
        self.line = line if line is not None else line_of(self.file, field, value)
        head = f"{self.file}: "
        if self.line is not None:
            head += f"line {self.line}: "
        if field or self.line is None:
            head += f"{visible(field) if field else '(top level)'}: "
        parts = [head + problem]
        if value is not None:
            parts.append(f"got {_short(value)}")
        if allowed:
            parts.append(f"allowed: {allowed}")
        super().__init__(" ".join("; ".join(parts).split()))   # always one line

    def __reduce__(self):   # survives pickling (worker processes, Dask) with every attribute
        return (_rebuild, (self.file, self.field, self.problem, self.value, self.allowed, self.line))


def _rebuild(file: str, field: str, problem: str, value: object, allowed: str | None, line: int | None) -> InputError:
    return InputError(file, field, problem, value=value, allowed=allowed, line=line)


def visible(text: str) -> str:
    """``text`` with invisible and control characters escaped (``seed\\u200b``), so a key that looks
    right but holds a zero-width space or a control character shows what is wrong with it."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
                   for c in str(text))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest valid name, or '' (also when ``name`` is itself valid:
    the problem is then elsewhere, and "did you mean 'x'" for 'x' would mislead)."""
    options = [str(c) for c in choices]
    if str(name) in options:
        return ""
    match = difflib.get_close_matches(str(name), options, n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


# ------------------------------------------------------------------ faults of the machine
class EnvironmentFaultError(Exception):
    """The machine or its environment stopped a run: a folder that cannot be written, a full disk,
    a file-size limit, a read-only file system, an unreachable scheduler, another run holding
    the output folder. Not bad input, but reported the same way: one line naming the path and
    what to do (the CLI prints it and exits with status 2).
    """

    def __init__(self, path: object, problem: str, advice: str) -> None:
        self.path = visible(str(path))
        self.problem = problem
        self.advice = advice
        super().__init__(" ".join(f"{self.path}: {problem}; {advice}".split()))

    def __reduce__(self):
        return (EnvironmentFaultError, (self.path, self.problem, self.advice))


#: what an OSError means for a user, by errno: (problem, what to do)
_OS_ADVICE = {
    errno.EACCES: ("permission denied", "choose a folder you may write (--out DIR) or change its permissions"),
    errno.EPERM: ("operation not permitted", "choose a folder you may write (--out DIR) or change its permissions"),
    errno.EROFS: ("the file system is read-only", "choose --out on a writable file system"),
    errno.ENOSPC: ("no space left on the device", "free some space (or choose --out on another disk)"),
    errno.EDQUOT: ("disk quota exceeded", "free some space (or choose --out on another disk)"),
    errno.EFBIG: ("file too large for the file-size limit (ulimit -f)",
                  "raise the limit (ulimit -f unlimited) or write elsewhere"),
    errno.ENOTDIR: ("a part of this path is a file, not a folder", "choose --out inside a folder"),
    errno.EISDIR: ("is a directory", "give a file, not a folder"),
    errno.ELOOP: ("a loop of symbolic links", "fix the link (ls -l shows where it points)"),
    errno.ENAMETOOLONG: ("the path is too long", "choose a shorter --out"),
    errno.EEXIST: ("exists and is a file, not a folder", "choose another --out"),
}


def os_fault(exc: OSError, path: object = None, resume_hint: str = "") -> EnvironmentFaultError:
    """The :class:`EnvironmentFaultError` for an ``OSError`` (the path it names, else ``path``), with what to do;
    ``resume_hint`` is added (e.g. "12 of 24 replicates are saved: ... --resume continues")."""
    where = exc.filename if exc.filename is not None else path
    problem, advice = _OS_ADVICE.get(exc.errno, (exc.strerror or type(exc).__name__,
                                                 "check the path and the disk, then run again"))
    if resume_hint:
        advice = f"{advice}; {resume_hint}"
    return EnvironmentFaultError(where if where is not None else "<output>", problem, advice)


# ------------------------------------------------------------------ where fields are written
_MISSING = object()


@dataclass
class Where:
    """Where one entry of a file is written: its line (1-based), the scalar value, and the entries inside.

    ``children`` is a dict (a mapping: key -> entry; the line is the key's) or a list
    (a sequence), None for a scalar.
    """

    line: int
    value: Any = _MISSING
    children: dict[str, Where] | list[Where] | None = None

    def find(self, path: Sequence[object]) -> Where | None:
        """The entry at ``path`` (keys, list indices, or a list item's ``id``/``name``/``indicator``)."""
        node: Where | None = self
        parts = [str(p) for p in path]
        i = 0
        while i < len(parts):
            if node is None:
                return None
            kids = node.children
            if isinstance(kids, dict):
                for j in range(len(parts), i, -1):        # keys may contain dots: longest match first
                    key = ".".join(parts[i:j])
                    if key in kids:
                        node, i = kids[key], j
                        break
                else:
                    return None
            elif isinstance(kids, list):
                node, i = _item(kids, parts[i]), i + 1
            else:
                return None
        return node


def _item(items: list[Where], part: str) -> Where | None:
    if re.fullmatch(r"\d+", part):
        k = int(part)
        return items[k] if k < len(items) else None
    for item in items:                                      # e.g. instruments.<id> in a catalogue
        if isinstance(item.children, dict):
            for key in ("id", "name", "indicator"):
                if key in item.children and str(item.children[key].value) == part:
                    return item
    return None


_REGISTRY: OrderedDict[str, Where] = OrderedDict()
_REGISTRY_SIZE = 512


def _key(file: object) -> str:
    try:
        return str(Path(str(file)).resolve())
    except (OSError, RuntimeError, ValueError):
        return str(file)


def register_lines(file: object, where: Where) -> None:
    """Remember where the fields of ``file`` (as just loaded) are written, for later messages."""
    key = _key(file)
    _REGISTRY.pop(key, None)
    _REGISTRY[key] = where
    while len(_REGISTRY) > _REGISTRY_SIZE:
        _REGISTRY.popitem(last=False)


def lines_of(file: object) -> Where | None:
    """The registered map of ``file``, or None."""
    return _REGISTRY.get(_key(file)) if file else None


def line_of(file: object, field: str | Sequence[object], value: object = None) -> int | None:
    """Line of ``field`` (dotted path or parts) in ``file`` as last loaded, or None.

    When ``value`` is a scalar and the file holds a different scalar at that path, the
    error is about a value from elsewhere (a command-line override, a merged variant):
    no line is given rather than a wrong one.
    """
    root = lines_of(file)
    if root is None or field is None:
        return None
    parts = [p for p in (field.split(".") if isinstance(field, str) else field) if p != ""]
    node = root.find(parts) if parts else root
    if node is None:
        return None
    if _is_scalar(value) and node.value is not _MISSING and not _same(node.value, value):
        return None
    return node.line


def _is_scalar(v: object) -> bool:
    return isinstance(v, (str, int, float, bool)) and not isinstance(v, _Null)


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return str(a) == str(b)


def forget_lines(file: object) -> None:
    """Drop the registered map of ``file`` (before it is read again, so a failed read leaves no stale lines)."""
    _REGISTRY.pop(_key(file), None)


# ------------------------------------------------------------------ numbers written with a unit
#: "10万", "3 亿元", "5%", "-2.5e3元": a number followed by a short non-numeric suffix
_UNIT_CHAR = r"(?:[^\W\d_]|[%％‰])"   # a letter (any script) or a percent sign
_WITH_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
                        rf"({_UNIT_CHAR}(?:{_UNIT_CHAR}|[ /]){{0,7}}?)\s*$")
_MONEY = {"元": 1.0, "千元": 1e3, "万": 1e4, "万元": 1e4, "十万": 1e5, "十万元": 1e5, "百万": 1e6, "百万元": 1e6,
          "千万": 1e7, "千万元": 1e7, "亿": 1e8, "亿元": 1e8}
_PERCENT = ("%", "％")


def number_with_unit(value: object) -> tuple[float, str] | None:
    """``(number, unit)`` when ``value`` is a string such as ``"10万"``, ``"3亿"`` or ``"5%"``, else None."""
    if not isinstance(value, str):
        return None
    m = _WITH_UNIT.match(value)
    if not m:
        return None
    try:
        return float(m.group(1)), m.group(2).strip()
    except ValueError:
        return None


def unit_problem(value: object, unit: str | None = None, kind: str = "a plain number") -> tuple[str, str] | None:
    """``(problem, allowed)`` for a number written with a unit where a plain number belongs, else None.

    ``unit`` is the unit the field implies (``万元``, ``亿元 a year``, ``%``, ``share 0-1`` ...;
    None when the field takes a plain count or year). Where the written unit converts to
    the field's, ``allowed`` gives the number to write instead.
    """
    parsed = number_with_unit(value)
    if parsed is None:
        return None
    number, written = parsed
    problem = f"a number with a unit ({written!r})"
    problem += (f"; the unit is implied by the field: {unit}" if unit else "; this field takes a number without a unit")
    converted = _convert(number, written, unit)
    if converted is not None:
        allowed = f"{kind}, e.g. {converted:g} for {value.strip()}"
    else:
        allowed = f"{kind} without the unit" if unit else f"{kind} without a unit"
    return problem, allowed


def _convert(number: float, written: str, unit: str | None) -> float | None:
    if not unit:
        return None
    field_money = re.match(r"(千万元|百万元|十万元|万元|千元|亿元|元)", unit)
    if written in _MONEY and field_money:
        return number * _MONEY[written] / _MONEY[field_money.group(1)]
    if written in _PERCENT:
        if unit.startswith("%"):
            return number
        if "share" in unit or "fraction" in unit:
            return number / 100.0
    if unit.split()[0] == written:
        return number
    return None


__all__ = ["NULL", "EnvironmentFaultError", "InputError", "Where", "closest", "forget_lines", "line_of", "lines_of",
           "number_with_unit", "os_fault", "register_lines", "unit_problem", "visible"]

"""Reading input files: text, YAML (with the line of every key) and checked CSV tables.

Every YAML input (scenario, region, catalogue, calibration and optimiser specs, sensitivity
bounds) is read with :func:`load_yaml`, which records the line of every key
(:class:`~simulator.errors.Where`), rejects duplicate keys, NaN and infinity, and turns syntax
and encoding errors into an :class:`~simulator.errors.InputError` with the line. CSV inputs are
read with :func:`read_csv_checked` (line, column, cell). Errors raised later for a field of a
loaded file find its line through the registry in :mod:`simulator.errors`.
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import InputError, Where, closest, forget_lines, register_lines, unit_problem


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file ("is a directory", "file not found", a symbolic-link
    loop, a link to nothing, a device or pipe), or None when it is a regular file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links (the link points back to itself; ls -l shows where)"
        if path.is_symlink():
            return f"a symbolic link to a missing file ({os.readlink(path)})"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "file not found"
        return f"cannot read the file ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):   # a pipe or a device would block or never end
        return "not a regular file (a pipe, socket or device)"
    return None


def read_text(path: Path, what: str = "a UTF-8 text file", limit: int | None = None) -> str:
    """A file's text; a missing file, a folder, an unreadable one, one larger than ``limit`` bytes or bytes
    that are not UTF-8 become InputError."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise InputError(path, "", problem, allowed=f"an existing file ({what})")
    try:
        size = path.stat().st_size
        if limit is not None and size > limit:
            raise InputError(path, "", f"too large to be an input file ({size:,} bytes)".replace(",", " "),
                             allowed=f"{what} of at most {limit:,} bytes".replace(",", " "))
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "", f"cannot read the file ({exc.strerror})", allowed=what) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(path, "", f"not UTF-8 text (byte {raw[exc.start:exc.start + 1]!r} at byte offset "
                         f"{exc.start})", allowed=f"{what}; save the file as UTF-8", line=line) from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file: the data, with the line of every key registered for later messages.

    A missing file, non-UTF-8 bytes, a syntax error, an empty file, a duplicate key
    and NaN or infinity become an InputError with the line.
    """
    path = Path(path)
    forget_lines(path)
    data, where = parse_yaml(read_text(path, "a UTF-8 YAML file", MAX_YAML_BYTES), path)
    register_lines(path, where)
    return data


def parse_yaml(text: str, path: object = "<input>") -> tuple[Any, Where]:
    """YAML text -> (data, where every entry is written). Raises InputError (see :func:`load_yaml`)."""
    loader = None
    try:
        if len(text) > MAX_YAML_BYTES:
            raise InputError(path, "", f"too large to be an input file ({len(text)} characters)",
                             allowed=f"a YAML file of at most {MAX_YAML_BYTES} characters")
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise InputError(path, "", "the file is empty (or holds only comments)",
                             allowed="a YAML mapping of keys to values", line=1)
        _check_expansion(node, path)
        where = _index(loader, node, path, (), set(), {})
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        at = f" at column {mark.column + 1}" if mark else ""
        context = ""
        if exc.context and exc.context_mark and exc.problem and (mark is None or exc.context_mark.line != mark.line):
            context = f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        raise InputError(path, "", f"YAML syntax error{at}: {problem}{context}", allowed="valid YAML",
                         line=mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise InputError(path, "", f"YAML syntax error: character {char!r} is not allowed in YAML "
                         "(a control character?)", allowed="printable text", line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(path, "", f"YAML syntax error: {exc}", allowed="valid YAML") from None
    except RecursionError:
        raise InputError(path, "", "nested too deeply to read", allowed="a YAML mapping of keys to values") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, where


#: largest YAML input (the largest shipped file is ~25 kB)
MAX_YAML_BYTES = 2_000_000
#: most entries a YAML file may hold once its aliases are expanded, and most alias uses: an "alias
#: bomb" (anchors of anchors: a few lines that expand to billions of entries) is refused before it is
#: built (the largest shipped file holds ~3 000 entries and a handful of aliases)
MAX_YAML_NODES = 200_000
MAX_YAML_ALIASES = 1_000


def _check_expansion(root: yaml.Node, path: object) -> None:
    """Refuse a document whose aliases expand it beyond :data:`MAX_YAML_NODES` entries or that uses more
    than :data:`MAX_YAML_ALIASES` aliases. Counts with a memo per node, so the check itself is linear in
    the text, not in the expansion."""
    sizes: dict[int, int] = {}
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:                         # post-order without recursion (deep nesting is refused elsewhere)
        node, done = stack.pop()
        if id(node) in sizes and not done:
            aliases += 1                 # a node met again is an alias use
            if aliases > MAX_YAML_ALIASES:
                raise InputError(path, "", f"more than {MAX_YAML_ALIASES} alias uses (*name); refused as a "
                                 "possible alias bomb", allowed=f"at most {MAX_YAML_ALIASES} aliases")
            continue
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        else:
            kids = []
        if not done:
            sizes[id(node)] = 0          # being counted: a recursive alias adds nothing
            stack.append((node, True))
            stack.extend((k, False) for k in kids)
            continue
        sizes[id(node)] = 1 + sum(sizes.get(id(k), 0) for k in kids)
        if sizes[id(node)] > MAX_YAML_NODES:
            raise InputError(path, "", f"its aliases (*name) expand it to more than {MAX_YAML_NODES} entries; "
                             "refused as a possible alias bomb", allowed=f"at most {MAX_YAML_NODES} entries "
                             "once aliases are expanded", line=node.start_mark.line + 1)


_MERGE = "tag:yaml.org,2002:merge"
_FLOAT = "tag:yaml.org,2002:float"


def _index(loader: yaml.SafeLoader, node: yaml.Node, path: object, parts: tuple, stack: set, memo: dict) -> Where:
    """Where every entry below ``node`` is written; checks duplicate keys and non-finite numbers on the way."""
    line = node.start_mark.line + 1
    if id(node) in memo:
        return memo[id(node)]
    if id(node) in stack:           # a recursive alias
        return Where(line)
    stack = stack | {id(node)}
    dotted = ".".join(str(p) for p in parts)
    if isinstance(node, yaml.MappingNode):
        kids: dict[str, Where] = {}
        seen: dict[Any, int] = {}
        merged: dict[str, Where] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                inner = _index(loader, value_node, path, parts, stack, memo)
                for item in (inner.children if isinstance(inner.children, list) else [inner]):
                    if isinstance(item.children, dict):
                        for k, w in item.children.items():
                            merged.setdefault(k, w)
                continue
            key_line = key_node.start_mark.line + 1
            key: Any = None
            if isinstance(key_node, yaml.ScalarNode):
                key = _scalar(loader, key_node, path, dotted, key_line)
                try:
                    if key in seen:
                        raise InputError(path, ".".join(str(p) for p in (*parts, key)),
                                         f"duplicate key (first on line {seen[key]}); YAML would silently keep only "
                                         "the last", allowed="each key once per mapping", line=key_line)
                    seen[key] = key_line
                except TypeError:
                    pass
            child = _index(loader, value_node, path, (*parts, key), stack, memo)
            kids[str(key)] = Where(key_line, child.value, child.children)
        for k, w in merged.items():
            kids.setdefault(k, w)
        where = Where(line, children=kids)
    elif isinstance(node, yaml.SequenceNode):
        where = Where(line, children=[_index(loader, item, path, (*parts, i), stack, memo)
                                      for i, item in enumerate(node.value)])
    else:
        where = Where(line, value=_scalar(loader, node, path, dotted, line))
    memo[id(node)] = where
    return where


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, path: object, dotted: str, line: int) -> Any:
    try:
        value = loader.construct_object(node)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:   # e.g. a date such as 2023-02-30
        raise InputError(path, dotted, f"cannot read this value ({exc})", value=node.value,
                         allowed="a valid YAML value (quote it to make it text)", line=line) from None
    if node.tag == _FLOAT and isinstance(value, float) and not math.isfinite(value):
        raise InputError(path, dotted, "not a finite number", value=node.value, allowed="a finite number",
                         line=line)
    return value


def read_csv_checked(path: Path, columns: Mapping[str, str], required: Sequence[str] = (),
                     unit_of: Any = None, what: str = "a CSV table") -> tuple[list[dict[str, Any]], list[int]]:
    """Read and check a CSV table: UTF-8, a header of known columns, each cell of its kind.

    ``columns`` maps every allowed column to its kind: ``text``, ``text?`` (may be empty), ``int``,
    ``number`` or ``number?`` (may be empty: None). ``required`` columns must be present.
    ``unit_of(column, row)`` gives the unit a numeric cell implies (for "10万"). Returns the
    parsed rows and the line each starts on. Problems are InputErrors with the line, the row
    (its ``id`` where the table has one) and the column.
    """
    path = Path(path)
    text = read_text(path, what)
    if not text.strip():
        raise InputError(path, "", "the file is empty", allowed=f"{what} with a header row", line=1)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    header: list[str] | None = None
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or all(c.strip() == "" for c in record):
                continue
            if header is None:
                header = [c.strip() for c in record]
                _check_header(path, header, columns, required, line)
                continue
            if len(record) != len(header):
                raise InputError(path, "", f"{len(record)} fields where the header has {len(header)}", value=record,
                                 allowed="one field per column (quote a field that holds a comma)", line=line)
            raw = dict(zip(header, record, strict=True))
            label = raw.get("id", "").strip() or f"row {len(rows) + 1}"
            rows.append({c: _cell(path, c, raw[c], columns[c], label, line,
                                  unit_of(c, raw) if unit_of else None) for c in header})
            lines.append(line)
    except csv.Error as exc:
        raise InputError(path, "", f"not a valid CSV file ({exc})", allowed=what, line=reader.line_num) from None
    if header is None:
        raise InputError(path, "", "the file is empty", allowed=f"{what} with a header row", line=1)
    return rows, lines


def _check_header(path: Path, header: list[str], columns: Mapping[str, str], required: Sequence[str],
                  line: int) -> None:
    for col in header:
        if col not in columns:
            raise InputError(path, col or "(empty column name)", "unknown column" + closest(col, columns),
                             allowed=", ".join(columns), line=line)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise InputError(path, dupes[0], "duplicate column", allowed="each column once", line=line)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(path, ",".join(missing), "missing columns", allowed=", ".join(columns), line=line)


_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _cell(path: Path, column: str, cell: str, kind: str, label: str, line: int, unit: str | None) -> Any:
    field = f"{label}.{column}"
    value = cell.strip()
    if value == "":
        if kind.endswith("?"):
            return None
        raise InputError(path, field, "empty cell", allowed="a value", line=line)
    if kind.startswith("text"):
        return cell
    integer = kind == "int"
    if not _PLAIN_NUMBER.match(value) or (integer and not re.fullmatch(r"[+-]?\d+", value)):
        hint = unit_problem(value, unit, "an integer" if integer else "a plain number")
        if hint:
            raise InputError(path, field, hint[0], value=cell, allowed=hint[1], line=line)
        raise InputError(path, field, "not an integer" if integer else "not a number", value=cell,
                         allowed="an integer" if integer else "a plain number (digits, '.', optional exponent)",
                         line=line)
    return int(value) if integer else float(value)

"""The package's structure (issue 14): imports flow down the layers, no import circle, short modules.

Every ``import`` in ``simulator/`` is read with :mod:`ast` — top-level, inside functions, and under
``if TYPE_CHECKING:`` alike, since a circle dodged by a lazy import is still a circle. The layers,
bottom to top, are written once here and in the README's layout section:

====  ========================  =====================================================
rank  modules                   holds
====  ========================  =====================================================
0     ``simulator.errors``      the error types every layer raises
1     ``simulator.inputs``      file schemas and checks, parameters
2     ``simulator.policy``      instruments, catalogues
3     ``simulator.model``       region model, firms, agents, indicators, guards
4     ``simulator.experiments`` ensembles, back-ends, runner, result tables
5     ``simulator.report``      charts, report.html/PDF, workbook
6     ``simulator.analysis``    calibration, backtest, sensitivity, optimiser, mixes
7     interface                 ``cli``, ``commands``, ``jobs``, ``dashboard``, ``__main__``
====  ========================  =====================================================

A module may import its own layer and the ones below; ``simulator/__init__.py`` (the public facade)
may import anything and only the interface layer may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.core

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"
LAYERS = {"errors": 0, "inputs": 1, "policy": 2, "model": 3, "experiments": 4, "report": 5, "analysis": 6}
INTERFACE = 7   # modules directly in simulator/ other than errors: the command line, the dashboard, jobs
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a sub-package by its ``__init__``)."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> int | None:
    """The rank of a module, None for the facade ``simulator`` itself."""
    parts = name.split(".")
    if len(parts) == 1:
        return None
    return LAYERS.get(parts[1], INTERFACE if len(parts) == 2 else None)


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from a.b import c`` imports module a.b.c where c is one, else module a.b
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:   # ``import simulator.x.y`` names module simulator.x.y
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    unplaced = [name for name in modules() if name != "simulator" and layer(name) is None]
    assert not unplaced, f"modules outside every layer (put them in a sub-package or list the layer): {unplaced}"


def test_imports_only_flow_down():
    upward = []
    for name, targets in graph().items():
        rank = layer(name)
        for target in sorted(targets):
            if rank is None:   # the facade may import anything
                continue
            to = layer(target)
            if (to is None and rank != INTERFACE) or (to is not None and to > rank):
                upward.append(f"{name} (layer {rank}) imports {target} (layer {to if to is not None else 'facade'})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_circle():
    found = circles(graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_modules_are_short_and_say_what_they_hold():
    lines = {name: len(p.read_text(encoding="utf-8").splitlines()) for name, p in modules().items()}
    long = {name: n for name, n in lines.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    silent = [name for name, p in modules().items() if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert not silent, f"modules without an opening docstring: {silent}"


# ------------------------------------------------------------------ the checker itself can fail
def test_circle_finder_finds_a_circle_and_nothing_else():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_import_reader_sees_lazy_and_type_checking_imports(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simulator.model.firms import X\n"
                    "def f():\n    import simulator.report.plots\n    from simulator.inputs import parameters\n")
    known = {"simulator.model.firms", "simulator.report.plots", "simulator.inputs", "simulator.inputs.parameters"}
    assert imports("simulator.model.other", path, known) == {"simulator.model.firms", "simulator.report.plots",
                                                             "simulator.inputs.parameters"}


def test_layers_rank_as_documented():
    assert layer("simulator.errors") == 0
    assert layer("simulator.model.firms") == 3
    assert layer("simulator.cli") == INTERFACE
    assert layer("simulator") is None
    assert layer("simulator.analysis") == 6

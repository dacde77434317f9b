"""The package's import graph: no new import cycle, and the lower layers never import the upper ones.

The graph is built with ``ast`` from every ``import`` in ``rapidata_sim/``: top-level ones,
those under ``if TYPE_CHECKING:`` and those inside functions all count, because each of them is
a dependency a reader has to follow. ``from pkg import name`` is an edge to ``pkg.name`` when
that is a module, else to ``pkg``; a package's ``__init__`` is a node of its own (importing a
submodule is not counted as importing its parent package, or everything would import the root).

Cycles once allowed were written down twice (both lists are empty now, and may only stay so):

- ``ALLOWED_CYCLES``: the modules of each strongly connected component. A module that joins a
  cycle fails the test; so does one that leaves it (then delete it from the list).
- ``ALLOWED_CYCLE_EDGES``: the imports that close those cycles. Take them out and the graph must
  be acyclic, so a new cycle through other imports fails even among today's modules. An entry
  that no longer closes a cycle fails too.

``python tests/unit/test_import_graph.py`` prints today's cycles (the strongly connected components
and the edges inside them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import rapidata_sim

PACKAGE = "rapidata_sim"
ROOT = Path(rapidata_sim.__file__).resolve().parent

#: Today's strongly connected components (short names). Only shrink these: today there are none.
ALLOWED_CYCLES: list[set[str]] = []

#: Edges (importer, imported; without the ``rapidata_sim.`` prefix) allowed to close a cycle.
#: Each is today's; remove an entry when its cycle is gone (the test says when).
ALLOWED_CYCLE_EDGES: dict[tuple[str, str], str] = {}

#: Folders of the lower layers, and the folders they must never import.
LOWER = ("core", "crowd", "domain")
UPPER = ("http", "serving", "cli", "testing", "scenario")


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``, short names (no ``rapidata_sim.``)."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                        targets.add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if not (module == PACKAGE or module.startswith(PACKAGE + ".")):
                    continue
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in files else module)
        unknown = targets - files.keys()
        assert not unknown, f"{name} imports modules that do not exist: {sorted(unknown)}"
        graph[_short(name)] = {_short(t) for t in targets if t != name}
    return graph


def _short(module: str) -> str:
    return module[len(PACKAGE) + 1:] if module != PACKAGE else "(root)"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; only the components that hold a cycle, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return sorted(found)


def _cycle_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], int]:
    """Every edge inside a strongly connected component, with its component's number."""
    edges = {}
    for number, component in enumerate(strongly_connected(graph)):
        members = set(component)
        for a in component:
            for b in graph[a] & members:
                edges[(a, b)] = number
    return edges


def describe(graph: dict[str, set[str]]) -> str:
    lines = []
    for number, component in enumerate(strongly_connected(graph)):
        lines.append(f"cycle {number}: {', '.join(component)}")
        members = set(component)
        for a in component:
            for b in sorted(graph[a] & members):
                mark = "  (allowed)" if (a, b) in ALLOWED_CYCLE_EDGES else ""
                lines.append(f"    {a} -> {b}{mark}")
    return "\n".join(lines) or "no cycles"


def test_the_cycles_are_todays():
    graph = import_graph()
    found = [set(component) for component in strongly_connected(graph)]
    new = [sorted(c) for c in found if c not in ALLOWED_CYCLES]
    gone = [sorted(c) for c in ALLOWED_CYCLES if c not in found]
    assert not new and not gone, (f"cycles changed.\nnow: {new}\nlisted: {gone}\n"
                                  "a module that joined a cycle: break the import; one that left: shrink the list\n"
                                  + describe(graph))


def test_no_new_import_cycle():
    graph = import_graph()
    pruned = {a: {b for b in bs if (a, b) not in ALLOWED_CYCLE_EDGES} for a, bs in graph.items()}
    left = strongly_connected(pruned)
    assert not left, ("a new import cycle (break it, don't allow it):\n" + describe(pruned)
                      + "\n\nall cycles, allowed edges marked:\n" + describe(graph))


def test_the_allowed_cycles_only_shrink():
    graph = import_graph()
    in_cycles = _cycle_edges(graph)
    stale = [edge for edge in ALLOWED_CYCLE_EDGES if edge not in in_cycles]
    assert not stale, (f"no longer part of a cycle: remove {stale} from ALLOWED_CYCLE_EDGES\n"
                       + describe(graph))


def test_lower_layers_never_import_upper_ones():
    graph = import_graph()
    wrong = sorted((a, b) for a, bs in graph.items() for b in bs
                   if a.split(".")[0] in LOWER and b.split(".")[0] in UPPER)
    assert not wrong, f"core/, crowd/ and domain/ must not import {', '.join(UPPER)}: {wrong}"


def test_core_stands_alone():
    graph = import_graph()
    wrong = sorted((a, b) for a, bs in graph.items() for b in bs
                   if a.split(".")[0] == "core" and b.split(".")[0] != "core")
    assert not wrong, f"core/ imports only core/: {wrong}"


def test_the_facade_and_the_domain_are_in_no_cycle():
    """Services, the scheduler and the upper layers are given a World or take an Engine: none of
    them names the Simulator facade back, so it and the layers below it stay out of every cycle."""
    graph = import_graph()
    cyclic = {m for component in strongly_connected(graph) for m in component}
    wrong = sorted(m for m in cyclic
                   if m in ("simulator", "engine") or m.split(".")[0] in ("core", "domain", "scheduling"))
    assert not wrong, "in an import cycle:\n" + describe(graph)


def test_the_checker_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["e"]]


if __name__ == "__main__":
    print(describe(import_graph()))

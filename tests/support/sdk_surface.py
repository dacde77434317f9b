"""The installed SDK's public surface, and the check that every method of it is placed.

``discover()`` walks the SDK by introspection, not from a list: it starts at ``RapidataClient``
and the managers its ``__init__`` builds (``self.signals = RapidataSignalManager(...)``, ...), then
follows the return annotations of every public method and property to the SDK classes they name
(``RapidataSignal``, ``RapidataJob``, ``RapidataFlowItem``, ...), until nothing new turns up.
A class's public names are the functions and properties defined in the SDK itself (inherited
``dict``, pydantic or ``Enum`` machinery is not the SDK's surface).

A *placement* says for one public name how it is covered:

- ``Test("tests/sdk/test_x.py::test_y")``: that test exists and its body (with the module's own
  helper functions it calls, followed transitively) names the method (``.name`` in the source).
  A bare ``"test_y"`` means a function of the file the placement table sits in (see ``check``).
- ``NoRequest("why")``: the method makes no request (a cached field, a local file, a browser); a
  static guard refuses the claim if the method's own source touches ``_openapi_service``.
- ``Pending("tests/sdk/test_validation_sets.py", "POST /validation-set")``: covered on a branch not
  merged yet; allowed only while that file does not exist *and* the simulator does not serve the
  route (``docs/endpoints.md``, which ``test_endpoint_table`` keeps equal to the app's routes).
  Once either arrives, the placement must become a ``Test``: it cannot silently stay pending.

``check(placements)`` returns every problem: an SDK name not placed, a placement of a name the SDK
no longer has, a test that is missing or never names the method, a false "no request", a pending
placement whose file has arrived.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Test:
    __test__ = False  # a placement, not a pytest class
    ref: str  # "tests/sdk/test_x.py::test_name" (or a helper function's name), or a bare name


@dataclass(frozen=True)
class NoRequest:
    reason: str


@dataclass(frozen=True)
class Pending:
    ref: str  # the test file (``path`` or ``path::test``), on a branch still to be merged, that will cover it
    route: str | None = None  # "METHOD /path" it needs; once docs/endpoints.md lists it, it is no longer pending


Placement = Test | NoRequest | Pending


# -- the SDK's surface, by introspection ---------------------------------------------------------

@cache
def _classes_by_name() -> dict[str, set[type]]:
    import rapidata.rapidata_client as rc

    found: dict[str, set[type]] = defaultdict(set)
    for info in pkgutil.walk_packages(rc.__path__, rc.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - an optional extra's module; its classes are unreachable anyway
            continue
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__.startswith("rapidata.rapidata_client"):
                found[name].add(obj)
    return found


def managers() -> dict[str, type]:
    """``RapidataClient``'s public managers: attribute -> class, read from its ``__init__`` (its
    private ones, ``_demographic`` and ``_experiment``, are not the SDK's public surface)."""
    from rapidata import RapidataClient

    source = inspect.getsource(RapidataClient.__init__)
    namespace = sys.modules[RapidataClient.__module__].__dict__
    return {attr: namespace[cls] for attr, cls in re.findall(r"self\.(\w+)\s*=\s*(\w+)\(", source)
            if cls in namespace and not attr.startswith("_")}


def public_names(cls: type) -> list[str]:
    """Public functions and properties the SDK itself defines on ``cls`` (or its SDK bases)."""
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("rapidata."):
            continue
        static = vars(owner)[name]
        if isinstance(static, (property, staticmethod, classmethod)) or inspect.isfunction(static):
            names.append(name)
    return sorted(names)


def _function(cls: type, name: str):
    static = inspect.getattr_static(cls, name)
    if isinstance(static, property):
        return static.fget
    if isinstance(static, (staticmethod, classmethod)):
        return static.__func__
    return static


def reached_source(cls: type, name: str) -> str:
    """The source of ``cls.name`` and of every method or property of ``cls`` it reaches through
    ``self.`` (transitively): what a "no request" claim is checked against."""
    parts, todo, done = [], [name], set()
    while todo:
        current = todo.pop()
        if current in done:
            continue
        done.add(current)
        try:
            fn = _function(cls, current)
            source = inspect.getsource(fn)
        except (AttributeError, TypeError, OSError):
            continue
        parts.append(source)
        for ref in re.findall(r"self\.(\w+)", source):
            if ref.startswith("__") and not ref.endswith("__"):  # name-mangled: self.__x
                ref = next((f"_{k.__name__}{ref}" for k in cls.__mro__ if f"_{k.__name__}{ref}" in vars(k)), ref)
            if ref not in done:
                todo.append(ref)
    return "\n".join(parts)


def _returned(fn) -> set[type]:
    try:
        annotation = inspect.signature(fn).return_annotation
    except (TypeError, ValueError):
        return set()
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return {cls for ident in re.findall(r"[A-Za-z_]\w*", text) for cls in _classes_by_name().get(ident, ())}


@cache
def discover() -> dict[type, list[str]]:
    """Every SDK class reachable from ``RapidataClient`` -> its public names."""
    from rapidata import RapidataClient

    todo: list[type] = [RapidataClient, *managers().values()]
    seen: dict[type, list[str]] = {}
    while todo:
        cls = todo.pop(0)
        if cls in seen:
            continue
        seen[cls] = public_names(cls)
        for name in seen[cls]:
            todo += [c for c in _returned(_function(cls, name)) if c not in seen]
    return seen


# -- the check -----------------------------------------------------------------------------------

@cache
def _module(path: Path) -> tuple[str, dict[str, ast.AST]]:
    source = path.read_text()
    tree = ast.parse(source)
    return source, {node.name: node for node in ast.walk(tree)
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _reach(path: Path, name: str) -> str | None:
    """The source of ``name`` in ``path`` (its decorators too: a parametrized method name counts)
    and of the module's functions it calls (transitively), plus the code of every section of the
    SDK's shipped guide it runs by heading (``run_section("### Custom Audiences", ...)``)."""
    source, functions = _module(path)
    if name not in functions:
        return None
    lines = source.splitlines()
    parts, todo, done = [], [name], set()
    while todo:
        fn = functions[todo.pop()]
        if fn.name in done:
            continue
        done.add(fn.name)
        first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
        parts.append("\n".join(lines[first - 1:fn.end_lineno]))
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and node.id in functions and node.id not in done:
                todo.append(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("#"):
                parts += _guide_section(node.value)
    return "\n".join(parts)


@cache
def _guide() -> str:
    import rapidata

    return (Path(rapidata.__file__).parent / "_skill" / "SKILL.md").read_text()


def _guide_section(heading: str) -> list[str]:
    """The Python blocks under ``heading`` in the SDK's shipped guide (none if it is no heading)."""
    text = _guide()
    start = text.find(f"\n{heading}\n")
    if start < 0:
        return []
    rest = text[start + len(heading) + 2:]
    end = re.search(r"^#{2,3} ", rest, flags=re.M)
    return re.findall(r"^```python\n(.*?)^```", rest[:end.start()] if end else rest, flags=re.M | re.S)


@cache
def _endpoints() -> str:
    return (ROOT / "docs" / "endpoints.md").read_text()


def _served(route: str) -> bool:
    """Whether docs/endpoints.md has a row for ``route`` ("POST /audience/unlisted")."""
    method, path = route.split(" ", 1)
    return re.search(rf"^\|\s*{method}\s*\|\s*`{re.escape(path)}`", _endpoints(), flags=re.M) is not None


def split_ref(ref: str, home: str) -> tuple[Path, str]:
    path, _, name = ref.rpartition("::")
    return ROOT / (path or home), name


def check(placements: dict[type, dict[str, Placement]], *, home: str) -> list[str]:
    """Problems with ``placements`` (class -> name -> placement) against the installed SDK;
    ``home`` is the test file bare test names belong to."""
    problems = []
    surface = discover()
    for cls, names in surface.items():
        placed = placements.get(cls, {})
        for name in sorted(set(names) - set(placed)):
            problems.append(f"{cls.__name__}.{name}: not placed (add a test, or NoRequest with why)")
        for name in sorted(set(placed) - set(names)):
            problems.append(f"{cls.__name__}.{name}: placed, but the SDK has no such public name")
        for name, placement in placed.items():
            if name not in names:
                continue
            where = f"{cls.__name__}.{name}"
            if isinstance(placement, NoRequest):
                if "_openapi_service" in reached_source(cls, name):
                    problems.append(f"{where}: placed as NoRequest, but its code reaches the API client")
            elif isinstance(placement, Pending):
                path = ROOT / placement.ref.partition("::")[0]
                if path.exists():
                    problems.append(f"{where}: still pending, but {path.relative_to(ROOT)} has arrived: "
                                    "make it a Test of the test there that runs it")
                elif placement.route and _served(placement.route):
                    problems.append(f"{where}: still pending, but the simulator serves {placement.route} now "
                                    "(docs/endpoints.md): make it a Test of the test that runs it")
            else:
                path, test = split_ref(placement.ref, home)
                if not path.exists():
                    problems.append(f"{where}: {path.relative_to(ROOT)} does not exist")
                    continue
                body = _reach(path, test)
                if body is None:
                    problems.append(f"{where}: no function {test} in {path.relative_to(ROOT)}")
                elif not re.search(rf"\.{re.escape(name)}\b|[\"']{re.escape(name)}[\"']", body):
                    problems.append(f"{where}: {placement.ref} never names .{name}")
    for cls in set(placements) - set(surface):
        problems.append(f"{cls.__name__}: placed, but no longer reachable from RapidataClient")
    return problems

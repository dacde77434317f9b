"""Per-endpoint coverage, generated from the code: which spec operations the simulator serves, which of them
the schemathesis contract tests fuzz, and where we deliberately differ from the specs.

Sources (nothing here is a hand-kept list of endpoints):

- the app's routes (``rapidata_sim.http.create_app``), matched to spec templates by method and path shape;
- the spec operations (``tests/support/contract.py``'s ``Contract``, i.e. the real service's OpenAPI files);
- the allow-lists: ``contract.py``'s ``NOT_IN_SPEC``, ``EXTRA_STATUSES``, ``SPEC_PATCHES``,
  ``OAUTH_ERROR_PATHS``, plus ``SCHEMATHESIS_ALLOW`` below (the few things only the fuzzer needs).

``python tests/support/coverage_table.py`` prints the markdown table; ``docs/contract-coverage.md`` holds a copy
between ``<!-- coverage-table:start -->`` and ``<!-- coverage-table:end -->``, which ``--write`` replaces in
place (``tests/contract/test_coverage_table.py`` checks that it is current).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:  # run as a script: make the ``support`` package importable
    sys.path.insert(0, str(TESTS))

from support.contract import (EXTRA_STATUSES, NOT_IN_SPEC, OAUTH_ERROR_PATHS, SPEC_PATCHES,  # noqa: E402
                              Contract, iter_operations, spec_dir)


START_MARKER = "<!-- coverage-table:start -->"
END_MARKER = "<!-- coverage-table:end -->"
#: The documentation page that holds the table.
PAGE = TESTS.parent / "docs" / "contract-coverage.md"

#: Deliberate differences that only the schemathesis run needs spelled out, beyond ``contract.py``'s lists.
#: Key: (METHOD, spec template), or ("*", "*") for every operation -> why. Each entry is applied by
#: ``tests/contract/test_schemathesis.py`` as a change to its in-memory copy of the specs (never by switching a
#: check off), and shows up in the coverage table.
SCHEMATHESIS_ALLOW: dict[tuple[str, str], str] = {
    ("*", "*"): ("4xx bodies are application/problem+json (RFC 9457) with `status`/`title`, as the service and "
                 "the SDK do; the specs label 400 `application/json` (contract.py rule 4). 400 keeps its "
                 "ValidationProblemDetails schema."),
    ("GET", "/identity/bridge-token"): ("Always 404 (no browser login: the SDK calls it only to start one); the "
                                        "spec's 404 schema is a JSON string, we send problem+json (contract.py "
                                        "rule 4)."),
}


@lru_cache(maxsize=None)
def load_contract() -> Contract:
    return Contract.load(spec_dir())


def shape(path: str) -> str:
    """``/signal/{signalId}`` and ``/signal/{signal_id}`` both become ``/signal/{}``."""
    return re.sub(r"\{[^}]+\}", "{}", path)


@lru_cache(maxsize=None)
def app_routes() -> frozenset[tuple[str, str]]:
    """(METHOD, route path) for every route of the app (HEAD left out)."""
    from starlette.routing import Route

    from rapidata_sim import Simulator
    from rapidata_sim.http import create_app

    with Simulator() as sim:
        app = create_app(sim)
    out = set()
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in (route.methods or set()) - {"HEAD"}:
            out.add((method, route.path))
    return frozenset(out)


def _served_shapes() -> set[tuple[str, str]]:
    return {(m, shape(p)) for m, p in app_routes()}


def implemented(method: str, template: str) -> bool:
    return (method, shape(template)) in _served_shapes()


def implemented_operations(contract: Contract | None = None) -> list[tuple[str, str]]:
    """Spec operations (METHOD, template) the app serves, sorted: what the schemathesis tests fuzz."""
    contract = contract or load_contract()
    return [(op.method, op.template) for op in iter_operations(contract) if implemented(op.method, op.template)]


def served_outside_spec(contract: Contract | None = None) -> list[tuple[str, str]]:
    """Routes that are no spec operation: (METHOD, template), NOT_IN_SPEC ones first, then ``/_sim`` control."""
    contract = contract or load_contract()
    spec = {(m, shape(t)) for m, t in contract.operations}
    rest = [(m, p) for m, p in app_routes() if (m, shape(p)) not in spec]
    by_shape = {shape(t): t for t in NOT_IN_SPEC}
    named = [(m, by_shape.get(shape(p), p)) for m, p in rest]
    return sorted(named, key=lambda mp: (mp[1].startswith("/_sim"), mp[1], mp[0]))


# -- known differences ---------------------------------------------------------------------------------------

def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable_schemas(contract: Contract, spec: str, root: Any) -> set[str]:
    schemas = contract.specs[spec].get("components", {}).get("schemas", {})
    seen: set[str] = set()
    todo = list(_refs(root))
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs(schemas[name]))
    return seen


def known_differences(method: str, template: str, contract: Contract | None = None) -> list[str]:
    """The allow-list entries that apply to one operation, as short labels (constant names included)."""
    contract = contract or load_contract()
    out: list[str] = []
    if template.startswith("/_sim/"):
        out.append("the simulator's control surface, not part of the real API")
    if template in NOT_IN_SPEC:
        out.append(f"NOT_IN_SPEC: {NOT_IN_SPEC[template].rstrip('.')}")
    if template in OAUTH_ERROR_PATHS:
        out.append("OAUTH_ERROR_PATHS: RFC 6749 error JSON")
    op = contract.operations.get((method, template))
    if op is not None:
        for status, extra in sorted(EXTRA_STATUSES.items()):
            if extra.operations is not None and extra.applies_to(method, template) and not op.declares(status):
                out.append(f"EXTRA_STATUSES {status}")
        responses = contract.specs[op.spec]["paths"][template][method.lower()].get("responses", {})
        reachable = _reachable_schemas(contract, op.spec, {k: v for k, v in responses.items() if k.startswith("2")})
        for patch in SPEC_PATCHES:
            if patch.spec == op.spec and patch.schema in reachable:
                out.append(f"SPEC_PATCHES: `{patch.schema}.{patch.prop}` {patch.change}")
    if (method, template) in SCHEMATHESIS_ALLOW:
        out.append("SCHEMATHESIS_ALLOW: " + SCHEMATHESIS_ALLOW[(method, template)].split(";")[0].split(" (")[0])
    return out


# -- the table -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    method: str
    path: str
    spec: str  # spec file name, "" when the operation is in no spec
    implemented: bool
    contract_tested: bool
    differences: tuple[str, ...]


def rows(contract: Contract | None = None) -> list[Row]:
    contract = contract or load_contract()
    tested = set(implemented_operations(contract))
    out = [Row(op.method, op.template, op.spec, (op.method, op.template) in tested, (op.method, op.template) in tested,
               tuple(known_differences(op.method, op.template, contract)))
           for op in iter_operations(contract)]
    for method, path in served_outside_spec(contract):
        out.append(Row(method, path, "", True, False, tuple(known_differences(method, path, contract))))
    return out


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(contract: Contract | None = None) -> str:
    """The coverage table as markdown (deterministic: same code and specs, same text)."""
    contract = contract or load_contract()
    table = rows(contract)
    spec_rows = [r for r in table if r.spec]
    served = [r for r in spec_rows if r.implemented]
    generic = ", ".join(f"{s}" for s, e in sorted(EXTRA_STATUSES.items()) if e.operations is None)
    lines = [
        f"{len(served)} of the specs' {len(spec_rows)} operations are served, and every served one is "
        f"fuzzed by `tests/contract/test_schemathesis.py`; {sum(1 for r in table if not r.spec)} more routes are outside the "
        f"specs (`NOT_IN_SPEC` or the `/_sim` control surface). Accepted on every operation "
        f"(`EXTRA_STATUSES`): {generic}; {SCHEMATHESIS_ALLOW[('*', '*')].split(' (')[0]}. *contract-tested*: "
        f"fuzzed against the spec. Routes outside the specs have no spec to fuzz against; `tests/support/contract.py` "
        f"still checks the `NOT_IN_SPEC` ones' responses in every SDK flow the tests run (`/_sim` is not checked).",
        "",
        "| method | path | spec | implemented | contract-tested | known differences |",
        "|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(f"| {r.method} | `{r.path}` | {r.spec or '—'} | {'yes' if r.implemented else 'no'} | "
                     f"{'yes' if r.contract_tested else 'no'} | {_escape('; '.join(r.differences))} |")
    return "\n".join(lines) + "\n"


def write_page(page: Path = PAGE) -> None:
    """Replace the table between the markers of ``page`` with the current one."""
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(START_MARKER, 1)
    tail = rest.split(END_MARKER, 1)[1]
    page.write_text(f"{head}{START_MARKER}\n{render()}{END_MARKER}{tail}", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_page()
    else:
        sys.stdout.write(render())

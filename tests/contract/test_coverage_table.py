"""The generated coverage table (``tests/support/coverage_table.py``): current in ``docs/contract-coverage.md``,
consistent with the app, and covering every operation the SDK's signals guide and quickstart use."""

from __future__ import annotations

import pytest
from support.coverage_table import (END_MARKER, NOT_IN_SPEC, PAGE, START_MARKER, app_routes,
                                    implemented_operations, load_contract, render, rows, shape)


def test_docs_hold_the_current_table():
    """Regenerate with ``python tests/support/coverage_table.py --write``."""
    text = PAGE.read_text(encoding="utf-8")
    assert START_MARKER in text and END_MARKER in text, f"{PAGE.name} has no {START_MARKER} … {END_MARKER} block"
    block = text.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    assert block.strip("\n") == render().strip("\n"), \
        f"{PAGE.name}'s coverage table is stale: python tests/support/coverage_table.py --write"


def test_table_accounts_for_every_route_and_operation():
    contract = load_contract()
    table = rows(contract)
    listed = {(r.method, shape(r.path)) for r in table if r.implemented}
    assert listed == {(m, shape(p)) for m, p in app_routes()}  # every served route, once
    assert len([r for r in table if r.spec]) == len(contract.operations)  # every spec operation, once
    tested = {(r.method, r.path) for r in table if r.contract_tested}
    assert tested == set(implemented_operations(contract))
    assert all(r.implemented for r in table if r.contract_tested)
    assert render() == render()  # deterministic


# -- the guides' operations ----------------------------------------------------------------------------------

def _guide(name):
    """A guide test module: as pytest imported it when it collected ``tests/guides`` too, else from there."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return importlib.import_module(f"guides.{name}")


def _signals_guide(variant):
    def flow(sim):
        guide = _guide("test_guide_signals")

        make = (guide.create_signal_custom_audience if variant == "custom"
                else guide.create_signal_alignment_audience)
        created = make()
        guide.test_create_signal(created, sim)
        guide.test_jobs_then_trigger_and_wait(created, sim)
        guide.test_managing_a_signal(created, sim)
        guide.test_delete_leaves_jobs(make(), sim)
    return flow


def _quickstart(sim):
    guide = _guide("test_guide_quickstart_audiences")

    guide.test_quickstart_complete_example(sim, None)


FLOWS = {"signals-custom-audience": _signals_guide("custom"),
         "signals-alignment-audience": _signals_guide("alignment"),
         "quickstart": _quickstart}


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_guide_operations_are_implemented_and_contract_tested(flow, sim, sdk_env):
    """Runs the guide as ``tests/guides/test_guide_*.py`` do (the real SDK, recorded by the ``sim`` fixture's
    server), then: every operation it called is served, and every one in the specs is fuzzed by
    ``tests/contract/test_schemathesis.py``; the rest are allow-listed in ``NOT_IN_SPEC`` (OAuth, preliminary
    downloads, unlisted audiences)."""
    FLOWS[flow](sim)
    contract = load_contract()
    tested = set(implemented_operations(contract))
    used: set[tuple[str, str]] = set()
    for ex in sim.serve().exchanges:
        op = contract.operation(ex.method, ex.path)
        template = op.template if op is not None else contract.not_in_spec(ex.method, ex.path)
        assert template is not None, f"{ex.method} {ex.path}: neither in the specs nor in NOT_IN_SPEC"
        used.add((ex.method, template))
    served = {(m, shape(p)) for m, p in app_routes()}
    assert {(m, shape(t)) for m, t in used} <= served
    untested = sorted(k for k in used if k not in tested and k[1] not in NOT_IN_SPEC)
    assert untested == [], f"{flow} uses operations the schemathesis run does not cover: {untested}"
    # the flow did what the guide does (guards against recording nothing)
    expected = {"signals-custom-audience": {("POST", "/signal"), ("POST", "/audience"), ("GET", "/signal/{signalId}/run")},
                "signals-alignment-audience": {("POST", "/signal"), ("GET", "/audience/{audienceId}")},
                "quickstart": {("POST", "/job"), ("GET", "/job/{jobId}/download-results"), ("GET", "/jobs")}}[flow]
    assert expected <= used, sorted(used)
    print(f"{flow}: {len(used)} operations: " + ", ".join(f"{m} {t}" for m, t in sorted(used, key=lambda k: k[1])))

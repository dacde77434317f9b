"""Shared fixtures: a fresh world per test, served over TLS, and the real SDK pointed at it.

Fixtures only; plain helpers live in the ``support`` package (``tests/support/``, on ``sys.path``
through ``pythonpath`` in ``pyproject.toml``): ``from support import https_client``."""

from __future__ import annotations

import os

import pytest

from rapidata_sim import Simulator

# The SDK must never reach the network from the tests: no telemetry, no version check.
os.environ.setdefault("RAPIDATA_DISABLE_OTLP", "1")
os.environ.setdefault("RAPIDATA_AGENT_HINT", "0")
os.environ.setdefault("RAPIDATA_silent_mode", "1")
os.environ.setdefault("HTTPS_PROXY", "http://127.0.0.1:9")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("BROWSER", "true")  # preview()/view() open a browser: make that a no-op


@pytest.fixture(scope="session")
def contract():
    from support.contract import Contract, spec_dir

    return Contract.load(spec_dir())


def pytest_configure(config):
    config.addinivalue_line("markers", "frozen_clock: the test's world starts frozen (deterministic crowd answers)")


@pytest.fixture
def sim(contract, request):
    """A fresh world per test. Every response it serves during the test is checked against the
    real service's OpenAPI specs (with the documented 3.27.1 allow-lists in ``support/contract.py``)."""
    if request.node.get_closest_marker("frozen_clock"):
        from rapidata_sim import Clock

        world = Simulator(seed=1234, clock=Clock.frozen())  # same instants every run: same answers
    else:
        world = Simulator(seed=1234)
    server = world.serve(record=True)
    yield world
    problems = []
    for ex in server.exchanges:
        if ex.path.startswith("/_sim/"):
            continue  # the simulator's own control surface is not part of the real API
        for problem in contract.check(ex.method, ex.path, ex.status, ex.body, ex.content_type):
            problems.append(f"{ex.method} {ex.path} -> {ex.status}: {problem}")
    world.close()
    assert not problems, "responses that break the contract:\n" + "\n".join(problems[:20])


@pytest.fixture
def sdk_env(sim, monkeypatch, tmp_path):
    """Environment variables set as a user would: plain ``RapidataClient()`` reaches ``sim``."""
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    sim.drive_sdk_waits()
    return sim.env()


@pytest.fixture
def client(sim, sdk_env):
    from rapidata import RapidataClient

    return RapidataClient()


@pytest.fixture
def other_client(sim, sdk_env):
    """A user of another organization."""
    return sim.client(client_id="rapidata-sim-other", client_secret="other-secret")


@pytest.fixture
def colleague_client(sim, sdk_env):
    """Another user of the same organization as the default user."""
    return sim.client(client_id="rapidata-sim-colleague", client_secret="colleague-secret")


@pytest.fixture
def worlds_server(tmp_path):
    """A many-worlds server (``rapidata-sim serve``'s) on a fresh data dir, frozen, the SDK kept offline."""
    from rapidata_sim.serving.worlds import Worlds, WorldsServer
    from rapidata_sim.testing import offline_sdk

    offline_sdk.quiet_env()
    offline_sdk.skip_version_check()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    yield srv
    srv.stop()

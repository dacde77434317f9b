"""Shared fixtures: a fresh world per test, served over TLS, and the real SDK pointed at it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rapidata_sim import Simulator

# The SDK must never reach the network from the tests: no telemetry, no version check.
os.environ.setdefault("RAPIDATA_DISABLE_OTLP", "1")
os.environ.setdefault("RAPIDATA_AGENT_HINT", "0")
os.environ.setdefault("RAPIDATA_silent_mode", "1")
os.environ.setdefault("HTTPS_PROXY", "http://127.0.0.1:9")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("BROWSER", "true")  # preview()/view() open a browser: make that a no-op


@pytest.fixture
def sim():
    world = Simulator(seed=1234)
    yield world
    world.close()


@pytest.fixture
def sdk_env(sim, monkeypatch, tmp_path):
    """Environment variables set as a user would: plain ``RapidataClient()`` reaches ``sim``."""
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path))
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
def guides_dir() -> Path:
    return Path(__file__).parent / "guides"

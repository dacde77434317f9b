"""One server, many worlds: credentials choose the world; worlds never see or move each other."""

from __future__ import annotations

import json

import pytest
from conftest import https_client

from rapidata_sim import sdk
from rapidata_sim.worlds import Worlds, WorldsServer


@pytest.fixture
def server(tmp_path):
    sdk.quiet_env()
    sdk.skip_version_check()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    yield srv
    srv.stop()


def make_signal(client, name):
    jd = client.job.create_free_text_job_definition(name=name, instruction="?", datapoints=["t"], data_type="text",
                                                    responses_per_datapoint=1)
    return client.signals.create_signal(name=name, audience="global", job_definition=jd, interval_hours=24)


def test_credentials_choose_the_world(server):
    alice = server.client("alice", "alice-secret")
    bob = server.client("bob", "bob-secret")
    alice_again = server.client("alice", "alice-secret")
    default = server.client("rapidata-sim", "rapidata-sim-secret")

    make_signal(alice, "alice's")
    make_signal(bob, "bob's")
    assert [s.name for s in alice.signals.find_signals()] == ["alice's"]
    assert [s.name for s in bob.signals.find_signals()] == ["bob's"]
    assert [s.name for s in alice_again.signals.find_signals()] == ["alice's"]  # same credentials, same world
    assert default.signals.find_signals() == []
    # Each world has the seed data (audiences) of its own.
    assert bob.audience.get_audience_by_id("global").name == "Global"

    # A wrong secret for known credentials is refused; it does not open a new world.
    count = len(server.worlds.list())
    with pytest.raises(ValueError, match="client credentials"):
        server.client("alice", "wrong")
    assert len(server.worlds.list()) == count


def test_clock_moves_stay_in_their_world(server):
    a = https_client(server, creds=("alice", "alice-secret"))
    b = https_client(server, creds=("bob", "bob-secret"))
    before_b = b.get("/_sim/clock").json()["now"]
    moved = a.post("/_sim/clock/advance", json={"seconds": 86400})
    assert moved.status_code == 200, moved.text
    assert b.get("/_sim/clock").json()["now"] == before_b
    assert a.get("/_sim/clock").json()["now"] > before_b

    worlds = a.get("/_sim/worlds").json()
    assert worlds["yours"] == "alice" and {"alice", "bob", "default"} <= {w["id"] for w in worlds["worlds"]}
    # A world is reset only from inside it; the reset keeps its credentials working.
    assert a.post("/_sim/worlds/bob/reset").status_code == 403
    assert a.post("/_sim/worlds/alice/reset").status_code == 200
    assert a.get("/_sim/clock").json()["now"] == before_b  # a fresh world: its clock starts over
    assert [json.loads(line)["kind"] for line in a.get("/_sim/events").text.splitlines()][-1] == "world.reset"
    assert https_client(server, creds=None).get("/_sim/worlds").status_code == 401
    a.close()
    b.close()


def test_worlds_survive_a_restart(tmp_path):
    sdk.quiet_env()
    sdk.skip_version_check()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    make_signal(srv.client("carol", "carol-secret"), "carol's")
    srv.stop()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    try:
        assert [s.name for s in srv.client("carol", "carol-secret").signals.find_signals()] == ["carol's"]
    finally:
        srv.stop()

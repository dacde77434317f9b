"""One server, many worlds: credentials choose the world; worlds never see or move each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import https_client

from rapidata_sim.testing import offline_sdk
from rapidata_sim.serving.worlds import Worlds, WorldsServer


def make_signal(client, name):
    jd = client.job.create_free_text_job_definition(name=name, instruction="?", datapoints=["t"], data_type="text",
                                                    responses_per_datapoint=1)
    return client.signals.create_signal(name=name, audience="global", job_definition=jd, interval_hours=24)


def test_credentials_choose_the_world(worlds_server):
    alice = worlds_server.client("alice", "alice-secret")
    bob = worlds_server.client("bob", "bob-secret")
    alice_again = worlds_server.client("alice", "alice-secret")
    default = worlds_server.client("rapidata-sim", "rapidata-sim-secret")

    make_signal(alice, "alice's")
    make_signal(bob, "bob's")
    assert [s.name for s in alice.signals.find_signals()] == ["alice's"]
    assert [s.name for s in bob.signals.find_signals()] == ["bob's"]
    assert [s.name for s in alice_again.signals.find_signals()] == ["alice's"]  # same credentials, same world
    assert default.signals.find_signals() == []
    # Each world has the seed data (audiences) of its own.
    assert bob.audience.get_audience_by_id("global").name == "Global"

    # A wrong secret for known credentials is refused; it does not open a new world.
    count = len(worlds_server.worlds.list())
    with pytest.raises(ValueError, match="client credentials"):
        worlds_server.client("alice", "wrong")
    assert len(worlds_server.worlds.list()) == count


def test_clock_moves_stay_in_their_world(worlds_server):
    a = https_client(worlds_server, creds=("alice", "alice-secret"))
    b = https_client(worlds_server, creds=("bob", "bob-secret"))
    before_b = b.get("/_sim/clock").json()["now"]
    moved = a.post("/_sim/clock/advance", json={"seconds": 86400})
    assert moved.status_code == 200, moved.text
    assert b.get("/_sim/clock").json()["now"] == before_b
    assert a.get("/_sim/clock").json()["now"] > before_b

    worlds = a.get("/_sim/worlds").json()
    # A caller sees its own world only: not the other worlds' clients, seeds and clocks.
    assert worlds["yours"] == "alice" and [w["id"] for w in worlds["worlds"]] == ["alice"]
    assert worlds["worlds"][0]["clients"] == ["alice"] and "bob" not in json.dumps(worlds)
    # A world is reset only from inside it; the reset keeps its credentials working.
    assert a.post("/_sim/worlds/bob/reset").status_code == 403
    assert a.post("/_sim/worlds/alice/reset").status_code == 200
    assert a.get("/_sim/clock").json()["now"] == before_b  # a fresh world: its clock starts over
    assert [json.loads(line)["kind"] for line in a.get("/_sim/events").text.splitlines()][-1] == "world.reset"
    assert https_client(worlds_server, creds=None).get("/_sim/worlds").status_code == 401
    a.close()
    b.close()


def test_worlds_survive_a_restart(tmp_path):
    offline_sdk.quiet_env()
    offline_sdk.skip_version_check()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    make_signal(srv.client("carol", "carol-secret"), "carol's")
    srv.stop()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    try:
        assert [s.name for s in srv.client("carol", "carol-secret").signals.find_signals()] == ["carol's"]
    finally:
        srv.stop()


CLIENT_PROCESS = '''
import json, sys
from rapidata import RapidataClient
c = RapidataClient()
if sys.argv[1] == "create":
    jd = c.job.create_free_text_job_definition(name="mine", instruction="?", datapoints=["t"], data_type="text",
                                               responses_per_datapoint=1)
    c.signals.create_signal(name=sys.argv[2], audience="global", job_definition=jd, interval_hours=24)
print(json.dumps(sorted(s.name for s in c.signals.find_signals())))
'''


def test_two_processes_with_different_credentials_share_one_server(worlds_server):
    def run(creds, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
        env.update(worlds_server.env())
        env.update(RAPIDATA_CLIENT_ID=creds[0], RAPIDATA_CLIENT_SECRET=creds[1], RAPIDATA_silent_mode="1")
        out = subprocess.run([sys.executable, "-c", CLIENT_PROCESS, *args], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert run(("erin", "erin-secret"), "create", "erin's") == ["erin's"]
    assert run(("frank", "frank-secret"), "create", "frank's") == ["frank's"]  # never sees erin's
    assert run(("erin", "erin-secret"), "list") == ["erin's"]  # the same credentials, the same world


def test_a_deleted_clients_credentials_are_refused_after_a_restart(tmp_path):
    """Not a new, empty world: the world the client belonged to answers invalid_client."""
    worlds = Worlds(seed=3, speed=0, data_dir=tmp_path)
    world_id = worlds.for_client("dave", "dave-secret")
    worlds.get(world_id).identity.delete_client("dave")
    worlds.close()
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    try:
        http = https_client(srv, creds=None)
        answer = http.post("/connect/token", data={"grant_type": "client_credentials", "client_id": "dave",
                                                   "client_secret": "dave-secret"})
        assert answer.status_code in (400, 401) and answer.json()["error"] == "invalid_client", answer.text
        assert [w["id"] for w in srv.worlds.list()] == sorted(["default", world_id])
    finally:
        srv.stop()


def test_an_oversized_token_request_is_refused_before_it_picks_a_world(tmp_path):
    srv = WorldsServer(Worlds(seed=3, speed=0, data_dir=tmp_path)).start()
    try:
        limit = srv.worlds.default.config.max_body_bytes
        http = https_client(srv, creds=None)
        answer = http.post("/connect/token", content=b"grant_type=client_credentials&client_id=eve&client_secret="
                           + b"x" * limit, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 413 and answer.json()["error"] == "invalid_request", answer.text[:200]
        assert [w["id"] for w in srv.worlds.list()] == ["default"]
        assert https_client(srv).get("/audience/global").status_code == 200  # still serving
    finally:
        srv.stop()


def test_a_world_cut_short_by_a_crash_is_finished_by_its_credentials(tmp_path):
    """A crash between a new world's store and its client leaves a world nobody can reach:
    the same credentials, after the restart, finish that world rather than open a second one."""
    from rapidata_sim.serving.worlds import world_id_for

    worlds = Worlds(seed=3, speed=0, data_dir=tmp_path)
    worlds._open(world_id_for("frank"))  # the store is made; the process dies before the client
    worlds.close()
    worlds = Worlds(seed=3, speed=0, data_dir=tmp_path)
    try:
        assert worlds.for_client("frank", "frank-secret") == world_id_for("frank")
        assert sorted(w["id"] for w in worlds.list()) == sorted(["default", world_id_for("frank")])
        assert worlds.get(world_id_for("frank")).identity.issue_token("frank", "frank-secret")["access_token"]
    finally:
        worlds.close()

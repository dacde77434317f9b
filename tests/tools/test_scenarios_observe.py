"""What scenario hooks read of a world: the ``/_sim`` read routes and the ``WorldView`` both worlds offer.

(a) a caller of the read routes sees exactly what the real routes let it see (the owner, the
organization for a public signal or any of its jobs, nobody of another organization), and gets
the same dicts an in-process ``LocalWorld`` reads; reading writes nothing. (b) on a server of many
worlds, nothing of another world is in reach, and a world can delete itself (not another world, not
the default one).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support import https_client

from rapidata_sim import Clock, Simulator
from rapidata_sim.testing import offline_sdk
from rapidata_sim.crowd import Population
from rapidata_sim.domain.observation import unwire, wire
from rapidata_sim.scenario.backends import LocalWorld, RemoteWorld, World, WorldView

USERS = {"owner": ("rapidata-sim", "rapidata-sim-secret"),
         "colleague": ("rapidata-sim-colleague", "colleague-secret"),
         "other": ("rapidata-sim-other", "other-secret")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        offline_sdk.quiet_env(mp.setenv)
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        offline_sdk.skip_version_check(mp.setattr)
        sim = Simulator(seed=9, clock=Clock.frozen())
        server = sim.serve()
        owner = sim.client()
        definition = owner.job.create_compare_job_definition(
            name="pairs", instruction="Which?", data_type="text", responses_per_datapoint=5,
            datapoints=[["model-a 0", "model-b 0"], ["model-a 1", "model-b 1"]])
        private = owner.signals.create_signal(name="private", audience="global", job_definition=definition,
                                              interval_hours=24)
        public = owner.signals.create_signal(name="public", audience="global", job_definition=definition,
                                             interval_hours=24, is_public=True)
        sim.audiences.configure("global", population=Population(responses_per_hour=4.0))  # hours a job
        sim.advance(timedelta(hours=25))  # both fire once; their jobs are still running
        https = {name: https_client(server, creds) for name, creds in USERS.items()}
        yield sim, {"private": private.id, "public": public.id}, https
        for client in https.values():
            client.close()
        sim.close()


def test_both_worlds_are_world_views():
    assert issubclass(LocalWorld, WorldView) and issubclass(RemoteWorld, WorldView)
    for name in ("client", "advance", "outage", "inject", "last_event", "close"):
        assert callable(getattr(LocalWorld, name)) and callable(getattr(RemoteWorld, name)), name
    assert WorldView in World.__mro__


def test_the_read_routes_see_what_the_real_routes_see(world):
    sim, signals, https = world
    local = LocalWorld.of(sim)
    jobs = {name: local.runs(sid)[0]["audience_job_id"] for name, sid in signals.items()}
    seen: dict[tuple[str, str], tuple[int, int, int]] = {}
    for who, http in https.items():
        for name, sid in signals.items():
            job = jobs[name]
            pairs = [(f"/signal/{sid}/run", f"/_sim/signals/{sid}/runs"),
                     (f"/job/{job}", f"/_sim/jobs/{job}"),
                     (f"/job/{job}", f"/_sim/jobs/{job}/results")]
            statuses = []
            for real, ours in pairs:
                real_status, our_status = http.get(real).status_code, http.get(ours).status_code
                assert our_status == real_status, (who, ours, our_status, real, real_status)
                statuses.append(our_status)
            seen[who, name] = tuple(statuses)  # type: ignore[assignment]
    # The owner sees everything; a colleague a public signal and every job of the organization;
    # another organization nothing at all.
    assert seen == {("owner", "private"): (200, 200, 200), ("owner", "public"): (200, 200, 200),
                    ("colleague", "private"): (404, 200, 200), ("colleague", "public"): (200, 200, 200),
                    ("other", "private"): (404, 404, 404), ("other", "public"): (404, 404, 404)}


def test_a_server_reading_is_the_in_process_reading(world):
    sim, signals, https = world
    local, http = LocalWorld.of(sim), https["owner"]
    for sid in signals.values():
        runs = local.runs(sid)
        assert [r["status"] for r in runs] == ["Running"] and runs[0]["trigger_source"] == "Scheduled"
        assert [unwire(r) for r in http.get(f"/_sim/signals/{sid}/runs").json()["runs"]] == runs
        assert unwire(http.get(f"/_sim/signals/{sid}/counters").json()) == local.counters(sid)
        job_id = runs[0]["audience_job_id"]
        job = local.job(job_id)
        assert job["state"] == "Running" and job["revision_number"] == 1
        assert unwire(http.get(f"/_sim/jobs/{job_id}").json()) == job
        assert http.get(f"/_sim/jobs/{job_id}/results").json() == local.results(job_id)
    assert unwire(wire(local.counters(signals["public"]))) == local.counters(signals["public"])


def test_reading_writes_nothing(world):
    sim, signals, https = world
    before = (sim.store.last_seq(), sim.store.count("preliminary_downloads", "1", []))
    job_id = LocalWorld.of(sim).runs(signals["private"])[0]["audience_job_id"]
    for path in (f"/_sim/jobs/{job_id}/results", f"/_sim/jobs/{job_id}", f"/_sim/signals/{signals['private']}/runs"):
        assert https["owner"].get(path).status_code == 200
    assert (sim.store.last_seq(), sim.store.count("preliminary_downloads", "1", [])) == before


def test_the_read_routes_need_a_token_and_say_what_is_missing(world):
    sim, _, https = world
    anonymous = https_client(sim._server, creds=None)
    try:
        assert anonymous.get("/_sim/jobs/job_x").status_code == 401
    finally:
        anonymous.close()
    missing = https["owner"].get("/_sim/jobs/job_nope")
    assert missing.status_code == 404 and "job_nope" in missing.json()["detail"]
    assert https["owner"].get("/_sim/signals/sig_nope/runs").status_code == 404


# -- many worlds ----------------------------------------------------------------------------------


def test_another_worlds_data_is_out_of_reach_and_a_world_deletes_only_itself(worlds_server, tmp_path):
    alice_sdk = worlds_server.client("alice", "alice-secret")
    definition = alice_sdk.job.create_free_text_job_definition(name="d", instruction="?", datapoints=["t"],
                                                               data_type="text", responses_per_datapoint=1)
    signal = alice_sdk.signals.create_signal(name="s", audience="global", job_definition=definition, interval_hours=1)
    alice, bob = (https_client(worlds_server, creds=c) for c in (("alice", "alice-secret"), ("bob", "bob-secret")))
    default = https_client(worlds_server)
    try:
        assert alice.post("/_sim/clock/advance", json={"seconds": 3700}).status_code == 200
        runs = alice.get(f"/_sim/signals/{signal.id}/runs").json()["runs"]
        job_id = runs[0]["audienceJobId"]
        assert job_id and alice.get(f"/_sim/jobs/{job_id}").status_code == 200
        for path in (f"/_sim/signals/{signal.id}/runs", f"/_sim/jobs/{job_id}", f"/_sim/jobs/{job_id}/results"):
            assert bob.get(path).status_code == 404, path
            assert default.get(path).status_code == 404, path

        store = Path(worlds_server.worlds.get("alice").store.path)
        assert store.exists()
        assert bob.delete("/_sim/worlds/alice").status_code == 403  # not from outside
        assert default.delete("/_sim/worlds/default").status_code == 403  # never the default world
        assert alice.delete("/_sim/worlds/alice").status_code == 204
        assert "alice" not in {w["id"] for w in worlds_server.worlds.list()}
        assert not store.exists()
        assert alice.get("/_sim/clock").status_code == 401  # its tokens went with it
        assert bob.get("/_sim/clock").status_code == 200 and default.get("/_sim/clock").status_code == 200
    finally:
        for client in (alice, bob, default):
            client.close()

"""No caller can take a server down: what a world keeps must let it run and restart.

Three guarantees, each tested against a multi-world server on a data dir (``Worlds``, in
process: what is tested is what a world keeps and how it opens, not the transport):

- control input that a world would keep and run with is checked when it is set (the
  hostile-input table has a row per known bad body; here Hypothesis generates more);
- time stays inside the simulated calendar (``clock.HORIZON``): a clock runs into the
  horizon and stops, and a world that stands there restarts;
- a world that fails to open is quarantined (503 problem+json, listed with its error,
  resettable from inside) while every other world serves.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support import one_datapoint_definition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from rapidata_sim import Clock
from rapidata_sim.core.clock import HORIZON, MAX_SPEED, CalendarError, iso
from rapidata_sim.crowd import Classify, FreeText, Population, Prefer
from rapidata_sim.serving.worlds import Worlds, file_name

DEFAULT = ("rapidata-sim", "rapidata-sim-secret")


class Server:
    """A ``Worlds`` on ``data_dir`` and a client of it; ``restart`` closes it and opens another."""

    def __init__(self, data_dir: Path, speed: float = 1) -> None:
        self.data_dir = data_dir
        self.worlds = Worlds(seed=3, speed=speed, data_dir=data_dir)
        self.http = TestClient(self.worlds, base_url="https://127.0.0.1")

    def token(self, client_id: str, secret: str = "secret") -> Any:
        return self.http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))

    def auth(self, client_id: str, secret: str = "secret") -> dict[str, str]:
        r = self.token(client_id, secret)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def close(self) -> None:
        self.http.close()
        self.worlds.close()

    def restart(self, speed: float = 1) -> "Server":
        self.close()
        return Server(self.data_dir, speed)


def with_signal(server: Server, client_id: str, interval_seconds: int = 3600) -> None:
    world = server.worlds.get(server.worlds.for_client(client_id, "secret"))
    owner = world.identity.principal(world.default_client["user"])
    _, definition = one_datapoint_definition(world, owner, "survives")
    world.signals.create(owner, name="signal", audience_id="global", job_definition_id=definition["id"],
                         interval_seconds=interval_seconds)


def wind_back_wall(data_dir: Path, world_id: str, seconds: float) -> None:
    """Make a stopped world's last save ``seconds`` older: its next start catches up that downtime."""
    path = data_dir / "worlds" / file_name(world_id)
    with sqlite3.connect(path) as db:
        saved = json.loads(db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
        saved["wall"] -= seconds
        db.execute("UPDATE meta SET value = ? WHERE key = 'clock'", [json.dumps(saved)])
    db.close()


# -- the calendar ----------------------------------------------------------------------------

def test_a_clock_with_a_speed_stops_at_the_horizon():
    wall = [0.0]
    clock = Clock(datetime(2100, 1, 1, tzinfo=timezone.utc), speed=MAX_SPEED, wall=lambda: wall[0])
    wall[0] = 1e9  # ~31,700 virtual millennia at 1e7: far past the year 9999
    assert clock.now() == HORIZON
    with pytest.raises(CalendarError):
        clock.advance(timedelta(microseconds=1))
    assert clock.now() == HORIZON
    clock.advance(timedelta(0))  # standing still at the horizon is fine


@pytest.mark.parametrize("speed", [float("nan"), float("inf"), -1.0, MAX_SPEED * 10])
def test_a_clock_refuses_speeds_it_cannot_run_at(speed):
    with pytest.raises(CalendarError):
        Clock(speed=speed)
    with pytest.raises(CalendarError):
        Clock.frozen().set_speed(speed)


def test_a_world_at_the_horizon_keeps_serving_and_restarts(tmp_path):
    server = Server(tmp_path)
    auth = server.auth("edge")
    # the longest interval: the jump to the horizon is a hundred firings, not sixty million
    with_signal(server, "edge", interval_seconds=2**31 - 1)
    last_minute = iso(HORIZON - timedelta(minutes=1))
    r = server.http.post("/_sim/clock/advance", json={"to": last_minute}, headers=auth)
    assert r.status_code == 200, r.text
    r = server.http.post("/_sim/clock/advance", json={"seconds": 120}, headers=auth)
    assert r.status_code == 400 and "seconds" in r.json()["errors"], r.text
    r = server.http.post("/_sim/clock/advance", json={"to": iso(HORIZON)}, headers=auth)
    assert r.status_code == 200 and r.json()["now"] == iso(HORIZON), r.text
    wind_back_wall(tmp_path, "edge", 3600)  # an hour of downtime at speed 1, at the horizon
    server = server.restart()
    r = server.http.get("/_sim/clock", headers=auth)  # opens the world
    assert {w["id"]: w["status"] for w in server.worlds.list()} == {"default": "open", "edge": "open"}
    assert r.status_code == 200 and r.json()["now"] == iso(HORIZON), r.text
    assert server.http.get("/signal", headers=auth).status_code == 200
    server.close()


def test_advancing_zero_or_a_nanosecond_on_a_wall_clock_world_is_fine(tmp_path):
    """A clock that follows the wall moves between the request's 'now' and its advance."""
    server = Server(tmp_path)
    auth = server.auth("zero")
    with_signal(server, "zero")
    for seconds in [0, 1e-9, 1e-7] * 17:
        r = server.http.post("/_sim/clock/advance", json={"seconds": seconds}, headers=auth)
        assert r.status_code == 200, r.text
    server.close()


# -- quarantine ------------------------------------------------------------------------------

def test_a_broken_world_is_quarantined_and_the_others_serve(tmp_path):
    server = Server(tmp_path)
    alice, bob = server.auth("alice"), server.auth("bob")
    for who in ("alice", "bob", "carol"):
        with_signal(server, who)
    poisoned = server.worlds.get("alice").store.path
    server.close()
    # alice: a stored state this version cannot run (an empty country table its catch-up plans a job
    # with); carol: not a database at all.
    with sqlite3.connect(poisoned) as db:
        db.execute("""UPDATE audiences SET population = '{"countries": {}}' WHERE id = 'global'""")
    db.close()
    wind_back_wall(tmp_path, "alice", 2 * 3600)
    (tmp_path / "worlds" / file_name("carol")).write_bytes(b"not a database " * 100)

    server = Server(tmp_path)  # starts: the broken worlds do not stop it
    # Worlds open on demand: alice's first request opens it, and it is quarantined then.
    r = server.http.get("/signal", headers=alice)
    assert r.status_code == 503 and "quarantined" in r.json()["detail"], r.text
    status = {w["id"]: w for w in server.worlds.list()}
    assert status["bob"]["status"] in ("open", "closed") and status["default"]["status"] == "open"
    assert status["alice"]["status"] == "quarantined" and "countries" in status["alice"]["error"]
    assert status["alice"]["clients"] == ["alice"]
    assert status["carol"]["status"] == "quarantined" and status["carol"]["clients"] == []

    assert server.http.get("/signal", headers=bob).status_code == 200
    r = server.http.get("/signal", headers=alice)
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert r.json()["status"] == 503 and "quarantined" in r.json()["detail"]
    assert server.token("alice").status_code == 503
    # carol's file cannot be read: whoever may own it gets 503, never a second, empty world in its place
    assert server.token("carol").status_code == 503
    assert "removing" in server.token("carol?").json()["detail"]
    assert server.token("dave").status_code == 200  # a new world still opens
    # from inside, alice starts afresh with the same credentials
    r = server.http.post("/_sim/worlds/alice/reset", headers=alice)
    assert r.status_code == 200, r.text
    assert server.http.get("/signal", headers=alice).json()["total"] == 0
    server = server.restart()
    for who in ("alice", "bob", "dave"):  # each opens on its first request
        assert server.http.get("/signal", headers=server.auth(who)).status_code == 200
    assert sorted(w["id"] for w in server.worlds.list() if w["status"] == "open") == ["alice", "bob", "dave",
                                                                                      "default"]
    server.close()


# -- generated control bodies ----------------------------------------------------------------

def _numbers() -> st.SearchStrategy:
    return st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                     st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e7, 1e13, 1e300, 2**31, 2**63]))


def _instants() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z",
                                      "1899-12-31T23:59:59Z", "8999-12-31T23:59:59Z", "9000-01-01T00:00:00Z",
                                      "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-01:00", "not a date",
                                      "2100-01-02T00:00:00Z"]),
                     st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                                  timezones=st.just(timezone.utc)).map(iso))


def _values(depth: int = 2) -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), _numbers(), st.text(max_size=4), _instants())
    if depth == 0:
        return scalars
    inner = _values(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=4),
                     st.dictionaries(st.sampled_from(["*", "Cat", "Dog", "US", "a", "18-29"]), inner, max_size=3))


def _settings(model: type) -> st.SearchStrategy:
    from dataclasses import fields
    return st.dictionaries(st.sampled_from([f.name for f in fields(model)]), _values(), max_size=3)


#: (method, path, body strategy) for each control operation that changes what a world keeps.
CONTROL = [
    ("POST", "/_sim/clock/advance", st.fixed_dictionaries({}, optional={"seconds": _numbers(), "to": _instants()})),
    ("PATCH", "/_sim/clock", st.fixed_dictionaries({"speed": st.one_of(_numbers(), st.just(0))})),
    ("POST", "/_sim/outage", st.fixed_dictionaries({"seconds": _numbers()})),
    ("PATCH", "/_sim/policy", st.fixed_dictionaries({}, optional={
        "triggerLatencySeconds": _numbers(), "overlap": st.sampled_from(["skip", "allow", "buffer_one", "x"]),
        "catchUp": st.sampled_from(["none", "latest", "all"])})),
    ("PUT", "/_sim/audiences/global/behaviour", st.fixed_dictionaries(
        {"behaviour": st.fixed_dictionaries({}, optional={"compare": _settings(Prefer), "classify": _settings(Classify),
                                                          "free_text": _settings(FreeText)})},
        optional={"at": _instants(), "merge": st.booleans()})),
    ("PATCH", "/_sim/audiences/global/population", st.fixed_dictionaries({"population": _settings(Population)})),
    ("POST", "/_sim/faults", st.fixed_dictionaries(
        {"state": st.sampled_from(["Failed", "Paused", "ManualApproval", "SpendLimited"]),
         "audienceId": st.just("global")},
        optional={"afterSeconds": _numbers(), "atProgress": _numbers(), "jobs": _numbers()})),
    ("POST", "/_sim/worlds/fuzz/reset", st.fixed_dictionaries({}, optional={"seed": _numbers(),
                                                                           "start": _instants()})),
]


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("survives")


def _plan_a_job(server: Server, world_id: str) -> None:
    """A job on the global audience, planned with whatever crowd settings the world holds, and a
    signal whose firings the next restart catches up (at the longest interval, so that a jump of
    millennia stays a few hundred firings: a long advance's cost is not what is tested here)."""
    world = server.worlds.get(world_id)
    owner = world.identity.principal(world.store.select("clients")[-1]["user_id"])
    definitions = world.store.select("job_definitions")
    definition = definitions[0] if definitions else one_datapoint_definition(world, owner, "fuzz")[1]
    if not world.store.count("signals"):
        world.signals.create(owner, name="rare", audience_id="global", job_definition_id=definition["id"],
                             interval_seconds=2**31 - 1)
    world.jobs.create(owner, definition_id=definition["id"], audience_id="global")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(calls=st.lists(st.sampled_from(CONTROL).flatmap(
    lambda op: st.tuples(st.just(op[0]), st.just(op[1]), op[2])), min_size=1, max_size=5))
def test_generated_control_bodies_never_break_a_world_or_its_restart(fuzz_dir, calls):
    data_dir = fuzz_dir / f"run-{time.monotonic_ns()}"
    server = Server(data_dir, speed=0)
    auth = server.auth("fuzz")
    try:
        for method, path, body in calls:
            r = server.http.request(method, path, json=body, headers=auth)
            assert r.status_code < 500, (method, path, body, r.status_code, r.text[:300])
            if r.status_code == 400:
                assert r.headers["content-type"].startswith("application/problem+json") and r.json()["errors"]
            # the world runs with what it now holds: a job planned with it, and a day of its work
            _plan_a_job(server, "fuzz")
            if server.http.get("/_sim/clock", headers=auth).json()["now"] < "8999":
                day = server.http.post("/_sim/clock/advance", json={"seconds": 86400}, headers=auth)
                assert day.status_code == 200, (method, path, body, day.text[:300])
        wind_back_wall(data_dir, "fuzz", 2**31)  # the restart catches up a firing or two
        server = server.restart(speed=1)
        assert server.http.get("/signal", headers=auth).status_code == 200  # opens the world
        status = {w["id"]: w["status"] for w in server.worlds.list()}
        assert status == {"default": "open", "fuzz": "open"}, server.worlds.list()
    finally:
        server.close()

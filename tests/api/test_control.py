"""The /_sim control surface: the same operations as the Python API, over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from support import https_client


@pytest.fixture
def http(sim):
    client = https_client(sim.serve())
    yield client
    client.close()


def test_control_surface(sim, http, client):
    definition = client.job.create_free_text_job_definition(name="x", instruction="?", datapoints=["t"],
                                                            data_type="text", responses_per_datapoint=1)
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    state = http.get("/_sim/clock").json()
    assert state["nextEventAt"] == signal.next_run_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    r = http.post("/_sim/clock/advance", json={"seconds": 3 * 3600 + 60})
    assert r.status_code == 200, r.text
    counters = http.get(f"/_sim/signals/{signal.id}/counters", params={"upcoming": 2}).json()
    assert counters["fired"] == {"Scheduled": 3, "Manual": 0}
    assert len(counters["upcoming"]) == 2

    assert http.patch("/_sim/policy", json={"catchUp": "all"}).json()["catchUp"] == "all"
    out = http.post("/_sim/outage", json={"seconds": 2 * 3600}).json()
    assert len(out["missed"][signal.id]) == 2
    after = http.get(f"/_sim/signals/{signal.id}/counters").json()
    # Both catch-up firings come at the outage's end: the second finds the first's job running.
    assert after["fired"]["Scheduled"] == 4 and after["skipped"] == {"PreviousJobNotFinished": 1}

    lines = http.get("/_sim/events", params={"since": 0}).text.splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds.count("signal.missed") == 2 and "outage.ended" in kinds and "policy.changed" in kinds
    last = json.loads(lines[-1])["seq"]
    newer = http.get("/_sim/events", params={"since": last}).text.splitlines()
    assert all(json.loads(line)["seq"] > last for line in newer)  # (the clock follows the wall here)


@pytest.mark.parametrize("method,path,body,status", [
    ("POST", "/_sim/clock/advance", {"seconds": -1}, 400),
    ("POST", "/_sim/clock/advance", {}, 400),
    ("POST", "/_sim/clock/advance", {"to": "2000-01-01T00:00:00Z"}, 400),
    ("POST", "/_sim/clock/advance", {"to": "tomorrow"}, 400),
    ("POST", "/_sim/outage", {"seconds": 0}, 400),
    ("PATCH", "/_sim/policy", {"overlap": "sometimes"}, 400),
    ("GET", "/_sim/signals/sig_nope/counters", None, 404),
    ("GET", "/_sim/events?since=x", None, 400),
    ("GET", "/_sim/events?limit=0", None, 400),
    ("GET", "/_sim/events?limit=100001", None, 400),
])
def test_control_rejects_bad_input(sim, http, method, path, body, status):
    before = sim.store.snapshot()
    r = http.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert sim.store.snapshot() == before


def test_the_event_log_comes_in_pages(sim, http):
    """``limit`` bounds a page; ``x-sim-next-since`` names the next one, and is absent on the last;
    the pages together are the whole log (``since`` as before: the events after that seq)."""
    sim.set_speed(0)
    for n in range(7):
        sim.signals.record("test.mark", f"m{n}")
    whole = http.get("/_sim/events").text
    assert "x-sim-next-since" not in http.get("/_sim/events").headers
    pages, since = [], 0
    while since is not None:
        r = http.get("/_sim/events", params={"since": since, "limit": 3})
        assert r.status_code == 200, r.text
        assert 1 <= len(r.text.splitlines()) <= 3
        pages.append(r.text)
        since = r.headers.get("x-sim-next-since")
        if since is not None:
            assert int(since) == json.loads(r.text.splitlines()[-1])["seq"]
    assert len(pages) >= 3 and "".join(pages) == whole
    assert http.get("/_sim/events", params={"since": 10**12}).text == ""


def test_a_request_may_cross_only_so_many_grid_points(sim, http):
    """An advance or outage crossing more signal grid points than ``SimConfig.max_firings_per_request``
    is a 400 naming the bound, before anything is written; at the bound it runs."""
    sim.set_speed(0)
    sim.config.max_firings_per_request = 10
    me = sim.principal()
    from support import one_datapoint_definition

    _, definition = one_datapoint_definition(sim, me, "bounded")
    sim.signals.create(me, name="hourly", audience_id="global", job_definition_id=definition["id"],
                       interval_seconds=3600)
    for method, path, body, field in (("POST", "/_sim/clock/advance", {"seconds": 11 * 3600}, "seconds"),
                                      ("POST", "/_sim/outage", {"seconds": 11 * 3600}, "seconds")):
        before = sim.store.snapshot()
        r = http.request(method, path, json=body)
        assert r.status_code == 400, r.text
        assert "10" in r.json()["errors"][field][0] and "max_firings_per_request" in r.json()["errors"][field][0]
        assert sim.store.snapshot() == before
    to = (sim.clock.now() + timedelta(hours=11)).isoformat()
    r = http.post("/_sim/clock/advance", json={"to": to})
    assert r.status_code == 400 and "to" in r.json()["errors"], r.text
    ok = http.post("/_sim/clock/advance", json={"seconds": 10 * 3600})
    assert ok.status_code == 200, ok.text
    assert sim.counters(sim.store.select("signals")[0]["id"])["fired"]["Scheduled"] == 10
    sim.config.max_firings_per_request = 100_000
    assert http.post("/_sim/clock/advance", json={"seconds": 11 * 3600}).status_code == 200


def test_control_needs_a_token(sim, http):
    r = http.get("/_sim/clock", headers={"Authorization": ""})
    assert r.status_code == 401

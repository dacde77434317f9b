"""HTTP fault injection (``/_sim/faults/http``, ``rapidata_sim.http.faults``), through the real SDK.

What 3.27.1 does with them (``rapidata/api_client/rest.py``): 429, 502, 503 and 504 are retried,
three times (four attempts), with jittered backoff of 0.25–0.5, 0.5–1 and 1–2 s, or the server's
``Retry-After`` (integer seconds, capped at 60) when sent; any method, POST included. 500 and
other 4xx are not retried: they become ``RapidataError`` with ``status_code`` and ``trace_id``
(from the ``x-trace-id`` header first, else the problem body's ``traceId``). When the retries run
out, the last retryable status is raised the same way.
"""

from __future__ import annotations

import json
import time

import pytest
from support import https_client
from rapidata.rapidata_client.exceptions import RapidataError

from rapidata_sim import Simulator
from rapidata_sim.http.faults import MAX_LATENCY_MS, http_faults


@pytest.fixture
def sim(contract):
    """As conftest's ``sim`` (every response checked against the specs), except the errors these
    tests inject on purpose: the specs do not declare 429/500/503, and need not."""
    world = Simulator(seed=1234)
    server = world.serve(record=True)
    yield world
    injected = {e["data"]["traceId"] for e in world.events() if e["kind"] == "http.fault" and e["data"]["traceId"]}
    problems = []
    for ex in server.exchanges:
        if ex.path.startswith("/_sim/") or ex.headers.get("x-trace-id") in injected:
            continue
        for problem in contract.check(ex.method, ex.path, ex.status, ex.body, ex.content_type):
            problems.append(f"{ex.method} {ex.path} -> {ex.status}: {problem}")
    world.close()
    assert not problems, "responses that break the contract:\n" + "\n".join(problems[:20])


@pytest.fixture
def http(sim):
    client = https_client(sim.serve())
    yield client
    client.close()


def fault_events(sim):
    return [e for e in sim.events() if e["kind"] == "http.fault"]


def exchanges_since(sim, n):
    return [(ex.method, ex.path, ex.status) for ex in sim.serve().exchanges[n:]]


def test_a_503_rate_on_a_get_is_absorbed_by_the_sdks_retries(sim, http, client):
    client.audience.get_audience_by_id("global")  # the SDK's one-off import, before timing anything
    r = http.post("/_sim/faults/http", json={"status": 503, "probability": 0.3, "path": "/audience/*",
                                              "method": "GET"})
    assert r.status_code == 200, r.text
    rule = r.json()
    assert rule["id"].startswith("hf_") and rule["injected"] == 0 and rule["remaining"] is None

    n = len(sim.serve().exchanges)
    for _ in range(10):
        assert client.audience.get_audience_by_id("global").id == "global"  # never raises

    seen = exchanges_since(sim, n)
    failed = [x for x in seen if x[2] == 503]
    assert failed and len([x for x in seen if x[2] == 200]) == 10
    events = fault_events(sim)
    assert len(events) == len(failed)
    assert {(e["subject"], e["data"]["method"], e["data"]["status"]) for e in events} == {
        ("/audience/global", "GET", 503)}
    assert all(e["data"]["rules"] == [rule["id"]] for e in events)
    listed = http.get("/_sim/faults/http").json()["rules"]
    assert [(x["id"], x["injected"]) for x in listed] == [(rule["id"], len(failed))]


def test_an_injected_503_on_a_post_is_retried_and_the_handler_runs_once(sim, client):
    http_faults(sim).add(503, path="/audience", method="POST", count=2)
    since = sim.events()[-1]["seq"]
    audience = client.audience.create_audience(name="Flaky gateway")
    assert audience.name == "Flaky gateway"
    assert [a["name"] for a in sim.store.select("audiences")].count("Flaky gateway") == 1
    kinds = [(e["kind"], e["data"].get("status")) for e in sim.events(since)
             if e["kind"] in ("http.fault", "audience.created")]
    assert kinds == [("http.fault", 503), ("http.fault", 503), ("audience.created", None)]
    assert http_faults(sim).rules()[0].remaining == 0


def test_an_injected_500_raises_rapidata_error_with_the_trace_id(sim, client):
    client.audience.get_audience_by_id("global")
    http_faults(sim).add(500, path="/audience/global", count=1)
    n = len(sim.serve().exchanges)
    with pytest.raises(RapidataError) as info:
        client.audience.get_audience_by_id("global")
    exchanges = sim.serve().exchanges[n:]
    assert [(x.method, x.path, x.status) for x in exchanges] == [("GET", "/audience/global", 500)]  # no retry
    body = json.loads(exchanges[0].body)
    trace_id = exchanges[0].headers["x-trace-id"]
    assert exchanges[0].content_type == "application/problem+json"
    assert body["status"] == 500 and body["title"] == "Internal Server Error" and body["traceId"] == trace_id
    err = info.value
    assert err.status_code == 500 and err.trace_id == trace_id and trace_id in str(err)
    assert fault_events(sim)[0]["data"]["traceId"] == trace_id
    assert client.audience.get_audience_by_id("global").id == "global"  # count=1: spent


def test_429_carries_retry_after_which_the_sdk_honours(sim, client):
    client.audience.get_audience_by_id("global")
    rule = http_faults(sim).add(429, path="/audience/*", retry_after_seconds=1, count=1)
    n = len(sim.serve().exchanges)
    start = time.monotonic()
    assert client.audience.get_audience_by_id("global").id == "global"
    # Its own first backoff would be 0.25-0.5 s: the wait is the server's Retry-After.
    assert time.monotonic() - start >= 1.0
    first, second = sim.serve().exchanges[n:]
    assert (first.status, first.headers["retry-after"], second.status) == (429, "1", 200)
    assert json.loads(first.body)["title"] == "Too Many Requests"
    assert rule.injected == 1
    assert http_faults(sim).add(429, path="/nowhere").retry_after_seconds == 1  # the default


def test_when_the_retries_run_out_the_last_status_is_raised(sim, client):
    client.audience.get_audience_by_id("global")
    http_faults(sim).add(429, path="/audience/global", retry_after_seconds=0)
    n = len(sim.serve().exchanges)
    with pytest.raises(RapidataError) as info:
        client.audience.get_audience_by_id("global")
    assert exchanges_since(sim, n) == [("GET", "/audience/global", 429)] * 4  # one try and three retries
    assert info.value.status_code == 429
    assert info.value.trace_id == fault_events(sim)[-1]["data"]["traceId"]


def test_latency_delays_the_answer_by_at_least_the_configured_time(sim, http, client):
    client.audience.get_audience_by_id("global")
    http_faults(sim).add(latency_ms=400, path="/audience/*", method="GET", count=1)
    start = time.monotonic()
    assert client.audience.get_audience_by_id("global").id == "global"
    assert time.monotonic() - start >= 0.4
    assert fault_events(sim)[-1]["data"] | {"traceId": None} == {
        "method": "GET", "status": None, "latencyMs": 400, "rules": ["hf_1"], "traceId": None}

    # Latency and an error together: both rules fire, the delays add, the error answers.
    http_faults(sim).add(latency_ms=150, path="/audience/*", count=1)
    http_faults(sim).add(503, latency_ms=150, path="/audience/global", count=1)
    start = time.monotonic()
    r = http.get("/audience/global")
    assert r.status_code == 503 and time.monotonic() - start >= 0.3
    assert fault_events(sim)[-1]["data"]["rules"] == ["hf_3", "hf_2"]  # the failing rule first
    assert fault_events(sim)[-1]["data"]["latencyMs"] == 300
    assert http_faults(sim).add(latency_ms=MAX_LATENCY_MS, path="/x").latency_ms == MAX_LATENCY_MS


def _run(seed: int) -> tuple[list[int], list[tuple]]:
    """A fixed request sequence against a fresh world with ``seed``: the statuses and fault events."""
    with Simulator(seed=seed) as world:
        faults = http_faults(world)
        faults.add(503, probability=0.4, path="/audience/*")
        faults.add(500, probability=0.1, method="GET")
        faults.add(latency_ms=1, probability=0.5, path="/audiences")
        client = https_client(world.serve())
        try:
            statuses = [client.get("/audience/global" if i % 3 else "/audiences").status_code for i in range(45)]
        finally:
            client.close()
        events = [(e["kind"], e["subject"], json.dumps(e["data"], sort_keys=True)) for e in world.events()
                  if e["kind"].startswith("http.")]
        return statuses, events


def test_same_seed_and_requests_give_the_same_faults():
    statuses, events = _run(7)
    assert {503, 500, 200} <= set(statuses)
    assert _run(7) == (statuses, events)  # trace ids included: they are seeded too
    assert _run(8)[0] != statuses


@pytest.mark.parametrize("body, field", [
    ({"status": 200}, "status"),
    ({"status": "503"}, "status"),
    ({"status": True}, "status"),
    ({}, "status"),
    ({"status": 503, "probability": 1.5}, "probability"),
    ({"status": 500, "retryAfterSeconds": 2}, "retryAfterSeconds"),
    ({"status": 429, "retryAfterSeconds": -1}, "retryAfterSeconds"),
    ({"status": 503, "method": "FETCH"}, "method"),
    ({"status": 503, "path": "/_sim/*"}, "path"),
    ({"status": 503, "path": "audience"}, "path"),
    ({"status": 503, "latencyMs": MAX_LATENCY_MS + 1}, "latencyMs"),
    ({"status": 503, "count": 0}, "count"),
    ({"status": 503, "probabilty": 0.1}, "probabilty"),
    ([503], "$"),
])
def test_bad_control_bodies_are_400_problems(sim, http, body, field):
    r = http.post("/_sim/faults/http", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 400 and problem["traceId"] == r.headers["x-trace-id"]
    assert field in problem["errors"], problem
    assert http_faults(sim).rules() == []


def test_faults_never_hit_the_control_surface_or_the_token_unless_named(sim, http):
    assert http.post("/_sim/faults/http", json={"status": 503}).status_code == 200  # every path
    assert http.get("/audience/global").status_code == 503
    assert http.get("/_sim/clock").status_code == 200
    assert http.get("/_sim/events").status_code == 200
    assert http.get("/_sim/faults/http").json()["rules"][0]["injected"] == 1
    token = http.post("/connect/token", data={"grant_type": "client_credentials"},
                      auth=("rapidata-sim", "rapidata-sim-secret"))
    assert token.status_code == 200  # a catch-all rule leaves the token endpoint alone

    assert http.post("/_sim/faults/http", json={"status": 503, "path": "/connect/token", "count": 1}).status_code == 200
    token = http.post("/connect/token", data={"grant_type": "client_credentials"},
                      auth=("rapidata-sim", "rapidata-sim-secret"))
    assert token.status_code == 503  # named exactly: faulted
    assert {e["subject"] for e in fault_events(sim)} == {"/audience/global", "/connect/token"}

    assert http.delete("/_sim/faults/http").status_code == 204
    assert http.get("/_sim/faults/http").json() == {"rules": []}
    assert http.get("/audience/global").status_code == 200
    assert [e["kind"] for e in sim.events() if e["kind"].startswith("http.")] == [
        "http.fault_rule", "http.fault", "http.fault_rule", "http.fault", "http.faults_cleared"]


def test_rules_apply_only_after_authentication(sim, http):
    """Unauthenticated requests get 401, not the injected status; they log no ``http.fault`` and use
    up no draw: the authenticated requests after them see exactly the faults of a world that never
    saw them (same seed, same rule)."""
    rule = {"status": 503, "probability": 0.5, "path": "/audience/*", "method": "GET", "count": 50}
    assert http.post("/_sim/faults/http", json=rule).status_code == 200
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-a-token"},
                    {"Authorization": "Basic cmFwaWRhdGEtc2ltOnJhcGlkYXRhLXNpbS1zZWNyZXQ="}):
        for _ in range(5):
            assert http.get("/audience/global", headers=headers).status_code == 401
    assert fault_events(sim) == []
    assert http.get("/_sim/faults/http").json()["rules"][0]["injected"] == 0
    seen = [http.get("/audience/global").status_code for _ in range(20)]

    twin = Simulator(seed=1234)
    try:
        twin_http = https_client(twin.serve())
        assert twin_http.post("/_sim/faults/http", json=rule).status_code == 200
        assert [twin_http.get("/audience/global").status_code for _ in range(20)] == seen
        twin_http.close()
    finally:
        twin.close()
    assert set(seen) == {200, 503}  # the rule did fire on the authenticated ones
    assert len(fault_events(sim)) == seen.count(503)

"""Bad input, one case at a time: the right 4xx, in the service's error shape, and nothing written."""

from __future__ import annotations

import json

import pytest
from support import https_client, one_datapoint_definition

from rapidata_sim import Simulator

DEFAULT = ("rapidata-sim", "rapidata-sim-secret")
COLLEAGUE = ("rapidata-sim-colleague", "colleague-secret")
OTHER = ("rapidata-sim-other", "other-secret")


@pytest.fixture(scope="module")
def world():
    sim = Simulator(seed=99)
    server = sim.serve()
    http = https_client(server, creds=None)
    tokens = {}
    for name, creds in (("default", DEFAULT), ("colleague", COLLEAGUE), ("other", OTHER)):
        authed = https_client(server, creds)
        tokens[name] = authed.headers["Authorization"][len("Bearer "):]
        authed.close()
    me = sim.principal()
    ds, definition = one_datapoint_definition(sim, me, "d")
    sim.definitions.create_revision(me, definition["id"], changes={})
    private = sim.signals.create(me, name="private", audience_id="global", job_definition_id=definition["id"],
                                 interval_seconds=3600)
    public = sim.signals.create(me, name="public", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=3600, is_public=True)
    expired = sim.identity.issue_token(*DEFAULT, lifetime=0)["access_token"]
    yield {"sim": sim, "http": http, "tokens": tokens, "definition": definition["id"], "dataset": ds["id"],
           "private": private["id"], "public": public["id"], "expired": expired}
    http.close()
    sim.close()


def good_signal(w, **over):
    body = {"name": "s", "audienceId": "global", "jobDefinitionId": w["definition"], "intervalSeconds": 3600,
            "isPublic": False, "description": None, "revisionNumber": None}
    body.update(over)
    return body


# (id, method, path, body, who, status, error key or None)
CASES = [
    ("missing name", "POST", "/signal", lambda w: {k: v for k, v in good_signal(w).items() if k != "name"},
     "default", 400, "name"),
    ("interval below 60", "POST", "/signal", lambda w: good_signal(w, intervalSeconds=59), "default", 400,
     "intervalSeconds"),
    ("interval as string", "POST", "/signal", lambda w: good_signal(w, intervalSeconds="3600"), "default", 400,
     "intervalSeconds"),
    ("interval as float", "POST", "/signal", lambda w: good_signal(w, intervalSeconds=3600.5), "default", 400,
     "intervalSeconds"),
    ("isPublic not a bool", "POST", "/signal", lambda w: good_signal(w, isPublic="yes"), "default", 400,
     "isPublic"),
    ("unknown audience", "POST", "/signal", lambda w: good_signal(w, audienceId="aud_nope"), "default", 400,
     "audienceId"),
    ("unknown job definition", "POST", "/signal", lambda w: good_signal(w, jobDefinitionId="jd_nope"), "default",
     400, "jobDefinitionId"),
    ("pinned revision missing", "POST", "/signal", lambda w: good_signal(w, revisionNumber=9), "default", 400,
     "revisionNumber"),
    ("malformed JSON", "POST", "/signal", lambda w: b'{"name": "s",', "default", 400, "$"),
    ("body is a list", "POST", "/signal", lambda w: [1, 2], "default", 400, None),
    ("invalid UTF-8", "POST", "/signal", lambda w: b'{"name": "\xff\xfe"}', "default", 400, None),
    ("patch interval below 60", "PATCH", "/signal/{private}", lambda w: {"intervalSeconds": 10}, "default", 400,
     "intervalSeconds"),
    ("patch name null", "PATCH", "/signal/{private}", lambda w: {"name": None}, "default", 400, "name"),
    ("unknown signal", "GET", "/signal/sig_000000000000", None, "default", 404, None),
    ("patch unknown signal", "PATCH", "/signal/sig_000000000000", lambda w: {"name": "x"}, "default", 404, None),
    ("page zero", "GET", "/signal?page=0", None, "default", 400, "page"),
    ("page not a number", "GET", "/signal?page=abc", None, "default", 400, "page"),
    ("huge page size", "GET", "/signal?page_size=100000", None, "default", 400, "page_size"),
    ("unknown sort", "GET", "/signal?sort=bogus", None, "default", 400, "sort"),
    ("unknown filter operator", "GET", "/signal?name%5Blike%5D=x", None, "default", 400, "name[like]"),
    ("unknown filter field", "GET", "/signal?colour%5Beq%5D=x", None, "default", 400, "colour"),
    ("bad boolean filter", "GET", "/signal?is_paused%5Beq%5D=maybe", None, "default", 400, "is_paused[eq]"),
    ("bad date filter", "GET", "/signal?created_at%5Bgt%5D=yesterday", None, "default", 400, "created_at[gt]"),
    ("bad run filter", "GET", "/signal/{private}/run?started_at%5Blt%5D=soon", None, "default", 400,
     "started_at[lt]"),
    ("no token", "GET", "/signal", None, None, 401, None),
    ("forged token", "GET", "/signal", None, "forged", 401, None),
    ("expired token", "GET", "/signal", None, "expired", 401, None),
    ("another organization's signal", "GET", "/signal/{public}", None, "other", 404, None),
    ("delete another organization's signal", "DELETE", "/signal/{public}", None, "other", 404, None),
    ("colleague reads a private signal", "GET", "/signal/{private}", None, "colleague", 404, None),
    ("colleague pauses a public signal", "POST", "/signal/{public}/pause", None, "colleague", 403, None),
    ("job on unknown audience", "POST", "/job",
     lambda w: {"jobDefinitionId": w["definition"], "audienceId": "aud_nope"}, "default", 400, "audienceId"),
    ("job on missing revision", "POST", "/job",
     lambda w: {"jobDefinitionId": w["definition"], "audienceId": "global", "revisionNumber": 42}, "default", 400,
     "revisionNumber"),
    ("job definition with bad workflow", "POST", "/job/definition",
     lambda w: {"definitionName": "x", "workflow": {"_t": "Nope"}, "referee": {"_t": "NaiveReferee",
                                                                             "totalVotes": 1},
                "datasetId": w["dataset"]}, "default", 400, "workflow"),
    ("job definition on another org's dataset", "POST", "/job/definition",
     lambda w: {"definitionName": "x", "workflow": {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare"}},
                "referee": {"_t": "NaiveReferee", "totalVotes": 1}, "datasetId": w["dataset"]}, "other", 400,
     "datasetId"),
    ("stale revision with requireLatest", "POST", "/job/definition/{definition}/revision",
     lambda w: {"baseRevisionNumber": 1, "requireLatest": True}, "default", 409, None),
    ("revision number not an integer", "GET", "/job/definition/{definition}/revision/abc", None, "default", 400,
     "revisionNumber"),
    ("datapoint in unknown dataset", "POST", "/dataset/ds_nope/datapoint",
     lambda w: {"segments": [{"key": "asset", "kind": "Asset", "asset": {"_t": "TextAssetInput", "text": "x"}}]},
     "default", 404, None),
    ("datapoint with bad asset", "POST", "/dataset/{dataset}/datapoint",
     lambda w: {"segments": [{"key": "asset", "kind": "Asset", "asset": {"_t": "Bogus"}}]}, "default", 400,
     "segments[0].asset"),
    ("unknown route", "GET", "/no/such/thing", None, "default", 404, None),
    ("wrong method", "PUT", "/signal", lambda w: {}, "default", 405, None),
    ("oversized body", "POST", "/signal", lambda w: b'{"name": "' + b"x" * (33 * 1024 * 1024) + b'"}', "default",
     413, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(world, case):
    _, method, path, body, who, status, key = case
    sim, http = world["sim"], world["http"]
    path = path.format(**world)
    headers = {}
    if who == "forged":
        headers["Authorization"] = "Bearer sim-forged-token"
    elif who == "expired":
        headers["Authorization"] = f"Bearer {world['expired']}"
    elif who is not None:
        headers["Authorization"] = f"Bearer {world['tokens'][who]}"
    content = None
    if body is not None:
        value = body(world)
        content = value if isinstance(value, bytes) else json.dumps(value).encode()
        headers["Content-Type"] = "application/json"
    before = sim.store.snapshot()
    r = http.request(method, path, content=content, headers=headers)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-trace-id"]
    problem = r.json()
    assert problem["status"] == status and problem["title"] and problem["traceId"] == r.headers["x-trace-id"]
    if status == 400:
        assert isinstance(problem["errors"], dict) and problem["errors"]
        if key is not None:
            assert key in problem["errors"], problem["errors"]
    if status == 409:
        assert problem["latestRevisionNumber"] == 2
    assert sim.store.snapshot() == before
    assert http.get("/audience/global", headers={"Authorization": f"Bearer {world['tokens']['default']}"}
                    ).status_code == 200


def test_wrong_secret_is_an_oauth_error(world):
    r = world["http"].post("/connect/token", data={"grant_type": "client_credentials"},
                           auth=("rapidata-sim", "wrong"))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_client"
    r = world["http"].post("/connect/token", data={"grant_type": "password"}, auth=DEFAULT)
    assert r.json()["error"] == "unsupported_grant_type"


def test_bridge_token_is_404(world):
    r = world["http"].post("/identity/bridge-token?clientId=rapidata-cli")
    assert r.status_code == 404


def test_no_route_answers_500_to_junk(world):
    """Every route, every method it serves, junk bodies and junk ids: never a 5xx."""
    sim, http = world["sim"], world["http"]
    from starlette.routing import Route

    from rapidata_sim.http import create_app

    auth = {"Authorization": f"Bearer {world['tokens']['default']}", "Content-Type": "application/json"}
    junk = [b"", b"null", b"[]", b'{"a": {"b": [1, {"c": null}]}}', b"\x00\x01", b'{"name": 5}',
            json.dumps({"_t": "x" * 1000}).encode(), b"[" * 5000 + b"]" * 5000]
    for route in create_app(sim).routes:
        assert isinstance(route, Route)
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{%s}" % name, "x'; DROP TABLE signals;--")
        for method in sorted(route.methods - {"HEAD"}):
            for body in junk if method in ("POST", "PATCH", "PUT") else [None]:
                r = http.request(method, path + "?page=1&name%5Bcontains%5D=%27%20OR%201%3D1", content=body,
                                 headers=auth)
                assert r.status_code < 500, (method, path, body[:40] if body else body, r.text[:300])
    assert sim.store.count("signals") == 2

"""Paging, sorting and deepObject filters, as the specs define them, over HTTP."""

from __future__ import annotations

import pytest
from support import https_client

from rapidata_sim import Simulator


@pytest.fixture(scope="module")
def api():
    sim = Simulator(seed=3)
    server = sim.serve()
    http = https_client(server)
    me = sim.principal()
    ds = sim.datasets.create(me, "ds")
    workflow = {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "asset": {"segment": "asset"},
                                                  "criteria": {"literal": "?"}, "indexIdentifiers": None},
                "extra": {"kept": [1, 2]}}
    definition, _ = sim.definitions.create(me, name="d", workflow=workflow,
                                           referee={"_t": "NaiveReferee", "totalVotes": 3}, dataset_id=ds["id"])
    names = ["alpha", "Bravo", "charlie", "delta", "Echo", "foxtrot", "golf"]
    for i, name in enumerate(names):
        sim.signals.create(me, name=name, audience_id="global", job_definition_id=definition["id"],
                           interval_seconds=60 * (i + 1), is_public=i % 2 == 0)
    yield sim, http, definition, workflow
    http.close()
    sim.close()


def names(r):
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


def test_paging_totals(api):
    _, http, _, _ = api
    page = http.get("/signal", params={"page": 2, "page_size": 3, "sort": "name"}).json()
    assert (page["total"], page["totalPages"], page["page"], page["pageSize"]) == (7, 3, 2, 3)
    assert [i["name"] for i in page["items"]] == ["delta", "Echo", "foxtrot"]
    last = http.get("/signal", params={"page": 3, "page_size": 3, "sort": "name"}).json()
    assert [i["name"] for i in last["items"]] == ["golf"]
    beyond = http.get("/signal", params={"page": 9, "page_size": 3}).json()
    assert beyond["items"] == [] and beyond["total"] == 7


def test_sorts(api):
    _, http, _, _ = api
    assert names(http.get("/signal", params={"sort": "-name", "page_size": 3})) == ["golf", "foxtrot", "Echo"]
    # default: newest first (-created_at); creation order breaks ties
    assert names(http.get("/signal", params={"page_size": 2})) == ["golf", "foxtrot"]
    assert names(http.get("/signal", params={"sort": "next_run_at", "page_size": 2})) == ["alpha", "Bravo"]


def test_filters(api):
    _, http, _, _ = api
    assert names(http.get("/signal?name%5Bcontains%5D=A&sort=name")) == ["alpha", "Bravo", "charlie", "delta"]
    assert names(http.get("/signal?name%5Bcontains%5D=")) != []
    assert names(http.get("/signal?name%5Bstarts_with%5D=e")) == ["Echo"]
    assert names(http.get("/signal?name%5Bin%5D=golf&name%5Bin%5D=alpha&sort=name")) == ["alpha", "golf"]
    assert names(http.get("/signal?name%5Bin%5D=golf,alpha&sort=name")) == ["alpha", "golf"]
    assert names(http.get("/signal?is_public%5Beq%5D=true&sort=name")) == ["alpha", "charlie", "Echo", "golf"]
    assert http.get("/signal?name%5Beq%5D=golf&name%5Beq%5D=alpha").status_code == 400  # eq takes one value
    assert names(http.get("/signal?name%5Beq%5D=golf&is_public%5Beq%5D=false&logic=or&sort=name")) == [
        "Bravo", "delta", "foxtrot", "golf"]
    assert names(http.get("/signal?name%5Bcontains%5D=%25")) == []          # % is literal, not a wildcard
    assert names(http.get("/signal?name%5Bcontains%5D=%27%20OR%201%3D1--")) == []


def test_discriminated_unions_are_echoed(api):
    _, http, definition, workflow = api
    revision = http.get(f"/job/definition/{definition['id']}/revision").json()
    assert revision["workflow"] == workflow
    assert revision["referee"] == {"_t": "NaiveReferee", "totalVotes": 3}

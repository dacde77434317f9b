"""The pages behind the SDK's printed links (``http/app_pages.py``), without a browser: which paths,
what status, and whose world they look in. The browser test opens them for real."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.routing import compile_path
from starlette.testclient import TestClient

import rapidata
from rapidata_sim import Clock, Simulator
from rapidata_sim.testing.builders import text_definition
from rapidata_sim.http import create_app
from rapidata_sim.http.app_pages import PAGES
from rapidata_sim.serving.worlds import Worlds

SPECS = Path(__file__).resolve().parents[2] / "specs" / "openapi"
SHELL = "/_sim/dashboard/state"  # the dashboard's script is in every page


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _sample(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "x_1", template)


def test_every_app_link_the_sdk_builds_has_a_page():
    sdk = Path(rapidata.__file__).parent
    built = {_shape(m) for f in sdk.rglob("*.py") if "api_client" not in f.parts
             for m in re.findall(r"https://app\.\{[^}]+\}(/[^\"'\s]*)", f.read_text())}
    assert {"/definitions/{}", "/audiences/{}/job/{}", "/label/{}"} <= built  # the grep still finds them
    assert built <= {_shape(t) for t, _ in PAGES}


def test_no_page_shares_a_path_with_the_real_api_or_the_simulated_one():
    spec_paths = [p for f in SPECS.glob("*.json") for p in json.loads(f.read_text())["paths"]]
    with Simulator() as sim:
        api = [r.path for r in create_app(sim).routes]
    for template, _ in PAGES:
        path = _sample(template)
        clashes = [p for p in spec_paths + api if compile_path(p)[0].match(path)]
        assert not clashes, (template, clashes)


@pytest.fixture
def world():
    sim = Simulator(seed=3, clock=Clock.frozen())
    client = TestClient(create_app(sim), base_url="https://127.0.0.1")
    yield sim, client
    client.close()
    sim.close()


def _token(client: TestClient, creds: tuple[str, str] = ("rapidata-sim", "rapidata-sim-secret")) -> str:
    r = client.post("/connect/token", data={"grant_type": "client_credentials"}, auth=creds)
    return r.json()["access_token"]


def test_each_page_is_the_dashboard_holding_no_data_and_404_for_what_is_not_there(world):
    sim, client = world
    me = sim.principal()
    definition = text_definition(sim, name="secret-name pairs")
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    signal = sim.signals.create(me, name="daily", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=86400)
    sim.audiences.create(audience_id="ula_open", name="open door", organization_id=me.organization_id,
                         owner_id=me.user_id, owner_mail=me.email)
    labeled = sim.jobs.create(me, definition_id=definition["id"], audience_id="ula_open")
    gold = sim.validation_sets.create(me, name="secret-name gold")
    found = [f"/definitions/{definition['id']}", f"/audiences/global/job/{job['id']}", "/audiences/global",
             f"/signals/{signal['id']}", "/label/ula_open", f"/label/ula_open/job/{labeled['id']}",
             f"/validation-set/detail/{gold['id']}"]
    for path in found:
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert SHELL in page.text and "/connect/token" in page.text
        assert "secret-name" not in page.text and "daily" not in page.text  # its script fetches the object
    missing = ["/definitions/jd_nope", f"/audiences/aud_MU1GZYoESyO/job/{job['id']}",  # not that job's audience
               "/audiences/aud_nope/job/job_nope", "/signals/sig_nope", "/label/global",  # not unlisted
               "/audiences/aud_nope", f"/label/ula_open/job/{job['id']}", "/validation-set/detail/vs_nope"]
    for path in missing:
        page = client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html") and SHELL in page.text
        assert "not found" in page.text or "not on audience" in page.text or "Unlisted" in page.text, path
    for path in ("/mri/benchmarks/bm_1", "/mri/benchmarks/bm_1/leaderboard/lb_1", "/flows/flow_1"):
        page = client.get(path)  # simulated now (tests/pages/test_dashboard_ranking.py): this world has none
        assert page.status_code == 404 and "not found" in page.text and "sign in" in page.text, path


def test_the_state_describes_the_object_to_its_own_organization_only(world):
    sim, client = world
    definition = text_definition(sim, name="pairs")
    path = f"/definitions/{definition['id']}"
    assert client.get(SHELL, params={"object": path}).status_code == 401  # the data needs a bearer token
    mine = client.get(SHELL, params={"object": path}, headers={"Authorization": "Bearer " + _token(client)})
    shown = mine.json()["object"]
    assert (shown["kind"], shown["id"], shown["name"]) == ("Job definition", definition["id"], "pairs")
    other = _token(client, ("rapidata-sim-other", "other-secret"))  # another organization, same world
    theirs = client.get(SHELL, params={"object": path}, headers={"Authorization": "Bearer " + other}).json()
    assert "pairs" not in json.dumps(theirs["object"]) and "not found" in theirs["object"]["missing"]
    # A signal's page links the jobs its runs made, at their own pages.
    signal = sim.signals.create(sim.principal(), name="daily", audience_id="global",
                                job_definition_id=definition["id"], interval_seconds=86400)
    sim.advance(timedelta(days=1, minutes=1))
    doc = client.get(SHELL, params={"object": f"/signals/{signal['id']}"},
                     headers={"Authorization": "Bearer " + _token(client)}).json()["object"]
    (run,) = sim.store.select("signal_runs", "signal_id = ?", [signal["id"]])
    assert f"/audiences/global/job/{run['audience_job_id']}" in [link["href"] for link in doc["links"]]
    # The page as the other organization sees it, by the cookie the dashboard's sign-in sets.
    assert client.get(path, headers={"Cookie": f"simToken={other}"}).status_code == 404
    assert client.get(path, headers={"Cookie": "simToken=stale"}).status_code == 200  # the default client's


def test_worlds_route_a_page_by_its_cookie_and_nothing_else_by_a_cookie():
    worlds = Worlds(seed=3, speed=0)
    try:
        client = TestClient(worlds, base_url="https://127.0.0.1")
        dana = _token(client, ("dana", "dana-secret"))
        sim = worlds.get(worlds.for_client("dana", "dana-secret"))
        definition = text_definition(sim, name="dana's pairs")
        path = f"/definitions/{definition['id']}"
        assert client.get(path).status_code == 404  # no cookie: the default world, where it is not
        assert client.get(path, headers={"Cookie": f"other=1; simToken={dana}"}).status_code == 200
        state = client.get(SHELL, params={"object": path}, headers={"Authorization": f"Bearer {dana}"}).json()
        assert state["object"]["name"] == "dana's pairs"
        # A cookie carries no authority outside the pages: not to the state, not to world control.
        assert client.get(SHELL, headers={"Cookie": f"simToken={dana}"}).status_code == 401
        assert client.get("/_sim/worlds", headers={"Cookie": f"simToken={dana}"}).status_code == 401
        assert client.post("/_sim/worlds/dana/reset", headers={"Cookie": f"simToken={dana}"}).status_code == 401
        assert sim.store.get("job_definitions", definition["id"]) is not None
    finally:
        worlds.close()

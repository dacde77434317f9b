"""The dashboard's flows and leaderboards (``http/dashboard_ranking.py``): the state lists them for
their own organization only, and the SDK's ``/mri/...`` links (and the dashboard's ``/flows/...``)
are pages about the real objects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient
from support import https_client

from rapidata_sim.crowd import Prefer
from rapidata_sim.http import create_app

pytestmark = pytest.mark.frozen_clock

IDS = ["p1", "p2", "p3"]


def _media(model: str) -> list[str]:
    return [f"https://assets.example.com/{model}/{model}_{i}.png" for i in IDS]


def _focus(http, path: str) -> dict:
    return http.get("/_sim/dashboard/state", params={"object": path}).json()["object"]


def _pages(sim) -> TestClient:
    """The app host's HTML pages, in process: they are not the API, whose contract ``sim`` checks."""
    return TestClient(create_app(sim), base_url="https://127.0.0.1")


def test_the_dashboard_shows_flows_and_leaderboard_standings_to_their_organization(sim, client):
    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 2.0}, noise=0.0, unsure=0.0))
    flow = client.flow.create_ranking_flow(name="captions", instruction="Which caption is better?",
                                           max_response_threshold=40)
    item = flow.create_new_flow_batch(datapoints=["model-a: fox", "model-b: fox"], data_type="text",
                                      time_to_live=600)
    benchmark = client.mri.create_new_benchmark("Image models", identifiers=IDS, prompts=["a", "b", "c"])
    board = benchmark.create_leaderboard("Realism", "Which image looks more real?", level_of_detail="debug")
    for model in ("model-y", "model-x"):
        benchmark.evaluate_model(model, media=_media(model), identifiers=IDS)

    http = https_client(sim.serve())
    state = http.get("/_sim/dashboard/state").json()
    (shown,) = state["flows"]
    assert (shown["id"], shown["name"], shown["type"], shown["items"]) == (flow.id, "captions", "Ranking",
                                                                           {"Running": 1})
    (lb,) = state["leaderboards"]
    assert (lb["id"], lb["benchmarkId"], lb["name"]) == (board.id, benchmark.id, "Realism")
    assert lb["runs"] == {"total": 1, "running": 1}  # model-x's submission (model-y alone had no pair)
    assert all(s["score"] is None and s["isEvaluating"] for s in lb["standings"])

    sim.advance(timedelta(hours=1))
    state = http.get("/_sim/dashboard/state").json()
    assert state["flows"][0]["items"] == {item.get_status(): 1} and item.get_status() != "Running"
    (lb,) = state["leaderboards"]
    assert lb["runs"] == {"total": 1, "running": 0}
    assert [s["name"] for s in lb["standings"]] == ["model-x", "model-y"]  # the crowd's preference
    sdk = board.get_standings()
    assert [s["score"] for s in lb["standings"]] == pytest.approx(list(sdk["score"]), abs=0.1)
    assert [s["wins"] for s in lb["standings"]] == list(sdk["wins"])

    # The pages behind the SDK's links and the dashboard's own describe the objects.
    doc = _focus(http, f"/mri/benchmarks/{benchmark.id}/leaderboard/{board.id}")
    assert (doc["kind"], doc["id"], doc["name"]) == ("Leaderboard", board.id, "Realism")
    ranks = [k for k, _ in doc["fields"] if k[0].isdigit()]
    assert ranks == ["1. model-x", "2. model-y"]
    assert {"text": "benchmark Image models", "href": f"/mri/benchmarks/{benchmark.id}"} in doc["links"]
    doc = _focus(http, f"/mri/benchmarks/{benchmark.id}")
    assert doc["kind"] == "Benchmark" and dict(doc["fields"])["prompts"] == 3
    assert "model-x (Submitted)" in dict(doc["fields"])["participants"]
    assert f"/mri/benchmarks/{benchmark.id}/leaderboard/{board.id}" in [link["href"] for link in doc["links"]]
    doc = _focus(http, f"/flows/{flow.id}")
    assert (doc["kind"], doc["name"]) == ("Flow", "captions")
    assert dict(doc["fields"])[f"item {item.id}"].startswith(item.get_status())
    pages = _pages(sim)
    for path in (f"/mri/benchmarks/{benchmark.id}", f"/mri/benchmarks/{benchmark.id}/leaderboard/{board.id}",
                 f"/flows/{flow.id}"):
        page = pages.get(path)
        assert page.status_code == 200 and "/_sim/dashboard/state" in page.text, path
        assert "Realism" not in page.text and "captions" not in page.text  # the script fetches the data
    # A leaderboard under another benchmark's path is not there (the SDK's link names its own).
    other_bench = client.mri.create_new_benchmark("Other", identifiers=IDS, prompts=["a", "b", "c"])
    assert pages.get(f"/mri/benchmarks/{other_bench.id}/leaderboard/{board.id}").status_code == 404
    assert "not on benchmark" in _focus(http, f"/mri/benchmarks/{other_bench.id}/leaderboard/{board.id}")["missing"]

    # Another organization, same world: none of it, neither in the lists nor behind the links.
    other = https_client(sim.serve(), creds=("rapidata-sim-other", "other-secret"))
    theirs = other.get("/_sim/dashboard/state").json()
    assert theirs["flows"] == [] and theirs["leaderboards"] == []
    for path in (f"/mri/benchmarks/{benchmark.id}", f"/mri/benchmarks/{benchmark.id}/leaderboard/{board.id}",
                 f"/flows/{flow.id}"):
        assert "not found" in _focus(other, path)["missing"], path
    http.close()
    other.close()
    pages.close()


def test_a_deleted_flow_and_leaderboard_leave_the_dashboard(sim, client):
    flow = client.flow.create_ranking_flow(name="gone", instruction="Better?")
    benchmark = client.mri.create_new_benchmark("B", identifiers=IDS, prompts=["a", "b", "c"])
    board = benchmark.create_leaderboard("Gone too", "Better?", level_of_detail="debug")
    http = https_client(sim.serve())
    state = http.get("/_sim/dashboard/state").json()
    assert [f["id"] for f in state["flows"]] == [flow.id] and [b["id"] for b in state["leaderboards"]] == [board.id]
    assert state["leaderboards"][0]["standings"] == [] and state["leaderboards"][0]["runs"]["total"] == 0
    flow.delete()
    http.delete(f"/leaderboard/{board.id}")
    state = http.get("/_sim/dashboard/state").json()
    assert state["flows"] == [] and state["leaderboards"] == []
    with _pages(sim) as pages:
        assert pages.get(f"/flows/{flow.id}").status_code == 404
    http.close()


def test_in_a_browser_the_dashboard_lists_them_and_a_leaderboard_link_opens_its_standings(rapidata_sim):
    """Debian's Chromium, driven by Playwright (skipped without them), as tests/pages/test_dashboard_browser.py."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    sync_api = pytest.importorskip("playwright.sync_api")
    if chromium is None:
        pytest.skip("no system Chromium (.ci/run installs it)")
    sim = rapidata_sim
    client = sim.client()
    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 2.0}, noise=0.0, unsure=0.0))
    client.flow.create_ranking_flow(name="captions", instruction="Which caption is better?")
    benchmark = client.mri.create_new_benchmark("Image models", identifiers=IDS, prompts=["a", "b", "c"])
    benchmark.create_leaderboard("Realism", "Which image looks more real?", level_of_detail="debug")
    for model in ("model-y", "model-x"):
        benchmark.evaluate_model(model, media=_media(model), identifiers=IDS)
    sim.advance(timedelta(hours=1))
    server = sim.serve()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(ignore_https_errors=True)
        page.goto(f"https://127.0.0.1:{server.port}/_sim/dashboard")
        standings = page.locator(".leaderboard .standing")
        standings.first.wait_for(timeout=10_000)
        assert [t.split(" ·")[0] for t in standings.all_inner_texts()] == ["model-x", "model-y"]
        assert "captions" in page.locator("#flows .flow").first.inner_text()
        page.get_by_role("link", name="Realism").click()
        page.locator("#object-name").wait_for(timeout=10_000)
        assert page.locator("#object-name").inner_text() == "Realism"
        assert page.get_by_text("1. model-x").count() == 1
        browser.close()

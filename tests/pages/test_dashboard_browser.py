"""The dashboard in a real headless browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from rapidata_sim.testing.builders import text_definition
from rapidata_sim.crowd import Population

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (.ci/run installs it)")


@pytest.mark.rapidata_sim(seed=2)  # the plugin's world: seed 2 on a frozen clock, as Simulator(seed=2, clock=Clock.frozen())
def test_dashboard_shows_a_skipped_run_and_advance_adds_a_firing(rapidata_sim):
    sim = rapidata_sim
    me = sim.principal()
    sim.audiences.configure("global", population=Population(responses_per_hour=0.5))  # ~120 h a job
    definition = text_definition(sim, name="pairs", datapoints=4, votes=15)
    sim.signals.create(me, name="daily", audience_id="global", job_definition_id=definition["id"],
                       interval_seconds=86400)
    sim.advance(timedelta(days=2, hours=1))  # fired, then skipped (previous job still running)
    server = sim.serve()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(ignore_https_errors=True)
        page.goto(f"https://127.0.0.1:{server.port}/_sim/dashboard")
        runs = page.locator(".signal .runs .run:not(.missed)")
        runs.first.wait_for(timeout=10_000)
        assert page.locator(".signal b").first.inner_text() == "daily"
        assert runs.count() == 2
        assert page.locator(".run[data-status='Skipped']").count() == 1
        title = page.locator(".run[data-status='Skipped']").get_attribute("title")
        assert "PreviousJobNotFinished" in title
        before = page.locator("#now").inner_text()
        page.get_by_text("advance 1 day").click()
        page.wait_for_function("document.querySelectorAll('.signal .runs .run:not(.missed)').length === 3",
                               timeout=10_000)
        assert page.locator("#now").inner_text() > before
        browser.close()


def _pairs(client, name):
    return client.job.create_compare_job_definition(name=name, instruction="Which is better?", data_type="text",
                                                    responses_per_datapoint=3,
                                                    datapoints=[[f"a {i}", f"b {i}"] for i in range(3)])


def test_the_links_the_sdk_prints_open_their_objects_and_only_in_the_viewers_world(tmp_path, monkeypatch, capsys):
    """As ``rapidata-sim serve`` runs: many worlds. The SDK's own printed links, opened as printed
    (``https://app.sim@127.0.0.1:PORT/...``), show the object, and only to a viewer of its world."""
    import re

    from rapidata import rapidata_config

    from rapidata_sim.serving.worlds import Worlds, WorldsServer

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(rapidata_config.logging, "silent_mode", False)  # the SDK prints its links
    server = WorldsServer(Worlds(seed=5, speed=0)).start()
    try:
        mine = server.client("rapidata-sim", "rapidata-sim-secret")
        definition = _pairs(mine, "my pairs")
        job = mine.audience.get_audience_by_id("global").assign_job(definition)
        printed = capsys.readouterr().out
        (preview,) = re.findall(r"Preview in dashboard: (\S+)", printed)
        (job_page,) = re.findall(r"is now viewable under: (\S+)", printed)
        assert preview == f"https://app.{server.environment}/definitions/{definition.id}"
        assert job_page == f"https://app.{server.environment}/audiences/global/job/{job.id}"
        theirs = _pairs(server.client("dana", "dana-secret"), "dana's pairs")  # another user: her own world
        (dana_preview,) = re.findall(r"Preview in dashboard: (\S+)", capsys.readouterr().out)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(ignore_https_errors=True)
            assert page.goto(preview).status == 200
            page.locator("#object-name").wait_for(timeout=10_000)
            assert page.locator("#object-name").inner_text() == "my pairs"
            assert page.locator("#object-id").inner_text() == definition.id
            assert page.locator("#focus a", has_text="job my pairs:1").count() == 1  # its job, linked
            assert page.goto(job_page).status == 200
            page.locator("#object-name").wait_for(timeout=10_000)
            assert page.locator("#object-id").inner_text() == job.id
            assert page.locator("#object-name").inner_text() == "my pairs:1"  # the service's: definition:revision
            # Her link, opened here, is not in my world; signed in as her, it is.
            assert page.goto(dana_preview).status == 404
            page.locator("#focus .missing").wait_for(timeout=10_000)
            page.fill("#cid", "dana")
            page.fill("#csecret", "dana-secret")
            page.get_by_text("show my world").click()
            page.locator("#object-name").wait_for(timeout=10_000)
            assert (page.locator("#object-name").inner_text(), page.locator("#object-id").inner_text()) == (
                "dana's pairs", theirs.id)
            # From now on her cookie chooses the world: her link is found, mine find nothing of mine.
            assert page.goto(dana_preview).status == 200
            assert page.goto(preview).status == 404
            assert page.goto(job_page).status == 404
            page.locator("#focus .missing").wait_for(timeout=10_000)
            assert "not found" in page.locator("#focus .missing").inner_text()
            assert "dana" in page.locator("#focus .missing").inner_text()
            page.locator("#now").wait_for(timeout=10_000)  # her world's state has come, too
            assert "my pairs" not in page.content()
            browser.close()
    finally:
        server.stop()

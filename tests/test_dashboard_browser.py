"""The dashboard in a real headless browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from rapidata_sim import Clock, Simulator
from rapidata_sim.builders import text_definition
from rapidata_sim.crowd import Population

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (.ci/run installs it)")


def test_dashboard_shows_a_skipped_run_and_advance_adds_a_firing():
    sim = Simulator(seed=2, clock=Clock.frozen())
    try:
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
    finally:
        sim.close()

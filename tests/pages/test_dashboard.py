"""The dashboard's page and the state document its script polls (a browser test is still to come)."""

from __future__ import annotations

from datetime import timedelta

from support import https_client

from rapidata_sim.crowd import Population


def test_dashboard_shows_runs_including_skipped_and_advances(sim, client):
    http = https_client(sim.serve())
    page = http.get("/_sim/dashboard", headers={"Authorization": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/_sim/dashboard/state" in page.text and "/connect/token" in page.text and "data-advance" in page.text
    assert http.get("/_sim/dashboard/state", headers={"Authorization": ""}).status_code == 401

    sim.audiences.configure("global", population=Population(responses_per_hour=0.5))  # ~120 h a job: skips
    jd = client.job.create_compare_job_definition(name="pairs", instruction="?", data_type="text",
                                                  responses_per_datapoint=15,
                                                  datapoints=[[f"a {i}", f"b {i}"] for i in range(4)])
    signal = client.signals.create_signal(name="daily", audience="global", job_definition=jd, interval_hours=24)
    sim.advance(timedelta(days=2, hours=1))
    state = http.get("/_sim/dashboard/state").json()
    (shown,) = [s for s in state["signals"] if s["id"] == signal.id]
    assert [r["status"] for r in shown["runs"]] == ["Skipped", "Running"]  # newest first
    assert shown["runs"][0]["skippedReason"] == "PreviousJobNotFinished"
    assert state["jobs"][0]["state"] == "Running" and 0 < state["jobs"][0]["progress"] < 100

    before = state["now"]
    assert http.post("/_sim/clock/advance", json={"seconds": 86400}).status_code == 200  # the "advance" button
    after = http.get("/_sim/dashboard/state").json()
    (shown,) = [s for s in after["signals"] if s["id"] == signal.id]
    assert after["now"] > before and len(shown["runs"]) == 3
    # Another organization's credentials see their own (empty) world of signals, not this one.
    other = https_client(sim.serve(), creds=("rapidata-sim-other", "other-secret"))
    assert other.get("/_sim/dashboard/state").json()["signals"] == []
    http.close()
    other.close()

"""Signals over virtual time, driven through the real SDK (issue: virtual clock and scheduler)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest



@pytest.fixture
def definition(client):
    return client.job.create_free_text_job_definition(name="daily", instruction="Describe it", datapoints=["t"],
                                                      data_type="text", responses_per_datapoint=2)


def runs_of(sim, signal_id):
    return sim.store.select("signal_runs", "signal_id = ?", [signal_id], order_by="started_at, rowid")


def test_a_daily_signal_over_three_days_makes_three_jobs(client, sim, definition):
    signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                          interval_hours=24)
    first = signal.next_run_at
    sim.advance(days=3)
    jobs = signal.get_jobs(page_size=10)
    assert len(jobs) == 3
    # The third fired at this very instant: its crowd has not answered yet.
    assert sorted(j.get_status() for j in jobs) == ["Completed", "Completed", "Running"]
    sim.advance(hours=1)
    assert [j.get_status() for j in jobs] == ["Completed"] * 3
    assert signal.last_run_at == first + timedelta(days=2)
    assert signal.next_run_at == first + timedelta(days=3)


def test_slow_labeling_skips_firings(client, sim, definition):
    sim.audiences.configure("global", labeling_seconds=int(1.5 * 3600))
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    sim.advance(hours=4, minutes=31)
    statuses = [(r["status"], r["skipped_reason"]) for r in runs_of(sim, signal.id)]
    assert statuses == [("Completed", None), ("Skipped", "PreviousJobNotFinished"),
                        ("Completed", None), ("Skipped", "PreviousJobNotFinished")]
    # get_jobs() lists only firings that made a job ...
    jobs = signal.get_jobs(page_size=10)
    fired = [r["audience_job_id"] for r in reversed(runs_of(sim, signal.id)) if r["audience_job_id"]]
    assert [j.id for j in jobs] == fired
    # ... the runs listing (what the service returns) has the skipped ones, and so has the event log.
    listing = client._openapi_service.signal.signal_api.signal_signal_id_run_get(signal.id, page=1, page_size=10)
    assert sorted(r.status.value for r in listing.items) == ["Completed", "Completed", "Skipped", "Skipped"]
    skipped = [e for e in sim.events() if e["kind"] == "signal.skipped"]
    assert [e["data"]["reason"] for e in skipped] == ["PreviousJobNotFinished"] * 2
    assert sim.counters(signal.id)["skipped"] == {"PreviousJobNotFinished": 2}


def test_pause_resume_update_delete(client, sim, definition):
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    grid0 = signal.next_run_at
    signal.pause()
    sim.advance(hours=5, minutes=30)
    assert runs_of(sim, signal.id) == []
    signal.resume()
    assert signal.next_run_at == grid0 + timedelta(hours=5)  # next grid point after now
    sim.advance(minutes=31)
    assert len(runs_of(sim, signal.id)) == 1

    signal.update(interval_hours=2)  # the new cadence from the last firing
    assert signal.next_run_at == signal.last_run_at + timedelta(hours=2)
    sim.advance(hours=4)
    assert len(runs_of(sim, signal.id)) == 3

    job = signal.get_jobs(page_size=1)[0]
    signal.delete()
    sim.advance(days=2)
    assert len(runs_of(sim, signal.id)) == 3
    assert client.job.get_job_by_id(job.id).get_status() == "Completed"


def test_trigger_fires_once_off_the_grid(client, sim, definition):
    sim.audiences.configure("global", labeling_seconds=3600)  # so the new job is surely still running
    signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                          interval_hours=24)
    grid = signal.next_run_at
    signal.trigger()
    job = signal.wait_for_next_job(timeout=5)
    assert job.get_status() == "Running"  # just started; its crowd answers over virtual time
    job.get_results()  # waits (auto-advance) until it is done
    assert job.get_status() == "Completed"
    assert [(r["trigger_source"], r["audience_job_id"]) for r in runs_of(sim, signal.id)] == [("Manual", job.id)]
    assert signal.next_run_at == grid  # the grid did not move


@pytest.mark.parametrize("policy,expected", [("none", 0), ("latest", 1), ("all", 3)])
def test_outage_catch_up(client, sim, definition, policy, expected):
    sim.scheduler.config.catch_up = policy
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    grid0 = signal.next_run_at
    missed = sim.outage(hours=3, minutes=30)
    assert len(missed[signal.id]) == 3
    runs = runs_of(sim, signal.id)
    assert len(runs) == expected
    assert all(r["trigger_source"] == "Scheduled" for r in runs)
    assert [e["kind"] for e in sim.events() if e["subject"] == signal.id].count("signal.missed") == 3
    assert signal.next_run_at == grid0 + timedelta(hours=3)
    assert sim.counters(signal.id)["missed"] == 3


def test_blocking_sdk_calls_move_virtual_time_to_what_they_wait_for(client, sim, definition):
    sim.audiences.configure("global", labeling_seconds=3 * 3600)
    before = sim.clock.now()  # read before the job exists: the clock runs, so a read after it is later
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    with sim.auto_advance_off():
        assert job.get_status() == "Running"
    job.display_progress_bar()
    results = job.get_results()
    assert job.get_status() == "Completed"
    assert len(results["results"]) == 1
    row = sim.store.get("jobs", job.id)
    assert row["completed_at"] == row["completes_at"]
    # virtual time moved to the completion, not beyond it by more than the calls took
    assert timedelta(hours=3) <= sim.clock.now() - before < timedelta(hours=3, seconds=30)


def test_wait_for_next_job_waits_for_the_next_scheduled_firing(client, sim, definition):
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    job = signal.wait_for_next_job(timeout=5)
    assert runs_of(sim, signal.id)[0]["audience_job_id"] == job.id
    assert runs_of(sim, signal.id)[0]["trigger_source"] == "Scheduled"


def test_event_log_is_json_lines(sim, client, definition):
    client.signals.create_signal(name="daily", audience="global", job_definition=definition, interval_hours=24)
    sim.advance(days=1)
    lines = [json.loads(line) for line in sim.events_jsonl().splitlines()]
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    kinds = [line["kind"] for line in lines]
    assert "signal.created" in kinds and "signal.fired" in kinds and "clock.advanced" in kinds


def test_buffer_one_runs_the_held_firing_when_the_job_finishes(sim, client, definition):
    sim.scheduler.config.overlap = "buffer_one"
    sim.audiences.configure("global", labeling_seconds=int(2.5 * 3600))
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    sim.advance(hours=4)
    runs = runs_of(sim, signal.id)
    # 01:00 fires (done 03:30); 02:00 is held; 03:00 is skipped (buffer full); the held one runs at 03:30;
    # 04:00 finds that one running and is held in turn.
    assert [(r["status"], r["skipped_reason"]) for r in runs] == [
        ("Completed", None), ("Skipped", "PreviousJobNotFinished"), ("Running", None)]
    start = sim.store.get("signals", signal.id)["created_at"]
    assert runs[2]["started_at"][11:19] != start[11:19]  # off the grid: the previous job's completion


def test_wait_for_next_job_after_time_has_passed_waits_for_the_next_one(client, sim, definition):
    """Virtual time is ahead of the wall clock here; the SDK must still not take an old run as new."""
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    sim.advance(hours=5, minutes=10)
    before = {r["audience_job_id"] for r in runs_of(sim, signal.id)}
    job = signal.wait_for_next_job(timeout=5)
    assert job.id not in before
    assert len(runs_of(sim, signal.id)) == 6

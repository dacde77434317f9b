"""Firings over virtual time, the skip rule, and byte-identical replays."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from rapidata_sim import Clock, SchedulerConfig, SimConfig, Simulator
from rapidata_sim.testing.builders import text_definition

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def build(seed: int = 5, labeling_seconds: int = 5400, **scheduler) -> tuple[Simulator, dict]:
    sim = Simulator(seed=seed, clock=Clock(start=START, follow_wall=False),
                    config=SimConfig(scheduler=SchedulerConfig(**scheduler)))
    me = sim.principal()
    sim.audiences.configure("global", labeling_seconds=labeling_seconds)
    definition = text_definition(sim, name="pairs", datapoints=3, votes=5)
    signal = sim.signals.create(me, name="hourly", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=3600)
    return sim, signal


def runs(sim, signal_id):
    return sim.store.select("signal_runs", "signal_id = ?", [signal_id], order_by="started_at, rowid")


def test_previous_job_not_finished_skips():
    sim, signal = build()
    sim.advance(timedelta(hours=5))
    got = [(r["started_at"][11:16], r["status"], r["skipped_reason"]) for r in runs(sim, signal["id"])]
    # Each job takes 1.5 h: the 02:00 and 04:00 firings find the previous job still running.
    assert got == [("01:00", "Completed", None), ("02:00", "Skipped", "PreviousJobNotFinished"),
                   ("03:00", "Completed", None), ("04:00", "Skipped", "PreviousJobNotFinished"),
                   ("05:00", "Running", None)]
    assert sim.store.get("signals", signal["id"])["next_run_at"] == "2026-01-01T06:00:00.000000Z"


def test_overlap_allow_fires_every_time():
    sim, signal = build(overlap="allow")
    sim.advance(timedelta(hours=4))
    assert [r["status"] for r in runs(sim, signal["id"])] == ["Completed", "Completed", "Running", "Running"]


def test_job_completing_at_the_firing_instant_does_not_cause_a_skip():
    sim, signal = build(labeling_seconds=3600)
    sim.advance(timedelta(hours=3))
    assert [r["status"] for r in runs(sim, signal["id"])] == ["Completed", "Completed", "Running"]


def test_pause_records_nothing_and_resume_moves_ahead():
    sim, signal = build(labeling_seconds=0)
    me = sim.principal()
    sim.signals.set_paused(me, signal["id"], True)
    sim.advance(timedelta(hours=3, minutes=30))
    assert runs(sim, signal["id"]) == []
    sim.signals.set_paused(me, signal["id"], False)
    assert sim.store.get("signals", signal["id"])["next_run_at"] == "2026-01-01T04:00:00.000000Z"
    sim.advance(timedelta(minutes=30))
    assert len(runs(sim, signal["id"])) == 1


def test_deleted_definition_skips():
    sim, signal = build(labeling_seconds=0)
    sim.definitions.delete(sim.principal(), signal["job_definition_id"])
    sim.advance(timedelta(hours=1))
    assert [(r["status"], r["skipped_reason"], r["audience_job_id"]) for r in runs(sim, signal["id"])] == [
        ("Skipped", "JobDefinitionDeleted", None)]


def test_interval_update_regrids_from_last_firing():
    sim, signal = build(labeling_seconds=0)
    sim.advance(timedelta(hours=1, minutes=10))     # fired at 01:00
    sim.signals.update(sim.principal(), signal["id"], {"interval_seconds": 600})
    assert sim.store.get("signals", signal["id"])["next_run_at"] == "2026-01-01T01:20:00.000000Z"


def test_trigger_starts_after_latency_without_a_listing():
    sim, signal = build(labeling_seconds=0)
    sim.signals.trigger(sim.principal(), signal["id"])
    sim.advance(timedelta(seconds=4))
    assert runs(sim, signal["id"]) == []
    sim.advance(timedelta(seconds=1))
    assert [(r["trigger_source"], r["started_at"]) for r in runs(sim, signal["id"])] == [
        ("Manual", "2026-01-01T00:00:05.000000Z")]


def script(seed: int) -> str:
    sim, signal = build(seed=seed)
    me = sim.principal()
    sim.advance(timedelta(hours=2))
    sim.signals.trigger(me, signal["id"])
    sim.signals.runs(me, signal["id"], __import__("rapidata_sim.core.querying", fromlist=["Query"]).Query())
    sim.advance(timedelta(hours=3))
    docs = [sim.results.document(job) for job in sim.store.select("jobs", "state = 'Completed'", order_by="rowid")]
    return sim.event_log() + json.dumps(docs, sort_keys=True)


def test_same_seed_same_bytes():
    first, second = script(11), script(11)
    assert first == second
    assert "signal.skipped" in first and "signal.fired" in first
    assert script(12) != first


@pytest.mark.parametrize("hours", [24 * 7])
def test_a_week_of_hourly_firings_through_the_sdk(sim, client, hours):
    """The SDK sees only fired runs; skipped ones carry no job (guide: they don't appear in get_jobs)."""
    sim.audiences.configure("global", labeling_seconds=5400)
    definition = client.job.create_free_text_job_definition(name="weekly", instruction="?", datapoints=["t"],
                                                            data_type="text", responses_per_datapoint=1)
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    sim.advance(timedelta(hours=hours))
    all_runs = runs(sim, signal.id)
    assert len(all_runs) == hours
    fired = [r for r in all_runs if r["audience_job_id"]]
    assert len(fired) == hours // 2
    jobs = signal.get_jobs(page_size=100)
    # One page of the newest 100 runs; the SDK drops the skipped ones (no job).
    newest = sorted(all_runs, key=lambda r: r["started_at"], reverse=True)[:100]
    assert [j.id for j in jobs] == [r["audience_job_id"] for r in newest if r["audience_job_id"]]
    assert len(jobs) == 50


def sdk_scenario(tmp_path, seed: int) -> str:
    """A non-trivial story through the real SDK, on a frozen clock: parallel uploads included."""
    from rapidata_sim import Clock

    with Simulator(seed=seed, clock=Clock.frozen()) as sim:
        sim.audiences.configure("global", labeling_seconds=5400)
        client = sim.client()
        pairs = [[f"https://assets.example/{i}-a.png", f"https://assets.example/{i}-b.png"] for i in range(6)]
        definition = client.job.create_compare_job_definition(
            name="pairs", instruction="Which is better?", datapoints=pairs, contexts=[f"c{i}" for i in range(6)],
            responses_per_datapoint=3)
        signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                              interval_hours=1)
        sim.advance(hours=3)
        signal.trigger()
        job = signal.wait_for_next_job(timeout=5)
        results = job.get_results()
        signal.pause()
        sim.outage(hours=2)
        signal.resume()
        signal.update(interval_hours=2)
        sim.advance(hours=5)
        return sim.event_log() + json.dumps(results, sort_keys=True)


def test_same_seed_same_bytes_through_the_sdk(tmp_path):
    first = sdk_scenario(tmp_path, 21)
    assert first == sdk_scenario(tmp_path, 21)
    assert "signal.skipped" in first and "outage.ended" in first


def test_a_rolled_back_catch_up_does_not_stop_the_grid():
    """A request that catches the world up and then fails rolls its firings back; the queue
    must not stay past them (the signal would never fire again)."""
    sim, signal = build(labeling_seconds=60)
    sim.clock.advance(timedelta(hours=2))  # two grid points due, not yet processed
    with pytest.raises(RuntimeError):
        with sim.store.transaction():
            sim.scheduler.sync()
            assert len(runs(sim, signal["id"])) == 2
            raise RuntimeError("the handler failed")
    assert runs(sim, signal["id"]) == []  # rolled back with the request
    sim.advance(timedelta(hours=1))
    assert [r["started_at"] for r in runs(sim, signal["id"])] == [
        "2026-01-01T01:00:00.000000Z", "2026-01-01T02:00:00.000000Z", "2026-01-01T03:00:00.000000Z"]

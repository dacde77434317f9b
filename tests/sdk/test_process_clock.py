"""User code that reads datetime.now() sees virtual time while the SDK keeps working."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


def test_user_code_sees_virtual_time(sim, client):
    # An hour per job: the triggered job is surely still running when the test looks (a 1-vote job
    # at the default crowd's rate can finish within the wall-clock milliseconds the test takes).
    sim.audiences.configure("global", labeling_seconds=3600)
    definition = client.job.create_free_text_job_definition(name="x", instruction="?", datapoints=["t"],
                                                            data_type="text", responses_per_datapoint=1)
    signal = client.signals.create_signal(name="6-hourly", audience="global", job_definition=definition,
                                          interval_hours=6)
    with sim.virtual_process_clock():
        start = datetime.now(timezone.utc)
        assert abs((start - sim.clock.now()).total_seconds()) < 1
        sim.advance(days=3)
        assert abs((datetime.now(timezone.utc) - sim.clock.now()).total_seconds()) < 1
        assert time.time() - start.timestamp() > 3 * 86400 - 5
        # The SDK still works inside, on real time: polls, tokens, timestamps.
        signal.trigger()
        job = signal.wait_for_next_job(timeout=5)
        assert job.get_status() == "Running"
        runs = sim.store.select("signal_runs", "signal_id = ? AND started_at >= ?",
                                [signal.id, (datetime.now(timezone.utc) - timedelta(hours=24)).strftime(
                                    "%Y-%m-%dT%H:%M:%S.%fZ")])
        assert len(runs) == 5  # four scheduled in the last day, plus the manual one
    assert abs(datetime.now(timezone.utc).timestamp() - time.time()) < 1  # restored afterwards
    assert datetime.now(timezone.utc) < sim.clock.now() - timedelta(days=2)

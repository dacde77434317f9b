"""The SDK's signals guide (docs/signals.md), block by block, against the simulator.

Each test runs the guide's code as written, with only environment variables
pointing ``RapidataClient()`` at the world, then asserts on what came back and
on the simulator's own state. Two published versions of the guide exist: one
builds a new custom audience, the other uses the curated Alignment audience.
"""

from __future__ import annotations

import pytest


def create_signal_custom_audience():
    # docs/signals.md, "Creating a signal" (current version)
    from rapidata import RapidataClient

    client = RapidataClient()

    audience = client.audience.create_audience(name="Prompt Alignment Audience")

    job_definition = client.job.create_compare_job_definition(
        name="Prompt Alignment Job",
        instruction="Which image follows the prompt more accurately?",
        datapoints=[
            ["https://assets.rapidata.ai/flux_book.jpg",
             "https://assets.rapidata.ai/mj_book.jpg"]
        ],
        contexts=["A small blue book sitting on a large red book."],
    )

    signal = client.signals.create_signal(
        name="Daily prompt alignment",
        audience=audience,
        job_definition=job_definition,
        interval_hours=24,
    )

    print(signal)
    print("First job scheduled for:", signal.next_run_at)
    return client, audience, job_definition, signal


def create_signal_alignment_audience():
    # docs/signals.md, "Creating a signal" (earlier version, curated audience)
    from rapidata import RapidataClient

    client = RapidataClient()

    audience = client.audience.get_audience_by_id("aud_MU1GZYoESyO")

    job_definition = client.job.create_compare_job_definition(
        name="Prompt Alignment Job",
        instruction="Which image follows the prompt more accurately?",
        datapoints=[
            ["https://assets.rapidata.ai/flux_book.jpg",
             "https://assets.rapidata.ai/mj_book.jpg"]
        ],
        contexts=["A small blue book sitting on a large red book."],
    )

    signal = client.signals.create_signal(
        name="Daily prompt alignment",
        audience=audience,
        job_definition=job_definition,
        interval_hours=24,
    )
    return client, audience, job_definition, signal


@pytest.fixture(params=["custom", "alignment"])
def created(request, sim, sdk_env):
    make = create_signal_custom_audience if request.param == "custom" else create_signal_alignment_audience
    return make()


def test_create_signal(created, sim):
    client, audience, job_definition, signal = created
    row = sim.store.get("signals", signal.id)
    assert row["interval_seconds"] == 86400
    assert row["audience_id"] == audience.id
    assert row["job_definition_id"] == job_definition.id
    assert row["revision_number"] is None  # follows the latest revision at fire time
    assert signal.interval_hours == 24
    assert signal.is_paused is False
    assert signal.last_run_at is None
    # nextRunAt = createdAt + interval, with a UTC offset the SDK can compare
    assert signal.next_run_at.utcoffset().total_seconds() == 0
    assert (signal.next_run_at - signal.created_at).total_seconds() == 86400


def test_jobs_then_trigger_and_wait(created, sim):
    client, audience, job_definition, signal = created

    # "The jobs a signal creates": nothing has fired yet
    for job in signal.get_jobs(page_size=10):
        print(job, job.get_status())
    assert signal.get_jobs(page_size=10) == []

    # "Triggering a job on demand"
    signal.trigger()

    job = signal.wait_for_next_job(timeout=600)
    job.display_progress_bar()
    print(job.get_results())

    results = job.get_results()
    assert results["info"]["type"] == "Compare"
    assert results["results"][0]["context"] == "A small blue book sitting on a large red book."
    assert set(results["results"][0]["aggregatedResults"]) == {"flux_book.jpg", "mj_book.jpg"}

    runs = sim.store.select("signal_runs", "signal_id = ?", [signal.id])
    assert [(r["trigger_source"], r["status"], r["audience_job_id"]) for r in runs] == [
        ("Manual", "Completed", job.id)]
    assert signal.last_run_at is not None

    # and the listing now has that job, newest first
    for job in signal.get_jobs(page_size=10):
        print(job, job.get_status())
    latest = signal.get_jobs(page_size=1)[0]
    results = latest.get_results()   # blocks until that job is complete
    assert latest.id == job.id
    assert results["summary"]["A_wins_total"] + results["summary"]["B_wins_total"] <= 1


def test_managing_a_signal(created, sim):
    client, audience, job_definition, signal = created
    signal.update(description="kept until a later update omits it")

    # "Managing a signal"
    signal.pause()    # stop firing scheduled jobs
    assert signal.is_paused is True
    signal.resume()   # resume the schedule
    assert signal.is_paused is False

    signal.update(    # change mutable fields (omit any you don't want to change)
        name="Hourly prompt alignment",
        interval_hours=1,
    )
    assert signal.name == "Hourly prompt alignment"
    assert signal.interval_hours == 1
    # The SDK sends "description": null when it is not given, and null clears it.
    assert signal.description is None

    # Lookups while it still exists
    signal_id = signal.id
    signal2 = client.signals.get_signal_by_id(signal_id)   # by id
    signals = client.signals.find_signals(name="alignment") # your signals + public ones
    assert signal2.id == signal_id
    assert [s.id for s in signals] == [signal_id]

    signal.delete()   # stop the signal for good (jobs it already created are unaffected)
    assert sim.store.get("signals", signal_id)["deleted"] is True
    from rapidata.rapidata_client.exceptions.rapidata_error import RapidataError
    with pytest.raises(RapidataError) as info:
        client.signals.get_signal_by_id(signal_id)
    assert info.value.status_code == 404
    assert client.signals.find_signals(name="alignment") == []


def test_delete_leaves_jobs(created, sim):
    client, audience, job_definition, signal = created
    signal.trigger()
    job = signal.wait_for_next_job(timeout=600)
    signal.delete()
    assert client.job.get_job_by_id(job.id).get_status() == "Running"
    job.get_results()  # waits for its crowd (auto-advance); the deleted signal does not stop it
    assert client.job.get_job_by_id(job.id).get_status() == "Completed"

"""Job-definition revisions as the SDK drives them, and how signals and jobs use them."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from rapidata.rapidata_client.exceptions import RevisionConflictError
from rapidata.rapidata_client.exceptions.rapidata_error import RapidataError


@pytest.fixture
def definition(client):
    return client.job.create_classification_job_definition(
        name="Animals", instruction="What animal?", answer_options=["Cat", "Dog"],
        datapoints=["a purring thing", "a barking thing"], data_type="text", responses_per_datapoint=4)


def test_edit_save_reload_revisions(client, sim, definition):
    assert definition.revision == 1
    definition.instruction = "Which animal is it?"
    definition.responses_per_datapoint = 6
    assert definition.save() == 2
    assert definition.revision == 2
    assert definition.instruction == "Which animal is it?"
    assert definition.responses_per_datapoint == 6

    infos = definition.revisions()
    assert [(i.revision, i.base_revision, i.state) for i in infos] == [(1, None, "Completed"), (2, 1, "Completed")]

    old = definition.reload(revision=1)
    assert old.revision == 1
    assert old.instruction == "What animal?"
    assert old.responses_per_datapoint == 4

    fresh = client.job.get_job_definition_by_id(definition.id)
    assert fresh.revision == 2  # get_job_definition_by_id loads the latest


def test_require_latest_conflict(client, sim, definition):
    stale = client.job.get_job_definition_by_id(definition.id)
    definition.instruction = "first writer"
    assert definition.save(require_latest=True) == 2

    stale.instruction = "second writer"
    before = sim.store.count("revisions")
    with pytest.raises(RevisionConflictError) as info:
        stale.save(require_latest=True)
    assert info.value.latest_revision == 2
    assert sim.store.count("revisions") == before  # nothing created
    assert stale.instruction == "second writer"     # the change stays staged
    # Without require_latest the stale edit wins, based on revision 1.
    assert stale.save() == 3
    assert sim.store.get("revisions", (definition.id, 3))["base_revision_number"] == 1


def test_update_dataset_and_cost(client, sim):
    # update_dataset cannot carry per-datapoint answer options, so this uses a free-text definition.
    definition = client.job.create_free_text_job_definition(
        name="Describe", instruction="Describe it", datapoints=["x"], data_type="text", responses_per_datapoint=4)
    first_dataset = sim.store.get("revisions", (definition.id, 1))["dataset_id"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        definition.update_dataset(datapoints=["a", "b", "c"], data_type="text")
    assert definition.revision == 2  # the deprecated call saves a revision itself
    second = sim.store.get("revisions", (definition.id, 2))
    assert second["dataset_id"] != first_dataset
    assert len(sim.datasets.datapoints(second["dataset_id"])) == 3
    cost = definition.estimated_cost
    assert cost.datapoint_count == 3
    assert cost.required_responses == 12
    assert cost.estimated_cost == pytest.approx(0.12)


def test_delete_definition(client, sim, definition):
    definition.delete()
    with pytest.raises(RapidataError) as info:
        client.job.get_job_definition_by_id(definition.id)
    assert info.value.status_code == 404


def test_assign_job_runs_the_held_revision(client, sim, definition):
    audience = client.audience.get_audience_by_id("global")
    definition.instruction = "v2"
    definition.save()
    v1 = client.job.get_job_definition_by_id(definition.id).reload(revision=1)
    job = audience.assign_job(v1)
    assert sim.store.get("jobs", job.id)["revision_number"] == 1
    assert job.get_results()["info"]["instruction"] == "What animal?"


def test_signal_latest_at_fire_time_vs_pinned(client, sim, definition):
    audience = client.audience.get_audience_by_id("global")
    latest = client.signals.create_signal(name="latest", audience=audience, job_definition=definition,
                                          interval_hours=1)
    pinned = client.signals.create_signal(name="pinned", audience=audience, job_definition=definition,
                                          interval_hours=1, revision_number=1)
    assert pinned.revision_number == 1 and latest.revision_number is None
    definition.instruction = "v2"
    definition.save()
    sim.advance(timedelta(hours=1))  # one scheduled firing each
    jobs = {s.name: [sim.store.get("jobs", j.id)["revision_number"] for j in s.get_jobs()] for s in (latest, pinned)}
    assert jobs == {"latest": [2], "pinned": [1]}


def test_pin_to_missing_revision_is_rejected(client, definition):
    with pytest.raises(RapidataError) as info:
        client.signals.create_signal(name="x", audience="global", job_definition=definition, interval_hours=1,
                                     revision_number=7)
    assert info.value.status_code == 400


def test_job_pause_resume_delete(client, sim, definition):
    sim.audiences.configure("global", labeling_seconds=600)
    audience = client.audience.get_audience_by_id("global")
    job = audience.assign_job(definition)
    assert job.get_status() == "Running"
    job.pause()
    assert job.get_status() == "Paused"
    sim.advance(timedelta(hours=1))          # paused: no progress
    assert job.get_status() == "Paused"
    job.resume()
    assert job.get_status() == "Running"
    sim.advance(timedelta(seconds=599))
    assert job.get_status() == "Running"
    progress = job.get_progress()
    assert progress.state == "Running"
    assert 99 < progress.completion_percentage < 100
    sim.advance(timedelta(seconds=1))
    assert job.get_status() == "Completed"
    assert job.completed_at is not None
    job.delete()
    with pytest.raises(RapidataError) as info:
        client.job.get_job_by_id(job.id)
    assert info.value.status_code == 404

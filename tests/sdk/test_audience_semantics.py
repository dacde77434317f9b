"""Audience semantics of SDK 3.27.1 the simulator used to get wrong (issue 14): ``run_after`` queues a
job behind its predecessor; ``start_recruiting()`` is refused while the graduation rule needs more
validation tasks than the audience has examples; filtered audiences are ``fau_…`` and unlisted ones
``ula_…``, created by ``create_unlisted_audience`` and never listed by ``find_audiences``."""

from __future__ import annotations

from datetime import datetime

import pytest

pytestmark = pytest.mark.frozen_clock


def _definition(client, name="pairs", responses=5):
    return client.job.create_compare_job_definition(
        name=name, instruction="Which is better?", responses_per_datapoint=responses,
        datapoints=[["a", "b"]], data_type="text")


# -- assign_job(run_after=…) --------------------------------------------------------------------

def test_run_after_waits_queued_for_its_predecessor(client, sim):
    audience = client.audience.get_audience_by_id("global")
    first = audience.assign_job(_definition(client, "first", responses=20))
    second = audience.assign_job(_definition(client, "second"), run_after=first)
    assert first.get_status() == "Running"
    assert second.get_status() == "Queued"
    assert second.get_progress().completion_percentage == 0.0
    row = sim.store.get("jobs", second.id)
    assert row["preceding_job_id"] == first.id and row["completes_at"] is None

    first_done = sim.store.get("jobs", first.id)["completes_at"]
    sim.advance_to(datetime.fromisoformat(first_done))
    assert first.get_status() == "Completed"
    assert second.get_status() in ("Running", "Completed")
    kinds = [(e["kind"], e["subject"]) for e in sim.events() if e["subject"] == second.id]
    assert kinds[0] == ("job.queued", second.id) and ("job.started", second.id) in kinds
    started = next(e for e in sim.events() if e["kind"] == "job.started" and e["subject"] == second.id)
    assert started["at"] == sim.store.get("jobs", first.id)["completed_at"]
    second.get_results()  # the wait moves the clock through the second job
    assert second.get_status() == "Completed"


def test_run_after_a_finished_job_or_by_id_starts_at_once(client, sim):
    audience = client.audience.get_audience_by_id("global")
    first = audience.assign_job(_definition(client))
    first.get_results()
    second = audience.assign_job(_definition(client, "next"), run_after=first.id)
    assert second.get_status() == "Running"


def test_a_chain_runs_in_order_and_a_failed_predecessor_releases_its_successor(client, sim):
    audience = client.audience.get_audience_by_id("global")
    first = audience.assign_job(_definition(client, "one"))
    second = audience.assign_job(_definition(client, "two"), run_after=first)
    third = audience.assign_job(_definition(client, "three"), run_after=second)
    sim.crowd.inject("Failed", job_id=first.id, message="boom")
    assert first.get_status() == "Failed"
    assert second.get_status() == "Running" and third.get_status() == "Queued"
    third.get_results()
    done = {j: sim.store.get("jobs", j.id)["completed_at"] for j in (second, third)}
    assert done[second] <= sim.store.get("jobs", third.id)["completed_at"]


def test_deleting_the_predecessor_releases_the_queued_job(client, sim):
    audience = client.audience.get_audience_by_id("global")
    first = audience.assign_job(_definition(client, responses=30))
    second = audience.assign_job(_definition(client, "next"), run_after=first)
    first.delete()
    assert second.get_status() == "Running"
    second.get_results()
    assert second.get_status() == "Completed"


def test_a_queued_job_cannot_be_paused_and_costs_nothing_yet(client, sim):
    from rapidata.rapidata_client.exceptions import RapidataError

    audience = client.audience.get_audience_by_id("global")
    first = audience.assign_job(_definition(client, responses=30))
    second = audience.assign_job(_definition(client, "next", responses=30), run_after=first)
    with pytest.raises(RapidataError) as err:
        second.pause()
    assert err.value.status_code == 400
    assert sim.billing.fraction_at(sim.store.get("jobs", second.id), sim.clock.now()) == 0.0


# -- start_recruiting() and the graduation rule -----------------------------------------------

def test_start_recruiting_is_refused_without_enough_examples(client, sim):
    from rapidata.rapidata_client.exceptions import RapidataError

    audience = client.audience.create_audience(name="Strict", min_tasks=3)
    audience.add_classification_example(instruction="?", answer_options=["A", "B"], datapoint="x", truth=["A"],
                                        data_type="text")
    with pytest.raises(RapidataError) as err:
        audience.start_recruiting()
    assert err.value.status_code == 400
    assert "The graduation rule needs 3 validation tasks" in str(err.value)
    assert sim.store.get("audiences", audience.id)["status"] == "Created"
    for i in range(2):
        audience.add_classification_example(instruction="?", answer_options=["A", "B"], datapoint=f"y{i}",
                                            truth=["A"], data_type="text")
    audience.start_recruiting()
    assert sim.store.get("audiences", audience.id)["status"] == "Recruiting"


def test_the_refusal_is_a_setting(client, sim):
    sim.config.recruit_requires_examples = False
    audience = client.audience.create_audience(name="Lenient")
    audience.start_recruiting()  # the default rule needs 10 tasks, there are none: allowed anyway
    assert sim.store.get("audiences", audience.id)["status"] == "Recruiting"


def test_assigning_a_job_still_starts_recruiting_without_examples(client, sim):
    audience = client.audience.create_audience(name="Job first")
    audience.assign_job(_definition(client))
    assert sim.store.get("audiences", audience.id)["status"] in ("Recruiting", "Ready")


# -- filtered and unlisted audiences -----------------------------------------------------------

def test_filtered_audiences_are_fau_and_not_listed(client, sim):
    from rapidata import CountryFilter

    base = client.audience.create_audience(name="Base for slices")
    sliced = base.filter([CountryFilter(["US"])])
    assert sliced.id.startswith("fau_")
    assert sim.store.get("audiences", sliced.id)["base_audience_id"] == base.id
    listed = [a.id for a in client.audience.find_audiences(name="Base for slices")]
    assert listed == [base.id]
    assert client.audience.get_audience_by_id(sliced.id).name == "Base for slices"
    job = sliced.assign_job(_definition(client))
    assert sim.store.get("jobs", job.id)["audience_id"] == sliced.id
    assert [j.id for j in sliced.find_jobs()] == [job.id]


def test_unlisted_audience_flow(client, other_client, sim):
    from rapidata.rapidata_client.audience import RapidataUnlistedAudience
    from rapidata.rapidata_client.exceptions import RapidataError

    audience = client.audience.create_unlisted_audience("Our own raters")
    assert isinstance(audience, RapidataUnlistedAudience) and audience.id.startswith("ula_")
    assert audience.link.endswith(f"/label/{audience.id}")
    again = client.audience.get_audience_by_id(audience.id)
    assert isinstance(again, RapidataUnlistedAudience) and again.name == "Our own raters"
    assert audience.id not in [a.id for a in client.audience.find_audiences(amount=100)]
    # Anyone with the link reads it; only its organization assigns work to it.
    assert other_client.audience.get_audience_by_id(audience.id).name == "Our own raters"
    job = audience.assign_job(_definition(client))
    assert job.get_results()["info"]["type"] == "Compare"
    assert job.get_status() == "Completed"
    assert audience.find_jobs()[0].id == job.id
    with pytest.raises(RapidataError) as err:
        other_client.audience.get_audience_by_id(audience.id).assign_job(_definition(other_client))
    assert err.value.status_code == 400


def test_unlisted_audience_needs_a_name(client):
    from rapidata.rapidata_client.exceptions import RapidataError

    with pytest.raises(RapidataError) as err:
        client.audience.create_unlisted_audience("  ")
    assert err.value.status_code == 400


def test_every_public_method_of_the_two_audience_kinds_is_covered():
    """Introspection: a new SDK method on these classes fails here until it has a test above."""
    import inspect

    from rapidata.rapidata_client.audience import RapidataUnlistedAudience
    from rapidata.rapidata_client.audience.rapidata_filtered_audience import RapidataFilteredAudience

    def public(cls):
        return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}

    # filters, name, link, get_job_link: attributes and string building, no request.
    assert public(RapidataFilteredAudience) == {"assign_job", "find_jobs", "filters", "name"}
    assert public(RapidataUnlistedAudience) == {"assign_job", "find_jobs", "filters", "name", "link",
                                                "get_job_link"}

"""Synthetic audiences through the real SDK: preferences, distributions, referees, speed, faults."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from support import https_client

from rapidata_sim import Clock, Simulator
from rapidata_sim.core.clock import iso, parse_iso
from rapidata_sim.crowd import Classify, Population, Prefer

PAIRS = 60
# Statistical checks on a frozen clock: jobs are created at the same instants every run, so their
# answers (seeded by what and when) are the same every run, and a tolerance cannot flake.
pytestmark = pytest.mark.frozen_clock


def pairs(n: int = PAIRS) -> list[list[str]]:
    return [[f"model-a answer {i}", f"model-b answer {i}"] for i in range(n)]


def compare_definition(client, n: int = PAIRS, votes: int = 20, **kw):
    return client.job.create_compare_job_definition(
        name="A vs B", instruction="Which answer is better?", datapoints=pairs(n), data_type="text",
        responses_per_datapoint=votes, **kw)


def vote_share(results, prefix: str) -> float:
    counts = [v for item in results["results"] for k, v in item["aggregatedResults"].items()]
    mine = [v for item in results["results"] for k, v in item["aggregatedResults"].items() if k.startswith(prefix)]
    return sum(mine) / sum(counts)


def tolerance(p: float, n: int, sigmas: float = 4.0) -> float:
    """``sigmas`` standard errors of a share ``p`` estimated from ``n`` independent votes."""
    return sigmas * math.sqrt(p * (1 - p) / n)


def test_preferred_asset_wins_with_the_modelled_share(client, sim):
    strength = 1.2
    sim.crowd.behave("global", compare=Prefer(quality={"model-b*": 1.0}, strength=strength, noise=0.0, unsure=0.0))
    definition = compare_definition(client)
    results = client.audience.get_audience_by_id("global").assign_job(definition).get_results()

    expected = 1 / (1 + math.exp(-strength))  # Bradley–Terry: q(B) - q(A) = 1
    share = vote_share(results, "model-b")
    assert abs(share - expected) <= tolerance(expected, PAIRS * 20), (share, expected)
    assert results["summary"]["B_wins_total"] > 3 * results["summary"]["A_wins_total"]
    for item in results["results"]:
        assert item["winner"] in (None, *item["aggregatedResults"])
        if item["winner"] is not None:
            assert item["aggregatedResults"][item["winner"]] == max(item["aggregatedResults"].values())
    df = results.to_pandas()
    assert len(df) == PAIRS and (df["winner"].dropna().str.startswith("model-b").mean() > 0.75)


def test_noise_pulls_the_share_towards_a_coin_flip(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-b*": 3.0}, strength=1.0, noise=0.5, unsure=0.0))
    results = client.audience.get_audience_by_id("global").assign_job(compare_definition(client)).get_results()
    p = 1 / (1 + math.exp(-3.0))
    expected = 0.5 * p + 0.5 * 0.5
    assert abs(vote_share(results, "model-b") - expected) <= tolerance(expected, PAIRS * 20)


def test_unsure_answers_only_where_the_definition_allows_them(client, sim):
    from rapidata import AllowNeitherBothSetting

    sim.crowd.behave("global", compare=Prefer(unsure=0.3))
    audience = client.audience.get_audience_by_id("global")
    plain = audience.assign_job(compare_definition(client, n=20)).get_results()
    assert all(set(i["aggregatedResults"]) == {f"model-a answer {n}", f"model-b answer {n}"}
               for n, i in enumerate(plain["results"]))
    unsure = audience.assign_job(compare_definition(client, n=20, settings=[AllowNeitherBothSetting()])).get_results()
    keys = set().union(*(i["aggregatedResults"] for i in unsure["results"]))
    assert {"Both", "Neither"} <= keys
    share = sum(i["aggregatedResults"].get("Both", 0) + i["aggregatedResults"].get("Neither", 0)
                for i in unsure["results"]) / (20 * 20)
    assert abs(share - 0.3) <= tolerance(0.3, 400)
    unsure.to_pandas()  # Both/Neither columns flatten as the SDK expects


def test_a_preference_change_flips_later_results_only(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-b*": 2.0}, noise=0.0, unsure=0.0))
    definition = compare_definition(client, n=20, votes=9)
    signal = client.signals.create_signal(name="daily A/B", audience="global", job_definition=definition,
                                          interval_hours=24)
    sim.advance(days=3, hours=1)
    # "From day 10 on, labelers prefer A": scheduled ahead, applied to jobs created from then on.
    sim.crowd.behave("global", compare=Prefer(quality={"model-a*": 2.0}, noise=0.0, unsure=0.0),
                     at=sim.clock.now() + timedelta(days=2))
    sim.advance(days=4)
    jobs = sorted(signal.get_jobs(page_size=20), key=lambda j: sim.store.get("jobs", j.id)["created_at"])
    assert len(jobs) == 7
    winners = []
    for job in jobs:
        summary = job.get_results()["summary"]
        winners.append("B" if summary["B_wins_total"] > summary["A_wins_total"] else "A")
    assert winners == ["B"] * 5 + ["A"] * 2
    before = json.dumps(jobs[0].get_results(), sort_keys=True)
    sim.crowd.behave("global", compare=Prefer(quality={"model-a*": 5.0}))
    assert json.dumps(jobs[0].get_results(), sort_keys=True) == before  # the past is never rewritten


def classification_definition(client, n: int, votes: int, **kw):
    return client.job.create_classification_job_definition(
        name="Animals", instruction="What animal is it?", answer_options=["Cat", "Dog", "Bird"],
        datapoints=[f"animal photo {i}" for i in range(n)], data_type="text", responses_per_datapoint=votes, **kw)


def test_classification_ratios_follow_the_configured_distribution(client, sim):
    dist = {"Cat": 0.6, "Dog": 0.3, "Bird": 0.1}
    sim.crowd.behave("global", classify=Classify(truth={"animal photo *": dist}))
    results = client.audience.get_audience_by_id("global").assign_job(
        classification_definition(client, n=40, votes=25)).get_results()
    total = sum(results["summary"].values())
    assert total == 40 * 25
    for option, p in dist.items():
        assert abs(results["summary"][option] / total - p) <= tolerance(p, total), (option, results["summary"])
    df = results.to_pandas()
    assert set(df["option"]) == set(dist) and len(df) == 40 * 3


def test_classification_truths_and_accuracy(client, sim):
    """Seeded true labels from a distribution, answered right with probability ``accuracy``."""
    model = Classify(distribution={"Cat": 1.0}, accuracy=0.8)
    sim.crowd.behave("global", classify=model)
    results = client.audience.get_audience_by_id("global").assign_job(
        classification_definition(client, n=30, votes=20)).get_results()
    total = sum(results["summary"].values())
    assert abs(results["summary"]["Cat"] / total - 0.8) <= tolerance(0.8, total)
    assert abs(results["summary"]["Dog"] / total - 0.1) <= tolerance(0.1, total)


def test_early_stopping_uses_fewer_votes_when_labelers_agree(client, sim):
    audience = client.audience.get_audience_by_id("global")
    sim.crowd.behave("global", classify=Classify(distribution={"Cat": 1.0}, accuracy=0.97))
    agree = audience.assign_job(classification_definition(client, n=20, votes=30, confidence_threshold=0.99))
    agreed = agree.get_results()
    used = [len(i["detailedResults"]) for i in agreed["results"]]
    assert max(used) < 30 and sum(used) < 20 * 30 / 3
    for item in agreed["results"]:
        assert max(item["confidencePerCategory"].values()) >= 0.99 or len(item["detailedResults"]) == 30
    # The job needed only those votes: progress counted them, and it finished sooner than a full job.
    sim.crowd.behave("global", classify=Classify(truth={"animal photo *": {"Cat": 1, "Dog": 1, "Bird": 1}}))
    split = audience.assign_job(classification_definition(client, n=20, votes=30, confidence_threshold=0.99))
    used_split = [len(i["detailedResults"]) for i in split.get_results()["results"]]
    assert sum(used_split) > 2 * sum(used)


def test_quorum_stops_at_agreement_or_when_it_cannot_be_reached(client, sim):
    sim.crowd.behave("global", compare=Prefer(noise=1.0, unsure=0.0))  # coin flips
    results = client.audience.get_audience_by_id("global").assign_job(
        compare_definition(client, n=40, votes=7, quorum_threshold=4)).get_results()
    for item in results["results"]:
        counts = sorted(item["aggregatedResults"].values())
        n = sum(counts)
        assert 4 <= n <= 7
        # stopped exactly when one side reached 4, or when neither could any more
        assert counts[-1] == 4 or (counts[0] + 7 - n < 4 and counts[-1] + 7 - n < 4)
    assert any(sum(i["aggregatedResults"].values()) < 7 for i in results["results"])


def test_a_slow_audience_makes_the_next_daily_firing_skip_and_a_fast_one_does_not(client, sim):
    definition = compare_definition(client, n=10, votes=10)  # 100 votes a job
    slow = client.signals.create_signal(name="slow", audience="aud_sim_crowd", job_definition=definition,
                                        interval_hours=24)
    sim.audiences.configure("aud_sim_crowd", population=Population(responses_per_hour=2.0))  # ~50 h a job
    fast = client.signals.create_signal(name="fast", audience="global", job_definition=definition,
                                        interval_hours=24)
    sim.advance(days=2, hours=1)
    runs = {s.id: sim.store.select("signal_runs", "signal_id = ?", [s.id], order_by="started_at") for s in (slow, fast)}
    assert [r["status"] for r in runs[fast.id]] == ["Completed", "Completed"]
    assert [(r["status"], r["skipped_reason"]) for r in runs[slow.id]] == [
        ("Running", None), ("Skipped", "PreviousJobNotFinished")]
    assert len(slow.get_jobs(page_size=10)) == 1 and len(fast.get_jobs(page_size=10)) == 2


def test_population_rate_and_hour_of_day_profile_set_the_finish_time(sim):
    from rapidata_sim.testing.builders import text_definition

    me = sim.principal()
    definition = text_definition(sim, name="t", datapoints=10, votes=10)  # 100 votes
    night = [0.0] * 24
    night[2] = 1.0  # answers only between 02:00 and 03:00 UTC
    sim.audiences.configure("global", population=Population(responses_per_hour=1000.0, hourly=tuple(night)))
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    finish = sim.store.get("jobs", job["id"])["completes_at"]
    assert finish[11:13] == "02"  # whatever the start, it finishes in the 02:00 hour
    sim.audiences.configure("global", population=Population(responses_per_hour=1000.0))
    quick = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    took = (parse_iso(quick["completes_at"]) - parse_iso(quick["created_at"])).total_seconds()
    assert 0.6 * 360 < took < 1.4 * 360  # 100 votes at 1000/h ≈ 6 minutes, Gamma noise around it


def test_progress_and_preliminary_results_follow_virtual_time(client, sim):
    sim.audiences.configure("global", population=Population(responses_per_hour=100.0))
    definition = compare_definition(client, n=10, votes=10)  # 100 votes ≈ 1 h
    with sim.auto_advance_off():
        job = client.audience.get_audience_by_id("global").assign_job(definition)
        row = sim.store.get("jobs", job.id)
        span = parse_iso(row["completes_at"]) - parse_iso(row["created_at"])
        sim.advance(span / 2)
        progress = job.get_progress()
        assert 30 < progress.completion_percentage < 70
        early = job.get_results(preliminary_results=True)
    final = job.get_results()
    for a, b in zip(early["results"], final["results"]):
        assert 0 < len(a["detailedResults"]) < len(b["detailedResults"])
        assert a["detailedResults"] == b["detailedResults"][:len(a["detailedResults"])]
    assert job.get_progress().completion_percentage == 100


def test_a_job_on_a_new_audience_waits_for_graduates(client, sim):
    audience = client.audience.create_audience(name="Fresh")
    definition = compare_definition(client, n=5, votes=5)
    with sim.auto_advance_off():
        job = audience.assign_job(definition)  # starts recruiting
        pop = sim.crowd.population(sim.store.get("audiences", audience.id))
        sim.advance(hours=pop.distill_hours * 0.9)
        assert audience.get_recruiting_metrics().graduated == 0
        assert job.get_progress().completion_percentage == 0 and job.get_status() == "Running"
    job.get_results()  # auto-advance: waits through recruiting, then labeling
    row = sim.store.get("jobs", job.id)
    assert parse_iso(row["completed_at"]) - parse_iso(row["created_at"]) > timedelta(
        hours=pop.distill_hours)


@pytest.mark.parametrize("state,message", [
    ("ManualApproval", "being reviewed"), ("SpendLimited", "spend-limited"), ("Paused", "paused")])
def test_blocking_faults_make_the_sdk_raise_and_resume_continues(client, sim, state, message):
    sim.crowd.inject(state, audience_id="global", jobs=1)
    audience = client.audience.get_audience_by_id("global")
    job = audience.assign_job(compare_definition(client, n=5, votes=5))
    assert job.get_status() == state
    with pytest.raises(Exception, match=message):
        job.get_results()
    with pytest.raises(Exception, match=message):
        job.display_progress_bar()
    sim.jobs.resume(None, job.id)  # approved / topped up / resumed
    assert job.get_results()["info"]["type"] == "Compare" and job.get_status() == "Completed"
    assert audience.assign_job(compare_definition(client, n=5, votes=5)).get_status() == "Running"  # jobs=1


def test_failed_jobs_through_the_sdk_and_the_signal_runs(client, sim):
    definition = compare_definition(client, n=5, votes=5)
    signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                          interval_hours=24)
    sim.crowd.inject("Failed", audience_id="global", message="Assets could not be loaded.", at_progress=0.5)
    sim.advance(days=1, hours=1)
    job = signal.get_jobs(page_size=5)[0]
    assert job.get_status() == "Failed"
    with pytest.raises(Exception, match="Assets could not be loaded"):
        job.display_progress_bar()
    partial = job.get_results()  # the SDK still downloads a failed job's results: what was answered
    answered = sum(len(i["detailedResults"]) for i in partial["results"])
    assert 0 < answered < 25
    run = sim.store.select("signal_runs", "signal_id = ?", [signal.id])[0]
    assert (run["status"], run["failure_message"]) == ("Failed", "Assets could not be loaded.")
    # A failed job is finished: the next firing is not skipped for it.
    sim.crowd.clear_faults("global")
    sim.advance(days=1)
    assert [r["status"] for r in sim.store.select("signal_runs", "signal_id = ?", [signal.id],
                                                  order_by="started_at")][1] in ("Running", "Completed")


def test_a_paused_job_blocks_its_signal_until_resumed(client, sim):
    definition = compare_definition(client, n=5, votes=5)
    signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                          interval_hours=24)
    sim.advance(days=1)
    job = signal.get_jobs(page_size=5)[0]
    job.pause()
    sim.advance(days=1)
    runs = sim.store.select("signal_runs", "signal_id = ?", [signal.id], order_by="started_at")
    assert [r["skipped_reason"] for r in runs] == [None, "PreviousJobNotFinished"]
    job.resume()
    assert job.get_results() and job.get_status() == "Completed"


def _world(seed: int, extra_signal: bool = False) -> bytes:
    """A daily signal's first three results files, as the SDK downloads them (raw bytes)."""
    sim = Simulator(seed=seed, clock=Clock.frozen())
    client = sim.client()
    try:
        definition = compare_definition(client, n=8, votes=6)
        if extra_signal:  # another signal, and a one-off job, on the same definition
            client.signals.create_signal(name="other", audience="global", job_definition=definition,
                                         interval_hours=5)
            client.audience.get_audience_by_id("global").assign_job(definition)
        signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                              interval_hours=24)
        sim.advance(days=3, hours=1)
        jobs = sorted(signal.get_jobs(page_size=5), key=lambda j: sim.store.get("jobs", j.id)["created_at"])
        http = https_client(sim.serve())
        files = [http.get(f"/job/{j.id}/download-results").content for j in jobs]
        http.close()
        return b"\n".join(files)
    finally:
        sim.close()


def test_results_files_are_byte_identical_for_a_seed_and_independent_of_other_jobs():
    first = _world(11)
    assert first == _world(11) and len(first) > 1000
    assert first != _world(12)
    # Another signal and another job do not change this signal's answers.
    assert _world(11, extra_signal=True) == first


def test_behaviour_and_faults_over_the_control_surface(sim, client):
    http = https_client(sim.serve())
    h: dict[str, str] = {}
    r = http.put("/_sim/audiences/global/behaviour", headers=h,
                 json={"behaviour": {"compare": {"quality": {"model-b*": 2.0}, "noise": 0.0, "unsure": 0.0}}})
    assert r.status_code == 200, r.text
    assert sim.crowd.behaviour_for("global", None, iso(sim.clock.now())).compare.quality == {"model-b*": 2.0}
    bad = http.put("/_sim/audiences/global/behaviour", headers=h, json={"behaviour": {"compare": {"colour": 1}}})
    assert bad.status_code == 400 and "behaviour.compare.colour" in bad.json()["errors"]
    past = http.put("/_sim/audiences/global/behaviour", headers=h,
                    json={"behaviour": {}, "at": "2000-01-01T00:00:00Z"})
    assert past.status_code == 400 and "at" in past.json()["errors"]
    r = http.patch("/_sim/audiences/global/population", headers=h, json={"population": {"responses_per_hour": 5.0}})
    assert r.status_code == 200 and sim.crowd.population(sim.store.get("audiences", "global")).responses_per_hour == 5
    assert http.patch("/_sim/audiences/global/population", headers=h,
                      json={"population": {"graduation_rate": 2}}).status_code == 400
    r = http.post("/_sim/faults", headers=h, json={"state": "ManualApproval", "audienceId": "global", "jobs": 1})
    assert r.status_code == 200, r.text
    job = client.audience.get_audience_by_id("global").assign_job(compare_definition(client, n=2, votes=2))
    assert job.get_status() == "ManualApproval"
    assert http.post("/_sim/faults", headers=h, json={"state": "Exploded", "jobId": job.id}).status_code == 400
    assert http.post("/_sim/faults", headers=h, json={"state": "Failed"}).status_code == 400
    assert http.delete("/_sim/audiences/global/faults", headers=h).status_code == 204
    assert http.get("/_sim/audiences/nope/faults", headers=h).status_code in (404, 405)
    http.close()

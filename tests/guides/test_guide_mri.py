"""The SDK's guide (``python -m rapidata skill``), section "Model Ranking Insights (MRI /
Benchmarks)", block by block, against the simulator.

The section is a reference of calls rather than one script, so it cannot run top to bottom as
printed: it deletes a participant and then renames it, uses a name ``identifiers`` it never
defines, and ends on ``get_benchmark_by_id("benchmark_id")``. Each block below is the guide's code
as written, in the guide's order, except: ``participant.delete()`` runs last, ``identifiers`` is
defined before the block that uses it (the participant's two prompts), and ``"benchmark_id"`` is
the id of the benchmark the guide made. The local files the guide names are written first;
``webbrowser.open`` answers False (the SDK then prints the URL).
"""

from __future__ import annotations

import webbrowser

import pytest

from rapidata_sim.crowd import Prefer

pytestmark = pytest.mark.frozen_clock


def guide_benchmark(client):
    # Create benchmark
    benchmark = client.mri.create_new_benchmark(
        name="AI Art Competition",
        prompts=["A serene mountain landscape", "A futuristic city"],
    )

    # Add prompts later if needed (one or many, matched up by index)
    benchmark.add_prompts(
        prompts=["A quiet lake at dawn"],
    )

    # Tags carry an optional category; bare strings become Tag(value, category=None)
    from rapidata import Tag, Origin

    benchmark.add_prompts(
        identifiers=["garage_car"],
        prompts=["A car in a garage"],
        tags=[[Tag("vehicle", category="object"), "indoor"]],
        origins=[Origin("coco")],
    )

    # Re-tag / set the origin of an already-registered prompt (a field left None stays unchanged)
    benchmark.update_prompt("garage_car", tags=["abstract", "surreal"], origin="wikiart")

    print(benchmark.tags)             # Values only, aligned by index with prompts (categories dropped)
    print(benchmark.structured_tags)  # list[list[Tag]] — preferred, keeps categories
    print(benchmark.origins)          # list[Origin | None]
    print(benchmark.get_tag_counts()) # DataFrame of every tag: value, category, prompt_count — one request, no prompt paging

    # Create leaderboard
    leaderboard = benchmark.create_leaderboard(
        name="Realism",
        instruction="Which image is more realistic?",
        show_prompt=False,
        show_prompt_asset=False,
        inverse_ranking=False,
    )

    # Evaluate a model (creates participant, uploads media, and submits in one step)
    benchmark.evaluate_model(
        name="MyModel_v2",
        media=["mountain.png", "city.png"],
        prompts=["A serene mountain landscape", "A futuristic city"],
        data_type="media",   # "media" (default) or "text"
    )

    # Or add a model without submitting (for more control)
    participant = benchmark.add_model(
        name="MyModel_v3",
        media=["mountain_v3.png", "city_v3.png"],
        prompts=["A serene mountain landscape", "A futuristic city"],
        data_type="media",
    )

    # Upload additional media to the same participant
    uploaded, failed = participant.upload_media(
        assets=["mountain_v3_extra.png"],
        identifiers=["A serene mountain landscape"],
        data_type="media",
    )
    return benchmark, leaderboard, participant, uploaded, failed


def guide_recover_and_submit(benchmark, participant, identifiers):
    # Recover a partial upload (server truth — works for any participant, incl. ones from
    # benchmark.participants). add_model already runs this sweep automatically on failure.
    missing = participant.missing_counts(identifiers)   # Counter[identifier -> samples still short]; empty == done
    uploaded, still_failed = participant.retry_missing(  # re-sends assets for short identifiers
        assets=["mountain_v3_extra.png"],
        identifiers=["A serene mountain landscape"],
        data_type="media",
    )

    # Submit individually or all at once
    participant.run()       # Submit one participant
    benchmark.run()         # Submit all unsubmitted participants (status CREATED or
    return missing, uploaded, still_failed


def guide_participant(benchmark, participant):
    participant.disable()             # Exclude from evaluation and standings (reversible)
    participant.enable()              # Re-enable a previously disabled participant
    elo = participant.get_elo()       # Aggregated Elo across all leaderboards (None if not yet computed)

    # Update participant metadata — adding a model and pricing it are separate calls
    participant.rename("New Name")    # Rename the participant
    participant.set_price(0.04, unit="image")
    participant.clear_price()         # Remove the price (model drops off the cost chart)
    participant.price                 # float | None — USD per price_unit
    participant.price_unit            # str | None — "image" | "video_second" | "million_tokens"

    # List participants and their status
    for p in benchmark.participants:
        print(p.name, p.status, p.price, p.price_unit)

    # Prompts — original language and English translation (aligned by index)
    print(benchmark.prompts)          # As originally provided
    print(benchmark.english_prompts)  # Server-side English translations, aligned by index
    print(benchmark.identifiers, benchmark.prompt_assets)
    return elo


def guide_results(benchmark, leaderboard):
    # Get results
    standings = leaderboard.get_standings()                    # Pandas DataFrame for one leaderboard
    overall = benchmark.get_overall_standings(tags=None, leaderboard_ids=None)  # Aggregated ELO across all leaderboards
    matrix_lb = leaderboard.get_win_loss_matrix()              # Pairwise wins/losses for one leaderboard
    matrix_bm = benchmark.get_win_loss_matrix(                 # Pairwise wins/losses across leaderboards
        tags=None, participant_ids=None, leaderboard_ids=None, use_weighted_scoring=None,
    )

    from rapidata import Gender, AgeGroup

    overall_filtered = benchmark.get_overall_standings(
        country=["US", "GB"],       # ISO-2 codes (observed)
        language=["en"],            # (observed)
        gender=[Gender.FEMALE],     # list[Gender] (estimated/inferred)
        age_bucket=[AgeGroup.BETWEEN_18_29],  # list[AgeGroup] (estimated/inferred)
        occupation=["Engineer"],    # plain strings (estimated/inferred)
        run_id="run_...",           # restrict to a single evaluation run
    )

    demographics = benchmark.get_demographics(tags=None, leaderboard_ids=None)

    from rapidata import BenchmarkDemographicDimension

    breakdown = benchmark.get_standings_breakdown(
        dimension=BenchmarkDemographicDimension.COUNTRY,   # AGEBUCKET | GENDER | OCCUPATION | COUNTRY | LANGUAGE
    )

    # Access the jobs that ran for a leaderboard (one per run, most recent first)
    for job in leaderboard.jobs:
        job_results = job.get_results()
    return standings, overall, matrix_lb, matrix_bm, overall_filtered, demographics, breakdown


def guide_update(client, benchmark, leaderboard, benchmark_id):
    from rapidata import VoteAggregation

    leaderboard.update(
        name="Realism (Updated)",                     # non-empty string
        level_of_detail="very high",                  # named level or a positive int budget (e.g. 5000)
        min_responses_per_matchup=7,                  # int >= 3 (bool rejected); takes effect for future evaluations
        vote_aggregation=VoteAggregation.MAJORITY_VOTE,  # re-counts already-collected responses (no re-evaluation)
    )

    # Reading back the config (all read-only properties)
    print(leaderboard.level_of_detail)   # A named level only on an exact budget match, otherwise "custom"
    print(leaderboard.response_budget)   # The exact budget behind it, e.g. 5000
    print(leaderboard.vote_aggregation)  # A VoteAggregation member (lazily fetched for leaderboards read from a listing)
    print(leaderboard.included_tags, leaderboard.excluded_tags)  # Fixed at creation — create a new leaderboard to re-scope

    # Open in browser
    benchmark.view()
    leaderboard.view()

    # Find existing benchmarks
    benchmarks = client.mri.find_benchmarks(name="AI Art", amount=10, page=1)
    benchmark = client.mri.get_benchmark_by_id(benchmark_id)

    benchmark.update(
        min_assets_per_prompt=4,
    )
    return benchmarks, benchmark


def test_the_mri_section_runs_against_the_simulator(client, sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("mountain.png", "city.png", "mountain_v3.png", "city_v3.png", "mountain_v3_extra.png"):
        (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: False)
    # The crowd likes v3's pictures: the guide's two models end up ranked that way.
    sim.crowd.behave("global", compare=Prefer(quality={"*_v3*": 2.0}, noise=0.0, unsure=0.0))

    benchmark, leaderboard, participant, uploaded, failed = guide_benchmark(client)
    assert uploaded == ["A serene mountain landscape"] and failed == []
    identifiers = ["A serene mountain landscape", "A futuristic city"]
    missing, again, still_failed = guide_recover_and_submit(benchmark, participant, identifiers)
    assert not missing and again == [] and still_failed == []

    sim.advance(hours=12)
    assert guide_participant(benchmark, participant) is not None
    standings, overall, matrix_lb, matrix_bm, filtered, demographics, breakdown = guide_results(
        benchmark, leaderboard)
    assert list(standings["name"]) == ["New Name", "MyModel_v2"]
    assert list(overall["name"]) == ["New Name", "MyModel_v2"]
    assert matrix_lb.loc["New Name", "MyModel_v2"] == 2 and matrix_bm.loc["MyModel_v2", "New Name"] == 0
    assert filtered.empty or filtered["total_matches"].sum() == 0  # no run is called "run_..."
    assert demographics["votes"].sum() > 0 and "US" in set(breakdown["segment"])

    benchmarks, fetched = guide_update(client, benchmark, leaderboard, benchmark.id)
    assert [b.id for b in benchmarks] == [benchmark.id] and fetched.id == benchmark.id
    row = sim.store.get("leaderboards", leaderboard.id)
    assert (row["name"], row["response_budget"], row["min_responses"]) == ("Realism (Updated)", 16000, 7)
    assert sim.store.get("benchmarks", benchmark.id)["min_assets_per_prompt"] == 4
    assert dict(zip(fetched.identifiers, fetched.tags))["garage_car"] == ["abstract", "surreal"]

    participant.delete()              # Delete participant and its uploaded media (cannot be undone)
    assert list(leaderboard.get_standings()["name"]) == ["MyModel_v2"]

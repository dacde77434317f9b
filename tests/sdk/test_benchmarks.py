"""Benchmarks and leaderboards (``client.mri``) through the real SDK: prompts, participants,
leaderboards, runs voted by the synthetic crowd over virtual time, and the standings."""

from __future__ import annotations

import pandas as pd
import pytest
from rapidata import Tag
from rapidata.rapidata_client.benchmark.leaderboard.vote_aggregation import VoteAggregation
from rapidata.rapidata_client.exceptions.rapidata_error import RapidataError

from rapidata_sim.crowd import Prefer

pytestmark = pytest.mark.frozen_clock

IDS = ["p1", "p2", "p3"]
PROMPTS = ["a cat on a sofa", "a red bicycle", "a lighthouse at dusk"]


def media(model: str) -> list[str]:
    return [f"https://assets.example.com/{model}/{model}_{i}.png" for i in IDS]


def benchmark_with_models(client, *models: str, tags=None, **board):
    benchmark = client.mri.create_new_benchmark("Image models", identifiers=IDS, prompts=PROMPTS,
                                                tags=tags or [["animal"], ["object"], ["scene"]])
    board.setdefault("level_of_detail", "debug")
    leaderboard = benchmark.create_leaderboard("Realism", "Which image looks more real?", show_prompt=True,
                                               **board)
    for model in models:
        benchmark.evaluate_model(model, media=media(model), identifiers=IDS)
    return benchmark, leaderboard


def ranking(leaderboard) -> list[str]:
    return list(leaderboard.get_standings()["name"])


def test_preferred_model_tops_the_standings_once_its_run_is_over(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 2.0}, noise=0.0, unsure=0.0))
    benchmark, leaderboard = benchmark_with_models(client, "model-y", "model-x")
    runs = leaderboard._RapidataLeaderboard__openapi_service.leaderboard.leaderboard_api \
        .leaderboard_leaderboard_id_runs_get(leaderboard_id=leaderboard.id).items
    assert runs and all(r.status.value == "Running" for r in runs)
    assert leaderboard.get_standings()["total_matches"].sum() == 0  # nothing voted yet: virtual time stands

    sim.advance(hours=6)
    standings = leaderboard.get_standings()
    assert list(standings["name"]) == ["model-x", "model-y"]
    assert standings["score"].iloc[0] > standings["score"].iloc[1]
    assert standings["total_matches"].iloc[0] == 3  # one matchup per prompt, majority vote
    by_name = {p.name: p for p in benchmark.participants}
    assert by_name["model-x"].get_elo() > by_name["model-y"].get_elo()
    overall = benchmark.get_overall_standings()
    assert list(overall["name"]) == ["model-x", "model-y"]
    matrix = leaderboard.get_win_loss_matrix()
    assert matrix.loc["model-x", "model-y"] == 3 and matrix.loc["model-y", "model-x"] == 0
    assert benchmark.get_win_loss_matrix().loc["model-x", "model-y"] == 3


def test_flipping_the_preference_moves_the_standings(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 3.0}, noise=0.0, unsure=0.0))
    benchmark, leaderboard = benchmark_with_models(client, "model-x", "model-y")
    sim.advance(hours=6)
    assert ranking(leaderboard) == ["model-x", "model-y"]

    sim.crowd.behave("global", compare=Prefer(quality={"model-y*": 3.0}, noise=0.0, unsure=0.0))
    # A second leaderboard runs under the new taste; and model-z, judged like y, joins both.
    second = benchmark.create_leaderboard("Realism again", "Which image looks more real?", show_prompt=True,
                                          level_of_detail="debug")
    sim.advance(hours=6)
    assert ranking(second) == ["model-y", "model-x"]
    assert ranking(leaderboard) == ["model-x", "model-y"]  # earlier votes were cast under the old taste


def test_same_seed_same_standings(tmp_path, monkeypatch):
    from rapidata_sim import Clock, Simulator

    monkeypatch.setenv("HOME", str(tmp_path))

    def run(seed: int) -> list:
        with Simulator(seed=seed, clock=Clock.frozen()) as world:
            world.crowd.behave("global", compare=Prefer(quality={"model-x*": 0.3}, noise=0.2, unsure=0.0))
            _, leaderboard = benchmark_with_models(world.client(), "model-x", "model-y", "model-z")
            world.advance(hours=6)
            return leaderboard.get_standings().to_dict("records")

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other


def test_other_organization_sees_nothing(client, other_client, colleague_client, sim):
    benchmark, leaderboard = benchmark_with_models(client, "model-x", "model-y")
    participant = benchmark.participants[0]
    with pytest.raises(RapidataError) as exc:
        other_client.mri.get_benchmark_by_id(benchmark.id)
    assert exc.value.status_code == 404
    assert other_client.mri.find_benchmarks() == []
    api = other_client._openapi_service.leaderboard
    for call in (lambda: api.leaderboard_api.leaderboard_leaderboard_id_get(leaderboard_id=leaderboard.id),
                 lambda: api.participant_api.participant_participant_id_disable_post(participant_id=participant.id),
                 lambda: api.benchmark_api.benchmark_benchmark_id_standings_query_get(benchmark_id=benchmark.id)):
        with pytest.raises(RapidataError) as exc:
            call()
        assert exc.value.status_code == 404
    # A colleague in the same organization works on it.
    assert colleague_client.mri.get_benchmark_by_id(benchmark.id).name == "Image models"


def test_benchmark_reads_and_prompt_updates(client, sim):
    benchmark, leaderboard = benchmark_with_models(client, "model-x", "model-y")
    assert client.mri.get_benchmark_by_id(benchmark.id).id == benchmark.id
    assert [b.id for b in client.mri.find_benchmarks("Image")] == [benchmark.id]
    assert client.mri.find_benchmarks("nothing like it") == []

    fresh = client.mri.get_benchmark_by_id(benchmark.id)
    # Prompts are uploaded concurrently: the order they were registered in is the order they arrived.
    assert dict(zip(fresh.identifiers, fresh.prompts)) == dict(zip(IDS, PROMPTS))
    assert dict(zip(fresh.identifiers, fresh.tags)) == {"p1": ["animal"], "p2": ["object"], "p3": ["scene"]}
    assert fresh.prompt_assets == [None, None, None]
    assert [lb.id for lb in fresh.leaderboards] == [leaderboard.id]
    assert fresh.leaderboards[0].level_of_detail == "debug"
    assert sorted(p.name for p in fresh.participants) == ["model-x", "model-y"]

    benchmark.add_prompts(identifiers=["p4"], prompts=["a snowy owl"],
                          prompt_assets=[["https://assets.example.com/ref/owl.jpg"]],
                          tags=[[Tag("animal", category="subject")]], origins=["coco"])
    benchmark.update_prompt("p1", tags=["animal", "indoor"], origin="laion")
    again = client.mri.get_benchmark_by_id(benchmark.id)
    assert again.identifiers[3] == "p4"
    assert again.prompt_assets[3] == ["https://assets.example.com/ref/owl.jpg"]
    assert again.structured_tags[3] == [Tag("animal", category="subject")]
    first = again.identifiers.index("p1")
    assert again.tags[first] == ["animal", "indoor"] and again.origins[first].source == "laion"
    counts = benchmark.get_tag_counts()
    assert counts.groupby("value")["prompt_count"].sum().to_dict() == {"animal": 2, "indoor": 1, "object": 1,
                                                                       "scene": 1}
    assert set(counts[counts["value"] == "animal"]["category"].fillna("-")) == {"-", "subject"}
    benchmark.update(min_assets_per_prompt=2)

    with pytest.raises(ValueError):  # the SDK checks it against the registered identifiers
        benchmark.add_prompts(identifiers=["p1"], prompts=["again"])


def test_leaderboard_update_jobs_and_tag_filters(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 2.0}, noise=0.0, unsure=0.0))
    benchmark, leaderboard = benchmark_with_models(client, "model-x", "model-y", included_tags=["animal", "scene"])
    sim.advance(hours=6)
    assert leaderboard.get_standings()["total_matches"].iloc[0] == 2  # the "object" prompt is left out
    assert leaderboard.get_standings(tags=["animal"])["total_matches"].iloc[0] == 1
    assert leaderboard.included_tags == ["animal", "scene"]

    leaderboard.update(name="Photorealism", level_of_detail="low", min_responses_per_matchup=5,
                       vote_aggregation=VoteAggregation.ALL_VOTES)
    fresh = client.mri.get_benchmark_by_id(benchmark.id).leaderboards[0]
    assert (fresh.name, fresh.level_of_detail, fresh.min_responses_per_matchup) == ("Photorealism", "low", 5)
    assert fresh.vote_aggregation == VoteAggregation.ALL_VOTES
    all_votes = fresh.get_standings()
    assert all_votes["total_matches"].iloc[0] > 2  # every vote now counts as a match
    assert leaderboard.jobs == []  # runs are voted by the crowd directly, not through jobs


def test_participant_lifecycle(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 2.0}, noise=0.0, unsure=0.0))
    benchmark, leaderboard = benchmark_with_models(client, "model-x", "model-y")
    late = benchmark.add_model("model-z", media=media("model-z"), identifiers=IDS)
    assert late.status.value == "Created"
    assert late.missing_counts(IDS) == {}
    assert late.get_elo() is None
    late.run()
    sim.advance(hours=6)
    assert set(ranking(leaderboard)) == {"model-x", "model-y", "model-z"}
    assert late.get_elo() is not None

    late.rename("model-z2")
    assert "model-z2" in ranking(leaderboard)
    late.disable()
    standings = leaderboard.get_standings().set_index("name")
    assert pd.isna(standings.loc["model-z2", "score"])
    late.delete()
    assert "model-z2" not in ranking(leaderboard)
    assert sorted(p.name for p in client.mri.get_benchmark_by_id(benchmark.id).participants) == \
        ["model-x", "model-y"]
    with pytest.raises(RapidataError) as exc:
        late.set_price(0.04, "image")  # deleted: the service no longer knows it
    assert exc.value.status_code == 404


def test_batch_run_demographics_breakdown_and_prices(client, sim):
    from rapidata.api_client.models.benchmark_demographic_dimension import BenchmarkDemographicDimension
    from rapidata.rapidata_client.filter.models.gender import Gender

    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 2.0}, noise=0.0, unsure=0.0))
    benchmark, leaderboard = benchmark_with_models(client, level_of_detail=300)
    for model in ("model-x", "model-y", "model-z"):
        benchmark.add_model(model, media=media(model), identifiers=IDS)
    assert leaderboard.get_standings().empty  # added, not submitted: nothing to rank
    benchmark.run()  # one symmetric run: every model against every other
    assert {p.status.value for p in client.mri.get_benchmark_by_id(benchmark.id).participants} == {"Submitted"}
    sim.advance(hours=6)
    assert ranking(leaderboard)[0] == "model-x"

    demographics = benchmark.get_demographics()
    assert set(demographics["dimension"]) == {"AgeBucket", "Gender", "Occupation", "Country", "Language"}
    for _, rows in demographics.groupby("dimension"):
        assert abs(rows["share"].sum() - 1.0) < 1e-9 and "unknown" in set(rows["value"])
    total = int(demographics[demographics["dimension"] == "Country"]["votes"].sum())
    us = benchmark.get_demographics(country=["US"])
    assert 0 < int(us[us["dimension"] == "Country"]["votes"].sum()) < total
    assert set(us[(us["dimension"] == "Country") & (us["votes"] > 0)]["value"]) == {"US"}
    women = leaderboard.get_standings(gender=[Gender.FEMALE])
    assert 0 < women["total_matches"].sum()

    breakdown = benchmark.get_standings_breakdown(BenchmarkDemographicDimension.COUNTRY)
    assert "US" in set(breakdown["segment"])
    assert set(breakdown["name"]) == {"model-x", "model-y", "model-z"}

    weighted = leaderboard.get_win_loss_matrix(use_weighted_scoring=True)
    assert 0 < weighted.loc["model-x", "model-y"] < 300  # sums of voters' userScores, each below 1

    participant = next(p for p in benchmark.participants if p.name == "model-y")
    participant.set_price(0.04, "image")
    assert next(p for p in client.mri.get_benchmark_by_id(benchmark.id).participants
                if p.name == "model-y").price_unit == "image"
    participant.clear_price()
    assert next(p for p in client.mri.get_benchmark_by_id(benchmark.id).participants
                if p.name == "model-y").price is None
    participant.disable()
    participant.enable()
    assert participant.get_elo() is not None


def test_bad_input_is_refused_with_problem_details(client, sim):
    benchmark, leaderboard = benchmark_with_models(client)
    api = client._openapi_service.leaderboard
    from rapidata.api_client.models.create_sample_endpoint_input import CreateSampleEndpointInput
    from rapidata.api_client.models.i_asset_input import IAssetInput
    from rapidata.api_client.models.i_asset_input_text_asset_input import IAssetInputTextAssetInput

    participant = benchmark.add_model("model-x", media=["a cat"], identifiers=["p1"], data_type="text")
    with pytest.raises(RapidataError) as exc:  # an identifier the benchmark does not have
        api.participant_api.participant_participant_id_sample_post(
            participant_id=participant.id, create_sample_endpoint_input=CreateSampleEndpointInput(
                identifier="p9", asset=IAssetInput(IAssetInputTextAssetInput(_t="TextAssetInput", text="x"))))
    assert exc.value.status_code == 400
    with pytest.raises(RapidataError) as exc:  # the same sample twice
        api.participant_api.participant_participant_id_sample_post(
            participant_id=participant.id, create_sample_endpoint_input=CreateSampleEndpointInput(
                identifier="p1", asset=IAssetInput(IAssetInputTextAssetInput(_t="TextAssetInput", text="a cat"))))
    assert exc.value.status_code == 409
    with pytest.raises(RapidataError) as exc:
        benchmark.create_leaderboard("Bad", "Which?", audience_id="aud_nope")
    assert exc.value.status_code == 400


# Every public method and property of the SDK's MRI classes -> the test above that runs it through
# the simulator, or why it makes no request. A new SDK method fails this until it is placed.
COVERED = {
    "RapidataBenchmarkManager": {
        "create_new_benchmark": "benchmark_with_models", "get_benchmark_by_id": "test_benchmark_reads",
        "find_benchmarks": "test_benchmark_reads"},
    "RapidataBenchmark": {
        "identifiers": "test_benchmark_reads", "prompts": "test_benchmark_reads",
        "english_prompts": "tests/guides/test_guide_mri.py", "prompt_assets": "test_benchmark_reads",
        "tags": "test_benchmark_reads", "structured_tags": "test_benchmark_reads", "origins": "test_benchmark_reads",
        "leaderboards": "test_benchmark_reads", "participants": "test_preferred_model_tops",
        "add_prompts": "test_benchmark_reads", "update_prompt": "test_benchmark_reads",
        "create_leaderboard": "benchmark_with_models", "evaluate_model": "benchmark_with_models",
        "add_model": "test_participant_lifecycle", "update": "test_benchmark_reads",
        "run": "test_batch_run_demographics", "view": "no request (opens a browser)",
        "get_tag_counts": "test_benchmark_reads", "get_overall_standings": "test_preferred_model_tops",
        "get_win_loss_matrix": "test_preferred_model_tops", "get_demographics": "test_batch_run_demographics",
        "get_standings_breakdown": "test_batch_run_demographics"},
    "RapidataLeaderboard": {
        "response_budget": "no request", "level_of_detail": "no request",
        "min_responses_per_matchup": "no request", "vote_aggregation": "test_leaderboard_update",
        "update": "test_leaderboard_update", "show_prompt_asset": "no request", "inverse_ranking": "no request",
        "show_prompt": "no request", "instruction": "no request", "included_tags": "no request",
        "excluded_tags": "no request", "name": "no request", "jobs": "test_leaderboard_update",
        "get_standings": "test_preferred_model_tops", "get_win_loss_matrix": "test_preferred_model_tops",
        "view": "no request (opens a browser)"},
    "BenchmarkParticipant": {
        "status": "no request", "get_elo": "test_preferred_model_tops", "delete": "test_participant_lifecycle",
        "run": "test_participant_lifecycle", "disable": "test_participant_lifecycle",
        "enable": "test_batch_run_demographics", "rename": "test_participant_lifecycle",
        "set_price": "test_batch_run_demographics", "clear_price": "test_batch_run_demographics",
        "upload_media": "test_participant_lifecycle (add_model)", "missing_counts": "test_participant_lifecycle",
        "retry_missing": "tests/guides/test_guide_mri.py"},
}


def test_every_public_mri_method_is_placed():
    # The same reading of "public" as the whole-SDK check (tests/sdk/test_sdk_surface.py), which
    # turns the table above into its placements of these classes.
    from support.sdk_surface import public_names

    from rapidata.rapidata_client.benchmark.leaderboard.rapidata_leaderboard import RapidataLeaderboard
    from rapidata.rapidata_client.benchmark.participant.participant import BenchmarkParticipant
    from rapidata.rapidata_client.benchmark.rapidata_benchmark import RapidataBenchmark
    from rapidata.rapidata_client.benchmark.rapidata_benchmark_manager import RapidataBenchmarkManager

    for cls in (RapidataBenchmarkManager, RapidataBenchmark, RapidataLeaderboard, BenchmarkParticipant):
        public = set(public_names(cls))
        assert public == set(COVERED[cls.__name__]), (cls.__name__, public ^ set(COVERED[cls.__name__]))


def test_elo_gap_matches_the_configured_quality_gap(client, sim):
    """All votes counted, the Bradley–Terry fit recovers the crowd's own model: a quality gap of 1
    is 400·log10(e) ≈ 174 Elo points, within four standard errors of the votes cast."""
    import math

    sim.crowd.behave("global", compare=Prefer(quality={"model-x*": 1.0}, strength=1.0, noise=0.0, unsure=0.0))
    benchmark, leaderboard = benchmark_with_models(client, "model-x", "model-y", level_of_detail=3000,
                                                   vote_aggregation=VoteAggregation.ALL_VOTES)
    sim.advance(hours=6)
    standings = leaderboard.get_standings().set_index("name")
    votes = standings.loc["model-x", "total_matches"]
    assert votes == 3000
    p = 1 / (1 + math.exp(-1.0))
    standard_error = 400 / math.log(10) / math.sqrt(votes * p * (1 - p))
    gap = standings.loc["model-x", "score"] - standings.loc["model-y", "score"]
    assert abs(gap - 400 * math.log10(math.e)) < 4 * standard_error, (gap, standard_error)

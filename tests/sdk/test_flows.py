"""``client.flow`` through the real SDK: ranking and classify flows, their items over virtual time,
results and win-loss matrices that follow the crowd's ``Prefer`` / ``Classify`` models, isolation."""

from __future__ import annotations

import pytest
from rapidata import RapidataClassifyFlow, RapidataRankingFlow
from rapidata.rapidata_client.exceptions import RapidataError
from rapidata.rapidata_client.flow.rapidata_flow import RapidataFlow
from rapidata.rapidata_client.flow.rapidata_flow_item import RapidataFlowItem
from rapidata.rapidata_client.flow.rapidata_flow_manager import RapidataFlowManager

from rapidata_sim.core.clock import parse_iso
from rapidata_sim.crowd import Classify, Population, Prefer

# Crowd answers are seeded by what and when: a frozen clock makes every run's answers the same.
pytestmark = pytest.mark.frozen_clock

MODELS = ["model-a: a red fox", "model-b: a red fox", "model-c: a red fox"]


def prefer_a_then_b(sim) -> None:
    sim.crowd.behave("global", compare=Prefer(quality={"model-a*": 2.0, "model-b*": 1.0, "model-c*": 0.0},
                                              strength=1.5, noise=0.0, unsure=0.0))


def ranking_batch(client, **kw):
    flow = client.flow.create_ranking_flow(name="pref", instruction="Which caption is better?",
                                           max_response_threshold=60, **kw)
    return flow, flow.create_new_flow_batch(datapoints=MODELS, data_type="text", time_to_live=600)


# -- every network-calling method has a test here ---------------------------------------------

#: Public methods of the flow classes and what covers them (a new SDK method fails the check below).
COVERED = {
    RapidataFlowManager: {"create_ranking_flow", "create_classify_flow", "get_flow_by_id", "find_flows", "preheat"},
    RapidataFlow: {"get_flow_items", "delete"},
    RapidataRankingFlow: {"create_new_flow_batch", "update_config", "get_flow_items", "delete"},
    RapidataClassifyFlow: {"create_new_flow_batch", "update_config", "get_flow_items", "delete"},
    RapidataFlowItem: {"get_response_count", "get_status", "get_results", "get_win_loss_matrix"},
}


def test_every_public_flow_method_is_covered():
    # The same reading of "public" as the whole-SDK check (tests/sdk/test_sdk_surface.py).
    from support.sdk_surface import public_names

    for cls, covered in COVERED.items():
        public = set(public_names(cls))
        assert public == covered, f"{cls.__name__}: untested {sorted(public - covered)}, gone {sorted(covered - public)}"


# -- ranking flows ------------------------------------------------------------------------

def test_ranking_results_and_matrix_follow_the_crowds_preference(client, sim):
    prefer_a_then_b(sim)
    flow, item = ranking_batch(client)
    assert isinstance(flow, RapidataRankingFlow)
    assert item.get_status() == "Running"

    result = item.get_results()  # blocks: the SDK's poll moves the clock to the item's end
    assert item.get_status() == "Completed"
    elo = result.datapoints
    assert set(elo) == set(MODELS)
    assert elo[MODELS[0]] > elo[MODELS[1]] > elo[MODELS[2]]
    assert result.total_votes == 60  # min == max: it closes the moment the last vote is in

    matrix = item.get_win_loss_matrix()
    a, b, c = MODELS
    assert list(matrix.index) == MODELS and list(matrix.columns) == MODELS
    assert matrix.loc[a, b] > matrix.loc[b, a] and matrix.loc[b, c] > matrix.loc[c, b]
    assert matrix.loc[a, a] == 0
    assert item.get_response_count() == matrix.values.sum() == 60


def test_a_flipped_preference_flips_the_ranking(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"model-c*": 3.0}, strength=1.5, noise=0.0, unsure=0.0))
    _, item = ranking_batch(client)
    elo = item.get_results().datapoints
    assert max(elo, key=elo.get) == MODELS[2]


def test_the_item_completes_at_its_planned_instant_in_virtual_time(client, sim):
    start = sim.clock.now()
    _, item = ranking_batch(client)
    with sim.auto_advance_off():
        assert item.get_status() == "Running"
    item.get_results()
    details = client.flow._openapi_service.flow.ranking_flow_item_api.flow_ranking_item_flow_item_id_get(
        flow_item_id=item.id)
    # 60 votes at the global crowd's 20,000 an hour: seconds, well inside the 600 s time to live.
    assert start < details.completed_at <= start.replace(microsecond=0) + (parse_iso("2100-01-01T00:10:00Z")
                                                                            - parse_iso("2100-01-01T00:00:00Z"))
    assert details.expires_at > details.completed_at
    kinds = [e["kind"] for e in sim.events() if e["subject"] == item.id]
    assert kinds == ["flow_item.created", "flow_item.completed"]


def test_a_slow_crowd_leaves_the_item_incomplete_at_its_time_to_live(client, sim):
    sim.audiences.configure("global", population=Population(responses_per_hour=120))  # 2 a minute
    flow = client.flow.create_ranking_flow(name="slow", instruction="Better?", max_response_threshold=50,
                                           min_response_threshold=20)
    item = flow.create_new_flow_batch(datapoints=MODELS, data_type="text", time_to_live=60)
    result = item.get_results()
    assert item.get_status() == "Incomplete"
    assert 0 < result.total_votes < 20  # about 2 in its minute: results are returned all the same
    assert item.get_response_count() == result.total_votes


def test_same_seed_same_results(client, sim):
    prefer_a_then_b(sim)
    _, first = ranking_batch(client)
    _, second = ranking_batch(client)
    results = [first.get_results(), second.get_results()]
    matrices = [first.get_win_loss_matrix().values.tolist(), second.get_win_loss_matrix().values.tolist()]

    from rapidata_sim import Clock, Simulator

    with Simulator(seed=1234, clock=Clock.frozen()) as again:
        again.crowd.behave("global", compare=Prefer(quality={"model-a*": 2.0, "model-b*": 1.0, "model-c*": 0.0},
                                                    strength=1.5, noise=0.0, unsure=0.0))
        other = again.client()
        _, f2 = ranking_batch(other)
        _, s2 = ranking_batch(other)
        assert [f2.get_results(), s2.get_results()] == results
        assert [f2.get_win_loss_matrix().values.tolist(), s2.get_win_loss_matrix().values.tolist()] == matrices
    # two items of one world are answered by streams of their own
    assert matrices[0] != matrices[1]


def test_update_config_applies_to_new_items(client, sim):
    prefer_a_then_b(sim)
    flow, _ = ranking_batch(client)
    flow.update_config(instruction="Which caption is more accurate?", starting_elo=1000, min_responses=10,
                       max_responses=10, drain_duration=5, serve_timeout=30)
    raw = client.flow._openapi_service.flow.flow_api.flow_flow_id_get(flow_id=flow.id).actual_instance
    assert (raw.criteria, raw.starting_elo, raw.min_responses, raw.max_responses) == (
        "Which caption is more accurate?", 1000, 10, 10)
    assert (raw.drain_duration_seconds, raw.serve_timeout_seconds) == (5, 30)
    result = flow.create_new_flow_batch(datapoints=MODELS, data_type="text").get_results()
    assert result.total_votes == 10
    assert sum(result.datapoints.values()) == pytest.approx(3 * 1000, abs=3)  # centred on the starting Elo
    with pytest.raises(RapidataError) as err:
        flow.update_config(min_responses=50, max_responses=5)
    assert err.value.status_code == 400


def test_find_get_items_and_delete(client, sim):
    flow, first = ranking_batch(client)
    sim.advance(seconds=1)  # lists sort by creation time (frozen clock: equal times keep insertion order)
    second = flow.create_new_flow_batch(datapoints=MODELS[:2], data_type="text")
    sim.advance(seconds=1)
    classify = client.flow.create_classify_flow(name="other kind", instruction="Cat?", categories=["yes", "no"])
    client.flow.preheat()

    found = client.flow.find_flows(name="pref")
    assert [f.id for f in found] == [flow.id]
    assert {type(f) for f in client.flow.find_flows()} == {RapidataRankingFlow, RapidataClassifyFlow}
    assert [f.id for f in client.flow.find_flows(amount=1)] == [classify.id]  # newest first
    got = client.flow.get_flow_by_id(flow.id)
    assert isinstance(got, RapidataRankingFlow) and got.name == "pref"
    assert isinstance(client.flow.get_flow_by_id(classify.id), RapidataClassifyFlow)
    assert [i.id for i in flow.get_flow_items()] == [second.id, first.id]
    assert [i.id for i in flow.get_flow_items(amount=1, page=2)] == [first.id]
    raw = client.flow._openapi_service.flow.flow_api.flow_flow_id_get(flow_id=flow.id).actual_instance
    assert raw.flow_item_count == 2

    flow.delete()
    with pytest.raises(RapidataError) as err:
        client.flow.get_flow_by_id(flow.id)
    assert err.value.status_code == 404
    with pytest.raises(RapidataError):
        first.get_status()
    assert [f.id for f in client.flow.find_flows()] == [classify.id]


def test_another_organization_sees_nothing(client, other_client, colleague_client, sim):
    flow, item = ranking_batch(client)
    item.get_results()
    for call in (lambda: other_client.flow.get_flow_by_id(flow.id),
                 lambda: RapidataFlowItem(item.id, flow.id, other_client._openapi_service).get_status(),
                 lambda: RapidataFlowItem(item.id, flow.id, other_client._openapi_service).get_results(),
                 lambda: RapidataRankingFlow(flow.id, "x", other_client._openapi_service).get_flow_items(),
                 lambda: RapidataRankingFlow(flow.id, "x", other_client._openapi_service).delete()):
        with pytest.raises(RapidataError) as err:
            call()
        assert err.value.status_code == 404
    assert other_client.flow.find_flows() == []
    # the same organization reads it
    assert colleague_client.flow.get_flow_by_id(flow.id).id == flow.id
    assert client.flow.get_flow_by_id(flow.id).id == flow.id


# -- classify flows -----------------------------------------------------------------------

def test_classify_flow_results_follow_the_crowds_truth(client, sim):
    sim.crowd.behave("global", classify=Classify(truth={"cat*": "yes", "dog*": "no"}, accuracy=0.9))
    flow = client.flow.create_classify_flow(name="cats", instruction="Is it a cat?",
                                            categories=[("Yes, a cat", "yes"), ("No", "no"), ("Unsure", "unsure")],
                                            max_responses_per_datapoint=15, min_responses_per_datapoint=10)
    assert isinstance(flow, RapidataClassifyFlow)
    texts = ["cat on a mat", "dog in a fog", "cat in a hat"]
    item = flow.create_new_flow_batch(datapoints=texts, contexts=["a", "b", "c"], data_type="text")
    result = item.get_results()
    assert item.get_status() == "Completed"
    assert [result.datapoints[t].majority_value for t in texts] == ["yes", "no", "yes"]
    for t in texts:
        dp = result.datapoints[t]
        # The service omits categories nobody chose. (3.27.1 means to fill in the zeros, but its
        # isinstance check looks at the IFlow wrapper, not the SimpleFlow inside, so it never does.)
        assert list(dp.distribution) == [v for v in ["yes", "no", "unsure"] if v in dp.distribution]
        assert all(count > 0 for count in dp.distribution.values())
        assert dp.response_count == sum(dp.distribution.values()) == 15
    assert result.total_responses == item.get_response_count() == 45
    with pytest.raises(ValueError):
        item.get_win_loss_matrix()  # the SDK's own rule: ranking items only

    flow.update_config(drain_duration=20)
    raw = client.flow._openapi_service.flow.flow_api.flow_flow_id_get(flow_id=flow.id).actual_instance
    assert raw.drain_duration_seconds == 20 and [c.value for c in raw.blueprint.categories] == ["yes", "no", "unsure"]
    assert [i.id for i in flow.get_flow_items()] == [item.id]
    flow.delete()
    assert client.flow.find_flows() == []


def test_bad_input_is_a_400_naming_the_field(client, sim):
    flow = client.flow.create_ranking_flow(name="bad", instruction="Better?")
    api = client.flow._openapi_service.flow
    from rapidata.api_client.models.create_flow_item_endpoint_input import CreateFlowItemEndpointInput

    with pytest.raises(RapidataError) as err:
        api.ranking_flow_item_api.flow_ranking_flow_id_item_post(
            flow_id=flow.id, create_flow_item_endpoint_input=CreateFlowItemEndpointInput(datasetId="ds_missing"))
    assert err.value.status_code == 400 and "datasetId" in str(err.value.details)
    with pytest.raises(RapidataError) as err:
        flow.create_new_flow_batch(datapoints=MODELS[:1], data_type="text")  # nothing to compare
    assert err.value.status_code == 400
    with pytest.raises(RapidataError) as err:
        client.flow.create_ranking_flow(name="bad", instruction="Better?", max_response_threshold=5,
                                        min_response_threshold=10)
    assert err.value.status_code == 400


def test_a_running_item_survives_a_restart_and_completes_on_time(tmp_path):
    """The scheduler's queue is rebuilt from the store: a reopened world still settles the item."""
    from rapidata_sim import Simulator

    db = tmp_path / "world.db"
    sim = Simulator.open(db, speed=0)
    me = sim.principal()
    with sim.store.transaction():
        flow = sim.flows.create_ranking(me, name="f", criteria="?", min_responses=40, max_responses=40)
        ds = sim.datasets.create(me, "ds")
        for i, text in enumerate(MODELS):
            sim.datasets.add_datapoint(me, ds["id"], [{"key": "asset", "kind": "Asset",
                                                       "asset": {"_t": "TextAssetInput", "text": text}}], sort_index=i)
        item = sim.flows.create_item(me, flow["id"], "Ranking", dataset_id=ds["id"], time_to_live=300)
    due = item["completes_at"]
    sim.close()

    again = Simulator.open(db, speed=0)
    assert again.store.get("flow_items", item["id"])["state"] == "Running"
    assert again.next_event_at() == parse_iso(due)
    again.run_until_idle()
    row = again.store.get("flow_items", item["id"])
    assert (row["state"], row["completed_at"]) == ("Completed", due)
    assert again.flows.ranking_results(me, item["id"])["total_votes"] == 40
    again.close()


def test_media_batches_are_keyed_by_source_url_and_take_context_assets(client, sim):
    sim.crowd.behave("global", compare=Prefer(quality={"*model-a*": 2.0}, strength=2.0, noise=0.0, unsure=0.0))
    flow = client.flow.create_ranking_flow(name="media", instruction="Sharper?", max_response_threshold=30)
    urls = ["https://example.com/model-a.png", "https://example.com/model-b.png"]
    item = flow.create_new_flow_batch(datapoints=urls, context="a fox",
                                      context_assets=["https://example.com/reference.png"])
    elo = item.get_results().datapoints
    assert set(elo) == set(urls) and elo[urls[0]] > elo[urls[1]]
    listed = client.flow._openapi_service.flow.ranking_flow_item_api.flow_ranking_flow_id_item_get(
        flow_id=flow.id).items[0]
    assert listed.context == "a fox"
    assert listed.context_asset.actual_instance.metadata["sourceUrl"].actual_instance.url \
        == "https://example.com/reference.png"


def test_stopping_an_item_keeps_the_votes_so_far(client, sim):
    sim.audiences.configure("global", population=Population(responses_per_hour=3600))  # one a second
    flow = client.flow.create_ranking_flow(name="stop", instruction="Better?", max_response_threshold=500)
    item = flow.create_new_flow_batch(datapoints=MODELS, data_type="text", time_to_live=3600)
    sim.advance(seconds=90)
    from rapidata.api_client.api.flow_item_api import FlowItemApi

    FlowItemApi(client._openapi_service.api_client).flow_item_flow_item_id_stop_post(flow_item_id=item.id)
    assert item.get_status() == "Stopped"
    votes = item.get_results().total_votes
    assert 40 <= votes <= 140  # about 90 at one a second (the crowd's arrivals are Gamma-stretched)
    assert item.get_response_count() == votes
    sim.advance(hours=2)
    assert item.get_status() == "Stopped" and item.get_results().total_votes == votes


def test_the_event_log_is_the_same_for_the_same_calls(client, sim):
    prefer_a_then_b(sim)
    _, item = ranking_batch(client)
    item.get_results()
    log = [line for line in sim.event_log().splitlines() if "flow" in line]

    from rapidata_sim import Clock, Simulator

    with Simulator(seed=1234, clock=Clock.frozen()) as again:
        again.crowd.behave("global", compare=Prefer(quality={"model-a*": 2.0, "model-b*": 1.0, "model-c*": 0.0},
                                                    strength=1.5, noise=0.0, unsure=0.0))
        _, other = ranking_batch(again.client())
        other.get_results()
        assert [line for line in again.event_log().splitlines() if "flow" in line] == log
    assert any("flow_item.completed" in line for line in log)

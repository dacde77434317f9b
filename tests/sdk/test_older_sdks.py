"""What older SDKs send, understood: SDK 3.20-3.25 describe a SimpleWorkflow's task as a
``blueprint`` (as the service's published spec does), 3.26+ as a ``rapid``. The installed SDK
sends the new form, so these tests post the old one themselves and read the job back through
the SDK. ``bench/sdk_compat.py`` runs the SDK-facing tests against those versions themselves."""

from __future__ import annotations

import pytest

from rapidata_sim import Clock, Simulator
from rapidata_sim.domain.definitions import simple_rapid


@pytest.fixture
def world():
    sim = Simulator(seed=3, clock=Clock.frozen())
    yield sim
    sim.close()


def _text_dataset(sim, who, texts):
    dataset = sim.datasets.create(who, "old-sdk-dataset")
    for i, text in enumerate(texts):
        sim.datasets.add_datapoint(who, dataset["id"], [{"key": "asset", "kind": "Asset",
                                                         "asset": {"_t": "TextAssetInput", "text": text}}],
                                   sort_index=i)
    return dataset["id"]


def test_a_blueprint_reads_as_the_rapid_it_describes():
    workflow = {"_t": "SimpleWorkflow", "blueprint": {"_t": "CompareBlueprint", "criteria": "Which is better?",
                                                      "indexIdentifiers": None}}
    assert simple_rapid(workflow) == {"_t": "Compare", "asset": {"segment": "asset"},
                                      "criteria": {"literal": "Which is better?"}, "indexIdentifiers": None}
    rapid = {"_t": "FreeText", "question": {"literal": "Why?"}}
    assert simple_rapid({"_t": "SimpleWorkflow", "rapid": rapid}) is rapid
    assert simple_rapid({"_t": "SimpleWorkflow"}) == {}
    assert simple_rapid({"_t": "SimpleWorkflow", "blueprint": "Compare"}) == {}


def test_a_classification_blueprint_lists_its_answers(world, monkeypatch):
    from rapidata_sim.testing import offline_sdk as sdk

    sdk.skip_version_check(monkeypatch.setattr)
    who = world.principal()
    categories = [{"label": "Cat", "value": "Cat"}, {"label": "Dog", "value": "Dog"}]
    with world.store.transaction():
        dataset_id = _text_dataset(world, who, ["a whisker", "a bark"])
        workflow = {"_t": "SimpleWorkflow", "blueprint": {"_t": "ClassifyBlueprint", "title": "What is it?",
                                                          "categories": categories}}
        definition, revision = world.definitions.create(who, name="old-classify", workflow=workflow,
                                                        referee={"_t": "NaiveReferee", "totalVotes": 5},
                                                        dataset_id=dataset_id)
    assert definition["definition_type"] == "Classify"
    assert revision["workflow"] == workflow  # served back as the client sent it

    client = world.client()
    job = client.audience.get_audience_by_id("global").assign_job(
        client.job.get_job_definition_by_id(definition["id"]))
    results = job.get_results()
    assert results["info"]["type"] == "Classification"
    for item in results["results"]:
        assert set(item["aggregatedResults"]) == {"Cat", "Dog"}
        assert sum(item["aggregatedResults"].values()) == 5


def test_a_simple_workflow_needs_a_rapid_or_a_blueprint(world):
    from rapidata_sim.core.errors import ValidationFailed

    who = world.principal()
    with world.store.transaction():
        dataset_id = _text_dataset(world, who, ["x"])
    with pytest.raises(ValidationFailed):
        world.definitions.create(who, name="neither", workflow={"_t": "SimpleWorkflow"},
                                 referee={"_t": "NaiveReferee", "totalVotes": 1}, dataset_id=dataset_id)

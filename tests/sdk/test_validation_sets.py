"""``client.validation`` of SDK 3.27.1: the seven ``create_*_set`` methods, lookup, listing, every
network-calling method of ``RapidataValidationSet``, and a validation set used by a job definition
that then runs. The crowd's accuracy on a set is what its ``Classify``/``Prefer`` models say."""

from __future__ import annotations

import inspect

import pytest

URLS = ["https://assets.rapidata.ai/cat.jpg", "https://assets.rapidata.ai/dog.jpg"]
VIDEO = "https://assets.rapidata.ai/clip.mp4"


def _rapids(sim, vs_id):
    return sim.store.select("validation_rapids", "validation_set_id = ?", [vs_id], order_by="rowid")


def test_create_classification_set_text(client, sim):
    vs = client.validation.create_classification_set(
        name="cats", instruction="Which animal?", answer_options=["Cat", "Dog"],
        datapoints=["a purring animal", "a barking animal"], truths=[["Cat"], ["Dog"]], data_type="text",
        contexts=["ctx 1", "ctx 2"], explanations=["it purrs", None])
    assert vs.id.startswith("vs_") and vs.name == "cats"
    rows = _rapids(sim, vs.id)
    assert [r["type"] for r in rows] == ["Classify", "Classify"]
    assert rows[0]["truth"] == {"_t": "AttachCategoryTruth", "correctCategories": ["Cat"]}
    assert rows[0]["asset"] == {"_t": "TextAssetInput", "text": "a purring animal"}
    assert rows[0]["context"] == "ctx 1" and rows[0]["explanation"] == "it purrs"
    assert rows[0]["random_correct_probability"] == 0.5
    # The SDK's own reader of a set's rapids (GET /validation-set/{id}/rapids) sees both, with truths.
    assert client.validation._get_total_and_labeled_rapids_count(vs.id) == (2, 2)


def test_create_compare_set_media(client, sim):
    vs = client.validation.create_compare_set(
        name="pairs", instruction="Which is sharper?", datapoints=[URLS], truths=[URLS[0]],
        media_contexts=[[URLS[1]]])
    (row,) = _rapids(sim, vs.id)
    assert row["type"] == "Compare" and row["payload"]["_t"] == "ComparePayload"
    names = [a["name"] for a in row["asset"]["assets"]]
    # The SDK maps the truth to the uploaded file name of the winning asset.
    assert row["truth"] == {"_t": "CompareTruth", "winnerId": names[0]}
    assert row["context_asset"] is not None


def test_create_select_words_locate_draw_timestamp_sets(client, sim):
    from rapidata import Box

    words = client.validation.create_select_words_set(
        name="words", instruction="Select the animals", truths=[[1]], datapoints=[URLS[0]],
        sentences=["the cat sleeps"])
    locate = client.validation.create_locate_set(
        name="locate", instruction="Where is the cat?", truths=[[Box(x_min=0, y_min=0, x_max=0.5, y_max=0.5)]],
        datapoints=[URLS[0]])
    draw = client.validation.create_draw_set(
        name="draw", instruction="Draw the cat", truths=[[Box(x_min=0.1, y_min=0.1, x_max=0.6, y_max=0.6)]],
        datapoints=[URLS[1]])
    timestamp = client.validation.create_timestamp_set(
        name="stamp", instruction="When does it bark?", truths=[[(0, 1000)]], datapoints=[VIDEO])
    kinds = {vs.name: [r["type"] for r in _rapids(sim, vs.id)] for vs in (words, locate, draw, timestamp)}
    assert kinds == {"words": ["Transcription"], "locate": ["Locate"], "draw": ["Line"], "stamp": ["Scrub"]}
    listed = {v.id: v for v in client.validation.find_validation_sets(name="stamp")}
    assert list(listed) == [timestamp.id]


def test_create_mixed_set_with_dimensions(client, sim):
    rapids = [
        client.validation.rapid.classification_rapid(instruction="Which?", answer_options=["Cat", "Dog"],
                                                     datapoint="meow", truths=["Cat"], data_type="text"),
        client.validation.rapid.compare_rapid(instruction="Better?", truth="good", datapoint=["good", "bad"],
                                              data_type="text"),
    ]
    vs = client.validation.create_mixed_set(name="mixed", rapids=rapids, dimensions=["quality"])
    assert vs.dimensions == ["quality"]
    assert sim.store.get("validation_sets", vs.id)["dimensions"] == ["quality"]
    assert [r["type"] for r in _rapids(sim, vs.id)] == ["Classify", "Compare"]


def test_get_find_and_update_a_set(client, sim):
    vs = client.validation.create_classification_set(
        name="Animals v1", instruction="Which?", answer_options=["Cat", "Dog"], datapoints=["meow"],
        truths=[["Cat"]], data_type="text")
    other = client.validation.create_compare_set(name="Pairs", instruction="Better?", datapoints=[["a", "b"]],
                                                 truths=["a"], data_type="text")
    got = client.validation.get_validation_set_by_id(vs.id)
    assert (got.id, got.name, got.dimensions) == (vs.id, "Animals v1", [])
    assert [v.id for v in client.validation.find_validation_sets()] == [other.id, vs.id]  # newest first
    assert [v.id for v in client.validation.find_validation_sets(name="animals")] == [vs.id]
    assert [v.id for v in client.validation.find_validation_sets(amount=1, page=2)] == [vs.id]

    assert got.update_dimensions(["a", "b"]) is got and got.dimensions == ["a", "b"]
    got.update_should_alert(False)
    got.update_can_be_flagged(False)
    row = sim.store.get("validation_sets", vs.id)
    assert (row["dimensions"], row["should_alert"], row["is_flag_overruled"]) == (["a", "b"], False, True)
    assert client.validation.get_validation_set_by_id(vs.id).dimensions == ["a", "b"]

    got.add_rapid(client.validation.rapid.classification_rapid(
        instruction="Which?", answer_options=["Cat", "Dog"], datapoint="woof", truths=["Dog"], data_type="text"))
    assert len(_rapids(sim, vs.id)) == 2


def test_delete_and_visibility(client, other_client, colleague_client, sim):
    from rapidata.rapidata_client.exceptions import RapidataError

    vs = client.validation.create_classification_set(
        name="private", instruction="Which?", answer_options=["Cat", "Dog"], datapoints=["meow"],
        truths=[["Cat"]], data_type="text")
    # Same organization: visible; another organization: it does not exist.
    assert colleague_client.validation.get_validation_set_by_id(vs.id).name == "private"
    with pytest.raises(RapidataError) as err:
        other_client.validation.get_validation_set_by_id(vs.id)
    assert err.value.status_code == 404
    assert other_client.validation.find_validation_sets() == []
    theirs = other_client.validation.get_validation_set_by_id  # noqa: F841 (kept for symmetry)
    foreign = other_client.validation.create_compare_set(name="theirs", instruction="?", datapoints=[["a", "b"]],
                                                         truths=["a"], data_type="text")
    with pytest.raises(RapidataError) as err:
        client.validation.get_validation_set_by_id(foreign.id).delete()
    assert err.value.status_code == 404
    assert not sim.store.get("validation_sets", foreign.id)["deleted"]

    vs.delete()
    assert sim.store.get("validation_sets", vs.id)["deleted"]
    with pytest.raises(RapidataError) as err:
        client.validation.get_validation_set_by_id(vs.id)
    assert err.value.status_code == 404
    assert client.validation.find_validation_sets() == []


def test_bad_rapid_is_400_and_writes_nothing(client, sim):
    from support import https_client

    vs = client.validation.create_compare_set(name="x", instruction="?", datapoints=[["a", "b"]], truths=["a"],
                                              data_type="text")
    http = https_client(sim.serve())
    r = http.post(f"/validation-set/{vs.id}/rapid", json={"asset": {"_t": "Nope"}, "payload": {"_t": "ComparePayload"},
                                                         "randomCorrectProbability": 2})
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"asset", "randomCorrectProbability"}
    assert len(_rapids(sim, vs.id)) == 1


def test_a_job_definition_with_a_validation_set_runs(client, other_client, sim):
    from rapidata.rapidata_client.exceptions import RapidataError

    vs = client.validation.create_classification_set(
        name="gold", instruction="Which?", answer_options=["Cat", "Dog"], datapoints=["meow"], truths=[["Cat"]],
        data_type="text")
    definition = client.job.create_classification_job_definition(
        name="with gold", instruction="Which?", answer_options=["Cat", "Dog"], datapoints=["purr", "bark"],
        data_type="text", responses_per_datapoint=3)
    definition.validation_set_id = vs.id
    definition.save()
    assert definition.revision == 2
    assert client.job.get_job_definition_by_id(definition.id).validation_set_id == vs.id
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    results = job.get_results()
    assert job.get_status() == "Completed"
    assert sum(sum(r["aggregatedResults"].values()) for r in results["results"]) == 6

    # An unknown id, or another organization's set, is refused like an unknown dataset: 400 on the field.
    foreign = other_client.validation.create_compare_set(name="theirs", instruction="?", datapoints=[["a", "b"]],
                                                         truths=["a"], data_type="text")
    for bad in ("vs_missing", foreign.id):
        definition.validation_set_id = bad
        with pytest.raises(RapidataError) as err:
            definition.save()
        assert err.value.status_code == 400
        assert "validationSetId" in str(err.value.details or err.value)
        definition.discard_changes()
    assert sim.store.get("job_definitions", definition.id)["latest_revision"] == 2


def test_crowd_accuracy_on_a_set_is_its_models(client, sim):
    from rapidata_sim.crowd import Classify, Prefer

    vs = client.validation.create_mixed_set(name="both", rapids=[
        client.validation.rapid.classification_rapid(instruction="Which?", answer_options=["Cat", "Dog", "Cow"],
                                                     datapoint="meow", truths=["Cat"], data_type="text"),
        client.validation.rapid.compare_rapid(instruction="Better?", truth="good", datapoint=["good", "bad"],
                                              data_type="text"),
    ])
    classify, compare = _rapids(sim, vs.id)
    sim.crowd.behave("global", classify=Classify(truth={"meow": "Cat"}, accuracy=0.9),
                     compare=Prefer(quality={"good": 2.0, "bad": 0.0}, strength=1.0, noise=0.1))
    acc = sim.validation_sets.expected_accuracy(vs.id, "global")
    assert acc[classify["id"]] == pytest.approx(0.9)
    import math
    assert acc[compare["id"]] == pytest.approx(0.9 / (1 + math.exp(-2.0)) + 0.05)
    # A crowd that thinks the other label is true fails the task.
    sim.crowd.behave("global", classify=Classify(truth={"meow": "Dog"}, accuracy=0.9))
    assert sim.validation_sets.expected_accuracy(vs.id, "global")[classify["id"]] == pytest.approx(0.05)


def test_every_network_calling_method_is_covered():
    """Introspection: the public methods of the two classes are the ones this file calls
    (a new SDK method fails here until it has a test). ``view`` opens a browser, no network."""
    from rapidata.rapidata_client.validation.rapidata_validation_set import RapidataValidationSet
    from rapidata.rapidata_client.validation.validation_set_manager import ValidationSetManager

    def public(cls):
        return {n for n, f in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}

    covered_manager = {"create_classification_set", "create_compare_set", "create_select_words_set",
                       "create_locate_set", "create_draw_set", "create_timestamp_set", "create_mixed_set",
                       "get_validation_set_by_id", "find_validation_sets"}
    covered_set = {"add_rapid", "update_dimensions", "update_should_alert", "update_can_be_flagged", "delete",
                   "view"}
    assert public(ValidationSetManager) == covered_manager
    assert public(RapidataValidationSet) == covered_set
    source = inspect.getsource(inspect.getmodule(test_every_network_calling_method_is_covered))
    for name in covered_manager | covered_set - {"view"}:
        assert f".{name}(" in source, name

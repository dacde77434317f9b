"""Every ``create_*_job_definition`` of SDK 3.27.1, with URL, local-file and text datapoints,
assigned to an audience, with results read back through ``RapidataResults``."""

from __future__ import annotations

import pytest

URLS = ["https://assets.rapidata.ai/cat.jpg", "https://assets.rapidata.ai/dog.jpg"]
TEXTS = ["I love it", "I hate it"]


@pytest.fixture
def files(tmp_path):
    paths = []
    for name in ("red.png", "blue.png"):
        path = tmp_path / name
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
        paths.append(str(path))
    return paths


def _source(kind, files):
    return {"url": URLS, "file": files, "text": TEXTS}[kind]


def _names(kind, items):
    return [i.rsplit("/", 1)[-1] for i in items] if kind != "text" else items


def _run(client, definition):
    audience = client.audience.get_audience_by_id("global")
    job = audience.assign_job(definition)
    return job, job.get_results()


@pytest.mark.parametrize("source", ["url", "file", "text"])
def test_compare(client, sim, files, source):
    a, b = _source(source, files)
    definition = client.job.create_compare_job_definition(
        name=f"compare-{source}", instruction="Which is better?", datapoints=[[a, b]],
        data_type="text" if source == "text" else "media", contexts=["ctx"], responses_per_datapoint=7)
    job, results = _run(client, definition)
    assert results["info"]["type"] == "Compare"
    item = results["results"][0]
    assert list(item["aggregatedResults"]) == _names(source, [a, b])
    assert sum(item["aggregatedResults"].values()) == 7
    assert len(item["detailedResults"]) == 7
    df = results.to_pandas()
    assert {"context", "winner", "assetA", "assetB", "A_aggregatedResults", "B_aggregatedResults",
            "A_summedUserScores", "B_summedUserScoresRatios"} <= set(df.columns)
    assert df["A_aggregatedResults"][0] + df["B_aggregatedResults"][0] == 7
    assert sim.store.get("job_definitions", definition.id)["definition_type"] == "Compare"


@pytest.mark.parametrize("source", ["url", "file", "text"])
def test_classification(client, files, source):
    items = _source(source, files)
    definition = client.job.create_classification_job_definition(
        name=f"classify-{source}", instruction="What is it?", answer_options=["Cat", "Dog"], datapoints=items,
        data_type="text" if source == "text" else "media", responses_per_datapoint=5,
        private_metadata=[{"k": "1"}, {"k": "2"}])
    job, results = _run(client, definition)
    assert results["info"]["type"] == "Classification"
    assert [r["identifier"] for r in results["results"]] == _names(source, items)
    assert results["summary"]["Cat"] + results["summary"]["Dog"] == 10
    df = results.to_pandas()
    assert {"identifier", "option", "count", "ratio", "summedUserScore", "summedUserScoreRatio"} <= set(df.columns)
    assert sorted(df["option"].unique()) == ["Cat", "Dog"]
    assert df["count"].sum() == 10


def test_classification_confidence_and_quorum(client, sim):
    early = client.job.create_classification_job_definition(
        name="early", instruction="?", answer_options=["A", "B"], datapoints=TEXTS, data_type="text",
        confidence_threshold=0.9)
    quorum = client.job.create_classification_job_definition(
        name="quorum", instruction="?", answer_options=["A", "B"], datapoints=TEXTS, data_type="text",
        quorum_threshold=3, responses_per_datapoint=5)
    assert sim.definitions.revision(None or sim.principal(), early.id)["referee"]["_t"] == "EarlyStoppingReferee"
    assert sim.definitions.revision(sim.principal(), quorum.id)["referee"]["_t"] == "QuorumReferee"
    _, results = _run(client, early)
    assert "confidencePerCategory" in results["results"][0]
    _, results = _run(client, quorum)
    assert "confidencePerCategory" not in results["results"][0]


@pytest.mark.parametrize("source", ["url", "file", "text"])
def test_free_text(client, files, source):
    definition = client.job.create_free_text_job_definition(
        name=f"free-{source}", instruction="Describe it", datapoints=_source(source, files),
        data_type="text" if source == "text" else "media", responses_per_datapoint=3)
    _, results = _run(client, definition)
    assert results["info"]["type"] == "FreeText"
    assert [len(r["detailedResults"]) for r in results["results"]] == [3, 3]
    assert all(isinstance(d["text"], str) for r in results["results"] for d in r["detailedResults"])
    assert len(results.to_pandas()) == 2


@pytest.mark.parametrize("source", ["url", "file", "text"])
def test_ranking(client, sim, files, source):
    items = _source(source, files) + (["https://assets.rapidata.ai/bird.jpg"] if source == "url" else ["third"] if source == "text" else [])
    definition = client.job.create_ranking_job_definition(
        name=f"rank-{source}", instruction="Rank them", datapoints=[items], comparison_budget_per_ranking=5,
        data_type="text" if source == "text" else "media", contexts=["which is nicest"])
    assert sim.store.get("job_definitions", definition.id)["definition_type"] == "GroupedRanking"
    _, results = _run(client, definition)
    assert results["info"]["type"] == "Ranking"
    assert len(results["results"]) == 1
    assert len(results["results"][0]["aggregatedResults"]) == len(items)
    assert len(results.to_pandas()) == 1


@pytest.mark.parametrize("method,rapid", [("create_locate_job_definition", "Locate"),
                                          ("create_draw_job_definition", "Line")])
@pytest.mark.parametrize("source", ["url", "file"])
def test_locate_and_draw(client, sim, files, method, rapid, source):
    definition = getattr(client.job, method)(name=f"{rapid}-{source}", instruction="Find the cat",
                                             datapoints=_source(source, files), responses_per_datapoint=2)
    assert sim.store.get("job_definitions", definition.id)["definition_type"] == rapid
    _, results = _run(client, definition)
    assert results["info"]["type"] == rapid
    assert [r["identifier"] for r in results["results"]] == _names(source, _source(source, files))


@pytest.mark.parametrize("source", ["url", "file"])
def test_select_words(client, sim, files, source):
    definition = client.job.create_select_words_job_definition(
        name=f"words-{source}", instruction="Select the wrong words", datapoints=_source(source, files),
        sentences=["a cat on a mat", "a dog on a log"], responses_per_datapoint=2)
    assert sim.store.get("job_definitions", definition.id)["definition_type"] == "Transcription"
    _, results = _run(client, definition)
    assert results["info"]["type"] == "Transcription"
    assert len(results["results"]) == 2


def test_results_are_deterministic_per_seed(client, sim):
    definition = client.job.create_compare_job_definition(
        name="det", instruction="?", datapoints=[TEXTS], data_type="text", responses_per_datapoint=9)
    audience = client.audience.get_audience_by_id("global")
    job = audience.assign_job(definition)
    first = job.get_results()
    again = client.job.get_job_by_id(job.id).get_results()
    assert first == again

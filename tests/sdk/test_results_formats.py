"""The results file of every task type, read through the real SDK (3.27.1).

For compare, classification, ranking, free text, select words, locate and draw:

- ``job.get_results()`` has the documented shape (the SDK's ``rapidata/_skill/reference.md``): ``info``, the
  ``results`` list keyed by the original file names, the aggregates agreeing with the
  per-response ``detailedResults``, the compare winner rules (ties and no votes give
  ``None``), the classification summary and ``confidencePerCategory`` only with a
  ``confidence_threshold``;
- ``to_pandas()`` and ``to_pandas(split_details=True)`` work and give exactly the
  columns listed below, a regression check on our format as the SDK reads it;
- preliminary results of a running job hold fewer votes than the final ones, each
  datapoint's being a prefix of its final votes;
- ``/job/{id}/progress`` reports a fraction strictly between 0 and 100 at a known
  virtual instant mid-way, and 100 at the end.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime

import pytest
from support import https_client

from rapidata_sim.core.clock import parse_iso
from rapidata_sim.crowd import Prefer

pytestmark = pytest.mark.frozen_clock  # same instants every run: the crowd answers the same

ASSETS = "https://assets.rapidata.ai"
CAT, DOG, BIRD, FISH = (f"{ASSETS}/{n}.jpg" for n in ("cat", "dog", "bird", "fish"))

KINDS = ["compare", "classification", "ranking", "free_text", "select_words", "locate", "draw"]

#: info.type and info.version per task type.
INFO = {"compare": ("Compare", "4.1.0"), "classification": ("Classification", "3.0.0"),
        "ranking": ("Ranking", "1.0.0"), "free_text": ("FreeText", "1.0.0"),
        "select_words": ("Transcription", "1.0.0"), "locate": ("Locate", "1.0.0"), "draw": ("Line", "1.0.0")}

#: Responses per datapoint (ranking: comparisons per group) each definition asks for.
VOTES = {"compare": 5, "classification": 6, "ranking": 6, "free_text": 3, "select_words": 3, "locate": 3, "draw": 3}

USER = ["userDetails_country", "userDetails_language", "userDetails_userScores_global",
        "userDetails_demographics_age", "userDetails_demographics_gender", "userDetails_demographics_occupation"]
COMPARE_COLUMNS = ["context", "winner", "winnerIndex", "weightedWinner", "weightedWinnerIndex", "winner_index",
                   "assetA", "assetB", "A_assetUrls", "B_assetUrls", "A_aggregatedResults", "B_aggregatedResults",
                   "A_aggregatedResultsRatios", "B_aggregatedResultsRatios", "A_summedUserScores",
                   "B_summedUserScores", "A_summedUserScoresRatios", "B_summedUserScoresRatios"]
CLASSIFICATION_BASE = ["identifier", "originalFileName", "assetUrl"]
RANK_ASSETS = ["cat.jpg", "dog.jpg", "bird.jpg"]
RANKING_COLUMNS = (["group", "asset_1", "asset_2", "asset_3"]
                   + [f"{a}_{m}" for m in ("assetUrls", "aggregatedResults", "aggregatedResultsRatios", "rank")
                      for a in RANK_ASSETS])
GENERIC = ["identifier", "originalFileName", "assetUrl"]

#: The SDK's dataframe columns per task type: (to_pandas(), to_pandas(split_details=True)).
COLUMNS = {
    "compare": (COMPARE_COLUMNS, COMPARE_COLUMNS + ["votedFor"] + USER),
    "classification": (CLASSIFICATION_BASE + ["option", "count", "ratio", "summedUserScore", "summedUserScoreRatio"],
                       CLASSIFICATION_BASE + ["aggregatedResults", "aggregatedResultsRatios", "summedUserScores",
                                              "summedUserScoresRatios", "selectedCategory"] + USER),
    "ranking": (RANKING_COLUMNS, RANKING_COLUMNS + ["votedFor", "against"] + USER),
    "free_text": (GENERIC + ["detailedResults"], GENERIC + ["text"] + USER),
    "select_words": (GENERIC + ["detailedResults"], GENERIC + ["selectedWords"] + USER),
    "locate": (GENERIC + ["detailedResults"], GENERIC + ["coordinates"] + USER),
    "draw": (GENERIC + ["detailedResults"], GENERIC + ["lines"] + USER),
}
CONFIDENCE_COLUMNS = (
    CLASSIFICATION_BASE + ["option", "count", "ratio", "summedUserScore", "summedUserScoreRatio", "confidence"],
    CLASSIFICATION_BASE + ["aggregatedResults", "aggregatedResultsRatios", "summedUserScores",
                           "summedUserScoresRatios", "confidencePerCategory", "selectedCategory"] + USER)


#: Definition name and instruction per task type (results show both in ``info``).
TITLES = {"compare": ("Which is nicer", "Which image is nicer?"), "classification": ("Animals", "What animal?"),
          "ranking": ("Cuteness", "Which is cuter?"), "free_text": ("Describe", "Describe the animal"),
          "select_words": ("Words", "Select the wrong words"), "locate": ("Eyes", "Click the eyes"),
          "draw": ("Outline", "Draw along the back")}


def _define(client, kind, **extra):
    """A definition of ``kind`` through the SDK, over URL assets (named by their basename)."""
    job = client.job
    name, instruction = TITLES[kind]
    common = dict(name=name, instruction=instruction, **extra)
    if kind == "compare":
        return job.create_compare_job_definition(datapoints=[[CAT, DOG], [BIRD, FISH]], contexts=["pets", "wildlife"],
                                                 responses_per_datapoint=VOTES[kind], **common)
    if kind == "classification":
        return job.create_classification_job_definition(
            answer_options=["Cat", "Dog", "Bird"], datapoints=[CAT, DOG, BIRD], responses_per_datapoint=VOTES[kind],
            **common)
    if kind == "ranking":
        # 3 items: 3 unique pairs, so a budget of 6 compares every pair twice.
        return job.create_ranking_job_definition(datapoints=[[CAT, DOG, BIRD]],
                                                 comparison_budget_per_ranking=VOTES[kind], **common)
    common.update(datapoints=[CAT, DOG], responses_per_datapoint=VOTES[kind])
    if kind == "select_words":
        return job.create_select_words_job_definition(sentences=["a cat on a mat", "a dog on a log"], **common)
    method = {"free_text": job.create_free_text_job_definition, "locate": job.create_locate_job_definition,
              "draw": job.create_draw_job_definition}[kind]
    return method(**common)


def _assign(client, definition):
    return client.audience.get_audience_by_id("global").assign_job(definition)


def _argmax(values: dict) -> tuple[str | None, int | None]:
    """The documented winner rule: the unique maximum, None on a tie or when nothing was voted."""
    if not values:
        return None, None
    best = max(values.values())
    top = [k for k, v in values.items() if v == best]
    if best == 0 or len(top) != 1:
        return None, None
    return top[0], list(values).index(top[0])


def _check_user(user: dict) -> None:
    assert set(user) == {"country", "language", "userScores", "demographics"}
    assert isinstance(user["country"], str) and len(user["country"]) == 2 and user["country"].isupper()
    assert isinstance(user["language"], str) and user["language"]
    assert set(user["userScores"]) == {"global"} and 0 < user["userScores"]["global"] < 1
    assert isinstance(user["demographics"], dict)  # may be {} (never answered the survey)
    assert set(user["demographics"]) <= {"age", "gender", "occupation"}


def _check_ratios(ratios: dict, values: dict) -> None:
    assert list(ratios) == list(values)
    total = sum(values.values())
    assert math.isclose(sum(ratios.values()), 1.0, abs_tol=1e-3)
    for key, value in values.items():
        assert ratios[key] == pytest.approx(value / total, abs=1e-3)


def _check_scores(summed: dict, votes: list[tuple[str, float]]) -> None:
    for key, value in summed.items():
        assert value == pytest.approx(sum(s for k, s in votes if k == key), abs=1e-2)


def _check_asset_url(sim, name: str, url: str) -> None:
    """Results show the original file name; the URL points at the uploaded file, which is another name."""
    assert url.startswith(ASSETS + "/")
    uploaded = url.rsplit("/", 1)[1]
    assert uploaded != name
    assert sim.datasets.asset_original_name(uploaded) == name


def _check_info(results, kind: str, definition) -> None:
    info = results["info"]
    assert set(info) == {"createdAt", "version", "type", "name", "instruction"}
    assert (info["type"], info["version"]) == INFO[kind]
    assert (info["name"], info["instruction"]) == TITLES[kind]
    assert definition.name == info["name"]
    assert isinstance(parse_iso(info["createdAt"]), datetime)
    assert isinstance(results["results"], list) and results["results"]
    for item in results["results"]:
        assert isinstance(item["detailedResults"], list)
        for detail in item["detailedResults"]:
            _check_user(detail["userDetails"])


def _check_shape(sim, kind: str, results, *, final: bool = True) -> None:
    """Everything the documented format promises for ``kind``; ``final``: all votes are in."""
    items = results["results"]
    if kind == "compare":
        assert [list(i["assetUrls"]) for i in items] == [["cat.jpg", "dog.jpg"], ["bird.jpg", "fish.jpg"]]
        assert [i["context"] for i in items] == ["pets", "wildlife"]
        a_wins = b_wins = 0
        for item in items:
            names = list(item["assetUrls"])
            assert list(item) == ["context", "winner", "winnerIndex", "weightedWinner", "weightedWinnerIndex",
                                  "winner_index", "assetUrls", "aggregatedResults", "aggregatedResultsRatios",
                                  "summedUserScores", "summedUserScoresRatios", "detailedResults"]
            for name, url in item["assetUrls"].items():
                _check_asset_url(sim, name, url)
            votes = [(d["votedFor"], d["userDetails"]["userScores"]["global"]) for d in item["detailedResults"]]
            assert all(set(d) == {"votedFor", "userDetails"} for d in item["detailedResults"])
            counts = item["aggregatedResults"]
            assert list(counts) == names  # no Both/Neither without AllowNeitherBothSetting
            assert counts == {n: Counter(k for k, _ in votes)[n] for n in names}
            assert sum(counts.values()) == len(votes) == (VOTES[kind] if final else len(votes))
            assert list(item["summedUserScores"]) == list(item["summedUserScoresRatios"]) == names
            _check_scores(item["summedUserScores"], votes)
            if votes:
                _check_ratios(item["aggregatedResultsRatios"], counts)
                _check_ratios(item["summedUserScoresRatios"], item["summedUserScores"])
            else:
                assert set(item["aggregatedResultsRatios"].values()) == {0.0}
            assert (item["winner"], item["winnerIndex"]) == _argmax(counts)
            assert item["winner_index"] == item["winnerIndex"]
            assert (item["weightedWinner"], item["weightedWinnerIndex"]) == _argmax(item["summedUserScores"])
            a_wins += item["winner"] == names[0]
            b_wins += item["winner"] == names[1]
        assert results["summary"] == {"A_wins_total": a_wins, "B_wins_total": b_wins}
    elif kind == "classification":
        options = ["Cat", "Dog", "Bird"]
        assert [i["identifier"] for i in items] == ["cat.jpg", "dog.jpg", "bird.jpg"]
        summary = dict.fromkeys(options, 0)
        for item in items:
            assert item["originalFileName"] == item["identifier"]
            _check_asset_url(sim, item["identifier"], item["assetUrl"])
            assert "context" not in item and "privateMetadata" not in item
            votes = [(d["selectedCategory"], d["userDetails"]["userScores"]["global"])
                     for d in item["detailedResults"]]
            counts = item["aggregatedResults"]
            assert list(counts) == options
            assert counts == {o: Counter(k for k, _ in votes)[o] for o in options}
            if final and "confidencePerCategory" not in item:
                assert len(votes) == VOTES[kind]
            _check_scores(item["summedUserScores"], votes)
            if votes:
                _check_ratios(item["aggregatedResultsRatios"], counts)
                _check_ratios(item["summedUserScoresRatios"], item["summedUserScores"])
            for option, count in counts.items():
                summary[option] += count
        assert results["summary"] == summary
    elif kind == "ranking":
        assert len(items) == 1
        item = items[0]
        assert item["group"] == "0"
        names = list(item["assetUrls"])
        assert names == RANK_ASSETS
        for name, url in item["assetUrls"].items():
            _check_asset_url(sim, name, url)
        wins = item["aggregatedResults"]
        details = item["detailedResults"]
        assert list(wins) == names and wins == {n: Counter(d["votedFor"] for d in details)[n] for n in names}
        for d in details:
            assert {d["votedFor"], d["against"]} <= set(names) and d["votedFor"] != d["against"]
        if final:
            # Every unique pair is compared budget / pairs = 2 times (FullPermutationPairMaker).
            pairs = Counter(frozenset((d["votedFor"], d["against"])) for d in details)
            assert sorted(pairs.values()) == [2, 2, 2] and len(details) == VOTES[kind]
        if details:
            _check_ratios(item["aggregatedResultsRatios"], wins)
        ranks = item["rank"]
        assert sorted(ranks.values()) == [1, 2, 3]
        by_rank = sorted(names, key=ranks.get)
        assert [wins[n] for n in by_rank] == sorted(wins.values(), reverse=True)
        assert "summary" not in results
    else:
        assert [i["identifier"] for i in items] == ["cat.jpg", "dog.jpg"]
        for item in items:
            assert list(item) == ["identifier", "originalFileName", "assetUrl", "detailedResults"]
            assert item["originalFileName"] == item["identifier"]
            _check_asset_url(sim, item["identifier"], item["assetUrl"])
            if final:
                assert len(item["detailedResults"]) == VOTES[kind]
            for d in item["detailedResults"]:
                answer = {k: v for k, v in d.items() if k != "userDetails"}
                if kind == "free_text":
                    assert set(answer) == {"text"} and isinstance(answer["text"], str) and answer["text"]
                elif kind == "select_words":
                    words = answer["selectedWords"]
                    assert set(answer) == {"selectedWords"} and words and all(isinstance(w, int) for w in words)
                elif kind == "locate":
                    assert set(answer) == {"coordinates"} and answer["coordinates"]
                    for p in answer["coordinates"]:
                        assert set(p) == {"x", "y"} and 0 <= p["x"] <= 1 and 0 <= p["y"] <= 1
                elif kind == "draw":
                    assert set(answer) == {"lines"} and answer["lines"]
                    for line in answer["lines"]:
                        assert len(line) >= 2
                        for p in line:
                            assert set(p) == {"x", "y"} and 0 <= p["x"] <= 1 and 0 <= p["y"] <= 1
        assert "summary" not in results


def _votes_per_item(results) -> list[list]:
    return [item["detailedResults"] for item in results["results"]]


# -- final results: shape and dataframes ----------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_results_shape_and_dataframes(client, sim, kind):
    from rapidata.rapidata_client.results import RapidataResults

    definition = _define(client, kind)
    results = _assign(client, definition).get_results()
    assert isinstance(results, RapidataResults)
    _check_info(results, kind, definition)
    _check_shape(sim, kind, results)

    plain, split = COLUMNS[kind]
    df = results.to_pandas()
    assert list(df.columns) == plain
    detailed = results.to_pandas(split_details=True)
    assert list(detailed.columns) == split
    votes = sum(len(v) for v in _votes_per_item(results))
    assert len(detailed) == votes
    if kind == "classification":
        assert len(df) == 3 * 3  # datapoint x option
        assert df["count"].sum() == votes
        assert df.groupby("identifier")["ratio"].sum().round(3).tolist() == [1.0, 1.0, 1.0]
    else:
        assert len(df) == len(results["results"])
    if kind == "compare":
        assert (df["A_aggregatedResults"] + df["B_aggregatedResults"]).tolist() == [VOTES[kind]] * 2
        assert df["assetA"].tolist() == ["cat.jpg", "bird.jpg"] and df["assetB"].tolist() == ["dog.jpg", "fish.jpg"]
        assert set(detailed["votedFor"]) <= {"cat.jpg", "dog.jpg", "bird.jpg", "fish.jpg"}


def test_classification_confidence_only_with_a_threshold(client, sim):
    plain = _assign(client, _define(client, "classification")).get_results()
    assert all("confidencePerCategory" not in item for item in plain["results"])
    assert "confidence" not in plain.to_pandas().columns

    definition = _define(client, "classification", confidence_threshold=0.9)
    assert sim.definitions.revision(sim.principal(), definition.id)["referee"] == {
        "_t": "EarlyStoppingReferee", "maxVotes": VOTES["classification"], "threshold": 0.9}
    results = _assign(client, definition).get_results()
    _check_info(results, "classification", definition)
    _check_shape(sim, "classification", results)
    for item in results["results"]:
        conf = item["confidencePerCategory"]
        assert list(conf) == ["Cat", "Dog", "Bird"]
        assert all(0 <= v <= 1 for v in conf.values()) and math.isclose(sum(conf.values()), 1, abs_tol=1e-3)
        assert 1 <= sum(item["aggregatedResults"].values()) <= VOTES["classification"]
        # The referee stopped early only once the leading category was confident enough.
        if sum(item["aggregatedResults"].values()) < VOTES["classification"]:
            assert max(conf.values()) >= 0.9 - 1e-3
    assert list(list(item) for item in results["results"])[0] == [
        "identifier", "originalFileName", "assetUrl", "aggregatedResults", "aggregatedResultsRatios",
        "summedUserScores", "summedUserScoresRatios", "confidencePerCategory", "detailedResults"]
    plain_cols, split_cols = CONFIDENCE_COLUMNS
    df = results.to_pandas()
    assert list(df.columns) == plain_cols
    assert df["confidence"].notna().all()
    assert list(results.to_pandas(split_details=True).columns) == split_cols


def test_compare_ties_and_unsure_answers(client, sim):
    """A tie in votes gives winner None (whatever the scores say); Both/Neither trail the assets."""
    from rapidata import AllowNeitherBothSetting

    # The votes depend on the job's creation instant (wall clock): enough pairs that a run with
    # no tie, or only ties, is out of the question (2 x 2**-24).
    texts = [f"caption {i}" for i in range(48)]
    pairs = [texts[i:i + 2] for i in range(0, 48, 2)]
    sim.crowd.behave("global", compare=Prefer(strength=0.0, noise=0.0, unsure=0.0))  # every vote a coin flip
    coin = client.job.create_compare_job_definition(
        name="coin", instruction="Which caption?", datapoints=pairs, data_type="text", responses_per_datapoint=2)
    results = _assign(client, coin).get_results()
    items = results["results"]
    ties = [i for i in items if len(set(i["aggregatedResults"].values())) == 1]
    assert ties and len(ties) < len(items)  # some 1-1 splits, some 2-0
    for item in items:
        assert list(item["aggregatedResults"]) == list(item["assetUrls"])
        assert (item["winner"], item["winnerIndex"]) == _argmax(item["aggregatedResults"])
        assert (item["weightedWinner"], item["weightedWinnerIndex"]) == _argmax(item["summedUserScores"])
    for item in ties:
        assert item["winner"] is None and item["winnerIndex"] is None and item["winner_index"] is None
    # Two labelers with different scores: the weighted winner is whoever had the higher one.
    assert any(item["weightedWinner"] is not None for item in ties)
    assert sum(results["summary"].values()) == len(items) - len(ties)

    sim.crowd.behave("global", compare=Prefer(strength=0.0, noise=0.0, unsure=0.8))  # Both, Neither: 0.4 each
    unsure = client.job.create_compare_job_definition(
        name="unsure", instruction="Which caption?", datapoints=pairs[:4], data_type="text",
        responses_per_datapoint=8, settings=[AllowNeitherBothSetting()])
    results = _assign(client, unsure).get_results()
    seen = set()
    for item in results["results"]:
        names = list(item["assetUrls"])
        keys = list(item["aggregatedResults"])
        assert keys[:2] == names and keys[2:] in ([], ["Both"], ["Neither"], ["Both", "Neither"])
        seen.update(keys[2:])
        assert sum(item["aggregatedResults"].values()) == 8
        assert (item["winner"], item["winnerIndex"]) == _argmax(item["aggregatedResults"])
        _check_ratios(item["aggregatedResultsRatios"], item["aggregatedResults"])
    assert seen == {"Both", "Neither"}
    columns = list(results.to_pandas().columns)
    assert {"Both_aggregatedResults", "Neither_aggregatedResults", "Both_summedUserScoresRatios",
            "Neither_summedUserScoresRatios"} <= set(columns)
    assert "context" not in columns  # no contexts given: no context field


# -- preliminary results ------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_preliminary_results_are_a_prefix_of_the_final_ones(client, sim, kind):
    # A job takes hours of virtual time, so the wall clock's few seconds (the world's clock
    # follows it) do not move the instants below measurably.
    sim.audiences.configure("global", population={"responses_per_hour": 2})
    definition = _define(client, kind)
    job = _assign(client, definition)
    row = sim.jobs.get(job.id)
    start, end = parse_iso(row["created_at"]), parse_iso(row["completes_at"])
    assert (end - start).total_seconds() > 60

    with sim.auto_advance_off():
        if kind == "compare":
            # Nothing in yet: no winner, no ratios.
            empty = job.get_results(preliminary_results=True)
            _check_shape(sim, kind, empty, final=False)
            assert all(not item["detailedResults"] for item in empty["results"])
            for item in empty["results"]:
                assert item["winner"] is None and item["weightedWinner"] is None and item["winnerIndex"] is None
                assert set(item["aggregatedResults"].values()) == {0}
                assert set(item["aggregatedResultsRatios"].values()) == {0.0}
            assert empty["summary"] == {"A_wins_total": 0, "B_wins_total": 0}
            assert list(empty.to_pandas().columns) == COLUMNS[kind][0]
        sim.advance_to(start + (end - start) / 2)
        assert job.get_status() == "Running"
        preliminary = job.get_results(preliminary_results=True)
        assert job.get_status() == "Running"
    _check_info(preliminary, kind, definition)
    _check_shape(sim, kind, preliminary, final=False)
    assert list(preliminary.to_pandas().columns) == COLUMNS[kind][0]

    final = job.get_results()
    assert job.get_status() == "Completed"
    _check_shape(sim, kind, final)
    before, after = _votes_per_item(preliminary), _votes_per_item(final)
    assert len(before) == len(after)
    assert 0 < sum(map(len, before)) < sum(map(len, after))
    for some, every in zip(before, after):
        assert len(some) < len(every) or not every
        assert some == every[:len(some)]
    assert len(preliminary.to_pandas(split_details=True)) == sum(map(len, before))


# -- progress -----------------------------------------------------------------------

def test_progress_mid_way_and_at_the_end(client, sim):
    sim.audiences.configure("global", population={"responses_per_hour": 2})  # about 9 virtual hours
    definition = _define(client, "classification")
    job = _assign(client, definition)
    row = sim.jobs.get(job.id)
    start, end = parse_iso(row["created_at"]), parse_iso(row["completes_at"])
    votes = 3 * VOTES["classification"]
    http = https_client(sim.serve())

    with sim.auto_advance_off():
        first = job.get_progress()
        assert first.state == "Running" and 0 <= first.completion_percentage < 1

        sim.advance_to(start + (end - start) / 4)  # the rate is constant: a quarter of the work is done
        quarter = job.get_progress()
        assert quarter.state == "Running"
        assert 0 < quarter.completion_percentage < 100
        assert quarter.completion_percentage == pytest.approx(25, abs=1)

        sim.advance_to(start + (end - start) * 3 / 4)
        raw = http.get(f"/job/{job.id}/progress")
        assert raw.status_code == 200, raw.text
        body = raw.json()
        assert body["state"] == "Labeling" and body["total"] == 3
        assert 0 < body["completionPercentage"] < 100
        assert body["completionPercentage"] == pytest.approx(75, abs=1)
        assert 0 < body["responseCount"] < votes and 0 <= body["completed"] < 3
        assert job.get_progress().completion_percentage == pytest.approx(body["completionPercentage"], abs=0.1)

    final = job.get_results()  # auto-advances to the completion
    assert sum(len(i["detailedResults"]) for i in final["results"]) == votes
    done = job.get_progress()
    assert done.state == "Completed" and done.completion_percentage == 100
    body = http.get(f"/job/{job.id}/progress").json()
    assert body == {"completionPercentage": 100.0, "total": 3, "completed": 3, "state": "Done",
                    "responseCount": votes}
    assert sim.clock.now() >= end

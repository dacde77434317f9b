"""Scenario files with benchmarks (``[benchmarks.NAME]``, the ``evaluate`` and ``create_leaderboard``
actions, the ``standings`` check), in process. The shipped ``leaderboard_preference_flip.toml`` runs
in ``test_scenarios.py`` and, on a server, in ``test_scenarios_remote.py``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rapidata_sim.scenario import Scenario, ScenarioError
from rapidata_sim.scenario.runner import run

FLIP = Path(__file__).resolve().parents[2] / "scenarios" / "leaderboard_preference_flip.toml"


def _flip() -> dict:
    return tomllib.loads(FLIP.read_text())


def test_a_wrong_standings_expectation_fails_and_shows_the_table():
    data = _flip()
    data["expect"] = [{"benchmark": "arena", "leaderboard": "week-2", "standings": ["model-a", "model-b"]},
                      {"benchmark": "arena", "standings": ["model-c"]}]  # overall: every leaderboard
    outcome = run(Scenario.from_dict(data))
    (failure,) = outcome.failures
    assert failure.startswith("arena/week-2: expected standings ['model-a', 'model-b'], observed "
                              "['model-c', 'model-b'] (model-c "), failure
    assert outcome.passed and outcome.passed[0].startswith("arena (overall): standings ['model-c']")
    runs = [line for line in outcome.lines if ": run of " in line]
    assert [line.split()[2] for line in runs] == ["arena/week-2:", "arena/week-1:", "arena/week-2:"]


def test_leaderboard_settings_reach_the_runs():
    data = _flip()
    data["benchmarks"]["arena"]["leaderboards"]["week-1"].update(responses=300, vote_aggregation="AllVotes")
    data["timeline"] = [{"create_leaderboard": "arena", "name": "small", "responses": 80, "min_responses": 5},
                        {"advance": "1h"}]
    data["expect"] = [{"benchmark": "arena", "leaderboard": "week-1", "standings": ["model-a", "model-b"]},
                      {"benchmark": "arena", "leaderboard": "small", "standings": ["model-a", "model-b"]}]
    outcome = run(Scenario.from_dict(data))
    assert outcome.ok, outcome.report()
    # 8 matchups: max(5, 80 // 8) = 10 votes each
    assert any("arena/small: run of 8 matchups, 80 votes" in line for line in outcome.lines), outcome.lines


@pytest.mark.parametrize("change, message", [
    (lambda d: d["benchmarks"]["arena"].update(colour="red"), "benchmark 'arena': unknown keys ['colour']"),
    (lambda d: d["benchmarks"]["arena"].pop("generate"), "benchmark 'arena' needs prompts or generate"),
    (lambda d: d["benchmarks"]["arena"]["leaderboards"]["week-1"].update(budget=3),
     "leaderboard 'week-1': unknown keys ['budget']"),
    (lambda d: d["timeline"].append({"evaluate": "nope", "model": "m"}), "timeline[5] evaluate: needs a declared"),
    (lambda d: d["timeline"].append({"create_leaderboard": "arena"}), "needs a declared benchmark (['arena']) "
                                                                      "and 'name'"),
    (lambda d: d["expect"].append({"standings": ["model-a"]}), "expect[2] standings: needs a declared benchmark"),
], ids=["benchmark-key", "no-prompts", "leaderboard-key", "evaluate-unknown", "leaderboard-no-name",
        "standings-no-benchmark"])
def test_a_malformed_benchmark_section_is_a_scenario_error(change, message):
    data = _flip()
    change(data)
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict(data)
    assert message in str(err.value), str(err.value)


def test_an_unknown_leaderboard_in_a_check_is_a_scenario_error():
    data = _flip()
    data["timeline"] = []
    data["expect"] = [{"benchmark": "arena", "leaderboard": "week-9", "standings": ["model-a"]}]
    with pytest.raises(ScenarioError, match="unknown leaderboard 'week-9' of benchmark 'arena'"):
        run(Scenario.from_dict(data))

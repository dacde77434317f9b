"""The Hypothesis strategies make worlds that scenario files can hold and replay, deterministically."""

from __future__ import annotations

import tomllib

from hypothesis import HealthCheck, given, settings, strategies as st

from rapidata_sim.crowd import Behaviour, Population
from rapidata_sim.scenario import Scenario, run
from rapidata_sim.testing.strategies import behaviours, populations, signal_configs, timelines


def scenario(timeline, signal) -> Scenario:
    return Scenario.from_dict({
        "name": "generated", "world": {"seed": 5, "start": "2026-01-05T00:00:00Z"},
        "definitions": {"pairs": {"type": "compare", "generate": {"count": 2, "a": "model-a {i}", "b": "model-b {i}"},
                                  "responses": 3}},
        "signals": {"daily": signal}, "timeline": timeline,
        "expect": [{"signal": "daily", "fired": -1}],  # never true: the test reads the narration
    })


@settings(max_examples=40, deadline=None)
@given(signal_configs(), timelines(), behaviours(), populations())
def test_generated_configurations_are_valid_and_round_trip_through_toml(signal, timeline, behaviour, population):
    s = scenario(timeline, signal)
    assert Scenario.from_dict(tomllib.loads(s.to_toml())).to_dict() == s.to_dict()
    assert Behaviour.from_dict(behaviour.to_dict()) == behaviour
    assert Population.from_dict(population.to_dict()) == population
    assert signal["interval_hours"] * 3600 >= 60


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines(max_steps=5), st.sampled_from([6.0, 24.0]))
def test_a_generated_timeline_replays_to_the_same_story(timeline, hours):
    s = scenario(timeline, {"audience": "global", "definition": "pairs", "interval_hours": hours})
    first, second = run(s), run(s)
    assert first.lines == second.lines  # same seed, same calls: the same events, ids and results
    assert first.failures == second.failures and first.failures  # the impossible expectation fails

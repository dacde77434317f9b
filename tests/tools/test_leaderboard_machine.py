"""``LeaderboardMachine`` (``testing/strategies.py``): Hypothesis drives a benchmark through the real
SDK (models evaluated, leaderboards made, the crowd changing its mind, time passing), an invariant
holds on every step, and the example it ran last replays from its scenario file to the same standings."""

from __future__ import annotations

import math

from hypothesis import settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from rapidata_sim.scenario import run
from rapidata_sim.testing.strategies import LeaderboardMachine


class StandingsMachine(LeaderboardMachine):
    @invariant()
    def standings_name_only_evaluated_models_with_finite_scores(self):
        for (_, name) in list(self.leaderboards):
            table = self.standings(name)
            assert {model for model, _ in table} <= set(self.models), (name, table)
            assert all(score is None or math.isfinite(score) for _, score in table), (name, table)


def test_the_machine_keeps_its_invariant_and_its_last_example_replays():
    run_state_machine_as_test(StandingsMachine, settings=settings(
        max_examples=4, stateful_step_count=6, derandomize=True, deadline=None, database=None))
    scenario = StandingsMachine.last_scenario
    assert scenario is not None and "arena" in scenario.benchmarks
    (expectation,) = scenario.expect
    assert expectation["benchmark"] == "arena" and expectation["leaderboard"] == "main"
    outcome = run(scenario)  # the same seed and calls in a fresh world: the same standings
    assert outcome.ok, outcome.report()

"""The worked example (``docs/testing.md``): one piece of user signal logic, tested three ways.

``scenarios/daily_report.py`` labels a daily signal's newest jobs with their days and carries a
seeded bug (it assumes every firing produced a job). 1. the pytest fixtures and ``advance``;
2. a scenario file; 3. a Hypothesis state machine that finds the bug by itself and prints a
scenario that ``rapidata-sim run`` replays to the same failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from rapidata_sim.crowd import Population
from rapidata_sim.scenario import Scenario, run
from rapidata_sim.testing.strategies import SignalMachine

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
sys.path.insert(0, str(SCENARIOS))
import daily_report  # noqa: E402  (the user's module)


def make_daily_signal(client):
    definition = client.job.create_compare_job_definition(
        name="pairs", instruction="Which answer is better?", data_type="text", responses_per_datapoint=15,
        datapoints=[[f"model-a answer {i}", f"model-b answer {i}"] for i in range(4)])
    return client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                        interval_hours=24)


# 1. With the fixtures and advance --------------------------------------------------------


def test_report_on_a_quiet_week(rapidata_sim, rapidata_client):
    signal = make_daily_signal(rapidata_client)
    rapidata_sim.advance(days=3, hours=1)
    report = daily_report.daily_report(signal)
    assert len(report) == 3 and all(rate is not None for rate in daily_report.win_rates(report).values())
    assert {d: j.id for d, j in report.items()} == {d: j.id for d, j in daily_report.daily_report_fixed(signal).items()}


def test_report_when_slow_labelers_skip_a_firing(rapidata_sim, rapidata_client):
    rapidata_sim.audiences.configure("global", population=Population(responses_per_hour=2.0))  # ~30 h a job
    signal = make_daily_signal(rapidata_client)
    rapidata_sim.advance(days=3, hours=1)
    assert rapidata_sim.counters(signal.id)["skipped"] == {"PreviousJobNotFinished": 1}
    with pytest.raises(AssertionError, match="files job"):
        daily_report._check(daily_report.daily_report, signal)  # the seeded bug shows
    daily_report._check(daily_report.daily_report_fixed, signal)
    assert len(daily_report.daily_report_fixed(signal)) == 2


# 2. With a scenario file -----------------------------------------------------------------


def test_scenario_file():
    outcome = run(Scenario.load(SCENARIOS / "daily_report_slow_crowd.toml"))
    assert outcome.ok, outcome.report()


# 3. With a Hypothesis state machine --------------------------------------------------------


class DailyReportMachine(SignalMachine):
    checks = ["daily_report:labels_match_jobs"]

    @invariant()
    def report_labels_match_jobs(self):
        if self.signals:
            self.run_checks()


def test_state_machine_finds_the_seeded_bug_and_its_scenario_replays_it(tmp_path):
    with pytest.raises(AssertionError, match="files job"):
        run_state_machine_as_test(DailyReportMachine, settings=settings(
            max_examples=100, stateful_step_count=12, derandomize=True, deadline=None, database=None))
    scenario = DailyReportMachine.last_scenario
    assert scenario is not None and scenario.expect == [{"call": "daily_report:labels_match_jobs"}]
    path = tmp_path / "found.toml"
    path.write_text(scenario.to_toml())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
    out = subprocess.run([sys.executable, "-m", "rapidata_sim.cli", "run", str(path)], cwd=SCENARIOS, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL  call daily_report:labels_match_jobs" in out.stdout and "files job" in out.stdout, out.stdout

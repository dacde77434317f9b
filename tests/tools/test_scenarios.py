"""The shipped scenario files, through ``rapidata-sim run`` as a user runs them.

(a) every file in ``scenarios/`` passes; (b) a wrong expectation or a failing ``call`` hook
exits 1 and says what was expected and what was observed; (c) a malformed file exits 2 with
a message; (d) ``Scenario.to_toml()`` round-trips every shipped file.

Each subprocess pays for importing the SDK (~3 s), so the runs are few: all shipped files in
one, and one per broken file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rapidata_sim.scenario import Scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FILES = sorted(SCENARIOS.glob("*.toml"))


def cli(*args: str | Path, cwd: Path = SCENARIOS) -> subprocess.CompletedProcess[str]:
    """``rapidata-sim`` in a fresh process, without the SDK settings a test session may carry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPIDATA_") and k != "SSL_CERT_FILE"}
    return subprocess.run([sys.executable, "-m", "rapidata_sim.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def reports(stdout: str) -> dict[str, str]:
    """Each scenario's report, keyed by its file name (the report head names the path)."""
    parts = re.split(r"^(?=scenario: )", stdout, flags=re.M)
    out = {}
    for part in parts:
        head = re.match(r"scenario: .*\((.+\.toml)\)$", part.splitlines()[0]) if part.strip() else None
        if head:
            out[Path(head.group(1)).name] = part
    return out


def test_there_are_scenarios():
    assert len(FILES) >= 8, FILES


def test_every_shipped_scenario_passes():
    out = cli("run", *FILES)
    assert out.returncode == 0, out.stdout + out.stderr
    found = reports(out.stdout)
    assert sorted(found) == sorted(f.name for f in FILES), out.stdout
    for name, report in found.items():
        assert re.search(r"^PASSED: \d+ expectation\(s\) met, 0 failed$", report, flags=re.M), report
        assert "FAIL " not in report, report
    assert f"{len(FILES)} of {len(FILES)} scenarios passed" in out.stdout


def _rewrite(name: str, old: str, new: str, to: Path) -> Path:
    text = (SCENARIOS / name).read_text()
    assert old in text, f"{name} no longer contains {old!r}"
    path = to / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_wrong_jobs_count_fails_and_says_expected_and_observed(tmp_path):
    path = _rewrite("manual_trigger.toml", "jobs = 4", "jobs = 5", tmp_path)
    out = cli("run", path)  # from scenarios/: its hooks import from the working directory
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL  daily: jobs: expected 5, observed 4" in out.stdout, out.stdout
    assert "FAILED: 7 expectation(s) met, 1 failed" in out.stdout, out.stdout
    assert "Traceback" not in out.stderr, out.stderr


def test_a_failing_call_hook_fails_with_its_message(tmp_path):
    path = _rewrite("pinned_revision.toml", "revisions = [1, 1]", "revisions = [1, 2]", tmp_path)
    text = path.read_text()
    # the alert hook as a timeline step (it must stay quiet, but the threshold makes it fire)
    path.write_text(text + '\n[[timeline]]\ncall = "winrate_alert:alert_quiet"\nsignal = "latest"\n'
                           'prefix = "model-"\nthreshold = 0.5\n')
    out = cli("run", path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert ("FAIL  call signal_checks:job_revisions: expected no failure, observed: "
            "pinned: jobs ran revisions [1, 1], expected [1, 2]") in out.stdout, out.stdout
    assert ("FAIL  timeline[3] call winrate_alert:alert_quiet: expected no failure, observed: the alert fired "
            "(latest: share of 'model-*' in the newest job is 1.000, threshold 0.5)") in out.stdout, out.stdout
    assert "ok    call signal_checks:votes_per_datapoint" in out.stdout  # the other checks still ran
    assert "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("old, new, message", [
    ('pause = "daily"', 'snooze = "daily"', "timeline[1] needs exactly one action of"),
    ("seed = 2", "seed = = 2", "not valid TOML"),
], ids=["unknown-action", "bad-toml"])
def test_a_malformed_file_exits_2_with_a_message(tmp_path, old, new, message):
    path = _rewrite("pause_resume.toml", old, new, tmp_path)
    out = cli("run", path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stdout == "", out.stdout  # nothing ran
    assert out.stderr.startswith("rapidata-sim run: ") and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_to_toml_round_trips(path):
    scenario = Scenario.load(path)
    again = Scenario.from_dict(tomllib.loads(scenario.to_toml()))
    assert again == Scenario(**{**vars(scenario), "path": None})

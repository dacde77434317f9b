"""The pytest plugin, as a user meets it: a fresh project with no conftest, only the package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

USER_TESTS = '''
import json
import pytest


def make_signal(client, name="daily"):
    jd = client.job.create_compare_job_definition(
        name="pairs", instruction="Which is better?", datapoints=[["a", "b"], ["c", "d"]], data_type="text",
        responses_per_datapoint=3)
    return client.signals.create_signal(name=name, audience="global", job_definition=jd, interval_hours=24)


def test_a_daily_signal(rapidata_sim, rapidata_client):
    signal = make_signal(rapidata_client)
    rapidata_sim.advance(days=3, hours=1)
    assert len(signal.get_jobs(page_size=10)) == 3
    assert signal.get_jobs(page_size=1)[0].get_results()["info"]["type"] == "Compare"


def test_worlds_are_isolated_and_user_code_reaches_them(rapidata_sim, rapidata_client):
    from rapidata import RapidataClient

    assert RapidataClient().signals.find_signals() == []  # nothing from the previous test
    make_signal(rapidata_client, name="mine")
    assert [s.name for s in RapidataClient().signals.find_signals()] == ["mine"]


def test_uploads_are_not_cached_across_worlds(rapidata_sim, rapidata_client):
    jd = rapidata_client.job.create_compare_job_definition(
        name="urls", instruction="?", datapoints=[["https://example.com/a.png", "https://example.com/b.png"]],
        responses_per_datapoint=2)
    job = rapidata_client.audience.get_audience_by_id("global").assign_job(jd)
    assert set(job.get_results()["results"][0]["aggregatedResults"]) == {"a.png", "b.png"}


def test_uploads_again(rapidata_sim, rapidata_client):
    test_uploads_are_not_cached_across_worlds(rapidata_sim, rapidata_client)


@pytest.mark.rapidata_sim(seed=42, start="2030-05-01T00:00:00Z")
def test_marker_settings(rapidata_sim):
    assert rapidata_sim.seed == 42
    assert rapidata_sim.clock.now().isoformat().startswith("2030-05-01T00:00:00")


def test_ini_seed(rapidata_sim):
    assert rapidata_sim.seed == 7


def test_failure_names_the_world(rapidata_sim):
    assert rapidata_sim.clock.now().year == 1999
'''

INI = """
[pytest]
rapidata_sim_seed = 7
"""


def run_user_project(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    (tmp_path / "pytest.ini").write_text(INI)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
    env["HOME"] = str(tmp_path)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_plugin_works_in_a_fresh_project(tmp_path):
    out = run_user_project(tmp_path)
    text = out.stdout + out.stderr
    assert "1 failed, 6 passed" in text, text[-3000:]
    assert "rapidata-sim world" in text and "seed=7" in text and "--rapidata-sim-seed=7" in text


def test_command_line_overrides_ini(tmp_path):
    out = run_user_project(tmp_path, "--rapidata-sim-seed=9", "-k", "ini_seed")
    assert "1 failed" in out.stdout and "assert 9 == 7" in out.stdout, out.stdout[-2000:]


def test_under_xdist_two_workers_keep_their_worlds_apart(tmp_path):
    pytest.importorskip("xdist")
    out = run_user_project(tmp_path, "-p", "xdist", "-n", "2")
    assert "1 failed, 6 passed" in out.stdout, (out.stdout + out.stderr)[-3000:]


# -- the session warm-up ------------------------------------------------------------------

#: Records every host the process resolves or connects to, from before the session starts.
WATCH_CONFTEST = '''
import socket

reached = []
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo


def connect(self, address):
    reached.append(str(address[0]) if isinstance(address, tuple) else str(address))
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    reached.append(str(host))
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
'''
WARM_TESTS = '''
from conftest import reached
from rapidata_sim.testing.pytest_plugin import WARMUP_KEY


def test_first(request, rapidata_sim, rapidata_client):
    warm = request.config.stash[WARMUP_KEY]
    assert not warm.running and warm.error is None, warm.error
    assert {"simulator", "sdk", "session"} <= set(warm.timings)
    assert rapidata_client.audience.get_audience_by_id("global").name == "Global"


def test_later(rapidata_sim, rapidata_client):
    assert rapidata_client.audience.get_audience_by_id("global").name == "Global"
    assert reached and set(reached) <= {"127.0.0.1", "localhost", "::1"}, sorted(set(reached))
'''


def test_warmup_reaches_only_the_simulator_and_hands_over_its_client(tmp_path):
    (tmp_path / "conftest.py").write_text(WATCH_CONFTEST)
    (tmp_path / "test_warm.py").write_text(WARM_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT", "HTTPS_PROXY"))}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "2 passed" in out.stdout, (out.stdout + out.stderr)[-3000:]
    assert "warm-up stopped early" not in out.stdout


def test_a_session_without_the_plugins_tests_does_not_warm_up(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n"
        "from rapidata_sim.testing.pytest_plugin import WARMUP_KEY\n\n\n"
        "def test_plain(request):\n"
        "    assert WARMUP_KEY not in request.config.stash\n"
        "    assert 'rapidata' not in sys.modules  # the SDK is not even imported\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert "1 passed" in out.stdout, (out.stdout + out.stderr)[-3000:]


def test_warmup_off_works_as_before(tmp_path):
    out = run_user_project(tmp_path, "--rapidata-sim-warmup=off")
    assert "1 failed, 6 passed" in out.stdout, (out.stdout + out.stderr)[-3000:]


def test_warmup_setting_is_checked(tmp_path):
    out = run_user_project(tmp_path, "--rapidata-sim-warmup=maybe", "-k", "marker_settings")
    assert out.returncode != 0 and "must be 'on' or 'off'" in out.stdout + out.stderr, out.stdout + out.stderr

"""Scenario files run against a running server tell the same story as in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# Files whose hooks use only the SDK (signal_checks.py reads the simulator's store: in-process only).
FILES = ["daily_prompt_alignment.toml", "daily_report_slow_crowd.toml", "preference_shift_alert.toml"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rapidata_sim.cli", *args], cwd=SCENARIOS, env=clean_env(),
                          capture_output=True, text=True, timeout=180)


def test_run_against_a_server_matches_the_in_process_run(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--data-dir", str(tmp_path),
                               "--speed", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=clean_env())
    try:
        for _ in range(7):
            server.stdout.readline()
        remote = cli("run", *FILES, "--data-dir", str(tmp_path))
        local = cli("run", *FILES)
        assert remote.returncode == 0, remote.stdout[-3000:] + remote.stderr[-2000:]
        assert local.returncode == 0
        # Same seed, start and calls: the same firings, job ids, results and expectations.
        assert remote.stdout == local.stdout
        assert "3 of 3 scenarios passed" in remote.stdout
        hooked = cli("run", "slow_labelers_skip.toml", "--data-dir", str(tmp_path))
        assert hooked.returncode == 1 and "a run on a server does not have" in hooked.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def test_run_on_a_server_needs_a_connection():
    out = cli("run", FILES[0], "--server")
    assert out.returncode == 2 and "not connected" in out.stderr

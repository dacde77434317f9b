"""``rapidata-sim serve`` as a user runs it: paste its export lines, connect, stop it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def test_serve_prints_export_lines_that_connect_the_sdk(tmp_path):
    data_dir = tmp_path / "sim-data"
    # A relative --data-dir, as the README shows it; the printed lines must work from anywhere.
    proc = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--port", "0",
                             "--data-dir", "sim-data", "--seed", "3"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env = {}
        deadline = time.monotonic() + 30
        while "RAPIDATA_DISABLE_OTLP" not in env and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line.startswith("export "), line
            key, _, value = line[len("export "):].strip().partition("=")
            env[key] = value
        assert env["RAPIDATA_ENVIRONMENT"].startswith("sim@127.0.0.1:")
        assert os.path.isabs(env["SSL_CERT_FILE"]) and env["SSL_CERT_FILE"].startswith(str(data_dir.resolve()))
        assert os.path.exists(env["SSL_CERT_FILE"])
        code = (
            "from rapidata import RapidataClient\n"
            "c = RapidataClient()\n"
            "print(c.audience.get_audience_by_id('aud_MU1GZYoESyO').name)\n"
        )
        child_env = {**os.environ, **env, "HOME": str(tmp_path), "RAPIDATA_silent_mode": "1"}
        out = subprocess.run([sys.executable, "-c", code], env=child_env, capture_output=True, text=True,
                             timeout=120, cwd="/")
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == "Alignment"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert (data_dir / "world.sqlite3").exists()


def test_a_stored_world_reopens_without_id_collisions(tmp_path):
    from rapidata_sim import Simulator

    db = str(tmp_path / "world.sqlite3")
    with Simulator(seed=1, db=db) as sim:
        first = sim.datasets.create(sim.principal(), "a")["id"]
    with Simulator(seed=1, db=db) as sim:
        second = sim.datasets.create(sim.principal(), "b")["id"]
        assert second != first
        assert sim.store.get("datasets", first)["name"] == "a"
        assert sim.store.count("organizations") == 3  # the seed world was not loaded twice


def test_a_fast_clock_fires_without_anyone_asking():
    """Clock(speed=...) plus run_realtime(): events happen as virtual time reaches them."""
    from datetime import timedelta

    from rapidata_sim import Clock, Simulator

    with Simulator(seed=2, clock=Clock(speed=3600 * 4)) as sim:  # four virtual hours per wall second
        from rapidata_sim.testing.builders import text_definition

        me = sim.principal()
        definition = text_definition(sim, kind="free_text")
        signal = sim.signals.create(me, name="hourly", audience_id="global", job_definition_id=definition["id"],
                                    interval_seconds=3600)
        sim.run_realtime()
        deadline = time.monotonic() + 20
        while sim.store.count("signal_runs", "signal_id = ?", [signal["id"]]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        runs = sim.store.select("signal_runs", "signal_id = ?", [signal["id"]], order_by="started_at")
        assert len(runs) >= 2
        created = sim.store.get("signals", signal["id"])["created_at"]
        from rapidata_sim.core.clock import parse_iso
        assert parse_iso(runs[0]["started_at"]) - parse_iso(created) == timedelta(hours=1)  # on the grid


def test_demo_tells_the_signals_story_in_plain_lines(tmp_path):
    """``rapidata-sim demo``, short and without pauses, as a CI log shows it: no terminal, so
    plain lines; a skipped firing, a manual run, the preference shift, the final table."""
    import re

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
    env.update(HOME=str(tmp_path), HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
    # (how long it takes is bench/'s business: no timed assertion; the timeout only ends a hang)
    out = subprocess.run([sys.executable, "-m", "rapidata_sim.cli", "demo", "--days", "5", "--fast"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "\x1b" not in text and "\r" not in text  # not a terminal: no escape codes, no redrawn lines
    assert out.stderr == ""  # the SDK stays quiet
    assert re.search(r"SKIPPED +PreviousJobNotFinished: job_\w+ is still running", text), text
    assert re.search(r"fired +Manual +job_\w+", text), text
    assert "wait_for_next_job() returned job_" in text
    assert "preference shift" in text
    # the final table: a header, a Manual run, a Skipped run with its reason
    assert re.search(r"day +fired \(UTC\) +source +run status +job / skipped because +B votes +B win rate", text)
    assert re.search(r"Manual +Completed +job_\w+ +\d+ / 200 +\d+%", text), text
    assert re.search(r"Scheduled +Skipped +PreviousJobNotFinished", text), text
    assert re.search(r"fired: 4 scheduled \+ 1 manual; skipped: 1 × PreviousJobNotFinished", text), text
    before, after = map(int, re.search(r"model-B win rate: (\d+)% over \d+ jobs created before the shift, "
                                       r"(\d+)% over \d+ jobs after it", text).groups())
    assert before < 40 < 60 < after, (before, after)

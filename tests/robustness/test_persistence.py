"""The standalone server keeps its promises across a crash: acknowledged writes survive a SIGKILL,
the clock continues, and the firings the downtime stands for are handled by the catch-up policy."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from rapidata_sim import Simulator
from rapidata_sim.core.clock import parse_iso

WRITER = '''
from rapidata import RapidataClient
c = RapidataClient()
jd = c.job.create_free_text_job_definition(name="x", instruction="?", datapoints=["t"], data_type="text",
                                          responses_per_datapoint=1)
s = c.signals.create_signal(name="hourly", audience="global", job_definition=jd, interval_hours=1)
print("SIGNAL", s.id, flush=True)
for i in range(10000):
    print("ACK", c.signals.create_signal(name=f"burst {i}", audience="global", job_definition=jd,
                                         interval_hours=24).id, flush=True)
'''


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}


def serve(data_dir: Path, speed: str) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--data-dir", str(data_dir),
                             "--speed", speed], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=clean_env())
    env: dict[str, str] = {}
    while "RAPIDATA_AGENT_HINT" not in env:
        line = proc.stdout.readline()
        assert line, "the server exited before printing its environment"
        m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
    return proc, env


def test_sigkill_in_a_burst_of_writes_then_restart(tmp_path):
    server, env = serve(tmp_path, "3600")  # an hour of virtual time per wall second
    writer = subprocess.Popen([sys.executable, "-c", WRITER], env={**clean_env(), **env, "RAPIDATA_silent_mode": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    acked, hourly = [], None
    deadline = time.monotonic() + 90
    while len(acked) < 25 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if line.startswith("SIGNAL"):
            hourly = line.split()[1]
        elif line.startswith("ACK"):
            acked.append(line.split()[1])
    os.kill(server.pid, signal.SIGKILL)  # in the middle of the burst
    server.wait()
    writer.kill()
    writer.wait()
    assert hourly and len(acked) == 25
    killed_at = time.time()

    time.sleep(2.0)  # two wall seconds down = two virtual hours
    server, env2 = serve(tmp_path, "3600")
    assert env2["SSL_CERT_FILE"] == env["SSL_CERT_FILE"]  # the CA is kept: clients keep trusting it
    again = subprocess.run([sys.executable, "-m", "rapidata_sim.cli", "env", "--data-dir", str(tmp_path)],
                           capture_output=True, text=True, env=clean_env())
    assert again.returncode == 0 and f"RAPIDATA_ENVIRONMENT={env2['RAPIDATA_ENVIRONMENT']}" in again.stdout
    server.send_signal(signal.SIGTERM)  # clean shutdown
    assert server.wait(timeout=20) == 0

    db = sqlite3.connect(tmp_path / "world.sqlite3")
    ids = {row[0] for row in db.execute("SELECT id FROM signals")}
    assert set(acked) <= ids  # every write the SDK saw acknowledged is there
    ended = [json.loads(d) for (d,) in db.execute("SELECT data FROM events WHERE kind = 'outage.ended'")]
    started = [{**json.loads(d), "at": at}
               for at, d in db.execute("SELECT at, data FROM events WHERE kind = 'outage.started'")]
    missed = sorted(parse_iso(at) for (at,) in db.execute(
        "SELECT at FROM events WHERE kind = 'signal.missed' AND subject = ?", [hourly]))
    assert len(ended) == 1 and len(started) == 1 and ended[0]["policy"] == "latest", (started, ended)
    # At least the two virtual hours slept (a loaded machine makes the downtime longer, never
    # shorter), and exactly the hourly grid points of the outage the restart recorded: none lost.
    down_from, down_to = parse_iso(started[0]["at"]), parse_iso(started[0]["until"])
    hour = timedelta(hours=1)
    assert down_to - down_from >= 2 * hour and len(missed) >= 2, (started, missed)
    assert all(down_from < m <= down_to for m in missed), (started, missed)
    assert all(b - a == hour for a, b in zip(missed, missed[1:])), missed
    assert missed[0] - down_from <= hour and down_to - missed[-1] < hour, (started, missed)
    catch_up = db.execute("SELECT status, trigger_source FROM signal_runs WHERE signal_id = ? ORDER BY started_at DESC",
                          [hourly]).fetchall()
    assert catch_up and catch_up[0][1] == "Scheduled"
    clock = json.loads(db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
    assert clock["wall"] >= killed_at


def test_a_frozen_world_resumes_where_it_stood(tmp_path):
    db = tmp_path / "world.sqlite3"
    sim = Simulator.open(db, speed=0)
    start = sim.clock.now()
    sim.advance(days=2)
    sim.close()
    again = Simulator.open(db, speed=0)
    try:
        assert (again.clock.now() - start).days == 2
        assert not [e for e in again.events() if e["kind"].startswith("outage")]  # frozen: no downtime
    finally:
        again.close()

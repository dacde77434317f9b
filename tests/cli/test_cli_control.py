"""Controlling a running server from the command line, as its operator would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rapidata_sim.cli", *args], capture_output=True, text=True,
                          env=env or clean_env(), timeout=60)


def test_clock_outage_events_worlds_reset_against_a_running_server(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--data-dir", str(tmp_path),
                               "--speed", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=clean_env())
    try:
        lines = [server.stdout.readline() for _ in range(7)]
        exports = dict(re.findall(r"^export (\w+)=(.*)$", "".join(lines), flags=re.M))
        d = ("--data-dir", str(tmp_path))

        before = json.loads(cli("clock", *d).stdout)
        assert before["speed"] == 0
        after = json.loads(cli("clock", "advance", "24h", *d).stdout)
        assert (after["now"][:10], after["now"][11:]) == (
            f"{before['now'][:8]}{int(before['now'][8:10]) + 1:02d}", before["now"][11:])
        assert json.loads(cli("clock", "set-speed", "3600", *d).stdout)["speed"] == 3600
        assert json.loads(cli("clock", "set-speed", "0", *d).stdout)["speed"] == 0
        assert json.loads(cli("outage", "3h", *d).stdout)["missed"] == {}
        events = [json.loads(line)["kind"] for line in cli("events", *d).stdout.splitlines()]
        assert "clock.advanced" in events and "outage.ended" in events and "clock.speed" in events
        # The log comes in pages; the client follows them, and the pages make up the whole log.
        from rapidata_sim.serving.remote import Remote, connection

        remote = Remote(connection(str(tmp_path)))
        pages = list(remote.events(0, limit=2))
        assert len(pages) > 2 and all(len(p.splitlines()) <= 2 for p in pages)
        assert "".join(pages) == "".join(remote.events(0))
        assert [json.loads(line)["kind"] for line in "".join(pages).splitlines()][:len(events)] == events
        remote.http.close()
        # From the environment instead of --data-dir, as another user would: a world of their own.
        other = {**clean_env(), **exports, "RAPIDATA_CLIENT_ID": "dana", "RAPIDATA_CLIENT_SECRET": "dana-secret"}
        assert json.loads(cli("worlds", env=other).stdout)["yours"] == "dana"
        dana_now = json.loads(cli("clock", env=other).stdout)["now"]
        assert dana_now != json.loads(cli("clock", *d).stdout)["now"]  # her clock never moved
        assert json.loads(cli("reset", *d).stdout) == {"reset": "default"}
        assert json.loads(cli("clock", *d).stdout)["now"] == before["now"]
        bad = cli("clock", "advance", "soon", *d)
        assert bad.returncode == 2 and "not a duration" in bad.stderr
        assert cli("trigger", "sig_nope", *d).returncode == 2
        assert cli("clock").returncode == 2  # not connected: says how to connect
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)

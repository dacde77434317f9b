"""Scenario files run against a running server tell the same story as in-process, and lose nothing.

``rapidata-sim run --server`` (here ``--data-dir``, and the environment's connection) runs each
file in a scratch world of its own on a real ``rapidata-sim serve``: every shipped file passes,
the report is byte for byte the in-process one, the caller's own world keeps its signals, events,
clock reading and speed, and the scratch worlds are gone afterwards (kept with ``--keep-world``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rapidata_sim.testing import offline_sdk
from rapidata_sim.core.clock import parse_iso
from rapidata_sim.serving.remote import Remote, connection
from rapidata_sim.serving.worlds import file_name

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FILES = sorted(p.name for p in SCENARIOS.glob("*.toml"))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path = SCENARIOS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rapidata_sim.cli", *args], cwd=cwd, env={**clean_env(), **(env or {})},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real ``rapidata-sim serve`` in a subprocess, its clock frozen (speed 0); its data dir."""
    data_dir = tmp_path_factory.mktemp("served")
    server = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--data-dir", str(data_dir),
                               "--speed", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=clean_env())
    try:
        printed = "".join(server.stdout.readline() for _ in range(7))  # the export lines: it is serving
        env_file = data_dir / "server.env"  # written just after them, for --data-dir
        deadline = time.monotonic() + 120  # a bound for a stuck server, not a measurement
        while not (env_file.exists() and env_file.read_text() == printed):
            assert server.poll() is None and time.monotonic() < deadline, "serve wrote no server.env"
            time.sleep(0.05)
        yield data_dir
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def world_ids(served: Path) -> set[str]:
    """The worlds kept on the server's data dir (over HTTP a caller sees only its own)."""
    ids = set()
    for path in (served / "worlds").glob("*.sqlite3"):
        db = sqlite3.connect(path)
        row = db.execute("SELECT value FROM meta WHERE key = 'world_id'").fetchone()
        db.close()
        ids.add(row[0] if row else path.stem)
    return ids


def snapshot(remote: Remote) -> dict:
    """What must not change in the caller's world: signals, the event log, the clock."""
    return {"signals": remote.call("GET", "/signal?page_size=100")["items"],
            "events": remote.call("GET", "/_sim/events"),
            "clock": remote.call("GET", "/_sim/clock"),
            "policy": remote.call("GET", "/_sim/policy")}


def test_every_shipped_scenario_passes_on_a_server_and_the_callers_world_is_untouched(served, monkeypatch,
                                                                                       tmp_path):
    from rapidata import RapidataClient

    offline_sdk.quiet_env(monkeypatch.setenv)
    monkeypatch.setenv("HOME", str(tmp_path))
    offline_sdk.skip_version_check(monkeypatch.setattr)
    settings = connection(str(served))
    caller = Remote(settings)  # the default world of the server, as `serve` prints it
    # The caller's own signal, and a clock moved off its start (a reset would put it elsewhere).
    sdk_client = RapidataClient(client_id=settings["RAPIDATA_CLIENT_ID"],
                                client_secret=settings["RAPIDATA_CLIENT_SECRET"],
                                environment=settings["RAPIDATA_ENVIRONMENT"], cert_path=settings["SSL_CERT_FILE"])
    jd = sdk_client.job.create_free_text_job_definition(name="mine", instruction="?", datapoints=["t"],
                                                        data_type="text", responses_per_datapoint=1)
    mine = sdk_client.signals.create_signal(name="mine", audience="global", job_definition=jd, interval_hours=24)
    caller.call("POST", "/_sim/clock/advance", {"seconds": 3600})
    before, worlds_before = snapshot(caller), world_ids(served)
    assert [s["id"] for s in before["signals"]] == [mine.id] and before["clock"]["speed"] == 0

    remote = cli("run", *FILES, "--data-dir", str(served))
    local = cli("run", *FILES)
    assert remote.returncode == 0, remote.stdout[-3000:] + remote.stderr[-2000:]
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-2000:]
    assert f"{len(FILES)} of {len(FILES)} scenarios passed" in remote.stdout
    # Same seed, start and calls: the same firings, job ids, results, hooks and expectations.
    assert remote.stdout == local.stdout

    assert snapshot(caller) == before  # signals, events, clock reading and speed, policy
    assert world_ids(served) == worlds_before  # the scratch worlds are deleted
    assert not list((served / "worlds").glob("scenario-*"))
    caller.http.close()


def test_a_kept_world_stays_and_a_running_clock_keeps_its_speed(served):
    # Another user, through the environment (--server), whose world's clock runs at wall speed.
    settings = {**connection(str(served)), "RAPIDATA_CLIENT_ID": "carol", "RAPIDATA_CLIENT_SECRET": "carol-secret"}
    carol = Remote(settings)
    carol.call("PATCH", "/_sim/clock", {"speed": 1})
    events_before, worlds_before = carol.call("GET", "/_sim/events"), world_ids(served)
    wall_before, now_before = time.time(), parse_iso(carol.call("GET", "/_sim/clock")["now"])

    out = cli("run", "pause_resume.toml", "--server", "--keep-world", env=settings)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]

    clock = carol.call("GET", "/_sim/clock")
    elapsed = (parse_iso(clock["now"]) - now_before).total_seconds()
    assert clock["speed"] == 1  # not frozen
    assert 0 <= elapsed <= time.time() - wall_before + 5  # moved with the wall, not reset to the scenario's start
    assert carol.call("GET", "/_sim/events") == events_before

    kept = world_ids(served) - worlds_before
    assert len(kept) == 1 and next(iter(kept)).startswith("scenario-"), kept
    (world_id,) = kept
    assert f"kept world {world_id}" in out.stderr
    creds = dict(line[len("export "):].split("=", 1) for line in out.stderr.splitlines() if line.startswith("export "))
    inside = Remote({**settings, **creds})
    assert [s["name"] for s in inside.call("GET", "/signal")["items"]] == ["daily"]
    assert inside.call("GET", "/_sim/clock")["now"].startswith("2026-03-07T10:00")  # where the scenario ended
    assert (served / "worlds" / file_name(world_id)).exists()
    inside.call("DELETE", f"/_sim/worlds/{world_id}")  # what the run does without --keep-world
    assert world_ids(served) == worlds_before
    inside.http.close()
    carol.http.close()


def test_a_hook_that_reads_the_simulator_is_told_to_use_the_world_view(served, tmp_path):
    (tmp_path / "peek.py").write_text("def store_size(ctx):\n    ctx.sim.store.count('jobs', '1', [])\n")
    text = (SCENARIOS / "daily_prompt_alignment.toml").read_text()
    (tmp_path / "peek.toml").write_text(text + '\n[[expect]]\ncall = "peek:store_size"\n')
    out = cli("run", str(tmp_path / "peek.toml"), "--data-dir", str(served), cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "a run on a server does not have" in out.stdout and "ctx.world" in out.stdout, out.stdout


def test_run_on_a_server_needs_a_connection():
    out = cli("run", FILES[0], "--server")
    assert out.returncode == 2 and "not connected" in out.stderr

"""Concurrency: many real SDK clients against one standalone server lose and duplicate nothing.

The harness is ``bench/load.py`` (the 16 clients x 20 s benchmark), run short here. No latency is
asserted; what is asserted is that every error is one the real service documents for that
situation, and that runs, jobs and the event log agree one to one afterwards.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from support import https_client


def _bench_load():
    """``bench/load.py`` as a module of its own name (bench/ is not put on sys.path: its module
    names, e.g. ``scheduler``, would shadow others)."""
    if "rapidata_sim_bench_load" not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "bench" / "load.py"
        spec = importlib.util.spec_from_file_location("rapidata_sim_bench_load", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules["rapidata_sim_bench_load"]


load = _bench_load()


def test_short_load_run_has_no_unexpected_errors_and_no_lost_or_duplicated_firings():
    result = load.run(clients=4, seconds=4, seed=0, quiet=True, out=None)
    summary, audit = result["summary"], result["audit"]
    assert summary["unexpected_errors"] == 0, summary["unexpected_samples"]
    assert result["server_tracebacks"] == 0, summary["unexpected_samples"]
    assert audit["ok"], audit["problems"]
    # The run did what it is for: concurrent writes, firings of both kinds, documented refusals.
    assert summary["per_kind"]["create_signal"]["ok"] >= 4
    assert audit["scheduled"] > 0 and audit["manual"] > 0 and audit["fired"] == audit["jobs_listed"]
    assert audit["runs"] == audit["fired"] + audit["skipped"]
    refused = summary["expected_errors"]
    assert sum(refused.values()) > 0 and set(refused) <= {name for name, _ in load.EXPECTED.values()}, refused
    # Every call is accounted for, and the threads stopped by themselves.
    kinds = summary["per_kind"].values()
    assert sum(k["ok"] + k["expected"] + k["unexpected"] for k in kinds) == summary["calls"]
    assert "thread" not in summary["per_kind"]


def test_short_load_across_worlds_has_no_unexpected_errors_and_every_world_audits_clean():
    """The fleet-size mode, short: clients in worlds of their own credentials on one ``serve
    --data-dir``, in two client processes; reads of other worlds' signals must all be refused."""
    result = load.run_worlds(clients=6, worlds=3, seconds=4, seed=0, quiet=True, procs=2)
    summary, audit = result["summary"], result["audit"]
    assert summary["unexpected_errors"] == 0, summary["unexpected_samples"]
    assert result["server_tracebacks"] == 0 and result["database_locked"] == 0, summary["unexpected_samples"]
    assert audit["ok"] and audit["worlds_clean"] == 3 == len(result["audits"]), audit["problems"]
    # Every world was worked in (its own signals, firings of both kinds, jobs from them only).
    for world, a in result["audits"].items():
        assert a["signals"] > 0 and a["fired"] == a["jobs_listed"] and a["runs"] == a["fired"] + a["skipped"], world
    assert audit["scheduled"] > 0 and audit["manual"] > 0
    refused = summary["expected_errors"]
    assert set(refused) <= {name for name, _ in load.EXPECTED.values()}, refused
    kinds = summary["per_kind"].values()
    assert sum(k["ok"] + k["expected"] + k["unexpected"] for k in kinds) == summary["calls"]
    assert "thread" not in summary["per_kind"]


def test_the_audit_catches_a_duplicated_a_lost_and_an_unannounced_firing():
    """``check_firings`` is not vacuous: a world doctored behind the server's back fails it."""
    with load.sdk_session(seed=3, speed=0) as server:  # frozen: the clock moves only when told
        client = load.sdk_client(server, "owner")
        definition = client.job.create_free_text_job_definition(
            name="audit", instruction="?", datapoints=["t"], data_type="text", responses_per_datapoint=1)
        shared = load.Shared()
        signals = []
        for name in ("dup", "lost", "ghost", "quiet"):
            s = client.signals.create_signal(name=name, audience="global", job_definition=definition,
                                             interval_hours=1)
            shared.signals[s.id] = {"owner": 0, "role": "owner", "org": "org_sim", "public": False,
                                    "definition": definition.id}
            signals.append(s.id)
        dup, lost, ghost, quiet = signals
        client.signals.get_signal_by_id(quiet).trigger()
        shared.triggers[quiet] += 1
        control = load.Http(server, "owner")
        control.send("POST", "/_sim/clock/advance", {"seconds": 3 * 3600 + 60})
        clean = load.check_firings(server, shared)
        assert clean["ok"], clean["problems"]
        assert clean["scheduled"] == 12 and clean["manual"] == 1

        db = sqlite3.connect(server.data_dir / "world.sqlite3", timeout=30)
        with db:
            first = db.execute("SELECT * FROM signal_runs WHERE signal_id = ? ORDER BY started_at",
                               [dup]).fetchone()
            cols = [d[0] for d in db.execute("SELECT * FROM signal_runs LIMIT 0").description]
            row = dict(zip(cols, first), id="run_twin00000000")
            db.execute(f"INSERT INTO signal_runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                       list(row.values()))  # a second run for one grid point
            db.execute("DELETE FROM signal_runs WHERE id = (SELECT id FROM signal_runs WHERE signal_id = ? "
                       "ORDER BY started_at DESC LIMIT 1)", [lost])  # a firing whose run vanished
            db.execute("DELETE FROM events WHERE kind = 'signal.fired' AND subject = ?", [ghost])  # no events
        db.close()
        shared.triggers[quiet] += 1  # a trigger() the service acknowledged but never ran

        audit = load.check_firings(server, shared)
        control.close()
    problems = "\n".join(audit["problems"])
    assert not audit["ok"]
    assert f"{dup}: 2 scheduled runs at grid point" in problems
    assert f"{lost}: lost firing at grid point" in problems
    assert "has no listed run" in problems  # the lost run's event
    assert f"{ghost}: run " in problems and "has 0 signal.fired events" in problems
    assert f"{quiet}: 2 trigger() acknowledged" in problems


@pytest.mark.frozen_clock
def test_a_refused_request_does_not_swallow_the_firings_it_caught_up(sim):
    """Every request first processes what is due. When the request itself then fails (a 404 here),
    that work must stay done: before the fix the rollback erased the firing while the scheduler's
    queue had moved on, and the signal never fired again (found by bench/load.py)."""
    from rapidata_sim.testing.builders import text_definition

    definition = text_definition(sim, kind="free_text")
    signal = sim.signals.create(sim.principal(), name="hourly", audience_id="global",
                                job_definition_id=definition["id"], interval_seconds=3600)
    server = sim.serve()
    sim.clock.advance(timedelta(hours=1, minutes=1))  # time passes; nobody has asked yet
    http = https_client(server)
    refused = http.get("/signal/sig_doesnotexist")  # the first request after: syncs, then 404s
    assert refused.status_code == 404
    sim.advance(hours=3)
    runs = sim.store.select("signal_runs", "signal_id = ?", [signal["id"]], order_by="started_at")
    assert len(runs) == 4, runs
    fired = [e for e in sim.events() if e["kind"] == "signal.fired" and e["subject"] == signal["id"]]
    assert [e["data"]["run"] for e in fired] == [r["id"] for r in runs]

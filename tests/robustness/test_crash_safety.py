"""Crash safety: SIGKILL a server in the middle of a seeded write load, restart it on the same data dir,
and check that every acknowledged write is there and nothing is half-written.

Each iteration (one seed) starts a child from a fork server that has imported the server code once
(``multiprocessing``'s forkserver start method: no interpreter start, no imports; a listening server
within ~0.1 s) that serves
``Worlds`` on a fresh data dir with a frozen clock, exactly as ``rapidata-sim serve --data-dir DIR
--speed 0`` does. Writer threads (each owning its signals, so the order of writes to one signal is
known) create datasets, job definitions and signals, trigger, pause, resume, change intervals and
names, delete, and list runs (which starts queued triggers); a clock thread advances the virtual
clock via ``/_sim/clock/advance`` so firings happen and jobs finish. When the seeded K-th response
has been acknowledged the child is SIGKILLed while the other threads' requests are in flight.

Every thread's last request may or may not have been committed ("unknown"); every earlier one got a
2xx. After a restart on the same directory the store must equal the acknowledged writes, plus at
most each thread's unknown one, and be internally consistent (runs and jobs and events agree, the
event log has no gaps, the saved clock is the last advance's). Then the restarted server must keep
going: a new signal fires at its first grid point.

``RAPIDATA_SIM_CRASH_ITERATIONS`` / ``RAPIDATA_SIM_CRASH_SEED`` change the count and the first seed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from rapidata_sim import Simulator
from rapidata_sim.core.clock import iso, parse_iso
from rapidata_sim.serving.server import Certificates
from rapidata_sim.serving.worlds import Worlds, WorldsServer

ITERATIONS = int(os.environ.get("RAPIDATA_SIM_CRASH_ITERATIONS", "50"))
FIRST_SEED = int(os.environ.get("RAPIDATA_SIM_CRASH_SEED", "0"))
WRITERS = 3
CREDS = ("rapidata-sim", "rapidata-sim-secret")
INTERVALS = [3600, 2 * 3600, 6 * 3600, 86400]
ADVANCES = [900, 3600, 3 * 3600, 8 * 3600]
TEXT_DATAPOINT = {"segments": [{"key": "asset", "kind": "Asset", "asset": {"_t": "TextAssetInput", "text": "t"}}]}
WORKFLOW = {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "asset": {"segment": "asset"},
                                              "criteria": {"literal": "Which is better?"}}}

# -- the server, in a child process ---------------------------------------------------------------


def _serve(data_dir: str, conn: Any) -> None:
    """The child: what ``rapidata-sim serve --data-dir DIR --speed 0`` runs, until it is killed."""
    worlds = Worlds(seed=0, speed=0, data_dir=data_dir)
    server = WorldsServer(worlds).start()
    conn.send(server.port)
    conn.close()
    threading.Event().wait()


def _context() -> Any:
    """Children come from a fork server: one single-threaded process that imported the server
    code once. Forking this (pytest's, multi-threaded) process instead can copy a lock some
    other thread held at that moment, and the child hangs before it serves (seen under load)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["rapidata_sim.serving.worlds", __name__])
    return ctx


class Child:
    """A server process on ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        ctx = _context()
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(str(data_dir), theirs), daemon=True)
        self.proc.start()
        theirs.close()
        if not ours.poll(30):
            self.kill()
            raise RuntimeError("the server child did not start")
        self.port: int = ours.recv()
        ours.close()

    def kill(self) -> None:
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join(10)


def http_client(port: int, ca: Path, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"https://127.0.0.1:{port}", headers=headers, timeout=20,
                        verify=ssl.create_default_context(cafile=str(ca)))


# -- the load and what the client knows of it ----------------------------------------------------


@dataclass(frozen=True)
class SignalModel:
    name: str
    interval: int
    paused: bool = False
    deleted: bool = False
    triggers: int = 0


class Unknown(Exception):
    """The server died under a request: it may or may not have been committed."""


@dataclass
class Writer:
    """What one writer thread knows: its acknowledged objects and its one unknown last request."""

    index: int
    datasets: list[str] = field(default_factory=list)
    datapoints: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    signals: dict[str, SignalModel] = field(default_factory=dict)
    created: int = 0
    #: The request in flight when the server died: (signal id, model after it) or ("create", name).
    unknown: tuple[str, Any] | None = None


class Load:
    def __init__(self, seed: int, port: int, ca: Path, token: str, start: str, kill_after: int) -> None:
        self.seed, self.port, self.ca, self.token = seed, port, ca, token
        self.kill_after = kill_after
        self.acked = 0
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.unexpected: list[str] = []
        self.writers = [Writer(i) for i in range(WRITERS)]
        self.clock_acked = start
        self.clock_unknown: str | None = None
        self.in_flight_at_kill = 0
        self._in_flight = 0

    # one request: 2xx = acknowledged, a transport error = unknown, anything else = a failure
    def send(self, http: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
        with self.cond:
            self._in_flight += 1
        try:
            response = http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise Unknown(f"{method} {path}: {type(exc).__name__}") from None
        finally:
            with self.cond:
                self._in_flight -= 1
        if not 200 <= response.status_code < 300:
            self.unexpected.append(f"{method} {path} -> {response.status_code} {response.text[:300]}")
            self.stop.set()
            raise Unknown("unexpected status")
        with self.cond:
            self.acked += 1
            self.cond.notify_all()
        return response

    def run(self, kill: Callable[[], None]) -> None:
        threads = [threading.Thread(target=self._writer, args=(w,), daemon=True) for w in self.writers]
        threads.append(threading.Thread(target=self._clock, daemon=True))
        for t in threads:
            t.start()
        with self.cond:
            self.cond.wait_for(lambda: self.acked >= self.kill_after or self.stop.is_set(), timeout=60)
            self.in_flight_at_kill = self._in_flight
            kill()  # responses already received before the kill still count as acknowledged
        self.stop.set()
        for t in threads:
            t.join(30)
            assert not t.is_alive(), "a load thread did not stop"

    def _writer(self, w: Writer) -> None:
        rng = random.Random(f"{self.seed}/writer/{w.index}")
        with http_client(self.port, self.ca, self.token) as http:
            try:
                self._new_definition(http, w, rng)
                while not self.stop.is_set():
                    self._step(http, w, rng)
            except Unknown:
                pass

    def _new_definition(self, http: httpx.Client, w: Writer, rng: random.Random) -> None:
        ds = self.send(http, "POST", "/dataset", {"name": f"ds {w.index}"}).json()["datasetId"]
        w.datasets.append(ds)
        dp = self.send(http, "POST", f"/dataset/{ds}/datapoint", TEXT_DATAPOINT).json()["datapointId"]
        w.datapoints.append(dp)
        body = {"definitionName": f"def {w.index}", "workflow": WORKFLOW, "datasetId": ds,
                "referee": {"_t": "NaiveReferee", "totalVotes": rng.choice([1, 3, 10])}}
        w.definitions.append(self.send(http, "POST", "/job/definition", body).json()["definitionId"])

    def _change(self, http: httpx.Client, w: Writer, sid: str, after: SignalModel, method: str, path: str,
                body: Any = None) -> None:
        try:
            self.send(http, method, path, body)
        except Unknown:
            w.unknown = (sid, after)
            raise
        w.signals[sid] = after

    def _step(self, http: httpx.Client, w: Writer, rng: random.Random) -> None:
        live = [sid for sid, m in w.signals.items() if not m.deleted]
        roll = rng.random()
        if roll < 0.04:
            self._new_definition(http, w, rng)
            return
        if not live or roll < 0.25:
            name = f"s{self.seed}-{w.index}-{w.created}"
            w.created += 1
            interval = rng.choice(INTERVALS)
            body = {"name": name, "audienceId": "global", "jobDefinitionId": rng.choice(w.definitions),
                    "intervalSeconds": interval, "isPublic": False}
            try:
                sid = self.send(http, "POST", "/signal", body).json()["id"]
            except Unknown:
                w.unknown = ("create", name)
                raise
            w.signals[sid] = SignalModel(name=name, interval=interval)
            return
        sid = rng.choice(live)
        m = w.signals[sid]
        op = rng.choices(["trigger", "pause", "resume", "interval", "rename", "delete", "runs"],
                         weights=[25, 15, 15, 15, 8, 7, 15])[0]
        if op == "trigger":
            self._change(http, w, sid, replace(m, triggers=m.triggers + 1), "POST", f"/signal/{sid}/trigger")
        elif op == "pause":
            self._change(http, w, sid, replace(m, paused=True), "POST", f"/signal/{sid}/pause")
        elif op == "resume":
            self._change(http, w, sid, replace(m, paused=False), "POST", f"/signal/{sid}/resume")
        elif op == "interval":
            interval = rng.choice(INTERVALS)
            self._change(http, w, sid, replace(m, interval=interval), "PATCH", f"/signal/{sid}",
                         {"intervalSeconds": interval})
        elif op == "rename":
            name = f"{m.name}'"
            self._change(http, w, sid, replace(m, name=name), "PATCH", f"/signal/{sid}", {"name": name})
        elif op == "delete":
            self._change(http, w, sid, replace(m, deleted=True), "DELETE", f"/signal/{sid}")
        else:  # a GET that writes: listing runs starts the signal's queued triggers
            self._change(http, w, sid, m, "GET", f"/signal/{sid}/run?page_size=5")

    def _clock(self) -> None:
        rng = random.Random(f"{self.seed}/clock")
        with http_client(self.port, self.ca, self.token) as http:
            while not self.stop.is_set():
                target = iso(parse_iso(self.clock_acked) + timedelta(seconds=rng.choice(ADVANCES)))
                try:
                    self.send(http, "POST", "/_sim/clock/advance", {"to": target})
                except Unknown:
                    self.clock_unknown = target
                    return
                self.clock_acked = target
                self.stop.wait(rng.uniform(0, 0.004))


# -- checking a store --------------------------------------------------------------------------


def read_db(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        rows = {table: [dict(r) for r in db.execute(f"SELECT * FROM [{table}] ORDER BY rowid")]
                for table in ("signals", "signal_runs", "jobs", "events", "datasets", "datapoints",
                              "job_definitions", "revisions", "tokens", "meta")}
    finally:
        db.close()
    for e in rows["events"]:
        e["data"] = json.loads(e["data"]) if e["data"] else {}
    rows["clock"] = json.loads(next(m["value"] for m in rows["meta"] if m["key"] == "clock"))["virtual"]
    return rows


def invariants(s: dict[str, Any], *, frozen: bool = True) -> list[str]:
    """Everything that must agree within one store, whatever was cut off when. ``frozen``: the
    clock moved only by advances, each of which processed everything due (a wall-following clock
    saved at close may stand past work not yet processed; the next start processes it)."""
    bad: list[str] = []
    now = s["clock"]
    events, runs, jobs = s["events"], s["signal_runs"], {j["id"]: j for j in s["jobs"]}
    signals = {r["id"]: r for r in s["signals"]}
    # the event log: 1..n without gaps, in time order, nothing after the clock
    seqs = [e["seq"] for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        bad.append(f"event seqs have gaps or are out of order: {seqs[:5]}...{seqs[-5:]}")
    ats = [e["at"] for e in events]
    for a, b, e in zip(ats, ats[1:], events[1:]):
        if b < a:
            bad.append(f"event {e['seq']} ({e['kind']}) at {b} is before its predecessor at {a}")
            break
    if ats and max(ats) > now:
        bad.append(f"an event at {max(ats)} is after the saved clock {now}")
    advanced = [e["data"]["to"] for e in events if e["kind"] == "clock.advanced"]
    if advanced and advanced[-1] != now:
        bad.append(f"the saved clock {now} is not the last advance's {advanced[-1]}")
    # runs <-> jobs <-> events
    fired = {e["data"]["run"]: e for e in events if e["kind"] == "signal.fired"}
    skipped = {e["data"]["run"]: e for e in events if e["kind"] == "signal.skipped"}
    job_runs: dict[str, list[str]] = {}
    for run in runs:
        rid, job_id = run["id"], run["audience_job_id"]
        if run["signal_id"] not in signals:
            bad.append(f"run {rid} of a missing signal {run['signal_id']}")
        if run["status"] == "Skipped":
            if job_id or rid not in skipped or skipped[rid]["subject"] != run["signal_id"]:
                bad.append(f"skipped run {rid} has a job or no matching signal.skipped event")
            continue
        if job_id not in jobs:
            bad.append(f"run {rid} names job {job_id}, which does not exist")
            continue
        job_runs.setdefault(job_id, []).append(rid)
        ev = fired.get(rid)
        if ev is None or ev["subject"] != run["signal_id"] or ev["data"]["job"] != job_id \
                or ev["at"] != run["started_at"]:
            bad.append(f"run {rid} has no matching signal.fired event ({ev})")
        job = jobs[job_id]
        expected = {"Running": "Running", "Completed": "Completed", "Failed": "Failed"}.get(job["state"])
        if run["status"] != expected:
            bad.append(f"run {rid} is {run['status']} but its job {job_id} is {job['state']}")
    run_ids = {r["id"] for r in runs}
    for rid, ev in {**fired, **skipped}.items():
        if rid not in run_ids:
            bad.append(f"{ev['kind']} event {ev['seq']} names run {rid}, which does not exist")
    for job_id, job in jobs.items():
        if len(job_runs.get(job_id, [])) != 1:
            bad.append(f"job {job_id} belongs to {len(job_runs.get(job_id, []))} runs (the load makes jobs "
                       f"only by firing)")
        if frozen and job["state"] == "Running" and not job["completes_at"] > now:
            bad.append(f"job {job_id} is Running but was due at {job['completes_at']} (now {now})")
        if job["state"] == "Completed" and not job["completed_at"] <= now:
            bad.append(f"job {job_id} completed in the future ({job['completed_at']})")
    completed_events = [e["subject"] for e in events if e["kind"] == "job.completed"]
    completed_jobs = [j for j in jobs if jobs[j]["state"] == "Completed"]
    if sorted(completed_events) != sorted(completed_jobs):
        bad.append(f"job.completed events {len(completed_events)} != completed jobs {len(completed_jobs)}")
    # definitions <-> their revisions <-> their datasets
    datasets = {d["id"] for d in s["datasets"]}
    for d in s["job_definitions"]:
        numbers = sorted(r["revision_number"] for r in s["revisions"] if r["definition_id"] == d["id"])
        if numbers != list(range(1, (d["latest_revision"] or 0) + 1)) or not numbers:
            bad.append(f"definition {d['id']}: latest revision {d['latest_revision']} but revisions {numbers}")
    for r in s["revisions"]:
        if r["dataset_id"] not in datasets:
            bad.append(f"revision {r['definition_id']}/{r['revision_number']} of a missing dataset")
    for dp in s["datapoints"]:
        if dp["dataset_id"] not in datasets:
            bad.append(f"datapoint {dp['id']} of a missing dataset")
    # signals <-> their runs and events
    created = [e["subject"] for e in events if e["kind"] == "signal.created"]
    if sorted(created) != sorted(signals):
        bad.append("signal.created events and signal rows differ")
    for sid, sig in signals.items():
        mine = [r for r in runs if r["signal_id"] == sid]
        fired_runs = [r for r in mine if r["status"] != "Skipped"]
        last = max((r["started_at"] for r in fired_runs), default=None)
        if sig["last_run_at"] != last:
            bad.append(f"signal {sid}: lastRunAt {sig['last_run_at']} but its latest fired run started {last}")
        elif last is not None and sig["last_job_id"] not in {r["audience_job_id"] for r in fired_runs
                                                              if r["started_at"] == last}:
            bad.append(f"signal {sid}: last job {sig['last_job_id']} is not its latest run's")
        scheduled = [r["started_at"] for r in mine if r["trigger_source"] == "Scheduled"]
        if scheduled and max(scheduled) >= sig["next_run_at"]:
            bad.append(f"signal {sid}: a scheduled run at {max(scheduled)} is not before nextRunAt "
                       f"{sig['next_run_at']}")
        if frozen and not sig["deleted"] and not sig["is_paused"] and not sig["next_run_at"] > now:
            bad.append(f"signal {sid}: nextRunAt {sig['next_run_at']} is not after now {now} (a missed firing)")
        mine_ev = [e for e in events if e["subject"] == sid]
        if sig["deleted"] != any(e["kind"] == "signal.deleted" for e in mine_ev):
            bad.append(f"signal {sid}: deleted={sig['deleted']} disagrees with its events")
        toggles = [e["kind"] for e in mine_ev if e["kind"] in ("signal.paused", "signal.resumed")]
        if bool(sig["is_paused"]) != (bool(toggles) and toggles[-1] == "signal.paused"):
            bad.append(f"signal {sid}: isPaused={sig['is_paused']} disagrees with its events {toggles}")
        intervals = [e["data"]["interval_seconds"] for e in mine_ev if "interval_seconds" in e["data"]]
        if intervals and intervals[-1] != sig["interval_seconds"]:
            bad.append(f"signal {sid}: interval {sig['interval_seconds']} but its events say {intervals[-1]}")
        triggered = sum(e["kind"] == "signal.triggered" for e in mine_ev)
        manual = sum(r["trigger_source"] == "Manual" for r in mine)
        if not sig["deleted"] and manual + sig["pending_triggers"] != triggered:
            bad.append(f"signal {sid}: {triggered} triggers but {manual} manual runs + {sig['pending_triggers']} "
                       f"queued")
    return bad


def check_acknowledged(load: Load, s: dict[str, Any]) -> list[str]:
    """Every acknowledged write is there; beyond them at most each thread's unknown last request."""
    bad: list[str] = []
    signals = {r["id"]: r for r in s["signals"]}
    runs = s["signal_runs"]
    for kind, table in (("datasets", "datasets"), ("datapoints", "datapoints"), ("definitions", "job_definitions")):
        have = {r["id"] for r in s[table]}
        for w in load.writers:
            missing = [x for x in getattr(w, kind) if x not in have]
            if missing:
                bad.append(f"acknowledged {kind} lost: {missing}")
    unknown_creates = {w.unknown[1] for w in load.writers if w.unknown and w.unknown[0] == "create"}
    known: set[str] = set()
    for w in load.writers:
        for sid, model in w.signals.items():
            known.add(sid)
            row = signals.get(sid)
            if row is None:
                bad.append(f"acknowledged signal {sid} ({model.name}) lost")
                continue
            candidates = [model]
            if w.unknown and w.unknown[0] == sid:
                candidates.append(w.unknown[1])
            actual = (row["name"], row["interval_seconds"], bool(row["is_paused"]), bool(row["deleted"]))
            seen = sum(r["trigger_source"] == "Manual" for r in runs if r["signal_id"] == sid) \
                + row["pending_triggers"]
            if not any(actual == (c.name, c.interval, c.paused, c.deleted)
                       and (seen <= c.triggers if c.deleted else seen == c.triggers) for c in candidates):
                bad.append(f"signal {sid}: stored {actual} with {seen} triggers, acknowledged "
                           f"{[(c.name, c.interval, c.paused, c.deleted, c.triggers) for c in candidates]}")
    for sid, row in signals.items():
        if sid in known:
            continue
        if row["name"] not in unknown_creates or row["is_paused"] or row["deleted"]:
            bad.append(f"signal {sid} ({row['name']}) was never acknowledged nor in flight")
        unknown_creates.discard(row["name"])
    clock = [load.clock_acked] + ([load.clock_unknown] if load.clock_unknown else [])
    if s["clock"] not in clock:
        bad.append(f"the clock stands at {s['clock']}, acknowledged {load.clock_acked}, in flight "
                   f"{load.clock_unknown}")
    if load.token not in {t["token"] for t in s["tokens"]}:
        bad.append("the acknowledged token was lost")
    return bad


# -- the test --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    """One CA and server certificate for every iteration (copied into each data dir)."""
    directory = tmp_path_factory.mktemp("crash-certs")
    Certificates(directory)
    return directory


STATS: list[dict[str, Any]] = []


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + ITERATIONS))
def test_sigkill_mid_load_then_restart(seed, tmp_path, certificates):
    started = time.perf_counter()
    data = tmp_path / "data"
    data.mkdir()
    for name in ("ca.pem", "server.pem", "server-key.pem"):
        shutil.copy(certificates / name, data / name)
    ca = data / "ca.pem"
    rng = random.Random(seed)
    first = Child(data)
    try:
        with http_client(first.port, ca) as http:
            token = http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=CREDS)
            assert token.status_code == 200, token.text
            token = token.json()["access_token"]
            start = http.get("/_sim/clock", headers={"Authorization": f"Bearer {token}"}).json()["now"]
        load = Load(seed, first.port, ca, token, start, kill_after=rng.randint(8, 90))
        load.run(first.kill)
    finally:
        first.kill()
    assert not load.unexpected, load.unexpected
    assert load.acked >= load.kill_after, "the load stalled before its kill point"
    killed = time.perf_counter()

    second = Child(data)  # the same data dir, after the crash
    try:
        with http_client(second.port, ca, token) as http:  # the token issued before the crash still works
            clock = http.get("/_sim/clock")
            assert clock.status_code == 200, clock.text
            state = read_db(data / "world.sqlite3")
            assert clock.json()["now"] == state["clock"]
            problems = check_acknowledged(load, state) + invariants(state)
            assert not problems, f"seed {seed}:\n" + "\n".join(problems)
            for w in load.writers:  # the same through the API
                for sid in w.signals:
                    got = http.get(f"/signal/{sid}")
                    deleted = bool(state_signal(state, sid)["deleted"])
                    assert got.status_code == (404 if deleted else 200), (sid, got.status_code)
                for definition in w.definitions:
                    assert http.get(f"/job/definition/{definition}").status_code == 200

            # it keeps going: a new signal fires at its first grid point, and its job is there
            definition = next((d for w in load.writers for d in w.definitions), None)
            if definition is None:  # killed before any definition was acknowledged: make one now
                ds = http.post("/dataset", json={"name": "after"}).json()["datasetId"]
                assert http.post(f"/dataset/{ds}/datapoint", json=TEXT_DATAPOINT).status_code == 200
                definition = http.post("/job/definition", json={
                    "definitionName": "after", "workflow": WORKFLOW, "datasetId": ds,
                    "referee": {"_t": "NaiveReferee", "totalVotes": 1}}).json()["definitionId"]
            made = http.post("/signal", json={"name": "after the crash", "audienceId": "global",
                                              "jobDefinitionId": definition, "intervalSeconds": 3600})
            assert made.status_code == 200, made.text
            sid, due = made.json()["id"], made.json()["nextRunAt"]
            moved = http.post("/_sim/clock/advance", json={"seconds": 3600})
            assert moved.status_code == 200 and moved.json()["now"] == due, moved.text
            runs = http.get(f"/signal/{sid}/run").json()["items"]
            assert [(r["triggerSource"], r["startedAt"]) for r in runs] == [("Scheduled", due)], runs
            assert runs[0]["status"] in ("Running", "Completed") and runs[0]["audienceJobId"], runs
            assert http.get(f"/job/{runs[0]['audienceJobId']}").status_code == 200
            after = read_db(data / "world.sqlite3")
            assert not invariants(after), f"seed {seed} after restart:\n" + "\n".join(invariants(after))
            assert len(after["events"]) > len(state["events"])
    finally:
        second.kill()
    STATS.append({"seed": seed, "acked": load.acked, "in_flight": load.in_flight_at_kill,
                  "unknown": sum(w.unknown is not None for w in load.writers) + (load.clock_unknown is not None),
                  "load_s": killed - started, "total_s": time.perf_counter() - started})


def _reopen_and_die(db: str) -> None:
    """The child: reopen a world after downtime, and be killed right after its outage is played
    (``save_clock`` is the first thing ``open`` does after it)."""
    Simulator.save_clock = lambda self: os.kill(os.getpid(), signal.SIGKILL)  # type: ignore[method-assign]
    Simulator.open(db, speed=3600)


def test_sigkill_while_reopening_after_downtime(tmp_path):
    """Reopening plays the downtime as an outage (missed firings, catch-up) and saves the clock it
    moved: in one commit, so a kill in between neither keeps the outage with the old clock (the
    next start would play it a second time, from before its own events) nor loses the clock."""
    db = tmp_path / "world.sqlite3"
    sim = Simulator.open(db, speed=3600)
    me = sim.principal()
    ds = sim.datasets.create(me, "ds")
    sim.datasets.add_datapoint(me, ds["id"], TEXT_DATAPOINT["segments"])
    definition, _ = sim.definitions.create(me, name="d", workflow=WORKFLOW, dataset_id=ds["id"],
                                           referee={"_t": "NaiveReferee", "totalVotes": 1})
    hourly = sim.signals.create(me, name="hourly", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=3600)["id"]
    sim.close()
    with sqlite3.connect(db) as conn:  # it went down ten wall seconds ago: ten virtual hours at 3600x
        saved = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
        conn.execute("UPDATE meta SET value = ? WHERE key = 'clock'",
                     [json.dumps({**saved, "wall": saved["wall"] - 10})])
    conn.close()
    child = _context().Process(target=_reopen_and_die, args=(str(db),))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL

    again = Simulator.open(db, speed=3600)
    again.close()
    state = read_db(db)
    outages = [e for e in state["events"] if e["kind"].startswith("outage.")]
    assert [e["kind"] for e in outages] == ["outage.started", "outage.ended"], outages
    missed = [e for e in state["events"] if e["kind"] == "signal.missed" and e["subject"] == hourly]
    assert 10 <= len(missed) <= 12, len(missed)  # the ten hours down, once (plus the seconds since)
    assert not invariants(state, frozen=False), invariants(state, frozen=False)


def state_signal(state: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(r for r in state["signals"] if r["id"] == sid)


def teardown_module(module) -> None:
    if STATS and os.environ.get("RAPIDATA_SIM_CRASH_STATS"):
        total = sum(s["total_s"] for s in STATS)
        load = sum(s["load_s"] for s in STATS)
        print(f"\ncrash safety: {len(STATS)} iterations, {total:.1f} s, {total / len(STATS) * 1000:.0f} ms each "
              f"({load / len(STATS) * 1000:.0f} ms start + load + kill, the rest restart and checks); "
              f"{sum(s['acked'] for s in STATS)} acknowledged writes, "
              f"{sum(s['in_flight'] for s in STATS)} requests in flight at the kills, "
              f"{sum(s['unknown'] for s in STATS)} unknown outcomes")

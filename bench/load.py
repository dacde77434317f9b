#!/usr/bin/env python3
"""A bounded load and concurrency run: many real SDK clients against one standalone server.

    python bench/load.py [--clients 16] [--seconds 20] [--seed 0] [--speed 600] [--quiet]

Starts ``rapidata-sim serve`` as a subprocess on 127.0.0.1 (a free port, a temporary data dir,
the clock running ``--speed`` virtual seconds per wall second), then runs ``--clients`` threads,
each holding its own unmodified ``rapidata.RapidataClient``, for ``--seconds`` of wall time. Each
thread draws operations from a seeded mix: create job definitions and signals, list signals /
jobs / job definitions / runs, read a signal, trigger, pause and resume, rename, read a job's
results (final once ``Completed``, preliminary before), and move the world's clock on through
``POST /_sim/clock/advance``. Clients act as three users of the seed world: the owner
(``rapidata-sim``), a colleague in the same organization and a stranger from another one, so the
service's documented refusals happen as part of the mix (see ``EXPECTED``).

Every call's wall latency and outcome is recorded: ``ok``, ``expected`` (a 4xx the real service
documents for exactly that situation, listed in ``EXPECTED``) or ``unexpected`` (anything else:
any 5xx, another 4xx, a transport error, an SDK parse error, a probe that should have been
refused but was not, a thread that did not stop).

When the time is up the threads stop by themselves, the world's clock is frozen and the run is
audited through the HTTP API and the control surface (``check_firings``): for every signal, its
runs listing, the jobs listing and the event log (``GET /_sim/events``) must agree one to one —
each ``signal.fired`` event has exactly one run with that job and each run its event; every
scheduled grid point outside a pause has exactly one run and no grid point two; every
acknowledged ``trigger()`` has exactly one manual run. The server is killed in a ``finally``.

Prints ops/s, p50/p99 latency per operation kind and overall, and the error counts; writes
``bench/results/load.json``. All SDK traffic stays on 127.0.0.1 (the version check is skipped,
any other request is pointed at a closed local port).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import re
import shutil
import signal as signals
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "load.json"

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
#: Set while the run lasts (and restored after it): the SDK stays offline, quiet and on loopback.
from sdk_call import SDK_ENV  # noqa: E402  (stdlib only at import)

#: The seed world's users (fixtures/world.toml): role -> (client id, secret, organization).
USERS = {
    "owner": ("rapidata-sim", "rapidata-sim-secret", "org_sim"),
    "colleague": ("rapidata-sim-colleague", "colleague-secret", "org_sim"),
    "stranger": ("rapidata-sim-other", "other-secret", "org_other"),
}
#: Client i acts as ROLES[i % 4]: half owners, a quarter colleagues, a quarter strangers.
ROLES = ("owner", "owner", "colleague", "stranger")

#: Audiences a user of each organization may assign work to (public seed audiences for everyone;
#: org_sim's own "Night owls" are slow, 400 responses/hour, so their jobs overlap the next firing).
AUDIENCES = {"org_sim": ("global", "aud_MU1GZYoESyO", "aud_sim_nightowls"),
             "org_other": ("global", "aud_MU1GZYoESyO")}

#: The error classes the real service answers in exactly these situations, and why (the guide /
#: spec / README's "Visibility" and "Errors"): (operation kind, HTTP status) -> class.
EXPECTED: dict[tuple[str, int], tuple[str, str]] = {
    ("probe_foreign_signal", 404): ("foreign-signal-404", "another organization's signal is 404, as if absent "
                                                          "(README, Visibility)"),
    ("probe_foreign_job", 404): ("foreign-job-404", "another organization's job is 404, as if absent "
                                                    "(README, Visibility)"),
    ("probe_private_signal", 404): ("private-signal-404", "a colleague's private signal is 404: signals are "
                                    "visible to the owner, to the organization only when isPublic (README, "
                                    "Visibility; the signals guide's is_public)"),
    ("probe_pause_not_owner", 403): ("not-owner-403", "pausing a colleague's public signal is 403: only the "
                                     "owner may change a signal, others who can read it get 403 (README, "
                                     "Visibility)"),
    ("probe_other_world_signal", 404): ("other-world-404", "a signal of another world is 404: worlds never "
                                        "see each other (docs/connecting.md, Worlds)"),
    ("create_signal_bad_interval", 400): ("interval-400", "intervalSeconds below 60 is a 400 "
                                          "ValidationProblemDetails with errors.intervalSeconds (spec; wire "
                                          "notes §8)"),
}
#: Operations that must be refused: a success is itself unexpected (a visibility leak, a bad write).
MUST_FAIL = {kind for kind, _ in EXPECTED}

#: Relative weights of the operation mix, per role (an absent kind is never drawn by that role).
MIX: dict[str, dict[str, int]] = {
    "owner": {"create_definition": 3, "create_signal": 6, "find_signals": 8, "get_signal": 10, "list_runs": 10,
              "signal_jobs": 6, "find_jobs": 8, "find_definitions": 3, "trigger": 6, "pause_resume": 6,
              "rename_signal": 2, "job_results": 8, "advance_clock": 2, "create_signal_bad_interval": 1},
    "colleague": {"create_definition": 2, "create_signal": 4, "find_signals": 8, "get_signal": 8, "list_runs": 8,
                  "signal_jobs": 4, "find_jobs": 6, "find_definitions": 2, "trigger": 4, "pause_resume": 3,
                  "job_results": 6, "advance_clock": 2, "probe_private_signal": 3, "probe_pause_not_owner": 3},
    "stranger": {"create_definition": 2, "create_signal": 4, "find_signals": 6, "get_signal": 6, "list_runs": 6,
                 "signal_jobs": 3, "find_jobs": 4, "trigger": 4, "pause_resume": 3, "job_results": 4,
                 "advance_clock": 1, "probe_foreign_signal": 4, "probe_foreign_job": 4},
}
#: Multi-world mode: every client is its world's owner (own credentials, own organization), and
#: now and then reads a signal of another world (a 404: worlds never see each other).
WORLD_MIX = {k: v for k, v in MIX["owner"].items()} | {"probe_other_world_signal": 3}
#: Seed audiences public to every organization of a world made for new credentials.
WORLD_AUDIENCES = ("global", "aud_MU1GZYoESyO")
MAX_SIGNALS_PER_CLIENT = 8
INTERVALS_HOURS = (1, 1, 2, 3, 6)


# -- the server -----------------------------------------------------------------------


class Server:
    """``rapidata-sim serve`` in a subprocess on a temporary data dir."""

    def __init__(self, data_dir: Path, seed: int, speed: float, timeout: float = 60) -> None:
        self.log = open(data_dir / "server.log", "w+")
        self.data_dir = data_dir / "sim"  # world.sqlite3, the CA, server.env
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rapidata_sim.cli", "serve", "--host", "127.0.0.1", "--port", "0",
             "--data-dir", str(self.data_dir), "--seed", str(seed), "--speed", repr(float(speed))],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=str(ROOT))
        self.env: dict[str, str] = {}
        found: list[str] = []
        reader = threading.Thread(target=self._read_env, args=(found,), daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"the server did not print its environment: {self.stderr_tail()}")
        self.host = self.env["RAPIDATA_ENVIRONMENT"].split("@", 1)[1]
        if not self.host.startswith("127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the server is not on loopback: {self.host}")
        self.ca = self.env["SSL_CERT_FILE"]

    def _read_env(self, found: list[str]) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
            if m:
                self.env[m.group(1)] = m.group(2)
            if {"RAPIDATA_ENVIRONMENT", "SSL_CERT_FILE", "RAPIDATA_DISABLE_OTLP"} <= self.env.keys():
                found.append("yes")
                return

    def stderr_tail(self, n: int = 4000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-n:]

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signals.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


class Http:
    """A plain HTTPS client of the server as one user (the control surface and the audit)."""

    def __init__(self, server: Server, role: str, creds: tuple[str, str, str] | None = None) -> None:
        import httpx

        cid, secret, self.org = creds or USERS[role]
        self.http = httpx.Client(base_url=f"https://{server.host}", timeout=60,
                                 verify=ssl.create_default_context(cafile=server.ca))
        token = self.http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=(cid, secret))
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        r.raise_for_status()
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def send(self, method: str, path: str, body: Any) -> Any:
        r = self.http.request(method, path, json=body)
        r.raise_for_status()
        return r.json()

    def events(self) -> list[dict[str, Any]]:
        """The whole event log, page by page (``x-sim-next-since`` names the next page)."""
        out: list[dict[str, Any]] = []
        since: str | None = "0"
        while since is not None:
            r = self.http.get("/_sim/events", params={"since": since, "limit": 100_000})
            r.raise_for_status()
            out += [json.loads(line) for line in r.text.splitlines() if line]
            since = r.headers.get("x-sim-next-since")
        return out

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            got = self.get(path, page=page, page_size=1000, **params)
            items += got["items"]
            if page >= (got.get("totalPages") or 1) or not got["items"]:
                return items
            page += 1

    def close(self) -> None:
        self.http.close()


# -- recording ------------------------------------------------------------------------


@dataclass
class Call:
    kind: str
    ms: float
    outcome: str  # ok | expected | unexpected
    detail: str = ""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK exception (RapidataError, ApiException, or wrapped in either)."""
    seen = 0
    while exc is not None and seen < 6:
        for attr in ("status_code", "status"):
            value = getattr(exc, attr, None)
            if isinstance(value, int):
                return value
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "original_exception", None)
        seen += 1
    return None


def problem_shape(exc: BaseException, status: int, field_name: str | None = None) -> str | None:
    """What is wrong with an error answer's shape (None: the service's problem+json, with
    ``traceId`` and the ``x-trace-id`` header; a 400 a ValidationProblemDetails with ``errors``)."""
    details = getattr(exc, "details", None)
    if not isinstance(details, dict) or details.get("status") != status or not details.get("traceId"):
        return f"is not problem+json with status and traceId ({details!r:.200})"
    if not getattr(exc, "trace_id", None):
        return "has no x-trace-id header"
    if status == 400 and not (isinstance(details.get("errors"), dict) and details["errors"]):
        return "is not a ValidationProblemDetails with errors"
    if field_name and field_name not in details.get("errors", {}):
        return f"does not name {field_name} in errors"
    return None


class _OwnWorldId(Exception):
    """A probe of another world's signal id found this world's own signal of that id."""


@dataclass
class Shared:
    """What the clients know of the world between them (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: signal id -> {"owner": client index, "role", "org", "public", "definition"}
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    definitions: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    jobs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: signal id -> acknowledged trigger() calls; and calls whose fate is unknown (failed oddly)
    triggers: Counter = field(default_factory=Counter)
    triggers_unsure: Counter = field(default_factory=Counter)


# -- one client -----------------------------------------------------------------------


class Worker:
    def __init__(self, index: int, role: str, client: Any, shared: Shared, control: Http, seed: int,
                 deadline: float, *, org: str | None = None, mix: dict[str, int] | None = None,
                 other_worlds: Callable[[], list[str]] | None = None, own_clients: list[int] | None = None
                 ) -> None:
        self.index, self.role, self.client, self.shared = index, role, client, shared
        self.org = org or USERS[role][2]
        self.audiences = AUDIENCES.get(self.org, WORLD_AUDIENCES)
        self.other_worlds = other_worlds or (lambda: [])
        self.own_clients = set(own_clients or ())
        self.control = control
        self.rng = random.Random(f"{seed}:{index}")
        self.deadline = deadline
        self.calls: list[Call] = []
        self.mine: list[str] = []  # my signals
        self.paused: set[str] = set()
        kinds = mix or MIX[role]
        self.kinds, self.weights = list(kinds), list(kinds.values())

    # The one place calls are timed and judged.
    def call(self, kind: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            result = fn()
        except _OwnWorldId:
            self.calls.append(Call(kind, (time.perf_counter() - t0) * 1000, "ok", "the id is also this world's"))
            return None
        except Exception as exc:  # noqa: BLE001 - every failure is recorded and judged
            ms = (time.perf_counter() - t0) * 1000
            status = status_of(exc)
            if status is not None and (kind, status) in EXPECTED:
                wrong = problem_shape(exc, status, "intervalSeconds" if status == 400 else None)
                if wrong:
                    self.calls.append(Call(kind, ms, "unexpected", f"{status} {wrong}: {exc!s:.200}"))
                else:
                    self.calls.append(Call(kind, ms, "expected", EXPECTED[(kind, status)][0]))
                return None
            what = f"HTTP {status}" if status is not None else type(exc).__name__
            self.calls.append(Call(kind, ms, "unexpected", f"{what}: {exc!s:.300}"))
            return None
        ms = (time.perf_counter() - t0) * 1000
        if kind in MUST_FAIL:
            self.calls.append(Call(kind, ms, "unexpected", "succeeded, but the service refuses this"))
            return None
        self.calls.append(Call(kind, ms, "ok"))
        return result

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            getattr(self, "op_" + kind)()

    # -- helpers ----------------------------------------------------------------------

    def _pick(self, items: list[str]) -> str | None:
        return self.rng.choice(items) if items else None

    def _remember_jobs(self, ids: list[str]) -> None:
        with self.shared.lock:
            self.shared.jobs[self.org].update(ids)

    # -- the operations ---------------------------------------------------------------

    def op_create_definition(self) -> None:
        n = self.rng.randint(1, 4)
        votes = self.rng.choice((1, 3, 5))
        definition = self.call("create_definition", lambda: self.client.job.create_free_text_job_definition(
            name=f"load c{self.index} def", instruction="Say something", data_type="text",
            datapoints=[f"text {self.index}-{i}" for i in range(n)], responses_per_datapoint=votes))
        if definition is not None:
            with self.shared.lock:
                self.shared.definitions[self.org].append(definition.id)

    def op_create_signal(self) -> None:
        with self.shared.lock:
            definitions = list(self.shared.definitions[self.org])
        if not definitions or len(self.mine) >= MAX_SIGNALS_PER_CLIENT:
            return self.op_find_signals()
        definition = self.rng.choice(definitions)
        audience = self.rng.choice(self.audiences)
        public = self.rng.random() < 0.5
        hours = self.rng.choice(INTERVALS_HOURS)
        created = self.call("create_signal", lambda: self.client.signals.create_signal(
            name=f"load c{self.index} every {hours}h", audience=audience, job_definition=definition,
            interval_hours=hours, is_public=public))
        if created is not None:
            self.mine.append(created.id)
            with self.shared.lock:
                self.shared.signals[created.id] = {"owner": self.index, "role": self.role, "org": self.org,
                                                   "public": public, "definition": definition}

    def op_create_signal_bad_interval(self) -> None:
        with self.shared.lock:
            definitions = list(self.shared.definitions[self.org])
        if not definitions:
            return self.op_find_signals()
        definition = self.rng.choice(definitions)
        self.call("create_signal_bad_interval", lambda: self.client.signals.create_signal(
            name="too often", audience="global", job_definition=definition, interval_hours=0.01))

    def op_find_signals(self) -> None:
        self.call("find_signals", lambda: self.client.signals.find_signals(amount=self.rng.choice((10, 50))))

    def op_get_signal(self) -> None:
        sid = self._pick(self.mine) or self._pick(self._public_of_org())
        if sid is None:
            return self.op_find_signals()
        self.call("get_signal", lambda: self.client.signals.get_signal_by_id(sid))

    def _public_of_org(self) -> list[str]:
        with self.shared.lock:
            return [sid for sid, s in self.shared.signals.items() if s["org"] == self.org and s["public"]]

    def _runs(self, sid: str) -> Any:
        api = self.client._openapi_service.signal.signal_api  # the SDK's generated client
        return api.signal_signal_id_run_get(sid, page=1, page_size=20, sort=["-started_at"])

    def op_list_runs(self) -> None:
        sid = self._pick(self.mine) or self._pick(self._public_of_org())
        if sid is None:
            return self.op_find_jobs()
        runs = self.call("list_runs", lambda: self._runs(sid))
        if runs is not None:
            self._remember_jobs([r.audience_job_id for r in runs.items if r.audience_job_id])

    def op_signal_jobs(self) -> None:
        sid = self._pick(self.mine) or self._pick(self._public_of_org())
        if sid is None:
            return self.op_find_jobs()
        handle = self.call("get_signal", lambda: self.client.signals.get_signal_by_id(sid))
        if handle is None:
            return
        jobs = self.call("signal_jobs", lambda: handle.get_jobs(page_size=5))
        if jobs:
            self._remember_jobs([j.id for j in jobs])

    def op_find_jobs(self) -> None:
        jobs = self.call("find_jobs", lambda: self.client.job.find_jobs(amount=self.rng.choice((10, 50))))
        if jobs:
            self._remember_jobs([j.id for j in jobs])

    def op_find_definitions(self) -> None:
        self.call("find_definitions", lambda: self.client.job.find_job_definitions(amount=20))

    def op_trigger(self) -> None:
        sid = self._pick(self.mine)
        if sid is None:
            return self.op_find_signals()
        before = len(self.calls)
        self.call("trigger", lambda: self.client.signals.get_signal_by_id(sid).trigger())
        outcome = self.calls[before].outcome
        with self.shared.lock:
            if outcome == "ok":
                self.shared.triggers[sid] += 1
            else:
                self.shared.triggers_unsure[sid] += 1

    def op_pause_resume(self) -> None:
        sid = self._pick(self.mine)
        if sid is None:
            return self.op_find_signals()
        if sid in self.paused:
            if self.call("resume", lambda: self.client.signals.get_signal_by_id(sid).resume()) is not None:
                self.paused.discard(sid)
        elif self.call("pause", lambda: self.client.signals.get_signal_by_id(sid).pause()) is not None:
            self.paused.add(sid)

    def op_rename_signal(self) -> None:
        sid = self._pick(self.mine)
        if sid is None:
            return self.op_find_signals()
        n = self.rng.randint(0, 999)
        self.call("rename_signal", lambda: self.client.signals.get_signal_by_id(sid).update(
            name=f"load c{self.index} renamed {n}"))

    def op_job_results(self) -> None:
        with self.shared.lock:
            jobs = sorted(self.shared.jobs[self.org])
        jid = self._pick(jobs)
        if jid is None:
            return self.op_find_jobs()
        job = self.call("get_job", lambda: self.client.job.get_job_by_id(jid))
        if job is None:
            return
        status = self.call("job_status", job.get_status)
        if status in ("Completed", "Failed"):  # final results: no poll, the job is settled
            self.call("job_results", job.get_results)
        elif status == "Running":
            self.call("job_preliminary", lambda: job.get_results(preliminary_results=True))

    def op_advance_clock(self) -> None:
        seconds = self.rng.choice((600, 1800, 3600))
        self.call("advance_clock", lambda: self.control.send("POST", "/_sim/clock/advance", {"seconds": seconds}))

    # The documented refusals.

    def op_probe_private_signal(self) -> None:
        with self.shared.lock:
            private = [sid for sid, s in self.shared.signals.items()
                       if s["org"] == self.org and not s["public"] and USERS[s["role"]][0] != USERS[self.role][0]]
        sid = self._pick(private)
        if sid is None:
            return self.op_get_signal()
        self.call("probe_private_signal", lambda: self.client.signals.get_signal_by_id(sid))

    def op_probe_pause_not_owner(self) -> None:
        with self.shared.lock:
            others = [sid for sid, s in self.shared.signals.items()
                      if s["org"] == self.org and s["public"] and USERS[s["role"]][0] != USERS[self.role][0]]
        sid = self._pick(others)
        if sid is None:
            return self.op_get_signal()
        handle = self.call("get_signal", lambda: self.client.signals.get_signal_by_id(sid))
        if handle is not None:
            self.call("probe_pause_not_owner", handle.pause)

    def op_probe_foreign_signal(self) -> None:
        with self.shared.lock:
            foreign = [sid for sid, s in self.shared.signals.items() if s["org"] != self.org]
        sid = self._pick(foreign)
        if sid is None:
            return self.op_find_signals()
        self.call("probe_foreign_signal", lambda: self.client.signals.get_signal_by_id(sid))

    def op_probe_other_world_signal(self) -> None:
        sid = self._pick(self.other_worlds())
        if sid is None:
            return self.op_find_signals()

        def probe() -> Any:
            got = self.client.signals.get_signal_by_id(sid)
            # Ids are drawn from each world's seed, so another world's signal id may also name a
            # signal of this world; the name says whose it is ("load c<client index> ...").
            m = re.match(r"load c(\d+) ", got.name or "")
            if m and int(m.group(1)) in self.own_clients:
                raise _OwnWorldId(sid)
            return got

        self.call("probe_other_world_signal", probe)

    def op_probe_foreign_job(self) -> None:
        with self.shared.lock:
            foreign = sorted(j for org, ids in self.shared.jobs.items() if org != self.org for j in ids)
        jid = self._pick(foreign)
        if jid is None:
            return self.op_find_jobs()
        self.call("probe_foreign_job", lambda: self.client.job.get_job_by_id(jid))


# -- the audit ------------------------------------------------------------------------


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def check_firings(server: Server, shared: Shared, creds: dict[str, tuple[str, str, str]] | None = None
                  ) -> dict[str, Any]:
    """Runs, jobs and the event log agree one to one, for every signal (the world's clock frozen).
    ``creds``: role -> (client id, secret, organization) of the world's users (default: the seed
    world's owner, colleague and stranger)."""
    creds = creds or USERS
    users = {role: Http(server, role, creds[role]) for role in creds}
    problems: list[str] = []
    try:
        owner = users["owner"]
        owner.send("PATCH", "/_sim/clock", {"speed": 0})  # nothing fires while we look
        events_before = owner.events()
        created = [e["subject"] for e in events_before if e["kind"] == "signal.created"]
        known = dict(shared.signals)
        for sid in created:
            if sid not in known:
                problems.append(f"{sid}: created (signal.created) but never acknowledged to a client")
        for sid in known:
            if sid not in created:
                problems.append(f"{sid}: acknowledged to a client but no signal.created event")

        signals_out: dict[str, dict[str, Any]] = {}
        runs: dict[str, list[dict[str, Any]]] = {}
        for sid in sorted(set(created) | set(known)):
            roles = [known[sid]["role"]] if sid in known else list(users)
            for role in roles:
                try:
                    signals_out[sid] = users[role].get(f"/signal/{sid}")
                    runs[sid] = users[role].pages(f"/signal/{sid}/run", sort="started_at")  # starts queued triggers
                    break
                except Exception as exc:  # noqa: BLE001
                    last = exc
            else:
                problems.append(f"{sid}: its owner cannot read it or its runs: {last}")
        clock = owner.get("/_sim/clock")
        now = _t(clock["now"])
        events = owner.events()
        one_per_org = {org: role for role, (_, _, org) in reversed(list(creds.items()))}
        jobs = {org: {j["jobId"]: j for j in users[role].pages("/jobs")} for org, role in one_per_org.items()}
    finally:
        for u in users.values():
            u.close()

    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_kind[e["kind"]].append(e)
    fired_by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skipped_by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in by_kind["signal.fired"]:
        fired_by_run[e["data"]["run"]].append(e)
    for e in by_kind["signal.skipped"]:
        skipped_by_run[e["data"]["run"]].append(e)
    fired_jobs = Counter(e["data"]["job"] for e in by_kind["signal.fired"])
    for jid, n in fired_jobs.items():
        if n > 1:
            problems.append(f"job {jid}: {n} signal.fired events name it")
    for rid, evs in list(fired_by_run.items()) + list(skipped_by_run.items()):
        if len(evs) > 1:
            problems.append(f"run {rid}: {len(evs)} events")
    triggered = Counter(e["subject"] for e in by_kind["signal.triggered"])
    pauses: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for e in events:
        if e["kind"] in ("signal.paused", "signal.resumed"):
            pauses[e["subject"]].append((e["kind"], _t(e["at"])))

    listed_runs: set[str] = set()
    totals = Counter()
    for sid, sig_runs in runs.items():
        sig = signals_out[sid]
        org = sig["organizationId"]
        for run in sig_runs:
            rid = run["id"]
            if rid in listed_runs:
                problems.append(f"{sid}: run {rid} listed twice")
            listed_runs.add(rid)
            jid = run.get("audienceJobId")
            if jid:
                evs = fired_by_run.get(rid, [])
                totals["fired"] += 1
                if len(evs) != 1:
                    problems.append(f"{sid}: run {rid} (job {jid}) has {len(evs)} signal.fired events")
                    continue
                e = evs[0]
                if (e["subject"], e["data"]["job"], e["data"]["source"]) != (sid, jid, run["triggerSource"]) \
                        or _t(e["at"]) != _t(run["startedAt"]):
                    problems.append(f"{sid}: run {rid} disagrees with its event: {run} vs {e}")
                job = jobs.get(org, {}).get(jid)
                if job is None:
                    problems.append(f"{sid}: run {rid}'s job {jid} is not in {org}'s jobs listing")
                elif job["jobDefinitionId"] != sig["jobDefinitionId"]:
                    problems.append(f"{sid}: job {jid} is of definition {job['jobDefinitionId']}, "
                                    f"the signal's is {sig['jobDefinitionId']}")
            else:
                totals["skipped"] += 1
                if run["status"] != "Skipped" or len(skipped_by_run.get(rid, [])) != 1:
                    problems.append(f"{sid}: run {rid} without a job ({run['status']}) has "
                                    f"{len(skipped_by_run.get(rid, []))} signal.skipped events")
        # Manual: every acknowledged trigger() made exactly one run (fired or skipped).
        manual = sum(1 for r in sig_runs if r["triggerSource"] == "Manual")
        totals["manual"] += manual
        acked, unsure = shared.triggers.get(sid, 0), shared.triggers_unsure.get(sid, 0)
        if triggered.get(sid, 0) != manual or not acked <= manual <= acked + unsure:
            problems.append(f"{sid}: {acked} trigger() acknowledged (+{unsure} unsure), "
                            f"{triggered.get(sid, 0)} signal.triggered events, {manual} manual runs")
        # Scheduled: exactly one run per grid point that was not inside a pause, none elsewhere.
        scheduled = [_t(r["startedAt"]) for r in sig_runs if r["triggerSource"] == "Scheduled"]
        totals["scheduled"] += len(scheduled)
        for instant, n in Counter(scheduled).items():
            if n > 1:
                problems.append(f"{sid}: {n} scheduled runs at grid point {instant.isoformat()}")
        windows, opened = [], None
        for kind, at in pauses.get(sid, []):
            if kind == "signal.paused" and opened is None:
                opened = at
            elif kind == "signal.resumed" and opened is not None:
                windows.append((opened, at))
                opened = None
        if opened is not None:
            windows.append((opened, now + timedelta(days=1)))
        anchor, step = _t(sig["createdAt"]), timedelta(seconds=sig["intervalSeconds"])
        expected, g = set(), anchor + step
        while g <= now:
            if not any(p < g <= r for p, r in windows):
                expected.add(g)
            g += step
        got = set(scheduled)
        for g in sorted(expected - got)[:5]:
            problems.append(f"{sid}: lost firing at grid point {g.isoformat()}")
        for g in sorted(got - expected)[:5]:
            problems.append(f"{sid}: scheduled run at {g.isoformat()}, not an (unpaused) grid point")
    for rid, evs in fired_by_run.items():
        if rid not in listed_runs:
            problems.append(f"event signal.fired for run {rid} (signal {evs[0]['subject']}) has no listed run")
    for rid, evs in skipped_by_run.items():
        if rid not in listed_runs:
            problems.append(f"event signal.skipped for run {rid} (signal {evs[0]['subject']}) has no listed run")
    # The clients created no jobs themselves: every job in the listings came from a firing.
    for org, listed in jobs.items():
        for jid in listed:
            if jid not in fired_jobs:
                problems.append(f"job {jid} of {org} has no signal.fired event")
    return {"ok": not problems, "problems": problems[:50], "problem_count": len(problems),
            "signals": len(runs), "runs": len(listed_runs), "fired": totals["fired"],
            "skipped": totals["skipped"], "scheduled": totals["scheduled"], "manual": totals["manual"],
            "jobs_listed": sum(len(v) for v in jobs.values()), "events": len(events),
            "skipped_reasons": dict(Counter(r.get("skippedReason") for rs in runs.values() for r in rs
                                            if not r.get("audienceJobId"))),
            "virtual_now": clock["now"]}


# -- summary ------------------------------------------------------------------------


def _pct(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, max(0, int(round(q * len(sorted_ms) + 0.5)) - 1))]


def summarise(calls: list[Call], elapsed: float) -> dict[str, Any]:
    per_kind: dict[str, Any] = {}
    groups: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        groups[c.kind].append(c)
    for kind, cs in sorted(groups.items()):
        ms = sorted(c.ms for c in cs)
        per_kind[kind] = {"calls": len(cs), "ok": sum(c.outcome == "ok" for c in cs),
                          "expected": sum(c.outcome == "expected" for c in cs),
                          "unexpected": sum(c.outcome == "unexpected" for c in cs),
                          "p50_ms": round(_pct(ms, 0.5), 2), "p99_ms": round(_pct(ms, 0.99), 2),
                          "max_ms": round(ms[-1], 2)}
    ms = sorted(c.ms for c in calls)
    unexpected = [c for c in calls if c.outcome == "unexpected"]
    return {
        "elapsed_s": round(elapsed, 3), "calls": len(calls), "ops_per_s": round(len(calls) / elapsed, 1),
        "p50_ms": round(_pct(ms, 0.5), 2), "p99_ms": round(_pct(ms, 0.99), 2),
        "ok": sum(c.outcome == "ok" for c in calls),
        "expected_errors": dict(Counter(c.detail for c in calls if c.outcome == "expected")),
        "unexpected_errors": len(unexpected),
        "unexpected_samples": [f"{c.kind}: {c.detail}" for c in unexpected[:20]],
        "unexpected_by_kind": dict(Counter(c.kind for c in unexpected)),
        "per_kind": per_kind,
    }


def report(result: dict[str, Any]) -> str:
    s, a, cfg = result["summary"], result["audit"], result["settings"]
    lines = [f"load: {cfg['clients']} SDK clients x {cfg['seconds']} s against `rapidata-sim serve` "
             f"(seed {cfg['seed']}, clock x{cfg['speed']:g}), {s['calls']} calls in {s['elapsed_s']} s: "
             f"{s['ops_per_s']} ops/s",
             f"{'operation':<28}{'calls':>7}{'ok':>7}{'exp.':>6}{'unexp.':>7}{'p50 ms':>9}{'p99 ms':>9}"]
    for kind, k in s["per_kind"].items():
        lines.append(f"{kind:<28}{k['calls']:>7}{k['ok']:>7}{k['expected']:>6}{k['unexpected']:>7}"
                     f"{k['p50_ms']:>9.1f}{k['p99_ms']:>9.1f}")
    lines.append(f"{'overall':<28}{s['calls']:>7}{s['ok']:>7}{sum(s['expected_errors'].values()):>6}"
                 f"{s['unexpected_errors']:>7}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}")
    lines.append("expected errors: " + (", ".join(f"{n} x {name}" for name, n in
                                                  sorted(s["expected_errors"].items())) or "none"))
    lines.append(f"unexpected errors: {s['unexpected_errors']}")
    lines += [f"  {x}" for x in s["unexpected_samples"][:10]]
    lines.append(f"firings audit: {a['signals']} signals, {a['runs']} runs ({a['scheduled']} scheduled, "
                 f"{a['manual']} manual; {a['fired']} with a job, {a['skipped']} skipped {a['skipped_reasons']}), "
                 f"{a['jobs_listed']} jobs, {a['events']} events, virtual now {a['virtual_now']}: "
                 + ("runs, jobs and events agree 1:1" if a["ok"] else f"{a['problem_count']} PROBLEMS"))
    lines += [f"  {p}" for p in a["problems"][:10]]
    return "\n".join(lines)


# -- the run --------------------------------------------------------------------------


class _Hush(logging.Filter):
    """Keeps the SDK's per-error log lines (``Error: Not Found`` …) off the console: the SDK resets
    its logger's level whenever a client is configured, but keeps its filters."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL


@contextmanager
def sdk_session(seed: int = 0, speed: float = 600, keep: bool = False) -> Iterator[Server]:
    """A standalone server on a temporary data dir, and this process set up for SDK clients of it
    (loopback only, the simulator's CA, no version check, the SDK's error log quiet); all undone after."""
    keys = (*SDK_ENV, "SSL_CERT_FILE", "https_proxy", "http_proxy", "all_proxy", "no_proxy")
    saved = {k: os.environ.get(k) for k in keys}
    sdk_log = logging.getLogger("rapidata")
    hush = _Hush()
    tmp = Path(tempfile.mkdtemp(prefix="rapidata-sim-load-"))
    server: Server | None = None
    patched = None
    try:
        for key in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
            os.environ.pop(key, None)
        os.environ.update(SDK_ENV)
        server = Server(tmp, seed, speed)
        os.environ["SSL_CERT_FILE"] = server.ca  # only the simulator's CA: loopback is all we talk to
        from rapidata import RapidataClient

        patched = RapidataClient.__dict__.get("_check_version")
        if patched is not None:
            RapidataClient._check_version = lambda self: None  # type: ignore[method-assign]
        sdk_log.addFilter(hush)  # the refusals in the mix are on purpose, and each is recorded
        yield server
    finally:
        if server is not None:
            server.stop()
            server.log.close()
        if patched is not None:
            from rapidata import RapidataClient

            RapidataClient._check_version = patched  # type: ignore[method-assign]
        sdk_log.removeFilter(hush)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if keep:
            print(f"load: the server's data dir is kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def sdk_client(server: Server, role: str) -> Any:
    """A real ``RapidataClient`` of ``server`` as the seed world's ``role`` (inside ``sdk_session``)."""
    from rapidata import RapidataClient

    cid, secret, _ = USERS[role]
    return RapidataClient(client_id=cid, client_secret=secret, environment=server.env["RAPIDATA_ENVIRONMENT"])


def run(clients: int = 16, seconds: float = 20, seed: int = 0, quiet: bool = False, *, speed: float = 600,
        out: Path | None = RESULTS, keep: bool = False) -> dict[str, Any]:
    """One bounded load run; returns (and with ``out`` writes) the summary and the firings audit."""
    with sdk_session(seed, speed, keep) as server:
        roles = [ROLES[i % len(ROLES)] for i in range(clients)]
        sdk_clients = [sdk_client(server, role) for role in roles]
        sdk_clients[0].signals.find_signals()  # the SDK's one-off import of its API modules, untimed
        sdk_clients[0].job.find_jobs()
        controls = {role: Http(server, role) for role in USERS}
        shared = Shared()
        start = time.monotonic()
        deadline = start + seconds
        workers = [Worker(i, role, c, shared, controls[role], seed, deadline)
                   for i, (role, c) in enumerate(zip(roles, sdk_clients))]
        threads = [threading.Thread(target=w.run, name=f"load-{w.index}", daemon=True) for w in workers]
        for t in threads:
            t.start()
        hung = []
        for t in threads:  # bounded: an operation that has not returned a minute after the end is a hang
            t.join(max(0.0, deadline + 60 - time.monotonic()))
            if t.is_alive():
                hung.append(t.name)
        elapsed = time.monotonic() - start
        calls = [c for w in workers for c in list(w.calls)]
        calls += [Call("thread", 0.0, "unexpected", f"{name} did not stop") for name in hung]
        summary = summarise(calls, elapsed)
        audit = check_firings(server, shared)
        for c in controls.values():
            c.close()
        if server.proc.poll() is not None:
            summary["unexpected_errors"] += 1
            summary["unexpected_samples"].append(f"the server exited with {server.proc.returncode}")
        log_tail = server.stderr_tail(10_000_000)
        tracebacks = log_tail.count("Traceback")
        if tracebacks:
            summary["unexpected_samples"].append(f"server log has {tracebacks} traceback(s): {log_tail[-1500:]}")
    result = {
        "bench": "load",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": {"clients": clients, "seconds": seconds, "seed": seed, "speed": speed, "roles": roles,
                     "mix": MIX},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "expected_classes": {name: {"operation": kind, "status": status, "why": why}
                             for (kind, status), (name, why) in EXPECTED.items()},
        "summary": summary,
        "audit": audit,
        "server_tracebacks": tracebacks,
        "database_locked": locked_count(calls, log_tail),
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if not quiet:
        print(report(result))
    return result


# -- many worlds ------------------------------------------------------------------------


def locked_count(calls: list[Call], log: str) -> int:
    """SQLite's "database is locked", in any call's error or in the server's log."""
    return sum("database is locked" in c.detail for c in calls) + log.count("database is locked")


def world_credentials(k: int) -> tuple[str, str]:
    return f"load-w{k:02d}", f"load-secret-w{k:02d}"


def run_worlds(clients: int = 64, worlds: int = 16, seconds: float = 20, seed: int = 0, quiet: bool = False, *,
               speed: float = 600, procs: int | None = None, out: Path | None = None,
               keep: bool = False) -> dict[str, Any]:
    """``clients`` real SDK clients spread over ``worlds`` worlds of one ``serve --data-dir``, each
    world made by its own credentials' first token request; client i works in world i % worlds as
    its owner (``WORLD_MIX``: the owner's mix, plus reads of other worlds' signals, a 404). The
    clients run in ``procs`` processes (default: one per core, at most one per world; world k in
    process k % procs) so the load generator's GIL is not what is measured; all start together.
    Each world is audited on its own (``check_firings``) once the time is up."""
    procs = max(1, min(worlds, procs or os.cpu_count() or 1))
    with sdk_session(seed, speed, keep) as server:
        creds: dict[str, tuple[str, str, str]] = {}
        for k in range(worlds):  # untimed: each token request makes its world
            cid, secret = world_credentials(k)
            h = Http(server, "owner", (cid, secret, ""))
            wid = h.get("/_sim/worlds")["yours"]
            h.close()
            creds[wid] = (cid, secret, f"org_{wid}")
        ids = list(creds)
        plan: list[dict[str, Any]] = [{} for _ in range(procs)]
        for i in range(clients):
            wid = ids[i % worlds]
            plan[ids.index(wid) % procs].setdefault(wid, [*creds[wid], []])[3].append(i)
        children = []
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
        for part in plan:
            spec = {"host": server.host, "ca": server.ca, "environment": server.env["RAPIDATA_ENVIRONMENT"],
                    "seed": seed, "seconds": seconds, "worlds": part}
            child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child"], cwd=str(ROOT),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            child.stdin.write(json.dumps(spec) + "\n")
            child.stdin.flush()
            children.append(child)
        try:
            for child in children:  # each has its clients made and the SDK's imports done
                if _protocol_line(child) != "ready":
                    raise RuntimeError("a load process did not get ready")
            for child in children:
                child.stdin.write("go\n")
                child.stdin.flush()
            parts = [json.loads(_protocol_line(child, timeout=seconds + 600)) for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                child.wait()
        calls = [Call(*c) for part in parts for c in part["calls"]]
        calls += [Call("thread", 0.0, "unexpected", f"{name} did not stop") for part in parts for name in part["hung"]]
        elapsed = max(part["elapsed"] for part in parts)
        summary = summarise(calls, elapsed)
        audits = {wid: a for part in parts for wid, a in part["audits"].items()}
        if server.proc.poll() is not None:
            summary["unexpected_errors"] += 1
            summary["unexpected_samples"].append(f"the server exited with {server.proc.returncode}")
        log_tail = server.stderr_tail(10_000_000)
        tracebacks = log_tail.count("Traceback")
        if tracebacks:
            summary["unexpected_samples"].append(f"server log has {tracebacks} traceback(s): {log_tail[-1500:]}")
    totals = Counter()
    for a in audits.values():
        totals.update({k: a[k] for k in ("signals", "runs", "fired", "skipped", "scheduled", "manual",
                                           "jobs_listed", "events", "problem_count")})
    audit = {"ok": all(a["ok"] for a in audits.values()), **totals,
             "problems": [f"{wid}: {p}" for wid, a in audits.items() for p in a["problems"]][:50],
             "worlds_clean": sum(a["ok"] for a in audits.values())}
    result = {
        "bench": "load", "mode": "worlds",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": {"clients": clients, "worlds": worlds, "procs": procs, "seconds": seconds, "seed": seed,
                     "speed": speed, "mix": WORLD_MIX},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "summary": summary, "audit": audit, "audits": audits,
        "server_tracebacks": tracebacks, "database_locked": locked_count(calls, log_tail),
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if not quiet:
        print(report_worlds(result))
    return result


def _protocol_line(child: subprocess.Popen, timeout: float = 300) -> str:
    """The child's next ``LOAD:`` line on stdout (anything else it prints is passed through)."""
    deadline = time.monotonic() + timeout
    assert child.stdout is not None
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"a load process ended (exit status {child.poll()})")
        if line.startswith("LOAD:"):
            return line[5:].strip()
        sys.stdout.write(line)
    raise RuntimeError("a load process did not answer in time")


def child_main() -> int:
    """One load process of ``run_worlds``: its worlds' clients, then their audits (JSON on stdout)."""
    from types import SimpleNamespace

    spec = json.loads(sys.stdin.readline())
    for key in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
        os.environ.pop(key, None)
    os.environ.update(SDK_ENV)
    os.environ["SSL_CERT_FILE"] = spec["ca"]
    from rapidata import RapidataClient

    RapidataClient._check_version = lambda self: None  # type: ignore[method-assign]
    logging.getLogger("rapidata").addFilter(_Hush())
    server = SimpleNamespace(host=spec["host"], ca=spec["ca"])
    shareds = {wid: Shared() for wid in spec["worlds"]}

    def others(mine: str) -> Callable[[], list[str]]:
        def ids() -> list[str]:
            out: list[str] = []
            for wid, sh in shareds.items():
                if wid != mine:
                    with sh.lock:
                        out += list(sh.signals)
            return out
        return ids

    workers, controls = [], []
    for wid, (cid, secret, org, indexes) in spec["worlds"].items():
        control = Http(server, "owner", (cid, secret, org))  # type: ignore[arg-type]
        controls.append(control)
        for i in indexes:
            client = RapidataClient(client_id=cid, client_secret=secret, environment=spec["environment"])
            workers.append(Worker(i, "owner", client, shareds[wid], control, spec["seed"], 0.0, org=org,
                                  mix=WORLD_MIX, other_worlds=others(wid), own_clients=indexes))
    workers[0].client.signals.find_signals()  # the SDK's one-off import of its API modules, untimed
    workers[0].client.job.find_jobs()
    print("LOAD:ready", flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    deadline = start + spec["seconds"]
    for w in workers:
        w.deadline = deadline
    threads = [threading.Thread(target=w.run, name=f"load-{w.index}", daemon=True) for w in workers]
    for t in threads:
        t.start()
    hung = []
    for t in threads:
        t.join(max(0.0, deadline + 60 - time.monotonic()))
        if t.is_alive():
            hung.append(t.name)
    elapsed = time.monotonic() - start
    calls = [[c.kind, c.ms, c.outcome, c.detail] for w in workers for c in list(w.calls)]
    audits = {wid: check_firings(server, shareds[wid], {"owner": tuple(spec["worlds"][wid][:3])})  # type: ignore
              for wid in spec["worlds"]}
    for c in controls:
        c.close()
    print("LOAD:" + json.dumps({"elapsed": elapsed, "calls": calls, "hung": hung, "audits": audits}), flush=True)
    return 0


def report_worlds(result: dict[str, Any]) -> str:
    s, a, cfg = result["summary"], result["audit"], result["settings"]
    lines = [f"load: {cfg['clients']} SDK clients in {cfg['worlds']} worlds ({cfg['procs']} client processes) x "
             f"{cfg['seconds']} s against one `rapidata-sim serve --data-dir`, {s['calls']} calls in "
             f"{s['elapsed_s']} s: {s['ops_per_s']} ops/s"]
    lines += report({**result, "audit": {**a, "skipped_reasons": "", "virtual_now": "(per world)"},
                     "settings": {**cfg, "clients": cfg["clients"]}}).splitlines()[1:-1 - len(a["problems"][:10])]
    lines.append(f"firings audit, per world: {a['worlds_clean']}/{cfg['worlds']} worlds clean; {a['signals']} "
                 f"signals, {a['runs']} runs ({a['scheduled']} scheduled, {a['manual']} manual; {a['fired']} with a "
                 f"job, {a['skipped']} skipped), {a['jobs_listed']} jobs, {a['events']} events"
                 + ("" if a["ok"] else f": {a['problem_count']} PROBLEMS"))
    lines += [f"  {p}" for p in a["problems"][:10]]
    lines.append(f'"database is locked": {result["database_locked"]}')
    return "\n".join(lines)


#: Issue 15's goals for the load at fleet size (side by side in one run).
GOALS = {"throughput_per_core": 0.8, "p99_ratio": 10.0}


def compare(seconds: float = 5, seed: int = 0, *, full: bool = False, procs: int | None = None,
            quiet: bool = False) -> dict[str, Any]:
    """Issue 15 item 2 in one run: 1 client (the baseline), 16 clients in 16 worlds, 16 clients in
    one world and (``full``) 64 clients in 16 worlds; each next to the goals."""
    modes: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("1 client, 1 world", lambda: run(1, seconds, seed, True, out=None)),
        ("16 clients, 16 worlds", lambda: run_worlds(16, 16, seconds, seed, True, procs=procs)),
        ("16 clients, 1 world", lambda: run(16, seconds, seed, True, out=None)),
    ]
    if full:
        modes.append(("64 clients, 16 worlds", lambda: run_worlds(64, 16, seconds, seed, True, procs=procs)))
    doc: dict[str, Any] = {"bench": "load", "mode": "compare", "seconds": seconds, "cpus": os.cpu_count(),
                           "goals": GOALS, "runs": {}}
    for name, fn in modes:
        print(f"\n-- load: {name} x {seconds:g} s --", flush=True)
        result = fn()
        doc["runs"][name] = result
        if not quiet:
            print(report_worlds(result) if result.get("mode") == "worlds" else report(result), flush=True)
    doc["verdict"] = verdict(doc)
    if not quiet:
        print(verdict_table(doc))
    return doc


def verdict(doc: dict[str, Any]) -> dict[str, Any]:
    runs, cores = doc["runs"], doc["cpus"] or 1
    one = runs["1 client, 1 world"]["summary"]
    out: dict[str, Any] = {"rows": {}}
    for name, r in runs.items():
        s = r["summary"]
        out["rows"][name] = {
            "ops_per_s": s["ops_per_s"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"],
            "throughput_ratio": round(s["ops_per_s"] / one["ops_per_s"], 3) if one["ops_per_s"] else None,
            "p99_ratio": round(s["p99_ms"] / one["p99_ms"], 2) if one["p99_ms"] else None,
            "unexpected": s["unexpected_errors"], "expected": sum(s["expected_errors"].values()),
            "audit_ok": r["audit"]["ok"], "audit_problems": r["audit"].get("problem_count", 0),
            "database_locked": r.get("database_locked", 0), "tracebacks": r.get("server_tracebacks", 0)}
    key = out["rows"].get("16 clients, 16 worlds")
    if key:
        out["throughput_goal"] = GOALS["throughput_per_core"] * cores
        out["throughput_met"] = key["throughput_ratio"] is not None and key["throughput_ratio"] >= out["throughput_goal"]
        out["p99_met"] = key["p99_ratio"] is not None and key["p99_ratio"] <= GOALS["p99_ratio"]
    out["clean"] = all(r["unexpected"] == 0 and r["audit_ok"] and r["database_locked"] == 0 and r["tracebacks"] == 0
                       for r in out["rows"].values())
    return out


def verdict_table(doc: dict[str, Any]) -> str:
    v, cores = doc["verdict"], doc["cpus"]
    head = (f"{'mode':<24}{'ops/s':>8}{'× 1 cl.':>9}{'p50 ms':>8}{'p99 ms':>8}{'p99 ×':>7}{'unexp.':>7}"
            f"{'exp.':>6}{'audit':>8}{'locked':>7}")
    lines = ["", f"load at fleet size, side by side ({doc['seconds']:g} s each, {cores} cores; one run on a shared, "
             "noisy machine)", head, "─" * len(head)]
    for name, r in v["rows"].items():
        lines.append(f"{name:<24}{r['ops_per_s']:>8.0f}{r['throughput_ratio']:>8.2f}×{r['p50_ms']:>8.1f}"
                     f"{r['p99_ms']:>8.1f}{r['p99_ratio']:>6.1f}×{r['unexpected']:>7}{r['expected']:>6}"
                     f"{'clean' if r['audit_ok'] else str(r['audit_problems']) + ' bad':>8}{r['database_locked']:>7}")
    if "throughput_goal" in v:
        k = v["rows"]["16 clients, 16 worlds"]
        lines.append(f"goal: 16 clients in 16 worlds ≥ {GOALS['throughput_per_core']:g} × {cores} cores × 1 client = "
                     f"{v['throughput_goal']:.2f}×: {k['throughput_ratio']:.2f}× "
                     f"{'MET' if v['throughput_met'] else 'NOT MET'}")
        lines.append(f"goal: p99 at 16 clients (16 worlds) ≤ {GOALS['p99_ratio']:g}× 1 client: {k['p99_ratio']:.1f}× "
                     f"{'MET' if v['p99_met'] else 'NOT MET'}")
    lines.append("goal: 0 unexpected errors, 0 lost/duplicated firings, 0 \"database is locked\" (every mode): "
                 + ("MET" if v["clean"] else "NOT MET"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", type=float, default=600, help="virtual seconds per wall second (default 600)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--keep-data", action="store_true", help="keep the server's data dir (SQLite, log) to look into")
    ap.add_argument("--worlds", type=int, default=0,
                    help="many-worlds mode: --clients spread over this many worlds, each its own credentials")
    ap.add_argument("--procs", type=int, default=None, help="many-worlds mode: client processes (default: cores)")
    ap.add_argument("--compare", action="store_true",
                    help="1 client, 16 in 16 worlds, 16 in 1 world (--full: and 64 in 16 worlds), next to the goals")
    ap.add_argument("--full", action="store_true", help="with --compare: add 64 clients in 16 worlds")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0:
        ap.error("--clients must be >= 1 and --seconds > 0")
    if args.compare:
        doc = compare(args.seconds, args.seed, full=args.full, procs=args.procs, quiet=args.quiet)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        return 0 if doc["verdict"]["clean"] else 1
    if args.worlds:
        result = run_worlds(args.clients, args.worlds, args.seconds, args.seed, args.quiet, speed=args.speed,
                            procs=args.procs, out=args.out, keep=args.keep_data)
    else:
        result = run(args.clients, args.seconds, args.seed, args.quiet, speed=args.speed, out=args.out,
                     keep=args.keep_data)
    bad = result["summary"]["unexpected_errors"] or not result["audit"]["ok"] or result["server_tracebacks"] \
        or result["database_locked"]
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.exit(child_main())
    sys.exit(main())

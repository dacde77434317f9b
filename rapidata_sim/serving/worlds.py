"""Many worlds behind one server, chosen by the credentials the client already sends.

As LocalStack does with access keys: ``POST /connect/token`` with client
credentials nobody has used before creates a new world for them (its own
organization, user, store, clock and seed, with the seed data of
``fixtures/world.toml``), and every later request is routed to the world that
issued its bearer token. The same credentials always reach the same world;
other credentials never see or move it. The seed data's own clients
(``rapidata-sim`` ...) live in the default world.

Control operations on worlds, under the reserved prefix: ``GET /_sim/worlds``
(the caller's own world; no caller sees another's clients, seed or clock),
``POST /_sim/worlds/{id}/reset`` (a fresh world, same id and clients; only from
inside that world; it waits for the world's requests in flight, and requests
arriving meanwhile get 503). Everything else under ``/_sim`` acts on the
caller's own world.

Many worlds cost little: a token request that would be refused makes no world;
``max_worlds`` caps them (403 ``access_denied`` at /connect/token); on a data dir
worlds open on their first request and close when idle (no file held open); a
start reads only who owns which world; one ``Ticker`` thread runs every world's
clock; a bearer token finds its world in one dict lookup. A world's file is named
by a hash of its id (``file_name``), safe on case-insensitive filesystems.

A world that fails to open (a damaged file, a stored state this version cannot
run) is quarantined instead of stopping the server: it is logged, listed with
its error, and its requests are answered 503; resetting it from inside starts it
afresh. Every other world serves as usual.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..core.clock import EARLIEST, HORIZON, check_instant, iso, parse_iso
from ..http import app_pages, create_app
from ..http.auth import client_credentials, oauth_error
from ..http.problems import problem
from ..http.routing import BodyTooLarge, read_body
from .server import BODY_TIMEOUT, TLSServer, connection_env
from .ticker import Ticker
from ..simulator import SimConfig, Simulator
from ..core.store import Store

DEFAULT = "default"
_ID = re.compile(r"[^A-Za-z0-9_-]+")
#: What a reset carries over from the world it replaces: who may use it.
_IDENTITY = ("organizations", "users", "clients", "tokens")
#: How long a world on a data dir stays open without requests before it is closed (seconds).
IDLE_SECONDS = 300.0
#: At most this many worlds open at once; past it the least recently used idle ones are closed.
MAX_OPEN = 256
#: How long a reset or delete waits for its world's requests in flight to finish (seconds).
QUIESCE_SECONDS = 30.0
HEARTBEAT = "heartbeat"
INDEX = "index.json"
log = logging.getLogger("rapidata_sim.worlds")


@dataclass
class Quarantined:
    """A world that failed to open: why, and who it belongs to (None if its file is unreadable)."""

    id: str
    error: str
    identity: dict[str, list[dict[str, Any]]] | None


class WorldLimit(Exception):
    """The server holds ``--max-worlds`` worlds: no new one."""


def world_id_for(client_id: str) -> str:
    """A readable world id for a client id (file-safe characters, at most 40 of them)."""
    return (_ID.sub("-", client_id).strip("-") or "world")[:40]


def file_name(world_id: str) -> str:
    """A world's file name: a readable lower-case prefix and a hash of the exact id, so ids that
    differ only in case (``alice``, ``ALICE``) or in what sanitising dropped never share a file,
    even on a case-insensitive filesystem (macOS, Windows), and the name stays short."""
    return f"{world_id.lower()[:40]}-{hashlib.sha256(world_id.encode()).hexdigest()[:12]}.sqlite3"


class Worlds:
    """The registry: world id -> ``Simulator``, each in its own SQLite file (or in memory).

    On a data dir, worlds are opened on demand (the first request after a start, or after
    ``idle_seconds`` without requests closed them again: an idle world holds no file open), so
    a start reads only who owns which world. One ``Ticker`` thread runs every world's clock.
    ``max_worlds`` caps how many worlds (besides the default one) credentials may create."""

    def __init__(self, *, seed: int = 0, speed: float = 1.0, data_dir: str | Path | None = None,
                 max_worlds: int | None = None, idle_seconds: float = IDLE_SECONDS, max_open: int = MAX_OPEN,
                 poll_advance: str = "off") -> None:
        self.seed, self.speed = seed, speed
        #: Every world's ``SimConfig.poll_advance`` when it opens ("next-event" under ``serve``).
        self.poll_advance = poll_advance
        self.data_dir = Path(data_dir) if data_dir else None
        self.max_worlds, self.idle_seconds, self.max_open = max_worlds, idle_seconds, max_open
        #: Limits of the server itself (the body limit of the token and worlds requests).
        self.config = SimConfig()
        self._lock = threading.RLock()
        self._worlds: dict[str, Simulator] = {}       # the open worlds
        self._apps: dict[str, Any] = {}
        self._files: dict[str, str] = {}              # every world, open or not -> its store path
        self._quarantined: dict[str, Quarantined] = {}
        self._clients: dict[str, str] = {}   # client id -> world id
        self._tokens: dict[str, str] = {}    # bearer token -> world id (every token any world issued)
        self._used: dict[str, float] = {}    # world id -> monotonic time of its last request
        self._inflight: dict[str, int] = {}  # world id -> requests being answered
        self._busy: set[str] = set()         # worlds being reset or deleted: their requests get 503
        # When the server before this one was last seen alive: the time between that and now
        # was downtime (an outage), the time a world spent closed while a server ran was not.
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self._started = time.time()
        self._previous_heartbeat = self._read_heartbeat()
        self._ticker = Ticker(self._chores)
        self._open_or_quarantine(DEFAULT)
        if self.data_dir is not None and (self.data_dir / "worlds").is_dir():
            index = self._read_index()
            for path in sorted((self.data_dir / "worlds").glob("*.sqlite3")):
                entry = index.get(path.name)
                if entry is not None and entry.get("file") == _signature(path):
                    self._register(path, entry["world_id"], entry["clients"], entry["tokens"])
                else:
                    self._scan(path)
        self._heartbeat()
        self._ticker.start()

    # -- what is on disk ------------------------------------------------------------------

    def _scan(self, path: Path) -> None:
        """Learn a stored world's id, clients and tokens from its file, without opening it."""
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'world_id'").fetchone()
                world_id = row[0] if row else path.stem  # a file from before hashed names
                clients = [c for (c,) in conn.execute("SELECT id FROM clients ORDER BY deleted, rowid")]
                tokens = [t for (t,) in conn.execute("SELECT token FROM tokens")]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.error("world file %s cannot be read; it is quarantined", path, exc_info=True)
            # Its id, where the name gives it back (a lower-case id: the prefix, checked by the hash).
            prefix = path.stem.rsplit("-", 1)[0]
            world_id = prefix if file_name(prefix) == path.name else path.stem
            self._files[world_id] = str(path)
            self._quarantined[world_id] = Quarantined(world_id, f"{type(exc).__name__}: {exc}", None)
            return
        self._register(path, world_id, clients, tokens)

    def _register(self, path: Path, world_id: str, clients: list[str], tokens: list[str]) -> None:
        if world_id in self._files:
            log.error("world %r has two files (%s, %s): the second is ignored", world_id, self._files[world_id], path)
            return
        self._files[world_id] = str(path)
        for client_id in clients:
            self._clients.setdefault(client_id, world_id)
        for token in tokens:
            self._tokens[token] = world_id

    # A start reads who owns which world from ``index.json`` where a world's file is the very one
    # the index was written for (same size and modification time, no write-ahead log: a world
    # closed by a clean stop); any other file is read itself. Written when the server stops.

    def _read_index(self) -> dict[str, Any]:
        try:
            index = json.loads((self.data_dir / INDEX).read_text()) if self.data_dir else {}
            return index if isinstance(index, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_index(self) -> None:
        if self.data_dir is None:
            return
        clients: dict[str, list[str]] = {}
        tokens: dict[str, list[str]] = {}
        for client_id, world_id in self._clients.items():
            clients.setdefault(world_id, []).append(client_id)
        for token, world_id in self._tokens.items():
            tokens.setdefault(world_id, []).append(token)
        index = {}
        for world_id, db in self._files.items():
            path = Path(db)
            if world_id == DEFAULT or world_id in self._quarantined or path.parent.name != "worlds":
                continue
            signature = _signature(path)
            if signature is not None:
                index[path.name] = {"file": signature, "world_id": world_id, "clients": clients.get(world_id, []),
                                    "tokens": tokens.get(world_id, [])}
        tmp = self.data_dir / f".{INDEX}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(index))
            os.replace(tmp, self.data_dir / INDEX)
        except OSError:
            log.warning("cannot write %s", self.data_dir / INDEX, exc_info=True)

    def _db(self, world_id: str) -> str:
        if self.data_dir is None:
            return ":memory:"
        if world_id == DEFAULT:
            return str(self.data_dir / "world.sqlite3")
        known = self._files.get(world_id)
        if known is not None:
            return known
        (self.data_dir / "worlds").mkdir(parents=True, exist_ok=True)
        return str(self.data_dir / "worlds" / file_name(world_id))

    def _read_heartbeat(self) -> float | None:
        try:
            return float((self.data_dir / HEARTBEAT).read_text()) if self.data_dir else None
        except (OSError, ValueError):
            return None

    def _heartbeat(self) -> None:
        """Note that the server is alive (once a second, on the ticker; one small file)."""
        if self.data_dir is None:
            return
        tmp = self.data_dir / f".{HEARTBEAT}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            tmp.write_text(repr(time.time()))
            os.replace(tmp, self.data_dir / HEARTBEAT)
        except OSError:  # a data dir removed under a running server: nothing to note it in
            log.warning("cannot write the heartbeat in %s", self.data_dir, exc_info=True)

    def _chores(self) -> None:
        self._heartbeat()
        self.close_idle()

    # -- worlds -----------------------------------------------------------------------

    def _open(self, world_id: str, *, seed: int | None = None, start: str | None = None) -> Simulator:
        db = self._db(world_id)
        new = db == ":memory:" or not Path(db).exists()
        if new:
            # With ``start``: a world frozen at that instant (a scenario's), kept like the others.
            sim = Simulator.open(db, seed=self.seed if seed is None else seed, speed=0 if start else self.speed,
                                 start=parse_iso(start) if start else None)
        else:  # its own seed and clock mode; what it missed while no server ran is an outage
            # (No heartbeat: a data dir of an older version; down from the world's own last save.)
            downtime = (self._previous_heartbeat or 0.0, self._started)
            sim = Simulator.open(db, seed=None, speed=None, downtime=downtime)
        if new and db != ":memory:":
            with sim.store.transaction():
                sim.store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('world_id', ?)", [world_id])
        sim.timer = self._ticker
        sim.config.poll_advance = self.poll_advance
        if sim.clock.speed > 0:
            sim.run_realtime()
        self._watch_tokens(sim, world_id)
        self._worlds[world_id] = sim
        self._apps[world_id] = create_app(sim)
        self._files[world_id] = db
        self._used[world_id] = time.monotonic()
        # Deleted clients too: their credentials belong to this world, which refuses them
        # (``invalid_client``), rather than opening a new, empty world after a restart.
        for (client_id,) in sim.store.conn.execute("SELECT id FROM clients ORDER BY deleted, rowid"):
            self._clients.setdefault(client_id, world_id)
        return sim

    def _watch_tokens(self, sim: Simulator, world_id: str) -> None:
        """Every token the world issues is noted here: a bearer token finds its world in O(1)."""
        issue = sim.identity.issue_token

        def issue_token(*args: Any, **kwargs: Any) -> dict[str, Any]:
            body = issue(*args, **kwargs)
            self._tokens[body["access_token"]] = world_id
            return body
        sim.identity.issue_token = issue_token  # type: ignore[method-assign]

    def _open_or_quarantine(self, world_id: str) -> Simulator | None:
        """Open a stored world; one that fails is quarantined, so the others still serve."""
        try:
            return self._open(world_id)
        except Exception as exc:  # noqa: BLE001 - whatever broke it, it must not stop the server
            log.error("world %r failed to open and is quarantined", world_id, exc_info=True)
            self._quarantine(world_id, f"{type(exc).__name__}: {exc}")
            return None

    def _quarantine(self, world_id: str, error: str) -> None:
        identity = None
        try:  # who the world belongs to, read from its store alone (no clock, no catch-up)
            store = Store(self._db(world_id))
            try:
                identity = {table: store.select(table) for table in _IDENTITY}
            finally:
                store.conn.close()
        except Exception:  # noqa: BLE001 - a file that cannot even be read belongs to nobody we know
            log.error("world %r: its clients cannot be read either", world_id, exc_info=True)
        self._quarantined[world_id] = Quarantined(world_id, error, identity)
        self._files.setdefault(world_id, self._db(world_id))
        for client in (identity or {}).get("clients", []):
            self._clients.setdefault(client["id"], world_id)
        for token in (identity or {}).get("tokens", []):
            self._tokens[token["token"]] = world_id

    def _ensure_open(self, world_id: str) -> Simulator | None:
        """The open world (opened now if it was closed), or None if it is quarantined."""
        with self._lock:
            sim = self._worlds.get(world_id)
            if sim is not None or world_id in self._quarantined:
                return sim
            if world_id not in self._files:
                raise KeyError(world_id)
            self._close_least_used(room_for=1)
            return self._open_or_quarantine(world_id)

    def get(self, world_id: str) -> Simulator:
        """The world ``world_id``, opened if it was closed (KeyError: no such world, or quarantined)."""
        sim = self._ensure_open(world_id)
        if sim is None:
            raise KeyError(world_id)
        return sim

    @property
    def default(self) -> Simulator:
        return self._worlds[DEFAULT]

    @property
    def default_client(self) -> dict[str, Any] | None:
        """The seed data's client of the default world (None if that world is quarantined)."""
        sim = self._worlds.get(DEFAULT)
        return sim.default_client if sim else None

    def quarantined(self, world_id: str | None) -> Quarantined | None:
        return self._quarantined.get(world_id) if world_id else None

    def list(self) -> list[dict[str, Any]]:
        """Every world (what the server's operator sees from Python; over HTTP a caller sees
        only its own, ``describe``). A closed world is listed from what the server knows
        without opening it."""
        with self._lock:
            return sorted((self.describe(wid) for wid in set(self._files) | set(self._worlds)),
                          key=lambda w: w["id"])

    def describe(self, world_id: str) -> dict[str, Any]:
        with self._lock:
            q = self._quarantined.get(world_id)
            if q is not None:
                return {"id": q.id, "status": "quarantined", "error": q.error, "clients": self._clients_of(q.id)}
            sim = self._worlds.get(world_id)
            if sim is None:
                return {"id": world_id, "status": "closed", "clients": self._clients_of(world_id)}
            return {"id": world_id, "status": "open", "seed": sim.seed, "now": iso(sim.clock.now()),
                    "speed": sim.clock.speed, "clients": self._clients_of(world_id)}

    def _clients_of(self, world_id: str) -> list[str]:
        return sorted(c for c, w in self._clients.items() if w == world_id)

    def for_client(self, client_id: str, secret: str) -> str:
        """The world of these credentials; a new one for credentials never seen before
        (``WorldLimit`` if the server already holds ``max_worlds``)."""
        with self._lock:
            known = self._clients.get(client_id)
            if known is not None:
                return known
            world_id = base = world_id_for(client_id)
            suffix = hashlib.sha256(client_id.encode()).hexdigest()[:8]
            for attempt in range(1000):
                if attempt:  # taken: the readable part and a hash of the exact client id (bounded length)
                    world_id = f"{base}-{suffix}" + (f"-{attempt}" if attempt > 1 else "")
                quarantined = self._quarantined.get(world_id)
                if quarantined is not None and quarantined.identity is None:
                    return world_id  # an unreadable file that may be theirs: it answers 503, not a twin
                unreadable = [q.id for q in self._quarantined.values()
                              if q.identity is None and self._files.get(q.id) == self._db(world_id)]
                if unreadable:
                    return unreadable[0]
                if world_id not in self._files and world_id not in self._worlds:
                    break  # free
                if quarantined is None and self._unfinished(world_id):
                    break  # a world a crash cut short: these credentials finish it
            if self.max_worlds is not None and world_id not in self._files and \
                    len(set(self._files) - {DEFAULT}) >= self.max_worlds:
                raise WorldLimit(f"This server holds as many worlds as it may (--max-worlds {self.max_worlds}); "
                                 "no new world is made for new client credentials. Use the credentials of an "
                                 "existing world, delete a world from inside it (DELETE /_sim/worlds/{id}), or "
                                 "restart the server with a higher --max-worlds.")
            sim = self._worlds.get(world_id)
            if sim is None:
                self._close_least_used(room_for=1)
                sim = self._open(world_id)
            with sim.store.transaction():
                org = f"org_{world_id}"
                sim.identity.create_organization(org, f"World {world_id}")
                user = sim.identity.create_user(f"{world_id}@sim.local", org)
                sim.identity.create_client(user["id"], client_id=client_id, secret=secret)
                sim.default_client = {"id": client_id, "secret": secret, "user": user["id"]}
                sim.signals.record("world.created", world_id, client=client_id)
            self._clients[client_id] = world_id
            return world_id

    def _unfinished(self, world_id: str) -> bool:
        """A world whose creation a crash cut short: its store was made, its client never
        committed. The credentials it was made for finish it instead of a second world."""
        # Its seed-data clients belong to the default world (noted first): no client is its own.
        return world_id != DEFAULT and not any(w == world_id for w in self._clients.values())

    def for_token(self, token: str) -> str | None:
        """The world that issued ``token`` (a dict lookup: every world's tokens are noted
        when they are issued, or read at start)."""
        return self._tokens.get(token)

    def reset(self, world_id: str, *, seed: int | None = None, start: str | None = None) -> None:
        """A fresh world in place of ``world_id``: new store and clock, the same clients and
        tokens (so connected clients carry on); the server's seed unless ``seed`` is given, and
        with ``start`` a clock frozen at that instant (a scenario's world). A quarantined world
        is started afresh the same way."""
        with self._lock:
            self._ensure_open(world_id)
            if world_id in self._quarantined:
                identity = self._quarantined.pop(world_id).identity or {}
            else:
                old = self._worlds.pop(world_id)
                self._apps.pop(world_id, None)
                identity = {table: old.store.select(table) for table in _IDENTITY}
                old.close()
            clients = identity.get("clients", [])
            users = {u["id"]: u for u in identity.get("users", [])
                     if u["id"] in {c["user_id"] for c in clients}}
            orgs = [o for o in identity.get("organizations", [])
                    if o["id"] in {u["organization_id"] for u in users.values()}]
            tokens = identity.get("tokens", [])
            self._remove_store(world_id)
            sim = self._open(world_id, seed=seed, start=start)
            with sim.store.transaction():
                for table, rows in (("organizations", orgs), ("users", users.values()),
                                    ("clients", clients), ("tokens", tokens)):
                    key = "token" if table == "tokens" else "id"
                    for row in rows:
                        if row and sim.store.get(table, row[key]) is None:
                            sim.store.insert(table, row)
                sim.signals.record("world.reset", world_id)

    def delete(self, world_id: str) -> None:
        """Close ``world_id`` and remove it, its store and its credentials (which would open a
        new, empty world if used again). What ``rapidata-sim run --server`` does to the scratch
        world it ran a scenario in."""
        with self._lock:
            sim = self._worlds.pop(world_id, None)
            self._apps.pop(world_id, None)
            for table in (self._clients, self._tokens):
                for key in [k for k, w in table.items() if w == world_id]:
                    del table[key]
            if sim is not None:
                sim.close()
            self._remove_store(world_id)
            self._files.pop(world_id, None)
            self._quarantined.pop(world_id, None)

    def _remove_store(self, world_id: str) -> None:
        """Delete a closed world's SQLite files (nothing to delete for a world in memory)."""
        db = self._db(world_id)
        if db != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(db + suffix).unlink(missing_ok=True)

    # -- closing idle worlds ------------------------------------------------------------

    def _closable(self, world_id: str) -> bool:
        return (self.data_dir is not None and world_id != DEFAULT and not self._inflight.get(world_id)
                and world_id not in self._busy)

    def _close_world(self, world_id: str) -> None:
        sim = self._worlds.pop(world_id)
        self._apps.pop(world_id, None)
        sim.close()  # saves its clock: reopened, it carries on from there

    def close_idle(self, idle_seconds: float | None = None) -> list[str]:
        """Close the worlds without a request for ``idle_seconds`` (default: the server's);
        the next request opens them again. Returns their ids."""
        limit = self.idle_seconds if idle_seconds is None else idle_seconds
        with self._lock:
            cutoff = time.monotonic() - limit
            idle = [wid for wid in self._worlds if self._closable(wid) and self._used.get(wid, 0) <= cutoff]
            for world_id in idle:
                self._close_world(world_id)
            return idle

    def _close_least_used(self, room_for: int) -> None:
        """Keep at most ``max_open`` worlds open: close the least recently used idle ones."""
        excess = len(self._worlds) + room_for - self.max_open
        if excess <= 0 or self.data_dir is None:
            return
        for world_id in sorted((w for w in self._worlds if self._closable(w)), key=lambda w: self._used.get(w, 0))[:excess]:
            self._close_world(world_id)

    def close(self) -> None:
        self._ticker.stop()
        with self._lock:
            for sim in self._worlds.values():
                sim.close()
            self._worlds.clear()
            self._apps.clear()
            self._write_index()
            self._quarantined.clear()
        self._heartbeat()

    # -- the ASGI dispatcher ------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path == "/connect/token" and scope["method"] == "POST":
            limit = self.config.max_body_bytes
            body = await _read_body(scope, receive, limit)
            if body is None:
                await oauth_error("invalid_request", f"Request bodies are limited to {limit} bytes.",
                                  status=413)(scope, receive, send)
                return
            creds = _credentials(headers.get("authorization", ""), body)
            world_id = DEFAULT
            # Only a request the token endpoint would grant may make a world; the default world
            # answers the others (it refuses them the same way, and writes nothing).
            if creds and creds[1] and _grantable(body):
                try:
                    world_id = self.for_client(*creds)
                except WorldLimit as exc:
                    await oauth_error("access_denied", str(exc), status=403)(scope, _replay(b""), send)
                    return
            await self._serve(world_id, scope, _replay(body), send)
            return
        auth = headers.get("authorization", "")
        # The pages behind the SDK's links come from a browser without a bearer token: by its cookie.
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else app_pages.cookie_token(scope)
        # Off the event loop: a token not yet cached is looked up in the stores, and a world busy
        # with a long request holds its store until it is done.
        world_id = self.for_token(token) if token else None  # a dict lookup
        if path.startswith("/_sim/worlds"):
            await self._control(scope, receive, send, path, world_id)
            return
        await self._serve(world_id or DEFAULT, scope, receive, send)

    async def _serve(self, world_id: str, scope: Any, receive: Any, send: Any) -> None:
        """Answer with ``world_id``'s app (opening it if it was closed), counted as in flight."""
        sim: Simulator | None = None
        with self._lock:
            if world_id in self._busy:
                app = problem(503, "Service Unavailable", f"World '{world_id}' is being reset or deleted; "
                              "retry in a moment.", headers={"Retry-After": "1"})
            elif world_id not in self._worlds and world_id not in self._quarantined and world_id not in self._files:
                app = problem(503, "Service Unavailable", f"World '{world_id}' no longer exists.",
                              headers={"Retry-After": "1"})
            else:
                sim = self._ensure_open(world_id)
                if sim is None:
                    app = self._unavailable(world_id)
                else:
                    app = self._apps[world_id]
                    self._inflight[world_id] = self._inflight.get(world_id, 0) + 1
        if sim is None:
            await app(scope, receive, send)
            return
        try:
            await app(scope, receive, send)
        finally:
            with self._lock:
                self._inflight[world_id] -= 1
                self._used[world_id] = time.monotonic()
            if scope.get("method") not in ("GET", "HEAD"):
                # A write may have scheduled something sooner. A read need not wake the timer: every
                # request catches its world up first, and events keep their due instants whenever run.
                self._ticker.touch(sim)

    async def _quiesce(self, world_id: str) -> bool:
        """Wait until no request of ``world_id`` is in flight (``_busy`` turns new ones away)."""
        deadline = time.monotonic() + QUIESCE_SECONDS
        while self._inflight.get(world_id):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def _unavailable(self, world_id: str) -> Any:
        q = self._quarantined[world_id]
        remedy = (f"POST /_sim/worlds/{world_id}/reset from inside it starts it afresh" if q.identity is not None
                  else f"its file cannot be read; removing {self._db(world_id)} starts it afresh")
        return problem(503, "Service Unavailable", f"World '{world_id}' is quarantined: it failed to open "
                       f"({q.error}). The server's other worlds are serving; {remedy}.")

    async def _control(self, scope: Any, receive: Any, send: Any, path: str, caller: str | None) -> None:
        limit = self.config.max_body_bytes
        body = await _read_body(scope, receive, limit)
        if body is None:
            await problem(413, "Payload Too Large", f"Request bodies are limited to {limit} bytes.")(
                scope, _replay(b""), send)
            return
        if caller is None:
            await problem(401, "Unauthorized", "A bearer token of some world is required.")(scope, _replay(b""), send)
            return
        if path == "/_sim/worlds" and scope["method"] == "GET":
            # Only the caller's own world: other worlds' clients, seeds and clocks are theirs.
            with self._lock:
                self._ensure_open(caller)
                mine = self.describe(caller)
            body = json.dumps({"worlds": [mine], "yours": caller}).encode()
            await _json(send, 200, body)
            return
        m = re.fullmatch(r"/_sim/worlds/([^/]+)", path)
        if m and scope["method"] == "DELETE":  # one's own world (a scenario's scratch world), never the default
            if m.group(1) != caller or caller == DEFAULT:
                await problem(403, "Forbidden", "A world can only be deleted from inside it, and the default "
                              "world not at all.")(scope, _replay(b""), send)
                return
            if not await self._exclusive(caller, self.delete, scope, send):
                return
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        m = re.fullmatch(r"/_sim/worlds/([^/]+)/reset", path)
        if m and scope["method"] == "POST":
            if m.group(1) != caller:
                await problem(403, "Forbidden", "A world can only be reset from inside it.")(scope, _replay(b""), send)
                return
            options = _reset_options(body)
            if isinstance(options, str):
                await problem(400, "One or more validation errors occurred.", errors={"body": [options]})(
                    scope, _replay(b""), send)
                return
            if not await self._exclusive(caller, lambda wid: self.reset(wid, **options), scope, send):
                return
            await _json(send, 200, json.dumps({"reset": caller, **options}).encode())
            return
        await problem(404, "Not Found", f"No control operation at {path}.")(scope, _replay(b""), send)

    async def _exclusive(self, world_id: str, action: Any, scope: Any, send: Any) -> bool:
        """Run ``action(world_id)`` once the world's requests in flight are answered (by the old
        world); requests arriving meanwhile get 503 with Retry-After. False: answered 503."""
        with self._lock:
            if world_id in self._busy:
                await problem(503, "Service Unavailable", f"World '{world_id}' is already being reset or "
                              "deleted; retry in a moment.", headers={"Retry-After": "1"})(scope, _replay(b""), send)
                return False
            self._busy.add(world_id)
        try:
            if not await self._quiesce(world_id):
                await problem(503, "Service Unavailable", f"World '{world_id}' kept answering requests for "
                              f"{QUIESCE_SECONDS:.0f} s; retry.", headers={"Retry-After": "1"})(scope, _replay(b""), send)
                return False
            await run_in_threadpool(action, world_id)  # off the loop: it waits for the world's store
            return True
        finally:
            with self._lock:
                self._busy.discard(world_id)


class WorldsServer(TLSServer):
    """``Worlds`` served over TLS: what ``rapidata-sim serve`` runs."""

    def __init__(self, worlds: Worlds, *, host: str = "127.0.0.1", port: int = 0,
                 body_timeout: float = BODY_TIMEOUT) -> None:
        self.worlds = worlds
        super().__init__(worlds, host=host, port=port, data_dir=worlds.data_dir, body_timeout=body_timeout)

    def env(self) -> dict[str, str]:
        return connection_env(self, self.worlds.default_client or {})

    def export_lines(self) -> str:
        return "".join(f"export {k}={v}\n" for k, v in self.env().items())

    def stop(self) -> None:
        super().stop()
        self.worlds.close()


async def _read_body(scope: Any, receive: Any, limit: int) -> bytes | None:
    """The whole body (``http.routing.read_body``), or None past ``limit`` bytes."""
    try:
        return await read_body(Request(scope, receive), limit)
    except BodyTooLarge:
        return None


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


def _credentials(authorization: str, body: bytes) -> tuple[str, str] | None:
    try:
        form = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        form = {}
    creds = client_credentials(authorization, form)
    return creds if creds and creds[0] else None


def _signature(path: Path) -> list[int] | None:
    """A world file as it stands: size and modification time; None while it has a write-ahead log
    (a world still open, or one a killed server left) or if it is gone."""
    try:
        if Path(str(path) + "-wal").exists():
            return None
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _grantable(body: bytes) -> bool:
    """Would the token endpoint grant this form (given good credentials)? Then, and only then,
    new credentials get a world of their own."""
    try:
        form = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return False
    return (form.get("grant_type") or [""])[0] == "client_credentials"


def _reset_options(body: bytes) -> dict[str, Any] | str:
    """``{"seed": int, "start": iso}`` (both optional) from a reset's body, or what is wrong."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return "The body is not valid JSON."
    if not isinstance(data, dict) or set(data) - {"seed", "start"}:
        return "The body may hold only 'seed' (an integer) and 'start' (a date-time with an offset)."
    if "seed" in data and (not isinstance(data["seed"], int) or isinstance(data["seed"], bool)):
        return "'seed' must be an integer."
    if "start" in data:
        try:
            check_instant(parse_iso(data["start"]))
        except (TypeError, ValueError):
            return (f"'start' must be a date-time with an offset, from {iso(EARLIEST)} to {iso(HORIZON)} "
                    "(the simulated calendar).")
    return {k: data[k] for k in ("seed", "start") if k in data}


async def _json(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})

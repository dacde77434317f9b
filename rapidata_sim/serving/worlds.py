"""Many worlds behind one server, chosen by the credentials the client already sends.

As LocalStack does with access keys: ``POST /connect/token`` with client
credentials nobody has used before creates a new world for them (its own
organization, user, store, clock and seed, with the seed data of
``fixtures/world.toml``), and every later request is routed to the world that
issued its bearer token. The same credentials always reach the same world;
other credentials never see or move it. The seed data's own clients
(``rapidata-sim`` ...) live in the default world.

Control operations on worlds, under the reserved prefix: ``GET /_sim/worlds``
(list), ``POST /_sim/worlds/{id}/reset`` (a fresh world, same id, seed and
clients; only from inside that world). Everything else under ``/_sim`` acts on
the caller's own world.

A world that fails to open (a damaged file, a stored state this version cannot
run) is quarantined instead of stopping the server: it is logged, listed with
its error, and its requests are answered 503; resetting it from inside starts it
afresh. Every other world serves as usual.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
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
from .server import TLSServer, connection_env
from ..simulator import SimConfig, Simulator
from ..core.store import Store

DEFAULT = "default"
_ID = re.compile(r"[^A-Za-z0-9_-]+")
#: What a reset carries over from the world it replaces: who may use it.
_IDENTITY = ("organizations", "users", "clients", "tokens")
log = logging.getLogger("rapidata_sim.worlds")


@dataclass
class Quarantined:
    """A world that failed to open: why, and who it belongs to (None if its file is unreadable)."""

    id: str
    error: str
    identity: dict[str, list[dict[str, Any]]] | None


def world_id_for(client_id: str) -> str:
    """A file-safe world id for a client id."""
    return (_ID.sub("-", client_id).strip("-") or "world")[:64]


class Worlds:
    """The registry: world id -> ``Simulator``, each in its own SQLite file (or in memory)."""

    def __init__(self, *, seed: int = 0, speed: float = 1.0, data_dir: str | Path | None = None) -> None:
        self.seed, self.speed = seed, speed
        self.data_dir = Path(data_dir) if data_dir else None
        #: Limits of the server itself (the body limit of the token and worlds requests).
        self.config = SimConfig()
        self._lock = threading.RLock()
        self._worlds: dict[str, Simulator] = {}
        self._apps: dict[str, Any] = {}
        self._quarantined: dict[str, Quarantined] = {}
        self._clients: dict[str, str] = {}   # client id -> world id
        self._tokens: dict[str, str] = {}    # bearer token -> world id (a cache over the stores)
        self._open_or_quarantine(DEFAULT)
        if self.data_dir is not None and (self.data_dir / "worlds").is_dir():
            for path in sorted((self.data_dir / "worlds").glob("*.sqlite3")):
                self._open_or_quarantine(path.stem)

    # -- worlds -----------------------------------------------------------------------

    def _db(self, world_id: str) -> str:
        if self.data_dir is None:
            return ":memory:"
        if world_id == DEFAULT:
            return str(self.data_dir / "world.sqlite3")
        (self.data_dir / "worlds").mkdir(parents=True, exist_ok=True)
        return str(self.data_dir / "worlds" / f"{world_id}.sqlite3")

    def _open(self, world_id: str, *, seed: int | None = None, start: str | None = None) -> Simulator:
        db = self._db(world_id)
        seed = self.seed if seed is None else seed
        # With ``start``: a world frozen at that instant (a scenario's), kept like the others.
        sim = Simulator.open(db, seed=seed, speed=0 if start else self.speed,
                             start=parse_iso(start) if start else None)
        if sim.clock.speed > 0:
            sim.run_realtime()
        self._worlds[world_id] = sim
        self._apps[world_id] = create_app(sim)
        # Deleted clients too: their credentials belong to this world, which refuses them
        # (``invalid_client``), rather than opening a new, empty world after a restart.
        for (client_id,) in sim.store.conn.execute("SELECT id FROM clients ORDER BY deleted, rowid"):
            self._clients.setdefault(client_id, world_id)
        return sim

    def _open_or_quarantine(self, world_id: str) -> None:
        """Open a stored world; one that fails is quarantined, so the others still serve."""
        try:
            self._open(world_id)
        except Exception as exc:  # noqa: BLE001 - whatever broke it, it must not stop the server
            log.error("world %r failed to open and is quarantined", world_id, exc_info=True)
            self._quarantine(world_id, f"{type(exc).__name__}: {exc}")

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
        for client in (identity or {}).get("clients", []):
            self._clients.setdefault(client["id"], world_id)
        for token in (identity or {}).get("tokens", []):
            self._tokens[token["token"]] = world_id

    def get(self, world_id: str) -> Simulator:
        return self._worlds[world_id]

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
        with self._lock:
            out = [{"id": wid, "status": "open", "seed": sim.seed, "now": iso(sim.clock.now()),
                    "speed": sim.clock.speed, "clients": self._clients_of(wid)}
                   for wid, sim in self._worlds.items()]
            out += [{"id": q.id, "status": "quarantined", "error": q.error, "clients": self._clients_of(q.id)}
                    for q in self._quarantined.values()]
            return sorted(out, key=lambda w: w["id"])

    def _clients_of(self, world_id: str) -> list[str]:
        return sorted(c for c, w in self._clients.items() if w == world_id)

    def for_client(self, client_id: str, secret: str) -> str:
        """The world of these credentials; a new one for credentials never seen before."""
        with self._lock:
            known = self._clients.get(client_id)
            if known is not None:
                return known
            world_id = world_id_for(client_id)
            while (world_id in self._worlds and not self._unfinished(world_id)) or world_id in self._quarantined:
                quarantined = self._quarantined.get(world_id)
                if quarantined is not None and quarantined.identity is None:
                    return world_id  # an unreadable file that may be theirs: it answers 503, not a twin
                world_id += "-x"
            sim = self._worlds.get(world_id) or self._open(world_id)
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
        return world_id != DEFAULT and not self._worlds[world_id].store.count("events", "kind = 'world.created'")

    def for_token(self, token: str) -> str | None:
        # Not under the registry's lock: a store busy with a long request must hold up only the
        # lookups that reach it, never every world's (a cached token needs no store at all).
        known = self._tokens.get(token)
        if known is not None:
            return known
        with self._lock:
            worlds = list(self._worlds.items())
        for world_id, sim in worlds:
            try:
                found = sim.store.get("tokens", token) is not None
            except sqlite3.ProgrammingError:  # closed meanwhile (a reset or delete): not there
                continue
            if found:
                with self._lock:
                    if self._worlds.get(world_id) is not sim:
                        continue  # replaced or deleted meanwhile
                    self._tokens[token] = world_id
                return world_id
        return None

    def reset(self, world_id: str, *, seed: int | None = None, start: str | None = None) -> None:
        """A fresh world in place of ``world_id``: new store and clock, the same clients and
        tokens (so connected clients carry on); the server's seed unless ``seed`` is given, and
        with ``start`` a clock frozen at that instant (a scenario's world). A quarantined world
        is started afresh the same way."""
        with self._lock:
            if world_id in self._quarantined:
                identity = self._quarantined.pop(world_id).identity or {}
            else:
                old = self._worlds.pop(world_id)
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
            sim = self._worlds.pop(world_id)
            self._apps.pop(world_id, None)
            for table in (self._clients, self._tokens):
                for key in [k for k, w in table.items() if w == world_id]:
                    del table[key]
            sim.close()
            self._remove_store(world_id)

    def _remove_store(self, world_id: str) -> None:
        """Delete a closed world's SQLite files (nothing to delete for a world in memory)."""
        db = self._db(world_id)
        if db != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(db + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            for sim in self._worlds.values():
                sim.close()
            self._worlds.clear()
            self._quarantined.clear()

    # -- the ASGI dispatcher ------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        if path == "/connect/token" and scope["method"] == "POST":
            limit = self.config.max_body_bytes
            body = await _read_body(scope, receive, limit)
            if body is None:
                await oauth_error("invalid_request", f"Request bodies are limited to {limit} bytes.",
                                  status=413)(scope, receive, send)
                return
            creds = _credentials(headers.get("authorization", ""), body)
            world_id = self.for_client(*creds) if creds else DEFAULT
            if self.quarantined(world_id):
                await self._unavailable(world_id)(scope, _replay(b""), send)
                return
            await self._apps[world_id](scope, _replay(body), send)
            return
        auth = headers.get("authorization", "")
        # The pages behind the SDK's links come from a browser without a bearer token: by its cookie.
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else app_pages.cookie_token(scope)
        # Off the event loop: a token not yet cached is looked up in the stores, and a world busy
        # with a long request holds its store until it is done.
        world_id = await run_in_threadpool(self.for_token, token) if token else None
        if path.startswith("/_sim/worlds"):
            await self._control(scope, receive, send, path, world_id)
            return
        world_id = world_id or DEFAULT
        if self.quarantined(world_id):
            await self._unavailable(world_id)(scope, receive, send)
            return
        await self._apps[world_id](scope, receive, send)

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
            body = json.dumps({"worlds": self.list(), "yours": caller}).encode()
            await _json(send, 200, body)
            return
        m = re.fullmatch(r"/_sim/worlds/([^/]+)", path)
        if m and scope["method"] == "DELETE":  # one's own world (a scenario's scratch world), never the default
            if m.group(1) != caller or caller == DEFAULT:
                await problem(403, "Forbidden", "A world can only be deleted from inside it, and the default "
                              "world not at all.")(scope, _replay(b""), send)
                return
            await run_in_threadpool(self.delete, caller)  # off the loop: it waits for the world
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
            await run_in_threadpool(lambda: self.reset(caller, **options))  # off the loop: it waits for the world
            await _json(send, 200, json.dumps({"reset": caller, **options}).encode())
            return
        await problem(404, "Not Found", f"No control operation at {path}.")(scope, _replay(b""), send)


class WorldsServer(TLSServer):
    """``Worlds`` served over TLS: what ``rapidata-sim serve`` runs."""

    def __init__(self, worlds: Worlds, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.worlds = worlds
        super().__init__(worlds, host=host, port=port, data_dir=worlds.data_dir)

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

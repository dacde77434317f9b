"""World floods and world identity on a many-worlds server (issue 16, items 5 to 9).

- 5: a refused token request makes no world; one timer thread for all worlds; idle worlds are
  closed (no file open) and reopened on demand; a bearer token finds its world without opening
  or scanning stores; ``max_worlds`` is answered 403 ``access_denied`` at /connect/token;
- 6: ``GET /_sim/worlds`` shows the caller its own world only (``tests/api/test_worlds.py`` too);
- 7: ``alice`` and ``ALICE`` get different files even on a case-folding filesystem;
- 8: ids that sanitise alike after a reset, very long ids, and a request in flight during a reset
  are never 500;
- 9: a world reset frozen with a seed comes back after a restart with that seed, frozen, at its
  instant, with no outage.

In process (``Worlds`` behind Starlette's TestClient): what is tested is the registry, not TLS.
The figures for 2,000 worlds (idle CPU, restart time, threads) are in ``bench/worlds.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from rapidata_sim.serving import worlds as worlds_module
from rapidata_sim.serving.worlds import DEFAULT, Worlds, file_name

GRANT = {"grant_type": "client_credentials"}


class Server:
    def __init__(self, data_dir: Path | None, **kwargs: Any) -> None:
        self.data_dir, self.kwargs = data_dir, kwargs
        self.worlds = Worlds(seed=3, data_dir=data_dir, **{"speed": 0, **kwargs})
        self.http = TestClient(self.worlds, base_url="https://127.0.0.1")

    def token(self, client_id: str, secret: str = "secret", **form: str) -> Any:
        return self.http.post("/connect/token", data={**GRANT, **form}, auth=(client_id, secret))

    def auth(self, client_id: str, secret: str = "secret") -> dict[str, str]:
        r = self.token(client_id, secret)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def close(self) -> None:
        self.http.close()
        self.worlds.close()

    def restart(self, **kwargs: Any) -> "Server":
        self.close()
        return Server(self.data_dir, **{**self.kwargs, **kwargs})


def world_files(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "worlds").glob("*.sqlite3")) if (data_dir / "worlds").is_dir() else []


def open_files() -> set[str]:
    fd_dir = Path("/proc/self/fd")
    out = set()
    for fd in fd_dir.iterdir():
        try:
            out.add(os.readlink(fd))
        except OSError:
            pass
    return out


# -- 5: floods --------------------------------------------------------------------------------

@pytest.mark.parametrize("form, auth, status, error", [
    ({"grant_type": "password"}, ("flood-1", "s"), 400, "unsupported_grant_type"),
    ({"grant_type": ""}, ("flood-2", "s"), 400, "unsupported_grant_type"),
    ({}, ("flood-3", "s"), 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, ("flood-4", ""), 400, "invalid_client"),
])
def test_a_refused_token_request_makes_no_world(tmp_path, form, auth, status, error):
    server = Server(tmp_path)
    try:
        r = server.http.post("/connect/token", data=form, auth=auth)
        assert r.status_code == status and r.json()["error"] == error, r.text
        r = server.http.post("/connect/token", content=b"grant_type=client_credentials&\xff",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, auth=auth)
        assert r.status_code == 400, r.text
        assert [w["id"] for w in server.worlds.list()] == [DEFAULT]
        assert world_files(tmp_path) == []
    finally:
        server.close()


def test_one_timer_thread_for_every_world_and_none_of_their_own(tmp_path):
    before = {t.ident for t in threading.enumerate()}
    server = Server(tmp_path, speed=1)  # every world's clock follows the wall
    try:
        for i in range(25):
            server.auth(f"runner-{i}")
        new = [t.name for t in threading.enumerate() if t.ident not in before]
        assert new.count("rapidata-sim ticker") == 1, new
        assert "rapidata-sim realtime" not in new, new
        assert len(server.worlds._ticker) == 26  # the default world and 25 more, all on the one timer
    finally:
        server.close()
    assert not [t for t in threading.enumerate() if t.name == "rapidata-sim ticker" and t.ident not in before]


def test_a_world_of_its_own_keeps_its_realtime_thread():
    """The single-world ``Simulator`` (no server of many worlds) still runs its own clock thread."""
    from rapidata_sim import Clock, Simulator

    sim = Simulator(clock=Clock(speed=1))
    try:
        assert sim.run_realtime() is not None and sim.timer is None
    finally:
        sim.close()


def test_an_idle_world_is_closed_holds_no_file_and_reopens_on_demand(tmp_path):
    server = Server(tmp_path, idle_seconds=3600)
    try:
        alice = server.auth("alice")
        r = server.http.post("/_sim/clock/advance", json={"seconds": 3600}, headers=alice)
        assert r.status_code == 200
        now = r.json()["now"]
        path = server.worlds.get("alice").store.path
        assert server.worlds.close_idle() == []  # used just now
        assert server.worlds.close_idle(idle_seconds=0) == ["alice"]  # the default world stays open
        assert {w["id"]: w["status"] for w in server.worlds.list()} == {"alice": "closed", "default": "open"}
        assert not {f for f in open_files() if f.startswith(path)}, "a closed world holds its file open"
        clock = server.http.get("/_sim/clock", headers=alice)  # the same token opens it again
        assert clock.status_code == 200 and clock.json()["now"] == now
        assert {w["id"]: w["status"] for w in server.worlds.list()} == {"alice": "open", "default": "open"}
    finally:
        server.close()


def test_a_world_closed_for_idleness_missed_nothing(tmp_path):
    """Time a world spent closed while the server ran is not downtime: what fell due fires as usual
    when it opens again (an outage is only the time no server ran)."""
    server = Server(tmp_path, speed=1)
    try:
        alice = server.auth("alice")
        world = server.worlds.get("alice")
        owner = world.identity.principal(world.store.select("clients")[-1]["user_id"])
        from support import one_datapoint_definition

        _, definition = one_datapoint_definition(world, owner, "idle")
        signal = world.signals.create(owner, name="hourly", audience_id="global",
                                      job_definition_id=definition["id"], interval_seconds=3600)
        assert server.worlds.close_idle(idle_seconds=0) == ["alice"]
        db = sqlite3.connect(world.store.path)  # closed three hours ago (after the server started)
        saved = json.loads(db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
        assert saved["wall"] > server.worlds._started
        db.close()
        server.worlds._started -= 4 * 3600  # the server has run for four hours
        db = sqlite3.connect(world.store.path)
        saved["wall"] -= 3 * 3600
        db.execute("UPDATE meta SET value = ? WHERE key = 'clock'", [json.dumps(saved)])
        db.commit()
        db.close()
        assert server.http.get("/signal", headers=alice).status_code == 200
        counters = server.worlds.get("alice").counters(signal["id"])
        assert counters["fired"]["Scheduled"] == 3 and not counters.get("missed"), counters
        kinds = [json.loads(line)["kind"] for line in server.http.get("/_sim/events", headers=alice).text.splitlines()]
        assert "outage.started" not in kinds
    finally:
        server.close()


def test_a_bearer_token_finds_its_world_without_opening_others(tmp_path):
    server = Server(tmp_path)
    tokens = {who: server.auth(who) for who in ("a", "b", "c", "d")}
    server = server.restart()
    try:
        assert sorted(server.worlds._worlds) == [DEFAULT]  # a start opens no world but the default one
        assert server.http.get("/signal", headers={"Authorization": "Bearer sim-unknown"}).status_code == 401
        assert sorted(server.worlds._worlds) == [DEFAULT]  # an unknown token opens and scans nothing
        assert server.http.get("/signal", headers=tokens["c"]).status_code == 200
        assert sorted(server.worlds._worlds) == ["c", DEFAULT]  # a known one opens its own world only
    finally:
        server.close()


def test_the_world_cap_is_a_clear_oauth_error(tmp_path):
    server = Server(tmp_path, max_worlds=2)
    try:
        server.auth("one")
        server.auth("two")
        r = server.token("three")
        assert r.status_code == 403 and r.json()["error"] == "access_denied", r.text
        assert "--max-worlds" in r.json()["error_description"] and "2" in r.json()["error_description"]
        assert sorted(w["id"] for w in server.worlds.list()) == [DEFAULT, "one", "two"]
        assert len(world_files(tmp_path)) == 2
        assert server.token("one").status_code == 200  # the existing worlds' credentials still work
        assert server.token("rapidata-sim", "rapidata-sim-secret").status_code == 200
        server = server.restart()  # the cap counts the worlds kept on disk too
        assert server.token("three").status_code == 403
    finally:
        server.close()


def test_the_cli_takes_and_checks_the_world_options():
    from rapidata_sim.cli.commands import build_parser

    args = build_parser().parse_args(["serve", "--max-worlds", "10", "--idle-seconds", "60"])
    assert args.max_worlds == 10 and args.idle_seconds == 60
    for bad in (["--max-worlds", "-1"], ["--max-worlds", "x"], ["--idle-seconds", "0"], ["--idle-seconds", "nan"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *bad])


# -- 6: a caller sees its own world -------------------------------------------------------------

def test_the_worlds_list_shows_the_caller_its_own_world_only(tmp_path):
    server = Server(tmp_path)
    try:
        alice, server_bob = server.auth("alice"), server.auth("bob")
        for auth, me in ((alice, "alice"), (server_bob, "bob")):
            listed = server.http.get("/_sim/worlds", headers=auth).json()
            assert listed["yours"] == me and [w["id"] for w in listed["worlds"]] == [me]
            other = "bob" if me == "alice" else "alice"
            assert other not in json.dumps(listed) and "rapidata-sim" not in json.dumps(listed)
    finally:
        server.close()


# -- 7: case-insensitive filesystems ------------------------------------------------------------

def test_ids_differing_in_case_get_different_files_on_a_case_folding_filesystem(tmp_path, monkeypatch):
    """A filesystem that folds case (macOS, Windows defaults) maps ``alice.sqlite3`` and
    ``ALICE.sqlite3`` to one file; simulated by folding every world file's name."""
    real = Worlds._db

    def folded(self: Worlds, world_id: str) -> str:
        path = real(self, world_id)
        return path if path == ":memory:" else str(Path(path).with_name(Path(path).name.casefold()))
    monkeypatch.setattr(Worlds, "_db", folded)
    server = Server(tmp_path)
    try:
        lower, upper = server.auth("alice"), server.auth("ALICE")
        server.http.post("/_sim/clock/advance", json={"seconds": 86400}, headers=lower)
        assert server.http.get("/_sim/clock", headers=upper).json()["now"] != \
            server.http.get("/_sim/clock", headers=lower).json()["now"]
        assert server.worlds.get("alice").store.path != server.worlds.get("ALICE").store.path
        assert len(world_files(tmp_path)) == 2
        assert file_name("alice").casefold() != file_name("ALICE").casefold()
    finally:
        server.close()


def test_a_data_dir_with_old_file_names_still_opens(tmp_path):
    """Files named by the world id alone (before hashed names) are found and opened as they are."""
    server = Server(tmp_path)
    auth = server.auth("olduser")
    new_name = Path(server.worlds.get("olduser").store.path)
    server.close()
    db = sqlite3.connect(new_name)
    db.execute("DELETE FROM meta WHERE key = 'world_id'")  # as an old version wrote it
    db.commit()
    db.close()
    new_name.rename(new_name.with_name("olduser.sqlite3"))
    server = Server(tmp_path)
    try:
        assert server.http.get("/signal", headers=auth).status_code == 200
        assert server.token("olduser").status_code == 200
        assert Path(server.worlds.get("olduser").store.path).name == "olduser.sqlite3"
    finally:
        server.close()


# -- 8: ids that collide, long ids, a request during a reset ------------------------------------

def test_ids_that_sanitise_alike_after_a_reset_get_worlds_of_their_own(tmp_path):
    server = Server(tmp_path)
    try:
        first = server.auth("victim?")
        world = server.http.get("/_sim/worlds", headers=first).json()["yours"]
        assert server.http.post(f"/_sim/worlds/{world}/reset", headers=first).status_code == 200
        for client_id in ("victim#", "victim", "victim!!"):
            r = server.token(client_id)
            assert r.status_code == 200, r.text
        ids = {w["id"] for w in server.worlds.list()}
        assert len(ids) == 5, ids  # default + four worlds
    finally:
        server.close()


def test_very_long_ids_sharing_a_prefix_never_500(tmp_path):
    server = Server(tmp_path)
    try:
        prefix = "p" * 64
        for i in range(100):
            r = server.token(f"{prefix}{i}")
            assert r.status_code == 200, (i, r.text)
        r = server.token("q" * 5000)
        assert r.status_code == 200, r.text
        assert max(len(name) for name in world_files(tmp_path)) <= 70
        assert len(world_files(tmp_path)) == 101
    finally:
        server.close()


def test_a_request_in_flight_during_a_reset_is_answered_by_the_old_world(tmp_path):
    """The reset waits for the world's requests in flight (the old world answers them); a request
    arriving meanwhile gets 503 problem+json with Retry-After; none is 500."""
    worlds = Worlds(seed=3, speed=0, data_dir=tmp_path)
    world_id = worlds.for_client("racer", "secret")
    token = worlds.get(world_id).identity.issue_token("racer", "secret")["access_token"]

    async def scenario() -> list[tuple[str, int, bytes]]:
        release = asyncio.Event()
        answers: list[tuple[str, int, bytes]] = []

        def request(name: str, method: str, path: str, body: bytes, wait: asyncio.Event | None = None) -> Any:
            scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
                     "headers": [(b"authorization", f"Bearer {token}".encode()),
                                 (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body)).encode())],
                     "scheme": "https", "server": ("127.0.0.1", 443), "client": ("127.0.0.1", 1), "root_path": "",
                     "http_version": "1.1"}
            sent = False
            status: dict[str, Any] = {}

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    if wait is not None:
                        await wait.wait()
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await asyncio.Event().wait()
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                elif message["type"] == "http.response.body":
                    status["body"] = status.get("body", b"") + message.get("body", b"")
                    if not message.get("more_body"):
                        answers.append((name, status["code"], status["body"]))
            return worlds(scope, receive, send)

        slow = asyncio.create_task(request("in flight", "POST", "/_sim/clock/advance", b'{"seconds": 60}', release))
        await asyncio.sleep(0.05)
        reset = asyncio.create_task(request("reset", "POST", f"/_sim/worlds/{world_id}/reset", b""))
        await asyncio.sleep(0.05)
        await request("during", "GET", "/_sim/clock", b"")
        release.set()
        await asyncio.gather(slow, reset)
        await request("after", "GET", "/_sim/clock", b"")
        return answers

    try:
        answers = asyncio.run(scenario())
    finally:
        worlds.close()
    by_name = {name: (status, body) for name, status, body in answers}
    assert [name for name, _, _ in answers] == ["during", "in flight", "reset", "after"], answers
    assert by_name["during"][0] == 503 and json.loads(by_name["during"][1])["status"] == 503
    assert by_name["in flight"][0] == 200, by_name["in flight"]
    assert by_name["reset"][0] == 200 and by_name["after"][0] == 200
    assert all(status < 500 or name == "during" for name, status, _ in answers)


# -- 9: a world's seed and clock mode survive restarts ---------------------------------------------

def test_a_world_reset_frozen_with_a_seed_comes_back_the_same(tmp_path):
    server = Server(tmp_path, speed=1)
    try:
        auth = server.auth("scenario")
        start = "2026-03-01T09:00:00.000000Z"
        r = server.http.post("/_sim/worlds/scenario/reset", json={"seed": 7, "start": start}, headers=auth)
        assert r.status_code == 200, r.text
        server.http.post("/_sim/clock/advance", json={"seconds": 3600}, headers=auth)
        before = server.http.get("/_sim/clock", headers=auth).json()
        server = server.restart()
        for _ in range(2):  # and again, after being closed for idleness
            clock = server.http.get("/_sim/clock", headers=auth).json()
            assert clock["now"] == before["now"] == "2026-03-01T10:00:00.000000Z" and clock["speed"] == 0, clock
            mine = server.http.get("/_sim/worlds", headers=auth).json()["worlds"][0]
            assert mine["seed"] == 7 and mine["speed"] == 0, mine
            kinds = [json.loads(line)["kind"] for line in
                     server.http.get("/_sim/events", headers=auth).text.splitlines()]
            assert "outage.started" not in kinds, kinds
            assert server.worlds.close_idle(idle_seconds=0) == ["scenario"]
    finally:
        server.close()


def test_a_running_world_keeps_its_own_speed_over_a_restart(tmp_path):
    server = Server(tmp_path, speed=0)
    try:
        auth = server.auth("fast")
        assert server.http.patch("/_sim/clock", json={"speed": 3600}, headers=auth).status_code == 200
        server = server.restart(speed=0)  # the server's --speed is for new worlds only
        assert server.http.get("/_sim/clock", headers=auth).json()["speed"] == 3600
    finally:
        server.close()


def test_default_constants_are_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "connecting.md").read_text()
    assert "--max-worlds" in text and "--idle-seconds" in text and "403" in text
    assert worlds_module.IDLE_SECONDS == 300


def test_open_worlds_are_bounded_least_recently_used_closed_first(tmp_path):
    """At most ``max_open`` worlds hold their files open (under ``ulimit -n 1024`` 2,000 open
    worlds ran out of descriptors); the least recently used idle one is closed first."""
    server = Server(tmp_path, max_open=3)
    try:
        tokens = {who: server.auth(who) for who in ("a", "b", "c", "d", "e")}
        assert len(server.worlds._worlds) <= 3 and DEFAULT in server.worlds._worlds
        for who, auth in tokens.items():  # every one still answers, reopened as needed
            assert server.http.get("/signal", headers=auth).status_code == 200, who
            assert len(server.worlds._worlds) <= 3
        assert sorted(server.worlds._worlds) == ["d", DEFAULT, "e"]
    finally:
        server.close()


def test_a_start_after_a_clean_stop_reads_the_index_and_a_changed_file_itself(tmp_path, monkeypatch):
    server = Server(tmp_path)
    tokens = {who: server.auth(who) for who in ("a", "b")}
    server.close()
    index = json.loads((tmp_path / "index.json").read_text())
    assert sorted(e["world_id"] for e in index.values()) == ["a", "b"]
    # a file changed since the stop (written by hand here) is read itself, not taken from the index
    path = tmp_path / "worlds" / file_name("b")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO tokens (token, client_id, user_id, expires_at) "
               "SELECT 'sim-written-later', client_id, user_id, expires_at FROM tokens LIMIT 1")
    db.commit()
    db.close()
    scanned: list[str] = []
    real = Worlds._scan
    monkeypatch.setattr(Worlds, "_scan", lambda self, p: (scanned.append(Path(p).name), real(self, p))[1])
    server = Server(tmp_path)
    try:
        assert scanned == [file_name("b")]
        for auth in tokens.values():
            assert server.http.get("/signal", headers=auth).status_code == 200
        assert server.http.get("/signal", headers={"Authorization": "Bearer sim-written-later"}).status_code == 200
        assert server.token("a").status_code == 200 and len(world_files(tmp_path)) == 2
    finally:
        server.close()

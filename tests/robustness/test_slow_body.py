"""A body shorter than its Content-Length does not hold a connection forever (issue 16, item 11).

uvicorn has no read timeout of its own; ``serving.server.BodyTimeout`` waits ``body_timeout``
seconds for the rest of a body, then answers 408 problem+json and closes the connection. The
servers here use a 1 s timeout; the test's own socket timeout (60 s) only keeps a regression
from hanging the suite: nothing is asserted about how long anything took.
"""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from rapidata_sim import Clock, Simulator
from rapidata_sim.serving.server import BODY_TIMEOUT, KEEP_ALIVE_TIMEOUT, Server
from rapidata_sim.serving.worlds import Worlds, WorldsServer


def short_body(server, path: str, token: str, declared: int = 100,
               sent: bytes = b'{"name": ') -> tuple[int, dict, bytes]:
    """Send ``sent`` under a Content-Length of ``declared``; return status, headers and body, and
    assert the server closed the connection afterwards."""
    context = ssl.create_default_context(cafile=str(server.certs.ca_pem))
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {token}\r\nContent-Length: {declared}\r\n\r\n").encode() + sent)
        data = b""
        while True:  # read until the server closes: a connection held forever fails at the 60 s socket timeout
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_defaults_are_set():
    assert BODY_TIMEOUT == 30 and KEEP_ALIVE_TIMEOUT == 5


@pytest.mark.parametrize("path", ["/signal", "/connect/token", "/_sim/worlds/x/reset"])
def test_a_short_body_gets_408_and_the_connection_closes_on_a_worlds_server(tmp_path, path):
    server = WorldsServer(Worlds(seed=1, speed=0, data_dir=tmp_path), body_timeout=1).start()
    token = server.worlds.default.identity.issue_token("rapidata-sim", "rapidata-sim-secret")["access_token"]
    path = path.replace("/x/", "/default/")
    try:
        status, headers, body = short_body(server, path, token)
        assert status == 408, body
        assert headers["content-type"] == "application/problem+json" and headers["connection"] == "close"
        assert json.loads(body)["status"] == 408
        # nothing was made for the half-sent token request, and the server still answers
        assert [w["id"] for w in server.worlds.list()] == ["default"]
        status, _, _ = short_body(server, "/signal", token, declared=2, sent=b"{}")
        assert status == 400  # a whole body is read and judged as usual
    finally:
        server.stop()


def test_a_short_body_gets_408_on_a_single_world_server():
    sim = Simulator(seed=1, clock=Clock.frozen())
    server = Server(sim, body_timeout=1).start()
    token = sim.identity.issue_token("rapidata-sim", "rapidata-sim-secret")["access_token"]
    try:
        status, headers, body = short_body(server, "/signal", token)
        assert status == 408 and headers["connection"] == "close", body
    finally:
        server.stop()
        sim.close()

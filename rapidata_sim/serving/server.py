"""Serving a world over HTTPS on 127.0.0.1, the way the SDK can reach it unmodified.

The SDK always speaks https to ``api.{env}`` and ``auth.{env}``. With
``env = "sim@127.0.0.1:PORT"`` both URLs resolve to 127.0.0.1:PORT (the part
before ``@`` is read as userinfo), so one TLS server with a certificate for
127.0.0.1 from a local CA serves both. ``SSL_CERT_FILE`` points the SDK at
that CA.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from ..http import create_app
from ..http.recording import Exchange, RecordingMiddleware

if TYPE_CHECKING:
    from rapidata import RapidataClient

    from ..engine import Engine


def connection_env(server: "TLSServer", client: dict[str, Any]) -> dict[str, str]:
    """Environment variables under which a plain ``RapidataClient()`` reaches ``server`` as ``client``."""
    return {
        "RAPIDATA_ENVIRONMENT": server.environment,
        "SSL_CERT_FILE": str(server.certs.ca_pem),
        "RAPIDATA_CLIENT_ID": client.get("id", ""),
        "RAPIDATA_CLIENT_SECRET": client.get("secret", ""),
        "RAPIDATA_DISABLE_OTLP": "1",
        # Uploaded-file cache keys survive restarts on disk; keep them in memory.
        "RAPIDATA_cacheToDisk": "0",
        "RAPIDATA_AGENT_HINT": "0",
    }


class Certificates:
    """A local CA and a server certificate for 127.0.0.1/localhost, kept in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_pem = directory / "ca.pem"
        self.cert_pem = directory / "server.pem"
        self.key_pem = directory / "server-key.pem"
        if not (self.ca_pem.exists() and self.cert_pem.exists() and self.key_pem.exists()):
            directory.mkdir(parents=True, exist_ok=True)
            import trustme  # here: only a new directory needs it (cryptography costs ~50 ms to import)

            ca = trustme.CA(organization_name="rapidata-sim local CA")
            leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
            # Each file whole or absent (written aside, then renamed): a process killed on its
            # first start leaves no half-written CA, and a missing file makes the next start
            # issue all three again.
            _write_atomic(self.ca_pem, ca.cert_pem.bytes())
            _write_atomic(self.cert_pem, b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
            _write_atomic(self.key_pem, leaf.private_key_pem.bytes(), mode=0o600)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


#: Longest wait for the next piece of a request body (seconds): a body shorter than its
#: Content-Length, or one that stalls, gets 408 and its connection closed instead of holding it.
BODY_TIMEOUT = 30.0
#: How long an idle keep-alive connection stays open (seconds; uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE_TIMEOUT = 5


class BodyTimeout:
    """ASGI middleware: every ``receive`` of a request body waits at most ``seconds``.

    uvicorn has no read timeout of its own, so a client that declares more than it sends
    would hold its connection (and the handler waiting for the body) forever. Past the
    timeout the app is told the client is gone, and the client gets 408 problem+json with
    ``Connection: close`` (whatever the app answered to the missing body is dropped)."""

    def __init__(self, app: Any, seconds: float = BODY_TIMEOUT) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timed_out = started = body_done = False

        async def timed_receive() -> dict[str, Any]:
            nonlocal timed_out, body_done
            if body_done:  # the body is in: waiting for a disconnect has no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except asyncio.TimeoutError:
                timed_out = True
                return {"type": "http.disconnect"}
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 is sent below instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:  # noqa: BLE001 - the app's reaction to the vanished body (ClientDisconnect)
            if not timed_out:
                raise
        if timed_out and not started:
            body = (b'{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.9","title":"Request Timeout",'
                    b'"status":408,"detail":"The request body did not arrive within %d seconds."}' % self.seconds)
            await send({"type": "http.response.start", "status": 408,
                        "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close"),
                                    (b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body})


class TLSServer:
    """Any ASGI app on uvicorn, on a daemon thread, over TLS on a local address.

    The transport the SDK needs, and nothing about worlds: ``Server`` adds those,
    and the benchmark serves its bare comparison app with it. A request body that stalls
    for ``body_timeout`` seconds is answered 408 (``BodyTimeout``).
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 data_dir: str | Path | None = None, body_timeout: float = BODY_TIMEOUT) -> None:
        self.host = host
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="rapidata-sim-")
        self.data_dir = Path(data_dir).resolve() if data_dir else Path(self._tmp.name)
        self.certs = Certificates(self.data_dir)
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(BodyTimeout(app, body_timeout), ssl_certfile=str(self.certs.cert_pem),
                                ssl_keyfile=str(self.certs.key_pem), log_level="warning", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=1, interface="asgi3",
                                timeout_keep_alive=KEEP_ALIVE_TIMEOUT)
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def environment(self) -> str:
        """The value for ``RAPIDATA_ENVIRONMENT`` / ``environment=``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"sim@{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "TLSServer":
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self._socket]},
                                        name=f"rapidata-sim:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("rapidata-sim server did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        # force_exit: do not wait for the SDK's idle keep-alive connections to close.
        self._uvicorn.should_exit = True
        self._uvicorn.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def client(self, client_id: str, client_secret: str, **kwargs: Any) -> "RapidataClient":
        """A real ``RapidataClient`` connected to this server."""
        from rapidata import RapidataClient, rapidata_config

        rapidata_config.logging.enable_otlp = False
        with warnings.catch_warnings():
            # cert_path becomes httpx2's verify=<str>, deprecated there but the SDK's documented knob.
            warnings.filterwarnings("ignore", message=".*verify=<str>.*", category=DeprecationWarning)
            return RapidataClient(client_id=client_id, client_secret=client_secret, environment=self.environment,
                                  cert_path=str(self.certs.ca_pem), **kwargs)


async def _no_world(scope: Any, receive: Any, send: Any) -> None:
    """What a server answers between worlds (a pytest plugin's teardown and next setup)."""
    if scope["type"] != "http":
        return
    body = b'{"title":"Service Unavailable","status":503,"detail":"No simulated world is attached."}'
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def serve(sim: "Engine", *, host: str = "127.0.0.1", port: int = 0, data_dir: str | Path | None = None,
          record: bool = False) -> "Server":
    """The HTTPS server for ``sim``, started on a thread if it has none yet (``Simulator.serve``)."""
    if sim._server is None:
        sim._server = Server(sim, host=host, port=port, data_dir=data_dir, record=record)
        sim._server.start()
    return sim._server


class Server(TLSServer):
    """One ``Simulator``'s world, served to the SDK.

    The world can be swapped (``attach``/``detach``) while the server runs: the pytest
    plugin keeps one server and one connected SDK client per session and gives every
    test a fresh world behind them, which costs milliseconds instead of a TLS server
    start and a new client.
    """

    def __init__(self, sim: "Engine", *, host: str = "127.0.0.1", port: int = 0,
                 data_dir: str | Path | None = None, record: bool = False,
                 body_timeout: float = BODY_TIMEOUT) -> None:
        self.sim = sim
        self._app = create_app(sim)
        self._tokens: list[dict[str, Any]] = []
        #: The request log (``record=True``): every exchange, in arrival order.
        self.recorder = RecordingMiddleware(self._dispatch) if record else None
        super().__init__(self.recorder or self._dispatch, host=host, port=port, data_dir=data_dir,
                         body_timeout=body_timeout)

    async def _dispatch(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    def detach(self) -> None:
        """Stop serving the current world (it can then be closed); keep the tokens the
        server's clients hold, so they stay valid in the next world."""
        self._tokens = self.sim.store.select("tokens")
        self.sim._server = None
        self._app = _no_world

    def attach(self, sim: "Engine") -> None:
        """Serve ``sim`` from now on, honouring the tokens issued by earlier worlds."""
        with sim.store.transaction():
            for token in self._tokens:
                if sim.store.get("tokens", token["token"]) is None:
                    sim.store.insert("tokens", token)
        self._app = create_app(sim)
        self.sim = sim
        sim._server = self

    def env(self) -> dict[str, str]:
        """Environment variables under which a plain ``RapidataClient()`` reaches this server."""
        return connection_env(self, self.sim.default_client or {})

    @property
    def exchanges(self) -> list[Exchange]:
        if self.recorder is None:
            raise RuntimeError("start the server with record=True to keep a request log")
        return self.recorder.exchanges

    def export_lines(self) -> str:
        return "".join(f"export {k}={v}\n" for k, v in self.env().items())

    def client(self, client_id: str | None = None, client_secret: str | None = None,  # type: ignore[override]
               **kwargs: Any) -> "RapidataClient":
        """A real ``RapidataClient``, as the world's default client unless told otherwise."""
        default = self.sim.default_client or {}
        return super().client(client_id or default.get("id", ""), client_secret or default.get("secret", ""),
                              **kwargs)


class SharedServer:
    """One server and one SDK client for many short-lived worlds, one world at a time.

    A TLS server and an SDK client cost ~200 ms; swapping a fresh world in behind them
    costs a few. The pytest plugin keeps one per session, the Hypothesis machine one per
    process. ``enter`` serves a world (and lets the SDK's waits drive its clock),
    ``leave`` closes it.
    """

    def __init__(self) -> None:
        self.server: Server | None = None
        self._client: "RapidataClient | None" = None

    def enter(self, sim: "Engine") -> Server:
        from ..testing import autoadvance, offline_sdk

        if self.server is None:
            self.server = serve(sim)
        else:
            self.server.attach(sim)
        offline_sdk.forget_uploads()  # the SDK's upload cache is keyed by host:port, which stays
        autoadvance.activate(sim)
        return self.server

    def leave(self, sim: "Engine") -> None:
        from ..testing import autoadvance

        autoadvance.deactivate(sim)
        if self.server is not None and self.server.sim is sim:
            self.server.detach()
        sim.close()

    def client(self) -> "RapidataClient":
        """The SDK client, made on first use."""
        if self._client is None:
            assert self.server is not None, "enter a world first"
            self._client = self.server.client()
        return self._client

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

"""Reaching a running server: its connection settings and a client of its ``/_sim`` API over HTTPS.

``rapidata-sim clock advance 24h`` and friends find the server the way the SDK
does, from ``RAPIDATA_ENVIRONMENT``/``SSL_CERT_FILE``/``RAPIDATA_CLIENT_ID``/
``RAPIDATA_CLIENT_SECRET`` (what ``serve`` prints), or from ``--data-dir`` (the
lines ``serve`` left there), and act on the world of those credentials.
"""

from __future__ import annotations

import json
import os
import re
import ssl
from pathlib import Path
from typing import Any, Iterator

ENV_FILE = "server.env"


class RemoteError(Exception):
    pass


def connection(data_dir: str | None = None) -> dict[str, str]:
    """The connection settings: from ``data_dir``'s env file, else the environment."""
    if data_dir:
        path = Path(data_dir) / ENV_FILE
        if not path.exists():
            raise RemoteError(f"no server has run on {data_dir} (no {ENV_FILE})")
        found = dict(re.findall(r"^export (\w+)=(.*)$", path.read_text(), flags=re.M))
    else:
        found = {k: v for k, v in os.environ.items() if k.startswith("RAPIDATA_") or k == "SSL_CERT_FILE"}
    missing = [k for k in ("RAPIDATA_ENVIRONMENT", "SSL_CERT_FILE", "RAPIDATA_CLIENT_ID", "RAPIDATA_CLIENT_SECRET")
               if not found.get(k)]
    if missing:
        raise RemoteError(f"not connected: set {', '.join(missing)} (the lines `rapidata-sim serve` prints) "
                          "or pass --data-dir")
    return found


class Remote:
    """An authenticated HTTPS client of one server, as one set of credentials."""

    def __init__(self, settings: dict[str, str]) -> None:
        import httpx

        env = settings["RAPIDATA_ENVIRONMENT"]
        host = env.split("@", 1)[-1]
        self.http = httpx.Client(base_url=f"https://{host}", timeout=30,
                                 verify=ssl.create_default_context(cafile=settings["SSL_CERT_FILE"]))
        token = self.http.post("/connect/token", data={"grant_type": "client_credentials"},
                               auth=(settings["RAPIDATA_CLIENT_ID"], settings["RAPIDATA_CLIENT_SECRET"]))
        if token.status_code != 200:
            raise RemoteError(f"the server refused the credentials: {token.text}")
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, path, json=body)
        if r.status_code >= 400:
            try:
                detail = r.json()
            except ValueError:
                detail = r.text
            raise RemoteError(f"{method} {path}: {r.status_code} {json.dumps(detail)}")
        if r.status_code == 204 or not r.content:
            return None
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def events(self, since: int = 0, limit: int | None = None) -> Iterator[str]:
        """The world's event log after ``since`` as JSON lines, a page (of ``limit`` events, default the
        server's) at a time: ``GET /_sim/events`` names the next page in ``x-sim-next-since``."""
        while True:
            params = {"since": int(since)} if limit is None else {"since": int(since), "limit": int(limit)}
            r = self.http.get("/_sim/events", params=params)
            if r.status_code >= 400:
                raise RemoteError(f"GET /_sim/events: {r.status_code} {r.text}")
            yield r.text
            nxt = r.headers.get("x-sim-next-since")
            if nxt is None:
                return
            since = int(nxt)

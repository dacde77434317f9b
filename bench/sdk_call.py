"""Cost of one warm SDK call: the simulator vs a bare Starlette app serving canned JSON.

Both servers run the same way (uvicorn on a daemon thread, TLS with a
``rapidata_sim.server.Certificates`` cert, bound to 127.0.0.1:0) in the same
process as the SDK clients, so the difference between them is what the
simulator's routing, auth, transaction, scheduler sync and rendering cost per
request. The canned bodies are captured from the simulator in the same run,
so the SDK parses the very same bytes from both.

``bench/run`` is the entry point; this module holds the reusable pieces.
"""

from __future__ import annotations

import faulthandler
import gc
import json
import os
import platform
import ssl
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

#: Set before the SDK is imported: no telemetry, no agent hint, no prints, and any
#: request that is not for 127.0.0.1 goes to a closed local port instead of the network.
SDK_ENV = {
    "RAPIDATA_DISABLE_OTLP": "1",
    "RAPIDATA_AGENT_HINT": "0",
    "RAPIDATA_silent_mode": "1",
    "RAPIDATA_cacheToDisk": "0",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


def isolate_sdk() -> None:
    """Keep the SDK off the network (call before importing ``rapidata``)."""
    os.environ.update(SDK_ENV)
    for key in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
        os.environ.pop(key, None)


def skip_version_check() -> None:
    """``RapidataClient()`` asks api.github.com for the latest release; the proxy above
    would refuse it, this skips the attempt altogether (construction only, not per call)."""
    from rapidata import RapidataClient

    if hasattr(RapidataClient, "_check_version"):
        RapidataClient._check_version = lambda self: None  # type: ignore[method-assign]


# -- the world ----------------------------------------------------------------------


@dataclass
class World:
    signal_id: str
    job_id: str
    definition_id: str


def build_world(sim) -> World:
    """A dataset, a compare job definition, a daily signal and a (completed) job, via the Python API."""
    from rapidata_sim.builders import text_definition

    me = sim.principal()
    definition = text_definition(sim, name="bench pairs", votes=5)
    # Daily: nothing fires during the bench, so every GET sees the same row.
    signal = sim.signals.create(me, name="bench daily", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=86400)
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    return World(signal_id=signal["id"], job_id=job["id"], definition_id=definition["id"])


# -- capturing real responses -----------------------------------------------------


@dataclass
class Canned:
    """One captured response: what the bare app sends back for ``method path``."""

    method: str
    path: str
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def capture(server, world: World) -> dict[tuple[str, str], Canned]:
    """The simulator's own answers for the requests the SDK makes, over the same TLS socket."""
    import httpx

    ctx = ssl.create_default_context(cafile=str(server.certs.ca_pem))
    base = f"https://127.0.0.1:{server.port}"
    creds = server.sim.default_client
    out: dict[tuple[str, str], Canned] = {}
    with httpx.Client(base_url=base, verify=ctx, trust_env=False, timeout=10) as http:
        def keep(resp: httpx.Response) -> httpx.Response:
            if resp.status_code != 200:
                raise RuntimeError(f"capture: {resp.request.method} {resp.request.url.path} -> "
                                   f"{resp.status_code} {resp.text[:200]}")
            extra = {k: v for k, v in resp.headers.items() if k.lower() == "cache-control"}
            out[(resp.request.method, resp.request.url.path)] = Canned(
                resp.request.method, resp.request.url.path, resp.status_code, resp.content,
                resp.headers.get("content-type", "application/json"), extra)
            return resp

        token = keep(http.post("/connect/token", data={"grant_type": "client_credentials", "scope": "openid"},
                               auth=(creds["id"], creds["secret"]))).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        keep(http.get("/connect/userinfo", headers=bearer))
        keep(http.get(f"/signal/{world.signal_id}", headers=bearer))
        keep(http.get(f"/job/{world.job_id}", headers=bearer))
    return out


# -- the bare app ---------------------------------------------------------------------


def bare_app(canned: dict[tuple[str, str], Canned]):
    """Starlette with one ``async def`` route per captured response, and a catch-all that
    counts anything else the SDK asks for (there should be nothing)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    hits: dict[str, int] = {}
    unexpected: list[str] = []

    def make(c: Canned):
        key = f"{c.method} {c.path}"
        hits[key] = 0

        async def endpoint(request: Request) -> Response:
            hits[key] += 1
            return Response(c.body, status_code=c.status, media_type=c.content_type, headers=c.headers)

        return endpoint

    by_path: dict[str, list[Canned]] = {}
    for c in canned.values():
        by_path.setdefault(c.path, []).append(c)
    routes = []
    for path, items in by_path.items():
        for c in items:
            methods = ["GET", "POST"] if path == "/connect/userinfo" else [c.method]
            routes.append(Route(path, make(c), methods=methods))

    async def other(request: Request) -> Response:
        unexpected.append(f"{request.method} {request.url.path}")
        return Response(b'{"title":"Not Found","status":404}', status_code=404,
                        media_type="application/problem+json")

    routes.append(Route("/{rest:path}", other, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes)
    app.state.hits = hits
    app.state.unexpected = unexpected
    return app


# -- timing ---------------------------------------------------------------------------


def time_block(fn: Callable[[], Any], n: int) -> list[float]:
    """``n`` calls of ``fn``, each timed on its own; milliseconds."""
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1e6)
    return out


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[8] if len(xs) > 1 else xs[0]


@dataclass
class Series:
    """Samples of one (target, operation), kept per block so drift can be seen."""

    blocks: list[list[float]] = field(default_factory=list)

    def add(self, block: list[float]) -> None:
        self.blocks.append(block)

    @property
    def samples(self) -> list[float]:
        return [x for b in self.blocks for x in b]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        return p90(self.samples)

    @property
    def block_medians(self) -> list[float]:
        return [statistics.median(b) for b in self.blocks]


def interleaved(calls: dict[str, Callable[[], Any]], *, rounds: int, block: int) -> dict[str, Series]:
    """``rounds`` rounds; in each, a block of ``block`` calls per entry of ``calls``. The order
    flips every round (ABBA...) so no target always runs right after the same other one."""
    series = {name: Series() for name in calls}
    names = list(calls)
    # A full collection takes ~0.2 s once the SDK is loaded (300 k objects); one, then freeze
    # what survives, so the collections the calls trigger only scan what the calls allocate.
    gc.collect()
    gc.freeze()
    try:
        for r in range(rounds):
            order = names if r % 2 == 0 else list(reversed(names))
            for name in order:
                series[name].add(time_block(calls[name], block))
    finally:
        gc.unfreeze()
    return series


def round_ratios(a: Series, b: Series) -> list[float]:
    return [x / y for x, y in zip(a.block_medians, b.block_medians)]


# -- reporting ------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "implementation": platform.python_implementation()}
    for dist in ("rapidata", "rapidata-sim", "starlette", "uvicorn", "uvloop", "httptools", "httpx2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count()}


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_previous(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def finish(out: Path, doc: dict[str, Any], problems: list[str],
           compare_previous: Callable[[dict[str, Any] | None, dict[str, Any]], None]) -> int:
    """The end of a benchmark: compare with the previous results, list problems, write the
    JSON; non-zero only if the simulator did something wrong."""
    compare_previous(load_previous(out), doc)
    if problems:
        print("\nPROBLEMS:")
        for problem in problems:
            print("  -", problem)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    faulthandler.cancel_dump_traceback_later()
    return 1 if problems else 0

"""Cost of one warm SDK call: the simulator vs a bare Starlette app serving canned JSON.

Both servers run the same way (uvicorn on a daemon thread, TLS with a
``rapidata_sim.serving.server.Certificates`` cert, bound to 127.0.0.1:0) in the same
process as the SDK clients, so the difference between them is what the
simulator's routing, auth, transaction, scheduler sync and rendering cost per
request. The canned bodies are captured from the simulator in the same run,
so the SDK parses the very same bytes from both.

``python bench/sdk_call.py [--rounds 24] [--block 100] [--out FILE]`` runs it (``bench/run``
runs it with every other figure); the first half of this module holds the pieces the other
benchmarks reuse (stdlib only at import).
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import importlib
import json
import os
import platform
import ssl
import statistics
import sys
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
    from rapidata_sim.testing.builders import text_definition

    me = sim.principal()
    definition = text_definition(sim, name="bench pairs", votes=5)
    # Daily: nothing fires during the bench, so every GET sees the same row.
    signal = sim.signals.create(me, name="bench daily", audience_id="global", job_definition_id=definition["id"],
                                interval_seconds=86400)
    job = sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    # Finished before anything is measured (its crowd would otherwise finish it, in wall time,
    # somewhere in the run, and the answer being timed would change under the bench).
    sim.run_until_idle()
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


# -- the benchmark (``python bench/sdk_call.py`` or ``python bench/run --suite sdk``) ----------


def fmt_ms(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="One warm SDK call against rapidata-sim vs a bare Starlette app with canned JSON.")
    ap.add_argument("--rounds", type=int, default=24, help="interleaved rounds (default 24)")
    ap.add_argument("--block", type=int, default=100, help="calls per target per round (default 100)")
    ap.add_argument("--warmup", type=int, default=100, help="warm-up calls per target (default 100)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "sdk_call.json")
    args = ap.parse_args(argv)
    isolate_sdk()
    # Whatever happens, the process ends: dump the stacks and exit if it hangs.
    faulthandler.dump_traceback_later(150, exit=True)
    wall0 = time.perf_counter()

    # -- the world and its server --------------------------------------------------
    from rapidata_sim import Simulator
    from rapidata_sim.serving.server import TLSServer

    sim = Simulator(seed=0)
    bare = None
    try:
        world = build_world(sim)
        server = sim.serve()
        me = sim.principal()

        # -- one-off costs, on the simulator (the first SDK use in this process) -------
        first: dict[str, float] = {}

        def once(label: str, call: Callable[[], Any]) -> Any:
            t = time.perf_counter()
            out = call()
            first[label] = time.perf_counter() - t
            return out

        once("import rapidata", lambda: importlib.import_module("rapidata"))
        skip_version_check()
        sim_client = once("RapidataClient() [sim]", server.client)
        sim_signal = once("first get_signal_by_id [sim]", lambda: sim_client.signals.get_signal_by_id(world.signal_id))
        sim_job = once("first get_job_by_id [sim]", lambda: sim_client.job.get_job_by_id(world.job_id))

        # -- the bare twin, answering with the simulator's own bytes ------------------
        canned = capture(server, world)
        app = bare_app(canned)
        bare = TLSServer(app, data_dir=server.data_dir).start()  # same transport, same certificate
        creds = sim.default_client
        bare_client = once("RapidataClient() [bare]", lambda: bare.client(creds["id"], creds["secret"]))
        bare_signal = once("first get_signal_by_id [bare]",
                           lambda: bare_client.signals.get_signal_by_id(world.signal_id))
        bare_job = once("first get_job_by_id [bare]", lambda: bare_client.job.get_job_by_id(world.job_id))

        # The SDK must have parsed the same thing from both.
        sig_fields = ("id", "audience_id", "job_definition_id", "revision_number", "is_public", "created_at",
                      "_name")
        job_fields = ("id", "name", "audience_id", "created_at", "definition_id", "pipeline_id")
        for a, b, fields in ((sim_signal, bare_signal, sig_fields), (sim_job, bare_job, job_fields)):
            diff = [f for f in fields if getattr(a, f, None) != getattr(b, f, None)]
            if diff:
                raise SystemExit(f"sim and bare answers parse differently: {type(a).__name__} {diff}")

        # -- warm-up, then interleaved blocks ------------------------------------------
        sid, jid = world.signal_id, world.job_id
        calls = {
            "signal/sim": lambda: sim_client.signals.get_signal_by_id(sid),
            "signal/bare": lambda: bare_client.signals.get_signal_by_id(sid),
            "job/sim": lambda: sim_client.job.get_job_by_id(jid),
            "job/bare": lambda: bare_client.job.get_job_by_id(jid),
            "signal/domain": lambda: sim.signals.get(me, sid),
            "job/domain": lambda: sim.jobs.get(jid, me),
        }
        for fn in calls.values():
            time_block(fn, args.warmup)
        t = time.perf_counter()
        series = interleaved(calls, rounds=args.rounds, block=args.block)
        measured_s = time.perf_counter() - t

        # -- sanity: nothing else was asked of the bare app; the sim's answers did not change
        expected = 1 + args.warmup + args.rounds * args.block
        hits = dict(app.state.hits)
        problems = []
        for key, path in (("signal", f"GET /signal/{sid}"), ("job", f"GET /job/{jid}")):
            if hits.get(path) != expected:
                problems.append(f"bare app saw {hits.get(path)} × {path}, expected {expected}")
        if app.state.unexpected:
            problems.append(f"bare app got unexpected requests: {sorted(set(app.state.unexpected))}")
        after = capture(server, world)
        for key in (("GET", f"/signal/{sid}"), ("GET", f"/job/{jid}")):
            if after[key].body != canned[key].body:
                problems.append(f"the simulator's answer to {key[0]} {key[1]} changed during the run")
    finally:
        if bare is not None:
            bare.stop()
        sim.close()

    # -- report ------------------------------------------------------------------------
    ops = {"signal": "client.signals.get_signal_by_id", "job": "client.job.get_job_by_id"}
    domain_label = {"signal": "sim.signals.get(principal, id)", "job": "sim.jobs.get(id, principal)"}
    n = args.rounds * args.block
    print(f"\nOne warm SDK call, {args.rounds} rounds × {args.block} calls per row, interleaved "
          f"(after {args.warmup} warm-up calls each); ms per call\n")
    head = f"{'call':<34} {'target':<22} {'median':>8} {'p90':>8}"
    print(head)
    print("-" * len(head))
    results: dict[str, dict] = {}
    for op, label in ops.items():
        s, b, d = series[f"{op}/sim"], series[f"{op}/bare"], series[f"{op}/domain"]
        ratio = s.median / b.median
        rr = round_ratios(s, b)
        print(f"{label:<34} {'simulator (HTTPS)':<22} {fmt_ms(s.median):>8} {fmt_ms(s.p90):>8}")
        print(f"{'':<34} {'bare Starlette (HTTPS)':<22} {fmt_ms(b.median):>8} {fmt_ms(b.p90):>8}")
        print(f"{'':<34} {'sim/bare':<22} {ratio:>7.2f}× {s.p90 / b.p90:>7.2f}×   "
              f"(per round: median {statistics.median(rr):.2f}×, {min(rr):.2f}–{max(rr):.2f}×)")
        print(f"{'':<34} {'sim − bare':<22} {fmt_ms(s.median - b.median):>8}")
        print(f"{domain_label[op]:<34} {'in-process, no HTTP':<22} {d.median:>8.4f} {d.p90:>8.4f}")
        print()
        results[op] = {
            "sdk_call": label,
            "domain_call": domain_label[op],
            "sim": {"median_ms": s.median, "p90_ms": s.p90, "block_medians_ms": s.block_medians},
            "bare": {"median_ms": b.median, "p90_ms": b.p90, "block_medians_ms": b.block_medians},
            "domain": {"median_ms": d.median, "p90_ms": d.p90, "block_medians_ms": d.block_medians},
            "ratio_sim_over_bare": ratio,
            "ratio_p90_sim_over_bare": s.p90 / b.p90,
            "round_ratios": rr,
            "median_round_ratio": statistics.median(rr),
            "sim_minus_bare_ms": s.median - b.median,
            "response_bytes": len(canned[("GET", f"/signal/{world.signal_id}" if op == "signal"
                                          else f"/job/{world.job_id}")].body),
        }

    print("One-off costs (not in the figures above), ms")
    for name, secs in first.items():
        print(f"  {name:<34} {secs * 1e3:>9.1f}")
    wall = time.perf_counter() - wall0
    print(f"\n{n} calls per row; interleaved phase {measured_s:.1f} s; whole bench {wall:.1f} s")

    previous = load_previous(args.out)
    if previous and isinstance(previous.get("results"), dict):
        print(f"\nvs previous run ({previous.get('timestamp', '?')}):")
        for op in ops:
            old = previous["results"].get(op)
            if not old:
                continue
            new = results[op]
            print(f"  {op:<7} sim/bare {old['ratio_sim_over_bare']:.2f}× -> {new['ratio_sim_over_bare']:.2f}×;  "
                  f"sim {old['sim']['median_ms']:.3f} -> {new['sim']['median_ms']:.3f} ms, "
                  f"bare {old['bare']['median_ms']:.3f} -> {new['bare']['median_ms']:.3f} ms "
                  f"(absolute figures drift ±15–20 %; compare the ratios)")

    if problems:
        print("\nPROBLEMS:")
        for p in problems:
            print("  -", p)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "bench": "sdk_call",
        "timestamp": utc_now(),
        "versions": versions(),
        "machine": machine(),
        "settings": {"rounds": args.rounds, "block": args.block, "warmup": args.warmup},
        "results": results,
        "first_call_ms": {k: v * 1e3 for k, v in first.items()},
        "wall_seconds": wall,
        "problems": problems,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(Path.cwd()) if args.out.is_relative_to(Path.cwd()) else args.out}")
    faulthandler.cancel_dump_traceback_later()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

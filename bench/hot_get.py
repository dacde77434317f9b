#!/usr/bin/env python3
"""The hot GET path against its limit: ``GET /signal/{id}`` on ``serve`` next to a bare app.

    python bench/hot_get.py [--seconds 5] [--concurrency 1,16] [--procs 4] [--out FILE]

Issue 15 item 4. Two servers, each in a process of its own, on the same TLS certificate:

- ``rapidata-sim serve --data-dir`` (real persistence: the world's SQLite file on disk, the clock
  following the wall), holding a daily signal made through the real SDK;
- a bare Starlette app on uvicorn with the simulator's uvicorn settings, answering the same path with
  the very bytes ``serve`` answered (its body and content type), and nothing else.

The request is the one the SDK sends: its headers are captured from a real ``RapidataClient``'s
``signals.get_signal_by_id`` (pointed at a small capturing server that hands it ``serve``'s own token
answer, so the ``Authorization: Bearer`` is one ``serve`` accepts), ``Host`` set to the target.

The load generator runs in processes of its own (``--procs``, at most one per connection): each
thread holds one keep-alive ``http.client.HTTPSConnection`` and sends the request back to back for
``--seconds`` (after a one-second warm-up), checking every answer's status. Concurrency 1 and 16,
sim and bare alternating. Reports req/s, p50/p99 latency and the ratio sim/bare next to the goals
(≥ 0.65× bare at c=1, ≥ 0.5× at c=16). Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from sdk_call import SDK_ENV  # noqa: E402  (stdlib only at import)

GOALS = {1: 0.65, 16: 0.5}
OWNER = ("rapidata-sim", "rapidata-sim-secret")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, ctx: ssl.SSLContext, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not answer")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- the bare server (a child process) -----------------------------------------------


def bare_server(port: int, certs: Path, canned: Path) -> None:
    """Starlette on uvicorn with TLSServer's settings; ``GET {path}`` answers the canned bytes."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from rapidata_sim.serving.server import KEEP_ALIVE_TIMEOUT

    spec = json.loads(canned.read_text())
    body, media = spec["body"].encode(), spec["content_type"]

    async def signal(request):
        return Response(body, media_type=media)

    app = Starlette(routes=[Route(spec["path"], signal, methods=["GET"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, ssl_certfile=str(certs / "server.pem"), ssl_keyfile=str(certs / "server-key.pem"),
                            log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1,
                            interface="asgi3", timeout_keep_alive=KEEP_ALIVE_TIMEOUT)
    uvicorn.Server(config).run(sockets=[sock])


# -- the load generator (child processes) ----------------------------------------------


def generator(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec["threads"]`` keep-alive connections, back to back until the deadline; latencies in µs."""
    ctx = ssl.create_default_context(cafile=spec["ca"])
    headers = [(k, v) for k, v in spec["headers"] if k.lower() != "host"]
    host = f"127.0.0.1:{spec['port']}"
    results: list[tuple[int, int, list[int]]] = []
    lock = threading.Lock()
    start = threading.Event()
    warm_until: list[float] = []

    def one() -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", spec["port"], context=ctx, timeout=30)
        lat: list[int] = []
        bad = 0

        def send() -> int:
            conn.putrequest("GET", spec["path"], skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders()
            r = conn.getresponse()
            r.read()
            return r.status

        send()  # the handshake, outside the timing
        start.wait()
        t_end = warm_until[0] + spec["seconds"]
        while time.perf_counter() < warm_until[0]:
            send()
        now = time.perf_counter()
        while now < t_end:
            status = send()
            t = time.perf_counter()
            lat.append(int((t - now) * 1e6))
            if status != 200:
                bad += 1
            now = t
        conn.close()
        with lock:
            results.append((len(lat), bad, lat))

    threads = [threading.Thread(target=one, daemon=True) for _ in range(spec["threads"])]
    for t in threads:
        t.start()
    go = spec["go_at"] - time.time()  # all generator processes start together (wall clock)
    if go > 0:
        time.sleep(go)
    warm_until.append(time.perf_counter() + spec["warmup"])
    start.set()
    for t in threads:
        t.join(spec["seconds"] + spec["warmup"] + 60)
    return {"requests": sum(r[0] for r in results), "bad": sum(r[1] for r in results),
            "latencies_us": [x for r in results for x in r[2]], "threads_done": len(results)}


def measure(port: int, ca: str, path: str, headers: list[list[str]], concurrency: int, seconds: float,
            procs: int, warmup: float = 1.0) -> dict[str, Any]:
    procs = max(1, min(procs, concurrency))
    shares = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    go_at = time.time() + 1.5 + 0.3 * procs  # time to import, connect and shake hands
    children = []
    for threads in shares:
        spec = {"port": port, "ca": ca, "path": path, "headers": headers, "threads": threads, "seconds": seconds,
                "warmup": warmup, "go_at": go_at}
        children.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--generate"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env()))
        children[-1].stdin.write(json.dumps(spec))
        children[-1].stdin.close()
    parts = []
    for child in children:
        out = child.stdout.read()
        child.wait(timeout=seconds + warmup + 120)
        parts.append(json.loads(out))
    lat = sorted(x for p in parts for x in p["latencies_us"])
    n = sum(p["requests"] for p in parts)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] / 1e3 if lat else 0.0

    return {"concurrency": concurrency, "procs": procs, "requests": n, "req_per_s": n / seconds,
            "bad": sum(p["bad"] for p in parts), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "threads_done": sum(p["threads_done"] for p in parts)}


# -- setting up -----------------------------------------------------------------------


def setup(work: Path) -> dict[str, Any]:
    """Certificates, ``serve`` on a data dir with a daily signal made by the SDK, the SDK's request
    headers for ``get_signal_by_id`` and ``serve``'s answer to them."""
    from rapidata_sim.serving.server import Certificates

    certs = work / "certs"
    Certificates(certs)
    data = work / "data"
    data.mkdir()
    for name in ("ca.pem", "server.pem", "server-key.pem"):
        shutil.copy2(certs / name, data / name)
    ca = str(certs / "ca.pem")
    ctx = ssl.create_default_context(cafile=ca)
    port = free_port()
    log = open(work / "serve.log", "w")
    serve = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--host", "127.0.0.1", "--port",
                              str(port), "--data-dir", str(data)], stdout=subprocess.DEVNULL, stderr=log,
                             env=_env(), cwd=ROOT)
    wait_up(port, ctx, serve)

    for key in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
        os.environ.pop(key, None)
    os.environ.update(SDK_ENV)
    os.environ["SSL_CERT_FILE"] = ca
    from rapidata import RapidataClient

    RapidataClient._check_version = lambda self: None  # type: ignore[method-assign]
    client = RapidataClient(client_id=OWNER[0], client_secret=OWNER[1], environment=f"sim@127.0.0.1:{port}")
    definition = client.job.create_free_text_job_definition(
        name="hot get", instruction="Say something", datapoints=["a text"], data_type="text",
        responses_per_datapoint=3)
    signal = client.signals.create_signal(name="hot get daily", audience="global", job_definition=definition,
                                          interval_hours=24)
    path = f"/signal/{signal.id}"

    # serve's own token answer, handed to a fresh SDK client by a capturing server on the same certs.
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    import base64

    basic = base64.b64encode(f"{OWNER[0]}:{OWNER[1]}".encode()).decode()
    conn.request("POST", "/connect/token", body="grant_type=client_credentials&scope=openid",
                 headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    token = conn.getresponse().read()
    conn.close()
    headers = capture_headers(certs, path, token)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"127.0.0.1:{port}")
    for k, v in headers:
        if k.lower() != "host":
            conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"serve answered {r.status} to the SDK's request: {body[:300]!r}")
    canned = work / "canned.json"
    canned.write_text(json.dumps({"path": path, "body": body.decode(),
                                  "content_type": r.getheader("content-type", "application/json")}))
    conn.close()
    return {"serve": serve, "port": port, "certs": certs, "ca": ca, "path": path, "headers": headers,
            "canned": canned, "body_bytes": len(body), "log": log}


def capture_headers(certs: Path, path: str, token: bytes) -> list[list[str]]:
    """The headers a fresh ``RapidataClient`` sends for ``get_signal_by_id``, as they arrive."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from rapidata import RapidataClient

    seen: list[list[list[str]]] = []
    sid = path.rsplit("/", 1)[1]

    async def tok(request):
        await request.body()
        return Response(token, media_type="application/json")

    async def userinfo(request):
        return Response(b"{}", media_type="application/json")

    async def signal(request):
        seen.append([[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]])
        return Response(b'{"title":"captured","status":404}', status_code=404, media_type="application/problem+json")

    app = Starlette(routes=[Route("/connect/token", tok, methods=["POST"]),
                            Route("/connect/userinfo", userinfo, methods=["GET", "POST"]),
                            Route(path, signal, methods=["GET"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, ssl_certfile=str(certs / "server.pem"),
                                           ssl_keyfile=str(certs / "server-key.pem"), log_level="error",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        client = RapidataClient(client_id=OWNER[0], client_secret=OWNER[1], environment=f"sim@127.0.0.1:{port}")
        try:
            client.signals.get_signal_by_id(sid)
        except Exception:  # noqa: BLE001 - the 503 ends the call; the headers are what we came for
            pass
    finally:
        server.should_exit = True
        thread.join(10)
    if not seen:
        raise RuntimeError("the SDK sent no GET /signal/{id}")
    headers = seen[0]
    if not any(k.lower() == "authorization" and v.startswith("Bearer ") for k, v in headers):
        raise RuntimeError(f"the SDK's request carries no bearer token: {headers}")
    return headers


# -- main -----------------------------------------------------------------------------


def run(seconds: float, concurrency: list[int], procs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rapidata-sim-hotget-") as tmp:
        work = Path(tmp)
        s = setup(work)
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--bare-server", str(bare_port),
                                 str(s["certs"]), str(s["canned"])], env=_env(), cwd=ROOT)
        try:
            wait_up(bare_port, ssl.create_default_context(cafile=s["ca"]), bare)
            results: dict[str, dict[str, Any]] = {}
            for i, c in enumerate(concurrency):
                order = [("sim", s["port"]), ("bare", bare_port)]
                for name, port in (order if i % 2 == 0 else order[::-1]):
                    r = measure(port, s["ca"], s["path"], s["headers"], c, seconds, procs)
                    results[f"{name}@{c}"] = r
                    print(f"  {name:<5} c={c:<3} {r['req_per_s']:>9,.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                          f"p99 {r['p99_ms']:.2f} ms  ({r['requests']:,} requests, {r['bad']} not 200, "
                          f"{r['procs']} generator process(es))", flush=True)
        finally:
            stop(bare)
            stop(s["serve"])
            s["log"].close()
            server_log = (work / "serve.log").read_text()
    ratios = {str(c): results[f"sim@{c}"]["req_per_s"] / results[f"bare@{c}"]["req_per_s"] for c in concurrency}
    doc = {"bench": "hot_get", "path": "GET /signal/{id}", "body_bytes": s["body_bytes"], "seconds": seconds,
           "procs": procs, "cpus": os.cpu_count(),
           "headers": [[k, "Bearer …" if k.lower() == "authorization" else v] for k, v in s["headers"]],
           "results": results, "ratio_sim_over_bare": ratios, "goals": {str(k): v for k, v in GOALS.items()},
           "problems": [f"{k}: {r['bad']} answers not 200" for k, r in results.items() if r["bad"]]
           + [f"{k}: {r['threads_done']}/{r['concurrency']} connections finished" for k, r in results.items()
              if r["threads_done"] != r["concurrency"]]
           + (["serve's log has a traceback"] if "Traceback" in server_log else [])}
    print(f"\nGET /signal/{{id}} as the SDK sends it ({s['body_bytes']} bytes), serve --data-dir vs bare "
          f"Starlette+uvicorn, same TLS ({seconds:g} s each; one run on a shared, noisy {os.cpu_count()}-core machine)")
    for c in concurrency:
        goal = GOALS.get(c)
        verdict = f"goal ≥ {goal:g}× {'MET' if ratios[str(c)] >= goal else 'NOT MET'}" if goal else ""
        print(f"  c={c:<3} sim {results[f'sim@{c}']['req_per_s']:>8,.0f} req/s, bare "
              f"{results[f'bare@{c}']['req_per_s']:>8,.0f} req/s: {ratios[str(c)]:.2f}× bare  {verdict}")
    for p in doc["problems"]:
        print("  PROBLEM:", p)
    return doc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--bare-server"]:
        bare_server(int(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    if argv[:1] == ["--generate"]:
        print(json.dumps(generator(json.loads(sys.stdin.read()))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--concurrency", default="1,16")
    ap.add_argument("--procs", type=int, default=4, help="load generator processes at most (default 4)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "hot_get.json")
    args = ap.parse_args(argv)
    doc = run(args.seconds, [int(x) for x in args.concurrency.split(",")], args.procs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if doc["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Start-up costs: ``import rapidata_sim`` and a server's cold start, each next to a baseline.

    python bench/startup.py [--repeat 7] [--serve-repeat 5] [--out bench/results/startup.json]

From one run, interleaved round by round (ABBA order), every sample in a fresh process:

1. **Import.** ``import rapidata_sim`` timed inside a fresh ``python`` (perf_counter around the
   import statement), next to the import of its heaviest third-party dependency, picked in
   this run from ``python -X importtime -c "import rapidata_sim"`` (the top-level package
   with the largest cumulative time). The whole process (``python -c "import rapidata_sim"``
   spawn to exit) is timed too, next to ``python -c pass``.
2. **Cold start to first answer.** ``rapidata-sim serve --data-dir DIR`` (``python -m
   rapidata_sim.cli``, a fresh data dir holding a ready CA and server certificate) from spawn
   until the first successful ``POST /connect/token`` over HTTPS, next to a bare Starlette
   app on uvicorn in its own process (``--bare-server``: the same uvicorn settings and the
   very same certificate files, one canned JSON answer) until its first answer to the same
   request. Also ``serve`` without a data dir (in memory; it makes its own CA with trustme)
   against the same bare baseline.

The parent polls ``127.0.0.1:PORT`` every 2 ms (connection refused until the socket is
bound). Writes JSON to ``--out``; exits non-zero only if a server failed to answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLIENT_ID, CLIENT_SECRET = "rapidata-sim", "rapidata-sim-secret"
TOKEN_FORM = f"grant_type=client_credentials&scope=openid&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
CANNED_TOKEN = b'{"access_token":"bench","token_type":"Bearer","expires_in":3600,"scope":"openid"}'


def _env() -> dict[str, str]:
    """The child's environment: no SDK/connection variables from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT", "PYTHONPROFILE"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # keep the .pyc cache: we time imports, not compiles
    return env


# -- 1. import ------------------------------------------------------------------------


def heaviest_dependency(module: str = "rapidata_sim") -> tuple[str, float, list[tuple[str, float]]]:
    """The third-party top-level package with the largest cumulative import time under ``module``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                         text=True, env=_env(), cwd=ROOT, timeout=120)
    tops: dict[str, float] = {}
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if not m:
            continue
        name = m.group(4)
        top = name.split(".")[0]
        if name != top or top == module.split(".")[0] or top in sys.stdlib_module_names or top.startswith("_"):
            continue
        tops[top] = max(tops.get(top, 0.0), int(m.group(2)) / 1000)
    if not tops:
        raise RuntimeError(f"-X importtime listed no third-party package under {module}:\n{out.stderr[-2000:]}")
    ranked = sorted(tops.items(), key=lambda kv: -kv[1])
    return ranked[0][0], ranked[0][1], ranked[:6]


def time_import(module: str | None) -> tuple[float, float]:
    """(ms inside the process for ``import module``, ms for the whole process); ``None``: ``pass``."""
    code = ("import time; t = time.perf_counter(); import %s; print(time.perf_counter() - t)" % module
            if module else "pass")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT,
                         timeout=120)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed: {out.stderr[-2000:]}")
    return (float(out.stdout.strip()) * 1e3 if module else 0.0), wall * 1e3


def run_imports(repeat: int) -> dict[str, Any]:
    dep, dep_ms, ranked = heaviest_dependency()
    targets = {"rapidata_sim": "rapidata_sim", dep: dep, "pass": None}
    for mod in targets.values():  # warm the OS page cache and the .pyc files
        time_import(mod)
    inner: dict[str, list[float]] = {k: [] for k in targets}
    whole: dict[str, list[float]] = {k: [] for k in targets}
    names = list(targets)
    for r in range(repeat):
        for name in (names if r % 2 == 0 else names[::-1]):
            i, w = time_import(targets[name])
            inner[name].append(i)
            whole[name].append(w)
    med = {k: statistics.median(v) for k, v in inner.items()}
    wmed = {k: statistics.median(v) for k, v in whole.items()}
    return {
        "heaviest_dependency": dep, "importtime_ranking_ms": dict(ranked),
        "import_ms": {"rapidata_sim": med["rapidata_sim"], dep: med[dep]},
        "import_ms_samples": {k: inner[k] for k in ("rapidata_sim", dep)},
        "process_ms": wmed, "process_ms_samples": whole,
        "ratio_import_over_dependency": med["rapidata_sim"] / med[dep],
        "ratio_process_over_python_pass": wmed["rapidata_sim"] / wmed["pass"],
        "repeat": repeat,
    }


# -- 2. cold start --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_answer(proc: subprocess.Popen, port: int, ctx: ssl.SSLContext, timeout: float = 60.0) -> int:
    """Poll until ``POST /connect/token`` answers 200; the status. Raises if the process dies."""
    deadline = time.monotonic() + timeout
    last: Exception | str | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode} before answering: {err}")
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        try:
            conn.request("POST", "/connect/token", body=TOKEN_FORM,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                return resp.status
            last = f"HTTP {resp.status}"
        except (ConnectionError, ssl.SSLError, OSError, http.client.HTTPException) as e:
            last = e
        finally:
            conn.close()
        time.sleep(0.002)
    raise RuntimeError(f"no successful answer on port {port} within {timeout:.0f} s (last: {last!r})")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cold_start(kind: str, certs: Path, work: Path, ctx: ssl.SSLContext) -> float:
    """ms from spawning the server process to its first successful answer."""
    port = free_port()
    if kind == "sim":
        data = Path(tempfile.mkdtemp(dir=work, prefix="sim-"))
        for name in ("ca.pem", "server.pem", "server-key.pem"):
            shutil.copy2(certs / name, data / name)
        cmd = [sys.executable, "-m", "rapidata_sim.cli", "serve", "--port", str(port), "--data-dir", str(data)]
    elif kind == "sim-memory":
        cmd = [sys.executable, "-m", "rapidata_sim.cli", "serve", "--port", str(port)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port), str(certs)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), cwd=ROOT)
    try:
        first_answer(proc, port, ctx if kind != "sim-memory" else _unverified())
        return (time.perf_counter() - t) * 1e3
    finally:
        stop(proc)


def _unverified() -> ssl.SSLContext:
    """For ``serve`` in memory only: its CA exists only inside the child. The TLS handshake is
    the same work for the server; only the client skips the chain check."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def run_cold_starts(repeat: int) -> dict[str, Any]:
    from rapidata_sim.serving.server import Certificates

    with tempfile.TemporaryDirectory(prefix="rapidata-sim-startup-") as tmp:
        work = Path(tmp)
        certs = work / "certs"
        Certificates(certs)
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        kinds = ["sim", "bare", "sim-memory"]
        for kind in kinds:  # warm-up: page cache, .pyc files
            cold_start(kind, certs, work, ctx)
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        for r in range(repeat):
            for kind in (kinds if r % 2 == 0 else kinds[::-1]):
                samples[kind].append(cold_start(kind, certs, work, ctx))
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {"ms": med, "samples_ms": samples, "repeat": repeat,
            "ratio_sim_over_bare": med["sim"] / med["bare"],
            "ratio_sim_memory_over_bare": med["sim-memory"] / med["bare"]}


# -- the bare server (a child process) -----------------------------------------------


def bare_server(port: int, certs: Path) -> None:
    """Starlette on uvicorn with TLSServer's settings and socket handling; one canned answer."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def token(request):
        await request.body()
        return Response(CANNED_TOKEN, media_type="application/json")

    app = Starlette(routes=[Route("/connect/token", token, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, ssl_certfile=str(certs / "server.pem"), ssl_keyfile=str(certs / "server-key.pem"),
                            log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1,
                            interface="asgi3")
    uvicorn.Server(config).run(sockets=[sock])


# -- report ---------------------------------------------------------------------------


def report(imports: dict[str, Any] | None, starts: dict[str, Any] | None) -> None:
    if imports:
        dep = imports["heaviest_dependency"]
        ms, pm = imports["import_ms"], imports["process_ms"]
        print(f"Import time, fresh process each, median of {imports['repeat']} interleaved rounds\n")
        print(f"  {'import rapidata_sim':<44} {ms['rapidata_sim']:8.1f} ms")
        print(f"  {'import ' + dep + ' (heaviest dependency)':<44} {ms[dep]:8.1f} ms")
        print(f"  {'rapidata_sim / ' + dep:<44} {imports['ratio_import_over_dependency']:8.2f}×")
        label = 'python -c "import rapidata_sim" (process)'
        print(f"  {label:<44} {pm['rapidata_sim']:8.1f} ms")
        print(f"  {'python -c pass (process)':<44} {pm['pass']:8.1f} ms")
        print(f"  {'process ratio':<44} {imports['ratio_process_over_python_pass']:8.2f}×")
        ranking = ", ".join(f"{k} {v:.0f}" for k, v in imports["importtime_ranking_ms"].items())
        print(f"  -X importtime, cumulative ms of the third-party packages it loads: {ranking}\n")
    if starts:
        ms = starts["ms"]
        print(f"Cold start to the first successful POST /connect/token over HTTPS, median of {starts['repeat']} "
              f"interleaved rounds\n")
        print(f"  {'rapidata-sim serve --data-dir (fresh dir)':<44} {ms['sim']:8.1f} ms")
        print(f"  {'rapidata-sim serve (in memory, makes its CA)':<44} {ms['sim-memory']:8.1f} ms")
        print(f"  {'bare uvicorn + Starlette, same TLS':<44} {ms['bare']:8.1f} ms")
        print(f"  {'serve --data-dir / bare':<44} {starts['ratio_sim_over_bare']:8.2f}×")
        print(f"  {'serve in memory / bare':<44} {starts['ratio_sim_memory_over_bare']:8.2f}×")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--bare-server"]:
        bare_server(int(argv[1]), Path(argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds of imports (default 7)")
    ap.add_argument("--serve-repeat", type=int, default=5, help="interleaved rounds of cold starts (default 5)")
    ap.add_argument("--only", choices=("imports", "serve"), help="run one part")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "startup.json")
    args = ap.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    wall = time.perf_counter()
    imports = run_imports(args.repeat) if args.only in (None, "imports") else None
    starts = run_cold_starts(args.serve_repeat) if args.only in (None, "serve") else None
    report(imports, starts)
    sys.path.insert(0, str(HERE))
    import sdk_call as B

    doc = {"bench": "startup", "timestamp": B.utc_now(), "machine": B.machine(), "imports": imports,
           "cold_start": starts, "wall_seconds": time.perf_counter() - wall}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

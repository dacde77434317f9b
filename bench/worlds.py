#!/usr/bin/env python3
"""A server of many worlds: 2,000 worlds on a data dir, what they cost at rest and at a restart.

    python bench/worlds.py [--worlds 2000] [--idle 10] [--out bench/results/worlds.json]

Issue 16 measured, before one timer and on-demand worlds: 2,000 worlds took 2,004 threads,
152 % of a core at rest, 6,017 file descriptors and 58 s to restart. Targets: idle CPU < 5 % of
a core, restart < 5 s, threads O(1) in worlds.

1. The data dir: one world is made through ``Worlds.for_client`` (clock at speed 1, the wall's),
   then copied ``--worlds`` times, each copy given its own client id and world id (what a world
   made by its own token request holds, without 2,000 x 40 ms of seed data).
2. **Restart**: ``Worlds(data_dir=...)`` on it (what ``serve`` does before it listens), timed, next
   to the same on a data dir holding no world but the default one; the first start reads every
   world's file (no ``index.json`` yet, as after a kill); after the clean stop at the end it is
   timed again (the index tells who owns which world). Also the whole ``rapidata-sim
   serve --data-dir`` process from spawn to its first HTTPS answer (a token request).
3. **At rest, closed**: the process's CPU time over ``--idle`` wall seconds, all worlds closed.
4. **At rest, all open**: every world opened (``Worlds.get``; each on the one timer), then CPU
   over ``--idle`` seconds, threads and open file descriptors, next to the same figures with
   10 worlds open. Then every world closed again (``close_idle(0)``) and the descriptors counted.

Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import http.client
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"idle_cpu_percent": 5.0, "restart_s": 5.0}


def make_data_dir(root: Path, n: int) -> Path:
    from rapidata_sim.serving.worlds import Worlds, file_name

    template_dir = root / "template"
    worlds = Worlds(seed=0, speed=1, data_dir=template_dir)
    template = Path(worlds.get(worlds.for_client("w0", "secret")).store.path)
    worlds.close()
    data = root / "data"
    (data / "worlds").mkdir(parents=True)
    shutil.copy(template_dir / "world.sqlite3", data / "world.sqlite3")
    for i in range(n):
        target = data / "worlds" / file_name(f"w{i}")
        shutil.copy(template, target)
        db = sqlite3.connect(target)
        db.execute("UPDATE clients SET id = ? WHERE id = 'w0'", [f"w{i}"])
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('world_id', ?)", [f"w{i}"])
        db.commit()
        db.close()
    return data


def threads() -> int:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else threading.active_count()


def fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def idle_cpu(seconds: float) -> float:
    """This process's CPU time over ``seconds`` of wall time at rest, in % of one core."""
    c0, w0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - c0) / (time.monotonic() - w0) * 100


def restart(data: Path, n_open: int | None = None) -> tuple[Any, float]:
    from rapidata_sim.serving.worlds import Worlds

    t = time.perf_counter()
    worlds = Worlds(seed=0, speed=1, data_dir=data, max_open=100_000, idle_seconds=3600)
    return worlds, time.perf_counter() - t


def serve_to_first_answer(data: Path) -> float:
    """``rapidata-sim serve --data-dir`` from spawn to its first answered token request."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        port = None
        for line in proc.stdout:  # type: ignore[union-attr]
            m = re.search(r"RAPIDATA_ENVIRONMENT=sim@127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "serve printed no environment"
        ctx = ssl.create_default_context(cafile=str(data / "ca.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
        conn.request("POST", "/connect/token", "grant_type=client_credentials&client_id=w7&client_secret=secret",
                     {"Content-Type": "application/x-www-form-urlencoded"})
        status = conn.getresponse().status
        elapsed = time.perf_counter() - t
        assert status == 200, status
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--worlds", type=int, default=2000)
    ap.add_argument("--idle", type=float, default=10.0, help="wall seconds of each at-rest CPU window")
    ap.add_argument("--out", default=str(HERE / "results" / "worlds.json"))
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="bench-worlds-"))
    doc: dict[str, Any] = {"worlds": args.worlds, "idle_window_s": args.idle, "targets": TARGETS}
    try:
        t = time.perf_counter()
        data = make_data_dir(root, args.worlds)
        print(f"data dir of {args.worlds} worlds made in {time.perf_counter() - t:.1f} s", flush=True)
        empty = root / "empty"
        base_threads, base_fds = threads(), fds()

        worlds, doc["restart_empty_s"] = restart(empty)
        worlds.close()
        worlds, doc["restart_s"] = restart(data)
        print(f"restart: {doc['restart_s']:.2f} s (a data dir with the default world only: "
              f"{doc['restart_empty_s']:.2f} s)   target < {TARGETS['restart_s']:g} s", flush=True)
        doc["idle_cpu_closed_percent"] = idle_cpu(args.idle)
        doc["threads_closed"] = threads() - base_threads
        print(f"at rest, all closed: {doc['idle_cpu_closed_percent']:.2f} % of a core, "
              f"+{doc['threads_closed']} threads", flush=True)

        ids = [f"w{i}" for i in range(args.worlds)]
        for world_id in ids[:10]:
            worlds.get(world_id)
        time.sleep(1)
        doc["threads_10_open"], doc["fds_10_open"] = threads() - base_threads, fds() - base_fds
        doc["idle_cpu_10_open_percent"] = idle_cpu(args.idle)
        t = time.perf_counter()
        for world_id in ids[10:]:
            worlds.get(world_id)
        doc["open_all_s"] = time.perf_counter() - t
        time.sleep(1)
        doc["threads_all_open"], doc["fds_all_open"] = threads() - base_threads, fds() - base_fds
        doc["idle_cpu_all_open_percent"] = idle_cpu(args.idle)
        print(f"at rest, {args.worlds} open (each on the one timer, clocks at speed 1): "
              f"{doc['idle_cpu_all_open_percent']:.2f} % of a core (10 open: {doc['idle_cpu_10_open_percent']:.2f} %)"
              f"   target < {TARGETS['idle_cpu_percent']:g} %", flush=True)
        print(f"threads: +{doc['threads_all_open']} with {args.worlds} open, +{doc['threads_10_open']} with 10 "
              f"open   target O(1)", flush=True)
        print(f"file descriptors: +{doc['fds_all_open']} with {args.worlds} open, +{doc['fds_10_open']} with 10 "
              f"(opening the other {args.worlds - 10} took {doc['open_all_s']:.1f} s)", flush=True)
        doc["closed_by_idle"] = len(worlds.close_idle(idle_seconds=0))
        doc["fds_after_close_idle"] = fds() - base_fds
        t = time.perf_counter()
        worlds.close()
        doc["close_s"] = time.perf_counter() - t
        print(f"close_idle(0) closed {doc['closed_by_idle']} worlds: +{doc['fds_after_close_idle']} descriptors; "
              f"closing the server took {doc['close_s']:.2f} s", flush=True)
        worlds, doc["restart_indexed_s"] = restart(data)
        worlds.close()
        print(f"restart after that clean stop (index.json, no file read): {doc['restart_indexed_s']:.2f} s", flush=True)
        doc["serve_to_first_answer_s"] = serve_to_first_answer(data)
        print(f"rapidata-sim serve --data-dir ({args.worlds} worlds): spawn to first HTTPS answer "
              f"{doc['serve_to_first_answer_s']:.2f} s   target < {TARGETS['restart_s']:g} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

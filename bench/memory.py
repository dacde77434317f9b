#!/usr/bin/env python3
"""Memory of the server: RSS of ``rapidata-sim serve --data-dir`` after a year, and with many worlds.

    python bench/memory.py [--days 365] [--worlds 1000,2000] [--out FILE]

Issue 15 item 5. Every figure is the resident set (``VmRSS``, and the peak ``VmHWM``) of the
``serve`` process, read from ``/proc``, next to the same server fresh (one token request answered).

(a) **A year**: through the real SDK, a compare job definition of 1,000 text pairs × 25 votes and a
    daily signal on ``global`` in the seed world (clock frozen, ``--speed 0``), then
    ``POST /_sim/clock/advance`` one day at a time for ``--days`` days; RSS after the year, and after
    reading it back (the signal's runs and every job listed, the last job's results).
(b) **Many worlds**: a data dir of N worlds, each a copy of one world made for its own credentials
    (``Worlds.for_client``) in which one job of a 10-datapoint definition ran to completion (each
    copy given its own client id and world id, as ``bench/worlds.py`` does); ``serve`` started on it,
    then every world touched once over HTTPS (a token request for its credentials and
    ``GET /jobs``, which opens the world and reads its job). RSS after all N, next to the same
    server with the default world only; for several N the slope (KB per world) is reported. Worlds
    are opened on demand and at most ``MAX_OPEN`` (256) stay open, the least recently used closed.

Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from sdk_call import SDK_ENV  # noqa: E402  (stdlib only at import)

OWNER = ("rapidata-sim", "rapidata-sim-secret")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}


def rss(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


class Serve:
    def __init__(self, data: Path, *, speed: float = 0) -> None:
        self.log = open(data.parent / f"{data.name}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "rapidata_sim.cli", "serve", "--host", "127.0.0.1",
                                      "--port", "0", "--data-dir", str(data), "--speed", str(speed)],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=_env(), cwd=ROOT)
        self.port = 0
        for line in self.proc.stdout:  # type: ignore[union-attr]
            m = re.search(r"RAPIDATA_ENVIRONMENT=sim@127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise RuntimeError("serve printed no environment")
        self.ca = str(data / "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=600)

    def request(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
                ) -> tuple[int, bytes]:
        for attempt in (1, 2):  # the server closes a keep-alive connection idle for 5 s: open another
            try:
                self.conn.request(method, path, body, headers or {})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=600)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def token(self, cid: str, secret: str) -> str:
        status, body = self.request("POST", "/connect/token",
                                    f"grant_type=client_credentials&client_id={cid}&client_secret={secret}",
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError(f"token for {cid}: {status} {body[:200]!r}")
        return json.loads(body)["access_token"]

    def rss(self) -> dict[str, float]:
        return rss(self.proc.pid)

    def stop(self) -> None:
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# -- (a) a year -------------------------------------------------------------------------


def year(root: Path, days: int, datapoints: int, votes: int) -> dict[str, Any]:
    serve = Serve(root / "year")
    try:
        fresh = (serve.token(*OWNER), serve.rss())[1]
        for key in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
            os.environ.pop(key, None)
        os.environ.update(SDK_ENV)
        os.environ["SSL_CERT_FILE"] = serve.ca
        from rapidata import RapidataClient

        RapidataClient._check_version = lambda self: None  # type: ignore[method-assign]
        client = RapidataClient(client_id=OWNER[0], client_secret=OWNER[1], environment=f"sim@127.0.0.1:{serve.port}")
        t = time.perf_counter()
        definition = client.job.create_compare_job_definition(
            name="daily pairs", instruction="Which is better?", responses_per_datapoint=votes, data_type="text",
            datapoints=[[f"a {i}", f"b {i}"] for i in range(datapoints)])
        signal = client.signals.create_signal(name="daily", audience="global", job_definition=definition,
                                              interval_hours=24)
        made_s = time.perf_counter() - t
        before = serve.rss()
        token = serve.token(*OWNER)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        t = time.perf_counter()
        for _ in range(days):
            status, body = serve.request("POST", "/_sim/clock/advance", json.dumps({"seconds": 86400}), auth)
            if status != 200:
                raise RuntimeError(f"advance: {status} {body[:300]!r}")
        year_s = time.perf_counter() - t
        after_year = serve.rss()
        t = time.perf_counter()
        jobs = signal.get_jobs(page_size=1000) if hasattr(signal, "get_jobs") else []
        status, _ = serve.request("GET", f"/signal/{signal.id}/run?page=1&pageSize=1000", headers=auth)
        # The newest completed job's results (the newest few may still be running: the clock is frozen).
        done = next((j for j in jobs if j.get_status() == "Completed"), None)
        results = client.job.get_job_by_id(done.id).get_results() if done is not None else None
        read_s = time.perf_counter() - t
        after_read = serve.rss()
        return {"days": days, "datapoints": datapoints, "votes": votes, "jobs": len(jobs),
                "result_rows": len(results.to_pandas()) if results is not None else 0,
                "made_s": round(made_s, 2), "year_s": round(year_s, 2), "read_s": round(read_s, 2),
                "rss_mb": {"fresh": fresh, "definition_and_signal": before, "after_year": after_year,
                           "after_reading": after_read},
                "db_mb": round(sum(p.stat().st_size for p in (root / "year").glob("*.sqlite3*")) / 2**20, 1)}
    finally:
        serve.stop()


# -- (b) many worlds ----------------------------------------------------------------------


def template_world(root: Path) -> Path:
    from rapidata_sim.serving.worlds import Worlds
    from rapidata_sim.testing.builders import text_definition

    worlds = Worlds(seed=0, speed=0, data_dir=root / "template")
    sim = worlds.get(worlds.for_client("w0", "secret"))
    me = sim.principal()
    definition = text_definition(sim, name="one job", kind="free_text", datapoints=10, votes=3)
    sim.jobs.create(me, definition_id=definition["id"], audience_id="global")
    sim.run_until_idle()
    path = Path(sim.store.path)
    worlds.close()
    return path


def worlds_dir(root: Path, template: Path, n: int, certs: Path) -> Path:
    from rapidata_sim.serving.worlds import file_name

    data = root / f"worlds-{n}"
    (data / "worlds").mkdir(parents=True)
    shutil.copy(root / "template" / "world.sqlite3", data / "world.sqlite3")
    for name in ("ca.pem", "server.pem", "server-key.pem"):
        shutil.copy2(certs / name, data / name)
    for i in range(n):
        target = data / "worlds" / file_name(f"w{i}")
        shutil.copy(template, target)
        db = sqlite3.connect(target)
        db.execute("UPDATE clients SET id = ? WHERE id = 'w0'", [f"w{i}"])
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('world_id', ?)", [f"w{i}"])
        db.commit()
        db.close()
    return data


def many_worlds(root: Path, counts: list[int]) -> dict[str, Any]:
    template = template_world(root)
    from rapidata_sim.serving.server import Certificates

    certs = root / "certs"
    Certificates(certs)
    out: dict[str, Any] = {"template_kb": round(template.stat().st_size / 1024, 1), "runs": {}}
    for n in [0, *counts]:
        t = time.perf_counter()
        data = worlds_dir(root, template, n, certs)
        made = time.perf_counter() - t
        serve = Serve(data, speed=0)
        try:
            serve.token(*OWNER)
            fresh = serve.rss()
            t = time.perf_counter()
            bad = 0
            for i in range(n):
                token = serve.token(f"w{i}", "secret")
                status, body = serve.request("GET", "/jobs?page=1&pageSize=10", headers={"Authorization": f"Bearer {token}"})
                if status != 200 or b'"jobId"' not in body:
                    bad += 1
            touch_s = time.perf_counter() - t
            time.sleep(1)
            after = serve.rss()
        finally:
            serve.stop()
            shutil.rmtree(data, ignore_errors=True)
        out["runs"][str(n)] = {"worlds": n, "made_s": round(made, 1), "touch_s": round(touch_s, 1), "bad": bad,
                               "rss_mb": {"fresh": fresh, "after": after}}
        print(f"  {n:>6,} worlds touched ({touch_s:.1f} s, {bad} bad): RSS {after['VmRSS']:.1f} MB "
              f"(peak {after['VmHWM']:.1f} MB), fresh server {fresh['VmRSS']:.1f} MB", flush=True)
    base = out["runs"]["0"]["rss_mb"]["after"]["VmRSS"]
    slopes = {}
    for n in counts:
        slopes[str(n)] = round((out["runs"][str(n)]["rss_mb"]["after"]["VmRSS"] - base) * 1024 / n, 1)
    out["kb_per_world"] = slopes
    if len(counts) >= 2:
        a, b = counts[-2], counts[-1]
        ra, rb = (out["runs"][str(x)]["rss_mb"]["after"]["VmRSS"] for x in (a, b))
        out["kb_per_world_between"] = {f"{a}-{b}": round((rb - ra) * 1024 / (b - a), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--datapoints", type=int, default=1000)
    ap.add_argument("--votes", type=int, default=25)
    ap.add_argument("--worlds", default="1000,2000", help="comma-separated world counts (default 1000,2000)")
    ap.add_argument("--skip-year", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "memory.json")
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="rapidata-sim-memory-"))
    doc: dict[str, Any] = {"bench": "memory", "cpus": os.cpu_count(), "problems": []}
    try:
        if not args.skip_year:
            print(f"(a) a year: daily {args.datapoints} x {args.votes} signal, {args.days} x advance(1 day) over HTTPS",
                  flush=True)
            y = doc["year"] = year(root, args.days, args.datapoints, args.votes)
            r = y["rss_mb"]
            print(f"  RSS fresh {r['fresh']['VmRSS']:.1f} MB; with the definition and signal "
                  f"{r['definition_and_signal']['VmRSS']:.1f} MB; after the year ({y['year_s']:.1f} s, {y['jobs']} jobs) "
                  f"{r['after_year']['VmRSS']:.1f} MB; after reading it back ({y['read_s']:.1f} s, "
                  f"{y['result_rows']} result rows) {r['after_reading']['VmRSS']:.1f} MB (peak "
                  f"{r['after_reading']['VmHWM']:.1f} MB); world file {y['db_mb']} MB", flush=True)
            if y["jobs"] != args.days:
                doc["problems"].append(f"the year made {y['jobs']} jobs, not {args.days}")
        counts = [int(x) for x in args.worlds.split(",") if x]
        if counts:
            print(f"(b) many worlds, each ran one job: {', '.join(f'{n:,}' for n in counts)}", flush=True)
            m = doc["worlds"] = many_worlds(root, counts)
            print(f"  KB per world over the default-only server: {m['kb_per_world']}; between the last two: "
                  f"{m.get('kb_per_world_between')}", flush=True)
            for n, run in m["runs"].items():
                if run["bad"]:
                    doc["problems"].append(f"{n} worlds: {run['bad']} touches failed")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if doc["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The first test's cost next to a later test's, with the plugin's SDK warm-up on and off.

    python bench/first_test.py [--rounds 4] [--tests 6]
    python bench/run --suite first_test

Runs a small pytest session in a fresh process on a throwaway project: ``--tests`` tests,
each the same short user flow through the plugin's fixtures (a compare job definition, a
daily signal, three virtual days, the newest job's results). Rounds alternate warm-up on
and off (``--rapidata-sim-warmup=off``), ABBA, so drift on the shared machine weighs on
both alike. Per session a conftest records:

- each test's whole run (``pytest_runtest_protocol``: setup, call, teardown; with the
  warm-up on, the first test's setup includes waiting for the warm-up still running);
- when the session started (``pytest_sessionstart``) and when the first test finished;
- the warm-up's own steps (``rapidata_sim.testing.warmup.WarmUp.timings``).

and the parent times the whole process (spawn to exit). Figures, median over rounds: the
first test (target: under 1 s), a later test (median of tests 2..N), session start to the
first test's end, and the whole process. Writes bench/results/first_test.json; exit status
is non-zero only if a test failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sdk_call as B  # noqa: E402

TARGET_MS = 1000.0

TEST = '''
def test_{i}(rapidata_sim, rapidata_client):
    jd = rapidata_client.job.create_compare_job_definition(
        name="pairs", instruction="Which is better?", datapoints=[["a", "b"], ["c", "d"]], data_type="text",
        responses_per_datapoint=3)
    signal = rapidata_client.signals.create_signal(name="daily", audience="global", job_definition=jd,
                                                   interval_hours=24)
    rapidata_sim.advance(days=3, hours=1)
    jobs = signal.get_jobs(page_size=10)
    assert len(jobs) == 3
    assert jobs[0].get_results()["info"]["type"] == "Compare"
'''
CONFTEST = '''
import json, os, time
import pytest

_doc = {"tests": {}, "order": []}


@pytest.hookimpl(tryfirst=True)  # before the plugin's own (which starts the warm-up)
def pytest_sessionstart(session):
    _doc["session_start"] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    t = time.perf_counter()
    yield
    _doc["tests"][item.name] = time.perf_counter() - t
    _doc["order"].append(item.name)
    _doc.setdefault("first_test_end", time.time())


def pytest_sessionfinish(session):
    try:
        from rapidata_sim.testing.pytest_plugin import WARMUP_KEY
        warm = session.config.stash.get(WARMUP_KEY, None)
    except ImportError:
        warm = None
    if warm is not None:
        warm.wait()
        _doc["warmup"] = dict(warm.timings)
        _doc["warmup_error"] = repr(warm.error) if warm.error else None
    with open(os.environ["FIRST_TEST_OUT"], "w") as fh:
        json.dump(_doc, fh)
'''


def run_session(project: Path, warmup: str) -> dict[str, Any]:
    out = project / f"times-{warmup}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
    env["FIRST_TEST_OUT"] = str(out)
    t0, spawn = time.perf_counter(), time.time()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"--rapidata-sim-warmup={warmup}"], cwd=project, env=env, capture_output=True,
                         text=True, timeout=600)
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(f"warm-up {warmup}: the session failed\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    doc = json.loads(out.read_text())
    ms = [doc["tests"][name] * 1e3 for name in doc["order"]]
    return {"first_ms": ms[0], "later_ms": statistics.median(ms[1:]), "tests_ms": [round(x, 1) for x in ms],
            "spawn_to_session_ms": (doc["session_start"] - spawn) * 1e3,
            "session_to_first_end_ms": (doc["first_test_end"] - doc["session_start"]) * 1e3,
            "process_ms": wall * 1e3,
            "warmup_s": {k: round(v, 3) for k, v in (doc.get("warmup") or {}).items()},
            "warmup_error": doc.get("warmup_error")}


KEYS = ("first_ms", "later_ms", "session_to_first_end_ms", "spawn_to_session_ms", "process_ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4, help="sessions per setting, interleaved ABBA (default 4)")
    ap.add_argument("--tests", type=int, default=6, help="tests per session (default 6)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "first_test.json")
    args = ap.parse_args(argv)
    if args.tests < 2:
        ap.error("--tests must be at least 2 (a first test and a later one)")
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="rapidata-sim-bench-first-") as tmp:
        project = Path(tmp)
        (project / "test_first.py").write_text("".join(TEST.format(i=i) for i in range(args.tests)))
        (project / "conftest.py").write_text(CONFTEST)
        order = [("on", "off") if r % 2 == 0 else ("off", "on") for r in range(args.rounds)]
        for r, pair in enumerate(order):
            for warmup in pair:
                res = run_session(project, warmup)
                runs[warmup].append(res)
                print(f"round {r + 1} warm-up {warmup:>3}: first {res['first_ms']:7.0f} ms, later "
                      f"{res['later_ms']:6.1f} ms, session start -> 1st test done {res['session_to_first_end_ms']:6.0f}"
                      f" ms, process {res['process_ms']:6.0f} ms" +
                      (f"; warm-up steps {res['warmup_s']}" if res["warmup_s"] else ""), flush=True)
    results = {w: {k: round(statistics.median(x[k] for x in rs), 1) for k in KEYS} for w, rs in runs.items()}
    for w, rs in runs.items():
        steps = [x["warmup_s"] for x in rs if x["warmup_s"]]
        if steps:
            results[w]["warmup_s"] = {k: round(statistics.median(s.get(k, 0.0) for s in steps), 3) for k in steps[0]}
    on, off = results["on"], results["off"]
    print(f"\nMedian of {args.rounds} sessions of {args.tests} tests each (ms):\n")
    print(f"{'':14}{'first test':>12}{'later test':>12}{'start->1st done':>17}{'spawn->start':>14}{'process':>10}")
    for w in ("on", "off"):
        r = results[w]
        print(f"{'warm-up ' + w:14}{r['first_ms']:>12.0f}{r['later_ms']:>12.1f}{r['session_to_first_end_ms']:>17.0f}"
              f"{r['spawn_to_session_ms']:>14.0f}{r['process_ms']:>10.0f}")
    if "warmup_s" in on:
        print(f"\nwarm-up steps (s, median): {on['warmup_s']}")
    errors = sorted({x["warmup_error"] for x in runs["on"] if x["warmup_error"]})
    met = on["first_ms"] < TARGET_MS
    print(f"\nfirst test with warm-up: {on['first_ms']:.0f} ms (off: {off['first_ms']:.0f} ms; a later test "
          f"{on['later_ms']:.1f} ms); target under {TARGET_MS:.0f} ms: {'MET' if met else 'NOT MET'}")
    data = {"machine": B.machine(), "at": B.utc_now(), "versions": B.versions(), "rounds": args.rounds,
            "tests": args.tests, "results": results, "runs": runs, "target_ms": TARGET_MS, "met": met,
            "problems": [f"warm-up error: {e}" for e in errors]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(HERE.parent) if args.out.is_relative_to(HERE.parent) else args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Per-test cost of the pytest plugin's fixtures (a world + a connected SDK client).

    python bench/fixtures.py [--tests 60]
    python bench/run --suite fixtures

Runs pytest on a throwaway project, in one run, three ways side by side:

- ``plugin``: tests using ``rapidata_sim`` and ``rapidata_client`` (one server and client
  per session, a fresh world swapped in per test);
- ``naive``: the obvious alternative, a fixture that makes ``Simulator()`` and
  ``sim.client()`` per test (a TLS server and an SDK client each time);
- ``bare``: the same tests with no fixtures (pytest's own per-test cost).

Each test does one SDK call, so a broken world would fail it. The per-test cost is
the test's setup + teardown time (timed by a conftest hook), median over the tests after the
first (which pays for imports). Target (issue): under 20 ms. Writes
bench/results/fixtures.json. Exit status is non-zero only if a test failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sdk_call as B  # noqa: E402

TARGET_MS = 20.0

TESTS = {
    "plugin": '''
def test_{i}(rapidata_sim, rapidata_client):
    assert rapidata_client.audience.get_audience_by_id("global").name == "Global"
''',
    "naive": '''
def test_{i}(naive_client):
    assert naive_client.audience.get_audience_by_id("global").name == "Global"
''',
    "bare": '''
def test_{i}():
    assert "Global" == "Global"
''',
}
#: Times each test's setup and teardown (pytest's --durations rounds to 10 ms).
TIMING_CONFTEST = '''
import json, os, time
import pytest

_times = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    t = time.perf_counter()
    yield
    _times[item.name] = _times.get(item.name, 0.0) + time.perf_counter() - t


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    t = time.perf_counter()
    yield
    _times[item.name] = _times.get(item.name, 0.0) + time.perf_counter() - t


def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_TIMES"], "w") as fh:
        json.dump(_times, fh)
'''
NAIVE_CONFTEST = '''
import pytest
from rapidata_sim import Simulator
from rapidata_sim.testing import offline_sdk as sdk


@pytest.fixture
def naive_client():
    sdk.quiet_env()
    sdk.skip_version_check()
    sim = Simulator()
    yield sim.client()
    sim.close()
'''


def run_kind(kind: str, n: int, root: Path) -> list[float]:
    project = root / kind
    project.mkdir()
    (project / f"test_{kind}.py").write_text("".join(TESTS[kind].format(i=i) for i in range(n)))
    (project / "conftest.py").write_text(TIMING_CONFTEST + (NAIVE_CONFTEST if kind == "naive" else ""))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAPIDATA_", "SSL_CERT"))}
    env["FIXTURE_TIMES"] = str(project / "times.json")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)
    if f"{n} passed" not in out.stdout:
        raise SystemExit(f"{kind}: tests failed\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    times = json.loads((project / "times.json").read_text())
    return [times[f"test_{i}"] * 1000 for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=60, help="tests per kind (default 60)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "fixtures.json")
    args = ap.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="rapidata-sim-bench-") as tmp:
        for kind in ("plugin", "naive", "bare"):
            ms = run_kind(kind, args.tests, Path(tmp))
            warm = ms[1:]
            results[kind] = {"first_ms": round(ms[0], 1), "median_ms": round(statistics.median(warm), 2),
                             "p90_ms": round(sorted(warm)[int(0.9 * (len(warm) - 1))], 2)}
    plugin, naive, bare = (results[k]["median_ms"] for k in ("plugin", "naive", "bare"))
    print(f"Fixture cost per test (pytest setup + teardown, median of {args.tests - 1} warm tests)\n")
    print(f"{'':34}{'first':>10}{'median':>10}{'p90':>10}")
    for kind, label in (("plugin", "rapidata_sim + rapidata_client"), ("naive", "Simulator() + sim.client() per test"),
                        ("bare", "no fixtures")):
        r = results[kind]
        print(f"{label:34}{r['first_ms']:>8.1f}ms{r['median_ms']:>8.2f}ms{r['p90_ms']:>8.2f}ms")
    ratio = naive / plugin if plugin else float("inf")
    print(f"\nnaive / plugin: {ratio:.1f}x;  plugin - bare: {plugin - bare:.2f} ms")
    met = plugin < TARGET_MS
    print(f"target (issue): under {TARGET_MS:.0f} ms per test after warm-up: {'MET' if met else 'NOT MET'}")
    data = {"machine": B.machine(), "at": B.utc_now(), "tests": args.tests, "results": results,
            "naive_over_plugin": round(ratio, 2), "target_ms": TARGET_MS, "met": met}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(HERE.parent) if args.out.is_relative_to(HERE.parent) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""A simulated year's wall time next to the same year with nothing to do.

    python bench/year.py [--days 365] [--rounds 3] [--datapoints 1000] [--votes 25] [--out FILE]

The world of ``bench/labelers.py`` part 1 (a daily signal on ``global`` over a compare
definition of 1,000 text pairs × 25 votes, a clock frozen at 2026-01-01, ``sim.advance(days=1)``
365 times), in a fresh world per sample, next to the identical world whose signal is paused
(paused policy ``none``: no firing, no job): the cost of stepping the clock through a year
with the scheduler and store in place. Interleaved round by round; medians. The ratio is what
the year's 365 jobs and their planned votes add over that floor; the issue's target is the
active year in under 10 s. Exit status non-zero only if the active year did not make one job
a day or the idle one made any.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_YEAR_S = 10.0
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def one_year(days: int, datapoints: int, votes: int, *, paused: bool) -> tuple[float, int]:
    """(wall seconds of ``days`` × ``advance(days=1)``, jobs created) in a fresh world."""
    from rapidata_sim import Clock, Simulator
    from rapidata_sim.testing.builders import text_definition

    sim = Simulator(seed=0, clock=Clock(start=START, follow_wall=False))
    try:
        me = sim.principal()
        definition = text_definition(sim, name="daily pairs", kind="compare", datapoints=datapoints, votes=votes)
        signal = sim.signals.create(me, name="daily labelers", audience_id="global",
                                    job_definition_id=definition["id"], interval_seconds=86400)
        if paused:
            sim.signals.set_paused(me, signal["id"], True)
        jobs0 = sim.store.count("jobs")
        gc.collect()
        t = time.perf_counter()
        for _ in range(days):
            sim.advance(days=1)
        wall = time.perf_counter() - t
        return wall, sim.store.count("jobs") - jobs0
    finally:
        sim.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--datapoints", type=int, default=1000)
    ap.add_argument("--votes", type=int, default=25)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "year.json")
    args = ap.parse_args(argv)
    one_year(2, 10, args.votes, paused=False)  # warm-up: imports, caches
    samples: dict[str, list[float]] = {"active": [], "idle": []}
    problems: list[str] = []
    for r in range(args.rounds):
        for kind in (("active", "idle") if r % 2 == 0 else ("idle", "active")):
            wall, jobs = one_year(args.days, args.datapoints, args.votes, paused=kind == "idle")
            samples[kind].append(wall)
            want = args.days if kind == "active" else 0
            if jobs != want:
                problems.append(f"{kind} year made {jobs} jobs, expected {want}")
    med = {k: statistics.median(v) for k, v in samples.items()}
    target = TARGET_YEAR_S * args.days / 365
    print(f"{args.days} × sim.advance(days=1), a daily {args.datapoints:,} × {args.votes}-vote compare signal; "
          f"median of {args.rounds} interleaved rounds, a fresh world each\n")
    print(f"  {'signal active (one job a day)':<36} {med['active']:8.3f} s")
    print(f"  {'signal paused (clock steps only)':<36} {med['idle']:8.3f} s")
    print(f"  {'active / paused':<36} {med['active'] / med['idle']:8.2f}×")
    print(f"  {'target (issue): active under':<36} {target:8.1f} s   {'MET' if med['active'] < target else 'NOT MET'}")
    for p in problems:
        print("  PROBLEM:", p)
    doc = {"bench": "year", "days": args.days, "datapoints": args.datapoints, "votes": args.votes,
           "rounds": args.rounds, "median_s": med, "samples_s": samples, "ratio_active_over_idle":
           med["active"] / med["idle"], "target_s": target, "problems": problems}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

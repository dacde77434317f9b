#!/usr/bin/env python3
"""The SDK's blocking calls under auto-advance: wall time per call, virtual time moved.

    python bench/sdk_waits.py [--repeat 5]

With labeling slower than the SDK's 5 s poll (a 3 h job, an hourly signal),
``job.get_results()``, ``job.display_progress_bar()`` and
``signal.wait_for_next_job()`` would sit in real-time polls against the real
service. Under the simulator's default next-event policy each must return in
well under a second of wall time, with virtual time moved to exactly what it
waited for. Printed side by side with the same call on an already finished
job (the floor: the HTTP round trips the call makes anyway), as a ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("RAPIDATA_DISABLE_OTLP", "1")
os.environ.setdefault("RAPIDATA_silent_mode", "1")
os.environ.setdefault("HTTPS_PROXY", "http://127.0.0.1:9")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", help="also write the rows as JSON here (bench/run reads it)")
    args = ap.parse_args(argv)
    from rapidata_sim import Simulator

    sim = Simulator(seed=0)
    client = sim.client()
    definition = client.job.create_free_text_job_definition(name="bench", instruction="?", datapoints=["t"],
                                                            data_type="text", responses_per_datapoint=1)
    audience = client.audience.get_audience_by_id("global")
    audience.assign_job(definition).get_results()  # warm the SDK's imports
    rows: dict[str, dict[str, list[float]]] = {}

    def measure(name: str, call, floor_call) -> None:
        wall, floor, virtual = [], [], []
        for _ in range(args.repeat):
            before = sim.clock.now()
            t = time.perf_counter()
            call()
            wall.append(time.perf_counter() - t)
            virtual.append((sim.clock.now() - before).total_seconds())
            t = time.perf_counter()
            floor_call()
            floor.append(time.perf_counter() - t)
        rows[name] = {"wall": wall, "floor": floor, "virtual": virtual}

    sim.audiences.configure("global", labeling_seconds=3 * 3600)
    done = audience.assign_job(definition)
    sim.advance(hours=3)
    measure("job.get_results()  [3 h job]", lambda: audience.assign_job(definition).get_results(),
            lambda: done.get_results())
    measure("job.display_progress_bar()  [3 h job]", lambda: audience.assign_job(definition).display_progress_bar(),
            lambda: done.display_progress_bar())
    sim.audiences.configure("global", labeling_seconds=0)
    signal = client.signals.create_signal(name="hourly", audience="global", job_definition=definition,
                                          interval_hours=1)
    measure("signal.wait_for_next_job()  [next firing ≤ 1 h away]", lambda: signal.wait_for_next_job(timeout=30),
            lambda: signal.get_jobs(page_size=1))
    print(f"{'call':55} {'wall ms':>9} {'floor ms':>9} {'ratio':>7} {'virtual s':>10}")
    for name, r in rows.items():
        wall, floor = statistics.median(r["wall"]) * 1000, statistics.median(r["floor"]) * 1000
        print(f"{name:55} {wall:9.1f} {floor:9.1f} {wall / floor:6.1f}x {statistics.median(r['virtual']):10.0f}")
    worst = max(max(r["wall"]) for r in rows.values())
    print(f"\nslowest single call: {worst * 1000:.1f} ms of wall time (target: well under 1000 ms)")
    sim.close()
    if args.out:
        import json

        with open(args.out, "w") as fh:
            json.dump({"rows": rows, "slowest_s": worst}, fh, indent=2)
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmarks/leaderboards and ranking flows at scale, next to a compare job of the same vote count.

    python bench/ranking.py [--prompts 100] [--models 5] [--leaderboards 3] [--items 10000]
                            [--sample 200] [--votes-per-datapoint 25] [--out FILE]
    python bench/run --suite ranking [-- ARGS]

In one process, each on a fresh world (frozen clock, seed 0), all through the real SDK
(``sim.client()``, HTTPS on loopback):

1. **A benchmark**: ``create_new_benchmark`` with ``--prompts`` text prompts, ``--leaderboards``
   leaderboards (default budget, 2,000 votes a run), ``--models`` × ``evaluate_model`` with one
   text answer per prompt (each submission starts a run on every leaderboard), then the clock
   advanced until every run has ended, then the standings read: ``get_standings()`` of every
   leaderboard and ``get_overall_standings()`` (the first read draws the votes; a second read is
   timed too).
2. **A ranking flow** with ``--items`` items: ``create_ranking_flow`` (10-20 responses an item),
   ``--items`` × ``create_new_flow_batch`` of three text datapoints, the clock advanced until every
   item has settled, then ``get_results()`` of ``--sample`` items through the SDK (the figure
   extrapolates to every item) and every item's results built in process
   (``sim.flows.ranking_results``).
3. **The baseline, for each**: a compare job with as many votes (``votes / --votes-per-datapoint``
   text pairs × ``--votes-per-datapoint``): ``create_compare_job_definition`` + ``assign_job``,
   the clock advanced until it completes, ``get_results()``.

Each figure is a phase's wall time over the same phase of its baseline (setup, time passing,
reading, and the whole). Writes its JSON to ``--out`` (default bench/results/ranking.json) with
``figures`` that ``bench/run`` reports. Exit status is non-zero only if the simulator did
something wrong (runs that never end, items that never settle, a standings table without the
models, a wrong vote count), never because of a figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import sdk_call as B  # noqa: E402  (machine(), utc_now(), isolate_sdk(): stdlib only)

B.isolate_sdk()

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def new_world():
    from rapidata_sim import Clock, Simulator

    sim = Simulator(seed=0, clock=Clock(start=START, follow_wall=False))
    return sim, sim.client()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


# -- 1. the benchmark ----------------------------------------------------------------------


def run_benchmark(prompts: int, models: int, boards: int) -> dict[str, Any]:
    sim, client = new_world()
    texts = [f"prompt {i}" for i in range(prompts)]
    names = [f"model-{chr(ord('a') + m)}" for m in range(models)]
    from rapidata_sim.crowd import Prefer

    # a strict order the standings must show: model-a best
    sim.crowd.behave("global", compare=Prefer(quality={f"{n}*": float(models - m) for m, n in enumerate(names)},
                                              noise=0.05, unsure=0.0))

    def setup() -> tuple[Any, list[Any]]:
        bench = client.mri.create_new_benchmark("bench", prompts=texts)
        leaderboards = [bench.create_leaderboard(f"board {k}", "Which answer is better?") for k in range(boards)]
        for name in names:
            bench.evaluate_model(name, media=[f"{name}: {p}" for p in texts], prompts=texts, data_type="text")
        return bench, leaderboards

    (bench, leaderboards), t_setup = timed(setup)
    runs = sim.store.select("leaderboard_runs", "benchmark_id = ?", [bench.id])
    votes = sum(m[5] for r in runs for m in r["matchups"])
    matchups = sum(len(r["matchups"]) for r in runs)
    end = max(datetime.fromisoformat(r["completes_at"].replace("Z", "+00:00")) for r in runs)
    _, t_advance = timed(lambda: sim.advance_to(end + timedelta(seconds=1)))

    def read() -> list[Any]:
        return [lb.get_standings() for lb in leaderboards] + [bench.get_overall_standings()]

    tables, t_read = timed(read)
    _, t_read_warm = timed(read)
    problems = []
    for table in tables:
        if list(table["name"]) != names:
            problems.append(f"benchmark: standings {list(table['name'])}, expected {names}")
    running = [r["id"] for r in runs if sim.leaderboards.status(r) != "Completed"]
    if running:
        problems.append(f"benchmark: runs still running after the advance: {running}")
    sim.close()
    return {"shape": f"{models}×{prompts}×{boards}", "runs": len(runs), "matchups": matchups, "votes": votes, "virtual_s": (end - START).total_seconds(),
            "s": {"setup": t_setup, "advance": t_advance, "read": t_read, "read_warm": t_read_warm},
            "problems": problems}


# -- 2. the ranking flow --------------------------------------------------------------------


def run_flow(items: int, sample: int) -> dict[str, Any]:
    sim, client = new_world()

    def setup() -> tuple[Any, list[Any]]:
        flow = client.flow.create_ranking_flow(name="captions", instruction="Which caption is better?",
                                               min_response_threshold=10, max_response_threshold=20)
        return flow, [flow.create_new_flow_batch(datapoints=[f"a {i}", f"b {i}", f"c {i}"], data_type="text",
                                                 time_to_live=600) for i in range(items)]

    (flow, batches), t_setup = timed(setup)
    rows = sim.store.select("flow_items", "flow_id = ?", [flow.id])
    votes = sum(r["plan"]["votes"] for r in rows)
    end = max(datetime.fromisoformat(r["completes_at"].replace("Z", "+00:00")) for r in rows)
    _, t_advance = timed(lambda: sim.advance_to(end + timedelta(seconds=1)))
    step = max(1, len(batches) // sample)
    picked = batches[::step][:sample]
    results, t_sample = timed(lambda: [b.get_results() for b in picked])
    me = sim.principal()
    _, t_in_process = timed(lambda: [sim.flows.ranking_results(me, r["id"]) for r in rows])
    problems = []
    states = {}
    for r in sim.store.select("flow_items", "flow_id = ?", [flow.id]):
        states[r["state"]] = states.get(r["state"], 0) + 1
    if states.get("Running"):
        problems.append(f"flow: items still running after the advance: {states}")
    if len(rows) != items:
        problems.append(f"flow: {len(rows)} items, expected {items}")
    short = [r.total_votes for r in results if r.total_votes < 10]
    if short:
        problems.append(f"flow: {len(short)} sampled items have fewer than 10 votes")
    sim.close()
    per_item = t_sample / len(picked)
    return {"items": items, "votes": votes, "states": states, "virtual_s": (end - START).total_seconds(),
            "sample": len(picked),
            "s": {"setup": t_setup, "advance": t_advance, "read_sample": t_sample, "read": per_item * items,
                  "read_in_process": t_in_process},
            "per_item_ms": {"setup": t_setup / items * 1e3, "read": per_item * 1e3}, "problems": problems}


# -- 3. the baseline ------------------------------------------------------------------------


def run_compare(votes: int, per: int) -> dict[str, Any]:
    sim, client = new_world()
    datapoints = max(1, round(votes / per))

    def setup() -> Any:
        definition = client.job.create_compare_job_definition(
            name="pairs", instruction="Which is better?", data_type="text", responses_per_datapoint=per,
            datapoints=[[f"left {i}", f"right {i}"] for i in range(datapoints)])
        return client.audience.get_audience_by_id("global").assign_job(definition)

    job, t_setup = timed(setup)
    row = sim.store.get("jobs", job.id)
    end = datetime.fromisoformat(row["completes_at"].replace("Z", "+00:00")) if row.get("completes_at") else None

    def advance() -> None:
        if end is not None:
            sim.advance_to(end + timedelta(seconds=1))
        while sim.store.get("jobs", job.id)["state"] != "Completed":
            sim.advance(hours=1)

    _, t_advance = timed(advance)
    results, t_read = timed(job.get_results)
    got = sum(sum(r.get("aggregatedResults", {}).values()) for r in results["results"])
    problems = [] if got == datapoints * per else [f"compare job: {got} votes, expected {datapoints * per}"]
    finished = sim.store.get("jobs", job.id)["completed_at"]
    sim.close()
    return {"datapoints": datapoints, "votes": datapoints * per,
            "virtual_s": (datetime.fromisoformat(finished.replace("Z", "+00:00")) - START).total_seconds(),
            "s": {"setup": t_setup, "advance": t_advance, "read": t_read}, "problems": problems}


# -- the report -----------------------------------------------------------------------------


def figures(bench: dict[str, Any], flow: dict[str, Any], base_b: dict[str, Any],
            base_f: dict[str, Any]) -> list[dict[str, Any]]:
    out = []

    def fig(key: str, label: str, value: float, baseline: str, base: float, note: str = "") -> None:
        out.append({"key": key, "label": label, "value": value * 1e3, "unit": "ms", "baseline": baseline,
                    "baseline_value": base * 1e3, "note": note})

    b, c = bench["s"], base_b["s"]
    cj = f"compare job of {base_b['votes']:,} votes ({base_b['datapoints']:,} pairs)"
    size = f"{bench['runs']} runs, {bench['matchups']:,} matchups, {bench['votes']:,} votes"
    fig("ranking.benchmark.setup", f"benchmark {bench['shape']}: set up via SDK", b["setup"], f"{cj}: definition + assign",
        c["setup"], size)
    fig("ranking.benchmark.advance", "benchmark: advance until the runs end", b["advance"],
        f"{cj}: advance until done", c["advance"])
    fig("ranking.benchmark.read", "benchmark: standings ×3 + overall, 1st read", b["read"],
        f"{cj}: get_results()", c["read"], f"warm re-read {b['read_warm'] * 1e3:.0f} ms")
    fig("ranking.benchmark.total", "benchmark: whole (setup+advance+read)", sum(b[k] for k in ("setup", "advance",
                                                                                               "read")),
        f"{cj}: whole", sum(c.values()))
    f, c = flow["s"], base_f["s"]
    cj = f"compare job of {base_f['votes']:,} votes ({base_f['datapoints']:,} pairs)"
    fig("ranking.flow.setup", f"ranking flow, {flow['items']:,} items: batches via SDK", f["setup"],
        f"{cj}: definition + assign", c["setup"], f"{flow['per_item_ms']['setup']:.2f} ms a batch; "
                                                  f"{flow['votes']:,} votes")
    fig("ranking.flow.advance", "flow: advance until every item settled", f["advance"],
        f"{cj}: advance until done", c["advance"])
    fig("ranking.flow.read", f"flow: get_results() of every item (×{flow['items'] // flow['sample']} of "
                             f"{flow['sample']})", f["read"], f"{cj}: get_results()", c["read"],
        f"{flow['per_item_ms']['read']:.2f} ms an item; all in process {f['read_in_process']:.1f} s")
    fig("ranking.flow.total", "flow: whole (setup+advance+read)", f["setup"] + f["advance"] + f["read"],
        f"{cj}: whole", sum(c.values()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--models", type=int, default=5)
    ap.add_argument("--leaderboards", type=int, default=3)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--votes-per-datapoint", type=int, default=25)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "ranking.json")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    print(f"benchmark: {args.models} models × {args.prompts} prompts × {args.leaderboards} leaderboards ...",
          flush=True)
    bench = run_benchmark(args.prompts, args.models, args.leaderboards)
    print(f"  {bench['runs']} runs, {bench['votes']:,} votes; " +
          ", ".join(f"{k} {v:.2f} s" for k, v in bench["s"].items()), flush=True)
    base_b = run_compare(bench["votes"], args.votes_per_datapoint)
    print(f"  baseline compare job, {base_b['votes']:,} votes: " +
          ", ".join(f"{k} {v:.2f} s" for k, v in base_b["s"].items()), flush=True)
    print(f"ranking flow: {args.items:,} items ...", flush=True)
    flow = run_flow(args.items, args.sample)
    print(f"  {flow['votes']:,} votes, {flow['states']}; " +
          ", ".join(f"{k} {v:.2f} s" for k, v in flow["s"].items()), flush=True)
    base_f = run_compare(flow["votes"], args.votes_per_datapoint)
    print(f"  baseline compare job, {base_f['votes']:,} votes: " +
          ", ".join(f"{k} {v:.2f} s" for k, v in base_f["s"].items()), flush=True)
    figs = figures(bench, flow, base_b, base_f)
    print()
    for f in figs:
        print(f"{f['label'][:52]:<52} {f['value']:>10.1f} ms {f['baseline_value']:>10.1f} ms "
              f"{f['value'] / f['baseline_value']:>7.2f}×   {f['note']}")
    problems = bench["problems"] + flow["problems"] + base_b["problems"] + base_f["problems"]
    doc = {"timestamp": B.utc_now(), "machine": B.machine(), "settings": vars(args) | {"out": str(args.out)},
           "benchmark": bench, "flow": flow, "baseline_benchmark": base_b, "baseline_flow": base_f,
           "figures": figs, "problems": problems, "wall_s": time.perf_counter() - t0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str))
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Labelers at scale: a year of a daily 1,000-datapoint × 25-vote compare signal, and one job's results.

    python bench/labelers.py [--days 365] [--datapoints 1000] [--votes 25] [--repeat 5]
                             [--definition python|sdk] [--profile]
    python bench/run --suite labelers [-- --days 30 ...]

From one run, in one process:

1. **A virtual year.** A compare job definition over ``--datapoints`` text pairs with a
   ``NaiveReferee`` of ``--votes`` votes (default 1,000 × 25 = 25,000 votes a job), a daily
   signal on the ``global`` audience with its default population (rate-based: no
   ``labeling_seconds``), and ``sim.advance(days=1)`` called ``--days`` times on a frozen
   clock (default 365 jobs, 9,125,000 simulated votes). Checks that one job was created per
   day and that all but possibly the last (it fires at the very last instant) are Completed,
   and reports simulated votes per wall second against the issue's target (the year in
   under 10 s). The definition is built from Python by default (``builders.text_definition``,
   the same segments the SDK writes: one ``MultiAssetInput`` of two ``TextAssetInput``s per
   datapoint); the other way (``client.job.create_compare_job_definition(...,
   data_type="text", responses_per_datapoint=25)``) is timed too, for reference, and
   ``--definition sdk`` makes the year run on the SDK-built one.
   A job's votes are *planned* (counted, finish time in closed form) when it is created and
   *drawn* only when its results are read, so the year costs what scheduling costs; what
   drawing every vote of the year would cost is extrapolated from part 2.
2. **One job's results.** ``job.get_results()`` with the real SDK (``sim.client()``, HTTPS on
   loopback), first call and warm calls, interleaved round by round with the same document
   built in-process (``sim.results.document(job_row)``), ``json.dumps`` of it (the server's
   compact separators), ``json.loads`` of those bytes, and ``results.to_pandas()``. The
   document build inside the server's request is timed too (a wrapper on this world's
   ``sim.results.current``), so the HTTP + SDK share shows. Size of the results JSON in MB.
   The SDK's parsed results must equal the in-process document.
3. **Memory.** Peak RSS (``resource.getrusage``; a process-wide high-water mark) and current
   RSS (/proc/self/status) at each phase.

If the year misses the target (or with ``--profile``), the year is run again in a fresh
world under cProfile and the top functions by own time are printed; ``--profile`` also
profiles one in-process results document.

Writes bench/results/labelers.json (compared with the previous file, if any, which it
replaces). Exit status is non-zero only if the simulator did something wrong (wrong job
count or states, wrong vote counts, SDK results that differ from the document), never
because a target was missed.
"""

from __future__ import annotations

import argparse
import cProfile
import faulthandler
import gc
import json
import os
import pstats
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import sdk_call as B  # noqa: E402  (machine(), utc_now(), load_previous(), isolate_sdk(): stdlib only)
from scheduler import GcTimer  # noqa: E402  (the same collector timer as the scheduler bench)

B.isolate_sdk()

#: The issue's target for the year, in wall seconds.
TARGET_YEAR_S = 10.0
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
AUDIENCE = "global"
INSTRUCTION = "Which is better?"


# -- memory ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class Memory:
    def __init__(self) -> None:
        self.marks: list[dict[str, Any]] = []

    def mark(self, label: str) -> None:
        self.marks.append({"at": label, "peak_rss_mb": peak_rss_mb(), "rss_mb": current_rss_mb()})


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# -- the world ------------------------------------------------------------------------


def new_world(seed: int = 0):
    from rapidata_sim import Clock, Simulator

    return Simulator(seed=seed, clock=Clock(start=START, follow_wall=False))


def python_definition(sim, datapoints: int, votes: int) -> dict[str, Any]:
    from rapidata_sim.testing.builders import text_definition

    return text_definition(sim, name="daily pairs", kind="compare", datapoints=datapoints, votes=votes)


def sdk_definition(client, datapoints: int, votes: int) -> str:
    """The same definition through the SDK (the same texts as ``text_definition``); its id."""
    pairs = [[f"left {i}", f"right {i}"] for i in range(datapoints)]
    definition = client.job.create_compare_job_definition(
        name="daily pairs (sdk)", instruction=INSTRUCTION, datapoints=pairs, data_type="text",
        responses_per_datapoint=votes)
    return definition.id


def check_definition(sim, definition_id: str, datapoints: int, votes: int) -> list[str]:
    rev = sim.store.select("revisions", "definition_id = ?", [definition_id], order_by="revision_number DESC",
                           limit=1)
    if not rev:
        return [f"definition {definition_id} has no revision"]
    rev = rev[0]
    problems = []
    n = sim.store.count("datapoints", "dataset_id = ?", [rev["dataset_id"]])
    if n != datapoints:
        problems.append(f"definition {definition_id}: {n} datapoints, expected {datapoints}")
    if rev["referee"] != {"_t": "NaiveReferee", "totalVotes": votes}:
        problems.append(f"definition {definition_id}: referee {rev['referee']}, expected NaiveReferee {votes}")
    if (rev["workflow"].get("rapid") or {}).get("_t") != "Compare":
        problems.append(f"definition {definition_id}: workflow {rev['workflow']} is not a compare")
    return problems


def daily_signal(sim, definition_id: str) -> dict[str, Any]:
    return sim.signals.create(sim.principal(), name="daily labelers", audience_id=AUDIENCE,
                              job_definition_id=definition_id, interval_seconds=86400)


# -- 1. the year ----------------------------------------------------------------------


def run_year(sim, signal_id: str, days: int, datapoints: int, votes: int) -> dict[str, Any]:
    """``days`` × ``sim.advance(days=1)``, each timed; then the checks (outside the timing)."""
    jobs0 = sim.store.count("jobs")
    per_step: list[float] = []
    gc.collect()
    cpu0, gc0, gcn0 = time.process_time(), GC.seconds, GC.collections
    t_all = time.perf_counter()
    for _ in range(days):
        t0 = time.perf_counter()
        sim.advance(days=1)
        per_step.append(time.perf_counter() - t0)
    wall = time.perf_counter() - t_all
    cpu = time.process_time() - cpu0
    gc_s, gc_n = GC.seconds - gc0, GC.collections - gcn0

    runs = sim.store.select("signal_runs", "signal_id = ?", [signal_id], order_by="started_at, rowid")
    job_ids = [r["audience_job_id"] for r in runs if r["audience_job_id"]]
    jobs = [sim.store.get("jobs", j) for j in job_ids]
    states: dict[str, int] = {}
    for j in jobs:
        states[j["state"]] = states.get(j["state"], 0) + 1
    planned = [int((j["plan"] or {}).get("votes") or 0) for j in jobs]
    durations = [(datetime.fromisoformat(j["completed_at"].replace("Z", "+00:00"))
                  - datetime.fromisoformat(j["created_at"].replace("Z", "+00:00"))).total_seconds()
                 for j in jobs if j["completed_at"]]
    problems = []
    if len(jobs) != days or sim.store.count("jobs") - jobs0 != days:
        problems.append(f"expected {days} jobs from {days} daily firings, got {len(jobs)} "
                        f"({sim.store.count('jobs') - jobs0} new rows in jobs, {len(runs)} runs)")
    not_done = [j["id"] + ":" + j["state"] for j in jobs[:-1] if j["state"] != "Completed"]
    if not_done:
        problems.append(f"{len(not_done)} jobs other than the last are not Completed: {not_done[:5]}")
    if jobs and jobs[-1]["state"] not in ("Completed", "Running"):
        problems.append(f"the last job is {jobs[-1]['state']}")
    bad_votes = [(j["id"], v) for j, v in zip(jobs, planned) if v != datapoints * votes]
    if bad_votes:
        problems.append(f"{len(bad_votes)} jobs planned a vote count other than {datapoints * votes}: "
                        f"{bad_votes[:3]}")
    skipped = [r for r in runs if r["status"] == "Skipped"]
    if skipped:
        problems.append(f"{len(skipped)} firings were skipped")
    total_votes = sum(planned)
    return {
        "days": days, "wall_s": wall, "process_cpu_s": cpu, "gc_s": gc_s, "gc_collections": gc_n,
        "jobs": len(jobs), "job_states": states,
        "last_job_state": jobs[-1]["state"] if jobs else None,
        "simulated_votes": total_votes, "votes_per_job": datapoints * votes,
        "votes_per_wall_s": total_votes / wall if wall else None,
        "jobs_per_wall_s": len(jobs) / wall if wall else None,
        "advance_ms": {"median": statistics.median(per_step) * 1e3, "max": max(per_step) * 1e3,
                       "min": min(per_step) * 1e3},
        "job_minutes_to_complete": ({"median": statistics.median(durations) / 60, "min": min(durations) / 60,
                                     "max": max(durations) / 60} if durations else None),
        "target_s": TARGET_YEAR_S if days == 365 else TARGET_YEAR_S * days / 365,
        "job_ids": job_ids,
        "problems": problems,
    }


# -- 2. one job's results -------------------------------------------------------------


class Timed:
    """Wraps ``fn``; keeps the wall time of every call (the server calls it on its own thread)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.times: list[float] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.times.append(time.perf_counter() - t0)


#: Installed by ``main`` for the whole run; ``timed`` reads it.
GC = GcTimer()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def timed_gc(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, of which cyclic GC s, result)."""
    g0 = GC.seconds
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, GC.seconds - g0, out


def run_results(sim, client, job_id: str, datapoints: int, votes: int, repeat: int,
                memory: Memory) -> dict[str, Any]:
    """First SDK read, then ``repeat`` interleaved rounds of SDK vs in-process (order flips each round)."""
    server_doc = Timed(sim.results.current)
    sim.results.current = server_doc  # type: ignore[method-assign]  # instance attribute: this world only
    problems: list[str] = []
    first: dict[str, float] = {}
    first["client.job.get_job_by_id (first SDK use)"], sdk_job = timed(lambda: client.job.get_job_by_id(job_id))
    first["job.get_results() (first)"], sdk_results = timed(sdk_job.get_results)
    first["  of which the server builds the document"] = server_doc.times[-1]
    first["results.to_pandas() (first)"], df = timed(sdk_results.to_pandas)
    memory.mark("after the first SDK read")

    job_row = sim.store.get("jobs", job_id)
    keys = ("sdk get_results", "server document", "document", "dumps", "loads", "to_pandas")
    series: dict[str, list[float]] = {k: [] for k in keys}
    gc_series: dict[str, list[float]] = {k: [] for k in keys if k != "server document"}
    text = ""

    def add(key: str, dt: float, gc_dt: float) -> None:
        series[key].append(dt)
        gc_series[key].append(gc_dt)

    def sdk_round() -> None:
        nonlocal sdk_results
        n0 = len(server_doc.times)
        dt, g, sdk_results = timed_gc(sdk_job.get_results)
        add("sdk get_results", dt, g)
        series["server document"].append(sum(server_doc.times[n0:]))
        dt, g, _ = timed_gc(sdk_results.to_pandas)
        add("to_pandas", dt, g)

    def local_round() -> None:
        nonlocal text
        dt, g, doc = timed_gc(lambda: sim.results.document(job_row))
        add("document", dt, g)
        dt, g, text = timed_gc(lambda: json.dumps(doc, separators=(",", ":")))
        add("dumps", dt, g)
        dt, g, _ = timed_gc(lambda: json.loads(text))
        add("loads", dt, g)

    for r in range(repeat):
        for fn in ((sdk_round, local_round) if r % 2 == 0 else (local_round, sdk_round)):
            fn()
    memory.mark("after the warm reads")

    # -- checks: same votes both ways, the shape a 1,000 × 25 compare job must have --------
    parsed = json.loads(text)
    if dict(sdk_results) != parsed:
        problems.append("the SDK's results differ from the in-process document of the same job")
    items = parsed.get("results") or []
    if len(items) != datapoints:
        problems.append(f"results have {len(items)} items, expected {datapoints}")
    wrong = [i for i, it in enumerate(items) if len(it.get("detailedResults") or []) != votes]
    if wrong:
        problems.append(f"{len(wrong)} results items do not have {votes} detailedResults (first: #{wrong[0]})")
    if parsed.get("info", {}).get("type") != "Compare":
        problems.append(f"results info.type is {parsed.get('info', {}).get('type')!r}, not 'Compare'")
    df = sdk_results.to_pandas()
    if len(df) != datapoints:
        problems.append(f"to_pandas() has {len(df)} rows, expected {datapoints}")
    size = len(text.encode())
    med = {k: statistics.median(v) for k, v in series.items() if v}
    return {
        "job_id": job_id, "repeat": repeat, "json_bytes": size, "json_mb": size / 1e6,
        "votes_in_document": sum(len(it.get("detailedResults") or []) for it in items),
        "pandas_shape": list(df.shape),
        "first_s": first, "median_s": med, "series_s": series,
        "gc_median_s": {k: statistics.median(v) for k, v in gc_series.items() if v}, "gc_series_s": gc_series,
        "sdk_minus_server_document_s": med["sdk get_results"] - med["server document"],
        "in_process_document_plus_dumps_s": med["document"] + med["dumps"],
        "votes_drawn_per_s_in_process": (datapoints * votes) / med["document"],
        "problems": problems,
    }


# -- profiles -------------------------------------------------------------------------


def _label(func: tuple[str, int, str]) -> str:
    f, line, name = func
    if f == "~":
        return name
    for marker in ("/rapidata_sim/", "/site-packages/", "/lib/python"):
        if marker in f:
            f = f[f.index(marker) + 1:]
            break
    return f"{f}:{line}({name})"


def top_functions(prof: cProfile.Profile, top: int, per: int, per_label: str) -> dict[str, Any]:
    st = pstats.Stats(prof)
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {"total_tt_s": st.total_tt, "per": per, "per_label": per_label,
            "python_calls": sum(v[1] for v in st.stats.values()),
            "top_by_tottime": [{"function": _label(f), "ncalls": nc, "tottime_s": tt, "cumtime_s": ct,
                                "share": tt / st.total_tt if st.total_tt else 0.0}
                               for f, (cc, nc, tt, ct, _) in rows]}


def profile_year(days: int, datapoints: int, votes: int, top: int) -> dict[str, Any]:
    """The same year in a fresh world (Python-built definition), under cProfile."""
    sim = new_world()
    try:
        definition = python_definition(sim, datapoints, votes)
        daily_signal(sim, definition["id"])
        prof = cProfile.Profile()
        g0 = GC.seconds
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(days):
            sim.advance(days=1)
        prof.disable()
        out = top_functions(prof, top, days, "job")
        out["profiled_wall_s"] = time.perf_counter() - t0
        out["gc_s"] = GC.seconds - g0
        return out
    finally:
        sim.close()


def profile_document(sim, job_id: str, top: int, votes_per_job: int) -> dict[str, Any]:
    job_row = sim.store.get("jobs", job_id)
    prof = cProfile.Profile()
    g0 = GC.seconds
    t0 = time.perf_counter()
    prof.enable()
    sim.results.document(job_row)
    prof.disable()
    out = top_functions(prof, top, votes_per_job, "vote")
    out["profiled_wall_s"] = time.perf_counter() - t0
    out["gc_s"] = GC.seconds - g0
    return out


def print_profile(title: str, p: dict[str, Any]) -> None:
    print(f"\n  {title}: {p['profiled_wall_s']:.2f} s profiled, {p['python_calls']:,} function calls "
          f"({p['python_calls'] / p['per']:,.1f} per {p['per_label']}); cyclic GC {p['gc_s']:.3f} s of it "
          f"(cProfile charges a collection to whichever function was running when it triggered)")
    print(f"  {'tottime s':>9} {'share':>6} {'ncalls':>10}  function")
    for r in p["top_by_tottime"]:
        print(f"  {r['tottime_s']:>9.3f} {r['share'] * 100:>5.1f}% {r['ncalls']:>10,}  {r['function']}")


# -- reporting ------------------------------------------------------------------------


def compare_previous(previous: dict[str, Any] | None, doc: dict[str, Any]) -> None:
    if not previous or previous.get("bench") != "labelers":
        return
    try:
        o, n = previous, doc
        print(f"\nvs previous run ({o.get('timestamp', '?')}, {o['settings']['days']} days × "
              f"{o['settings']['datapoints']} × {o['settings']['votes']}, definition {o['settings']['definition']}):")
        print(f"  year wall              {o['year']['wall_s']:9.3f} -> {n['year']['wall_s']:9.3f} s")
        print(f"  simulated votes/s      {o['year']['votes_per_wall_s']:9,.0f} -> "
              f"{n['year']['votes_per_wall_s']:9,.0f}")
        om, nm = o["results"]["median_s"], n["results"]["median_s"]
        for key in ("sdk get_results", "document", "dumps", "to_pandas"):
            print(f"  {key:<22} {om[key] * 1e3:9.1f} -> {nm[key] * 1e3:9.1f} ms")
        print(f"  results JSON           {o['results']['json_mb']:9.2f} -> {n['results']['json_mb']:9.2f} MB")
        print(f"  peak RSS at the end    {o['memory'][-1]['peak_rss_mb']:9.0f} -> "
              f"{n['memory'][-1]['peak_rss_mb']:9.0f} MB")
        print("  (absolute figures drift ±15–20 % between runs on the shared machines)")
    except (KeyError, TypeError, IndexError, ZeroDivisionError):
        print("\n(previous results file has a different layout; not compared)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365, help="daily firings to simulate (default 365)")
    ap.add_argument("--datapoints", type=int, default=1000, help="compare pairs in the definition (default 1000)")
    ap.add_argument("--votes", type=int, default=25, help="NaiveReferee totalVotes (default 25)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds of results reads (default 5)")
    ap.add_argument("--definition", choices=("python", "sdk"), default="python",
                    help="how the year's definition is built (default python: builders.text_definition); "
                         "the other way is timed too, for reference")
    ap.add_argument("--profile", action="store_true",
                    help="profile the year and one results document even if the target is met")
    ap.add_argument("--top", type=int, default=15, help="functions listed by own time (default 15)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="dump stacks and exit if the bench runs longer than this many seconds (default 600)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "labelers.json")
    args = ap.parse_args(argv)
    if args.days < 1 or args.datapoints < 1 or args.votes < 1 or args.repeat < 1:
        ap.error("--days, --datapoints, --votes and --repeat must be positive")
    faulthandler.dump_traceback_later(args.timeout, exit=True)
    wall0 = time.perf_counter()
    load0 = _loadavg()
    sdk_preloaded = "rapidata" in sys.modules
    gc.callbacks.append(GC)
    memory = Memory()
    memory.mark("start")
    votes_per_job = args.datapoints * args.votes
    target_s = TARGET_YEAR_S if args.days == 365 else TARGET_YEAR_S * args.days / 365
    print(f"Labelers bench: a daily signal on {AUDIENCE!r} (default population, rate-based), a compare "
          f"definition of {args.datapoints:,} text pairs × {args.votes} votes ({votes_per_job:,} votes a job), "
          f"{args.days} × sim.advance(days=1) on a frozen clock", flush=True)

    # Warm-up (not measured): imports and first use of the scheduling code, in a throwaway world.
    warm = new_world()
    try:
        daily_signal(warm, python_definition(warm, 10, args.votes)["id"])
        warm.advance(days=3)
    finally:
        warm.close()

    problems: list[str] = []
    definition_s: dict[str, float] = {}
    sim = new_world()
    client = None
    try:
        # -- the definition --------------------------------------------------------------
        if args.definition == "sdk":
            t, client = timed(sim.client)
            print(f"sim.client(): {t:.2f} s", flush=True)
            definition_s["sdk"], definition_id = timed(lambda: sdk_definition(client, args.datapoints, args.votes))
            # The Python way, for reference, in a throwaway world.
            ref = new_world()
            try:
                definition_s["python"], _ = timed(lambda: python_definition(ref, args.datapoints, args.votes))
            finally:
                ref.close()
        else:
            definition_s["python"], definition = timed(lambda: python_definition(sim, args.datapoints, args.votes))
            definition_id = definition["id"]
        problems += check_definition(sim, definition_id, args.datapoints, args.votes)
        signal = daily_signal(sim, definition_id)
        memory.mark("after the definition")
        print(f"definition ({args.definition}): {definition_s[args.definition]:.2f} s; running the year…", flush=True)

        # -- 1. the year -------------------------------------------------------------------
        year = run_year(sim, signal["id"], args.days, args.datapoints, args.votes)
        problems += year["problems"]
        memory.mark("after the year")
        year_met = year["wall_s"] < target_s
        print(f"year: {year['wall_s']:.3f} s, {year['jobs']} jobs; reading one job's results…", flush=True)

        # -- 2. one job's results ------------------------------------------------------------
        completed = [j for j in year["job_ids"] if sim.store.get("jobs", j)["state"] == "Completed"]
        results = None
        if completed:
            job_id = completed[len(completed) // 2]  # mid-year
            if client is None:
                t, client = timed(sim.client)
                print(f"sim.client(): {t:.2f} s", flush=True)
            results = run_results(sim, client, job_id, args.datapoints, args.votes, args.repeat, memory)
            problems += results["problems"]
        else:
            problems.append("no completed job to read results from")

        # -- the other way to build the definition, for reference (after the measurements) -----
        if args.definition == "python" and client is not None:
            print("timing the SDK-built definition, for reference…", flush=True)
            definition_s["sdk"], sdk_id = timed(lambda: sdk_definition(client, args.datapoints, args.votes))
            problems += check_definition(sim, sdk_id, args.datapoints, args.votes)
            memory.mark("after the SDK-built definition")

        # -- profiles ------------------------------------------------------------------------
        profiles: dict[str, Any] = {}
        if args.profile or not year_met:
            print("profiling the year" + ("" if year_met else " (target missed)") + "…", flush=True)
            profiles["year"] = profile_year(args.days, args.datapoints, args.votes, args.top)
        if args.profile and results is not None:
            profiles["document"] = profile_document(sim, results["job_id"], args.top, votes_per_job)
    finally:
        sim.close()
        gc.callbacks.remove(GC)
    memory.mark("end")
    load1 = _loadavg()

    # -- report ------------------------------------------------------------------------------
    y = year
    span = "A virtual year" if args.days == 365 else f"{args.days} virtual days (target scaled from a year)"
    print(f"\n1. {span}: {args.days} daily jobs × {votes_per_job:,} votes "
          f"({y['simulated_votes']:,} simulated votes), definition built via {args.definition}\n")
    head = f"  {'':<44} {'value':>14}"
    print(head)
    print("  " + "-" * (len(head) - 2))
    print(f"  {'wall time, %d × sim.advance(days=1)' % args.days:<44} {y['wall_s']:>12.3f} s")
    print(f"  {'simulated votes per wall second':<44} {y['votes_per_wall_s']:>14,.0f}")
    print(f"  {'jobs per wall second':<44} {y['jobs_per_wall_s']:>14,.0f}")
    print(f"  {'process CPU / of which cyclic GC':<44} {y['process_cpu_s']:>6.3f} / {y['gc_s']:.3f} s "
          f"({y['gc_collections']} collections)")
    print(f"  {'sim.advance(days=1): median / max':<44} {y['advance_ms']['median']:>6.2f} / "
          f"{y['advance_ms']['max']:.2f} ms")
    print(f"  {'jobs created / states':<44} {y['jobs']:>14}   {y['job_states']}")
    if y["job_minutes_to_complete"]:
        jm = y["job_minutes_to_complete"]
        print(f"  {'a job takes (virtual), median [min–max]':<44} {jm['median']:>10.1f} min   "
              f"[{jm['min']:.1f}–{jm['max']:.1f}]")
    print(f"  {'target (issue): the year in':<44} {'< %.1f s' % target_s:>14}   {'MET' if year_met else 'NOT MET'}"
          + ("" if year_met else f" — {y['wall_s'] / target_s:.1f}× too slow"))
    print(f"\n  Definition of {args.datapoints:,} pairs: Python builder "
          f"{definition_s.get('python', float('nan')):.3f} s"
          + (f", SDK create_compare_job_definition {definition_s['sdk']:.2f} s" if "sdk" in definition_s else "")
          + f"; the year used the {args.definition} one.")
    print("  Votes are planned at job creation and drawn only when results are read (see 2).")

    if results is not None:
        r, m, f = results, results["median_s"], results["first_s"]
        print(f"\n2. One job's results ({r['job_id']}, {r['votes_in_document']:,} votes, "
              f"{r['json_mb']:.2f} MB of JSON); median of {r['repeat']} interleaved rounds\n")
        g = r["gc_median_s"]

        def gcol(key: str) -> str:
            return f"{g[key] * 1e3:>10.1f}" if key in g else f"{'':>10}"

        head = f"  {'step':<52} {'median ms':>10} {'GC ms':>10} {'first ms':>10}"
        print(head)
        print("  " + "-" * (len(head) - 2))
        print(f"  {'job.get_results() via the SDK (HTTPS, loopback)':<52} {m['sdk get_results'] * 1e3:>10.1f} "
              f"{gcol('sdk get_results')} {f['job.get_results() (first)'] * 1e3:>10.1f}")
        print(f"  {'  of which the server builds the document':<52} {m['server document'] * 1e3:>10.1f} "
              f"{'':>10} {f['  of which the server builds the document'] * 1e3:>10.1f}")
        print(f"  {'  the rest (dumps, HTTP/TLS, SDK decode + json.loads)':<52} "
              f"{r['sdk_minus_server_document_s'] * 1e3:>10.1f}")
        print(f"  {'results.to_pandas()':<52} {m['to_pandas'] * 1e3:>10.1f} {gcol('to_pandas')} "
              f"{f['results.to_pandas() (first)'] * 1e3:>10.1f}")
        print(f"  {'in-process: sim.results.document(job_row)':<52} {m['document'] * 1e3:>10.1f} {gcol('document')}")
        print(f"  {'in-process: json.dumps (compact, as served)':<52} {m['dumps'] * 1e3:>10.1f} {gcol('dumps')}")
        print(f"  {'in-process: document + dumps':<52} {r['in_process_document_plus_dumps_s'] * 1e3:>10.1f}")
        print(f"  {'in-process: json.loads of those bytes':<52} {m['loads'] * 1e3:>10.1f} {gcol('loads')}")
        print(f"  {'SDK get_results / (document + dumps)':<52} "
              f"{m['sdk get_results'] / r['in_process_document_plus_dumps_s']:>9.2f}×")
        print(f"\n  first SDK use: client.job.get_job_by_id "
              f"{f['client.job.get_job_by_id (first SDK use)'] * 1e3:.0f} ms (lazy SDK imports"
              + ("; the SDK was already imported by an earlier suite)" if sdk_preloaded else ")"))
        draw_year = m["document"] * y["jobs"]
        print(f"  votes drawn in-process: {r['votes_drawn_per_s_in_process']:,.0f} per second; drawing every vote "
              f"of the year ({y['jobs']} documents) would take ~{draw_year:.0f} s; via the SDK "
              f"~{m['sdk get_results'] * y['jobs']:.0f} s")

    print("\n3. Memory (MB)\n")
    print(f"  {'at':<34} {'peak RSS':>9} {'RSS now':>9}")
    for mk in memory.marks:
        now = f"{mk['rss_mb']:.0f}" if mk["rss_mb"] is not None else "?"
        print(f"  {mk['at']:<34} {mk['peak_rss_mb']:>9.0f} {now:>9}")
    peak_growth = memory.marks[-1]["peak_rss_mb"] - memory.marks[0]["peak_rss_mb"]
    print(f"  peak grew by {peak_growth:.0f} MB over the bench (ru_maxrss is process-wide: after other suites "
          f"in the same process the start is already high)")

    if profiles:
        print("\n4. Profiles (cProfile, own time)")
        if "year" in profiles:
            print_profile(f"the year again, fresh world ({args.days} jobs)", profiles["year"])
        if "document" in profiles:
            print_profile(f"one results document ({votes_per_job:,} votes)", profiles["document"])

    wall = time.perf_counter() - wall0
    print(f"\nwhole bench {wall:.1f} s; cyclic GC {GC.seconds:.1f} s in {GC.collections} collections; "
          f"load average {load0} -> {load1} on {B.machine()['cpus']} CPUs")
    year_doc = {k: v for k, v in year.items() if k != "job_ids"}
    doc = {
        "bench": "labelers",
        "timestamp": B.utc_now(),
        "versions": B.versions(),
        "machine": B.machine(),
        "settings": {"days": args.days, "datapoints": args.datapoints, "votes": args.votes, "repeat": args.repeat,
                     "definition": args.definition, "audience": AUDIENCE, "labeling_seconds": None,
                     "sdk_imported_before": sdk_preloaded},
        "definition_s": definition_s,
        "year": {**year_doc, "target_met": year_met},
        "results": results,
        "memory": memory.marks,
        "profiles": profiles,
        "wall_seconds": wall, "gc_s": GC.seconds, "loadavg_start": load0, "loadavg_end": load1,
        "problems": problems,
    }
    return B.finish(args.out, doc, problems, compare_previous)


if __name__ == "__main__":
    sys.exit(main())

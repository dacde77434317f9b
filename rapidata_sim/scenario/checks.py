"""Expectations: each ``[[expect]]`` entry checked against what the world observed."""

from __future__ import annotations

from typing import Any, Callable

from .context import Context, Outcome, hook, leaderboard_named, signal_named


def call_failure(what: str, exc: Exception, ctx: "Context | None" = None) -> str:
    if ctx is not None and ctx.sim is None and isinstance(exc, AttributeError) and "NoneType" in str(exc):
        return (f"{what}: this hook reads the simulator (ctx.sim), which a run on a server does not have "
                f"({exc}); read the world through ctx.world (events, counters, runs, job, results), "
                f"or run it in-process")
    if isinstance(exc, AssertionError):
        return f"{what}: expected no failure, observed: {exc or 'AssertionError'}"
    return f"{what}: expected no failure, observed {type(exc).__name__}: {exc}"


def judge(ctx: Context, check: dict[str, Any], outcome: Outcome) -> None:
    """One `[[expect]]` entry: its passes and failures go to ``outcome``."""
    world = ctx.world
    label = check.get("signal")
    if "call" in check:
        what = f"call {check['call']}"
        user_hook = hook(check["call"], ctx.home)
        try:
            user_hook(ctx.for_step(check))
        except Exception as exc:  # user code failed or crashed: that is the finding
            outcome.failures.append(call_failure(what, exc, ctx))
        else:
            outcome.passed.append(what)
        return
    if "standings" in check:
        judge_standings(ctx, check, outcome)
        return
    signal = signal_named(ctx, label)
    counters = world.counters(signal.id)
    runs = world.runs(signal.id)
    jobs = [r["audience_job_id"] for r in runs if r["audience_job_id"]]
    observed: dict[str, Callable[[], Any]] = {
        "jobs": lambda: len(signal.get_jobs(page_size=1000)),
        "fired": lambda: counters["fired"]["Scheduled"],
        "manual": lambda: counters["fired"]["Manual"],
        "skipped": lambda: counters["skipped"],
        "missed": lambda: counters["missed"],
        "statuses": lambda: [r["status"] for r in runs],
        "job_states": lambda: [world.job(j)["state"] for j in jobs],
    }
    for key, get in observed.items():
        if key in check:
            value = get()
            expected = check[key]
            what = f"{label}: {key}"
            if value == expected:
                outcome.passed.append(f"{what} == {expected!r}")
            else:
                outcome.failures.append(f"{what}: expected {expected!r}, observed {value!r}")
    for key in ("winner_share", "category_share"):
        if key in check:
            spec = check[key]
            index = int(spec.get("job", -1))
            what = f"{label}: {key} of job[{index}]"
            if not jobs or not -len(jobs) <= index < len(jobs):
                outcome.failures.append(f"{what}: expected a job at index {index}, observed {len(jobs)} jobs")
                continue
            doc = world.results(jobs[index])
            counts: dict[str, int] = {}
            for item in doc["results"]:
                for k, v in item.get("aggregatedResults", {}).items():
                    counts[k] = counts.get(k, 0) + v
            total = sum(counts.values()) or 1
            if key == "winner_share":
                share = sum(v for k, v in counts.items() if k.startswith(spec["prefix"])) / total
                name = f"'{spec['prefix']}*'"
            else:
                share = counts.get(spec["category"], 0) / total
                name = f"'{spec['category']}'"
            lo, hi = float(spec.get("min", 0.0)), float(spec.get("max", 1.0))
            if lo <= share <= hi:
                outcome.passed.append(f"{what}: share of {name} {share:.3f} in [{lo}, {hi}]")
            else:
                outcome.failures.append(f"{what}: expected share of {name} in [{lo}, {hi}], observed {share:.3f}")


def standings(ctx: Context, benchmark: str, leaderboard: str | None) -> list[tuple[str, float | None]]:
    """(model, score) from first to last, as the SDK reads them now: a leaderboard's
    ``get_standings()``, or the benchmark's ``get_overall_standings()``."""
    if leaderboard is None:
        frame = ctx.benchmarks[benchmark].get_overall_standings()
    else:
        frame = leaderboard_named(ctx, benchmark, leaderboard).get_standings()
    if frame.empty:
        return []
    return [(row["name"], None if row["score"] != row["score"] else row["score"])  # NaN: no score
            for _, row in frame.iterrows()]


def judge_standings(ctx: Context, check: dict[str, Any], outcome: Outcome) -> None:
    """``standings = [model, ...]``: the first models of the standings, in that order (each scored)."""
    benchmark, leaderboard = check["benchmark"], check.get("leaderboard")
    what = f"{benchmark}/{leaderboard}" if leaderboard else f"{benchmark} (overall)"
    expected = [str(m) for m in check["standings"]]
    table = standings(ctx, benchmark, leaderboard)
    observed = [name for name, score in table if score is not None][:len(expected)]
    shown = ", ".join(f"{n} {s:.0f}" if s is not None else f"{n} (no score)" for n, s in table)
    if observed == expected:
        outcome.passed.append(f"{what}: standings {expected!r} ({shown})")
    else:
        outcome.failures.append(f"{what}: expected standings {expected!r}, observed {observed!r} ({shown})")

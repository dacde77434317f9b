"""Checks the scenario expectations have no key for, as ``call`` hooks.

Each hook gets a ``rapidata_sim.scenario.Context``; ``ctx.step`` is the expectation
(``signal`` plus the hook's own keys). They read the simulator's record of what
happened through ``ctx.world`` (``rapidata_sim.scenario.WorldView``), so they
see what the SDK does not show (the revision a job ran, when a skipped firing
happened), in-process and on a server alike.

- ``run_starts``: ``starts = ["2026-03-03T09:00", ...]``, the signal's runs (fired,
  manual and skipped, oldest first) started at these instants; each entry is compared
  with the start time's prefix of the same length (minute precision is enough).
- ``run_sources``: ``sources = ["Scheduled", "Manual", ...]``, the runs' trigger sources.
- ``job_revisions``: ``revisions = [1, 1, 2]``, the revision of each of the signal's jobs.
- ``votes_per_datapoint``: ``votes = [10, 20]``, the votes each job's datapoints got
  (from the results document; one number per job, every datapoint must match).
- ``next_run_at``: ``at = "2026-03-05T15:00"``, the signal's next grid point.
"""

from __future__ import annotations

from typing import Any


def _runs(ctx: Any) -> list[dict[str, Any]]:
    return ctx.world.runs(ctx.signals[ctx.step["signal"]].id)


def _jobs(ctx: Any) -> list[dict[str, Any]]:
    return [ctx.world.job(r["audience_job_id"]) for r in _runs(ctx) if r["audience_job_id"]]


def run_starts(ctx: Any) -> None:
    expected = list(ctx.step["starts"])
    observed = [r["started_at"] for r in _runs(ctx)]
    shown = [o[:len(e)] for o, e in zip(observed, expected)] + observed[len(expected):]
    assert len(observed) == len(expected) and all(o.startswith(e) for o, e in zip(observed, expected)), \
        f"{ctx.step['signal']}: runs started at {shown}, expected {expected}"


def run_sources(ctx: Any) -> None:
    expected = list(ctx.step["sources"])
    observed = [r["trigger_source"] for r in _runs(ctx)]
    assert observed == expected, f"{ctx.step['signal']}: run sources {observed}, expected {expected}"


def job_revisions(ctx: Any) -> None:
    expected = list(ctx.step["revisions"])
    observed = [j["revision_number"] for j in _jobs(ctx)]
    assert observed == expected, f"{ctx.step['signal']}: jobs ran revisions {observed}, expected {expected}"


def votes_per_datapoint(ctx: Any) -> None:
    expected = list(ctx.step["votes"])
    observed = []
    for job in _jobs(ctx):
        doc = ctx.world.results(job["id"])
        counts = sorted({sum(item.get("aggregatedResults", {}).values()) for item in doc["results"]})
        observed.append(counts[0] if len(counts) == 1 else counts)
    assert observed == expected, f"{ctx.step['signal']}: votes per datapoint {observed}, expected {expected}"


def next_run_at(ctx: Any) -> None:
    expected = ctx.step["at"]
    observed = ctx.world.counters(ctx.signals[ctx.step["signal"]].id)["next_run_at"]
    assert observed.startswith(expected), f"{ctx.step['signal']}: next run at {observed}, expected {expected}"

"""The dashboard's data: ``GET /_sim/dashboard/state`` (clock, visible signals with their
recent runs, recent jobs, flows and leaderboards (``dashboard_ranking``), and with ``?object=``
one object of the SDK's links), and the page
at ``/_sim/dashboard`` (``dashboard_page``), which polls it every second with a bearer token.
See ``docs/dashboard.md``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ..core.errors import NotFound
from .app_pages import describe, missing
from .dashboard_page import shell
from .dashboard_ranking import flows, leaderboards
from .routing import Call, endpoint

RUNS_SHOWN = 30
JOBS_SHOWN = 20


def state(call: Call) -> dict[str, Any]:
    """What the page shows, in one read: clock, signals with their recent runs, recent jobs, and with
    ``?object=<app path>`` the object a page behind one of the SDK's links is about."""
    sim, who = call.sim, call.who
    nxt = sim.next_event_at()
    signals = []
    rows = sim.signals.visible(who)
    for sig in rows:
        runs = sim.store.select("signal_runs", "signal_id = ?", [sig["id"]], order_by="started_at DESC, rowid DESC",
                                limit=RUNS_SHOWN)
        counters = sim.counters(sig["id"], upcoming=3)
        signals.append({
            "id": sig["id"], "name": sig["name"], "intervalHours": sig["interval_seconds"] / 3600,
            "isPaused": sig["is_paused"], "nextRunAt": sig["next_run_at"], "lastRunAt": sig["last_run_at"],
            "fired": counters["fired"], "skipped": counters["skipped"], "missed": counters["missed"],
            "upcoming": counters["upcoming"],
            "runs": [{"startedAt": r["started_at"], "source": r["trigger_source"], "status": r["status"],
                      "skippedReason": r["skipped_reason"], "jobId": r["audience_job_id"]} for r in runs],
            "missedAt": [e["at"] for e in sim.store.select(
                "events", "kind = 'signal.missed' AND subject = ?", [sig["id"]], order_by="seq DESC",
                limit=RUNS_SHOWN)],
        })
    jobs = []
    for job in sim.store.select("jobs", "deleted = 0 AND organization_id = ?", [who.organization_id],
                                order_by="created_at DESC, rowid DESC", limit=JOBS_SHOWN):
        progress = sim.jobs.progress(who, job["id"])
        summary = None
        if job["state"] == "Completed":
            summary = sim.results.document(job).get("summary")
        jobs.append({"id": job["id"], "name": job["name"], "state": job["state"], "createdAt": job["created_at"],
                     "audienceId": job["audience_id"],
                     "completedAt": job["completed_at"], "progress": progress["completion_percentage"],
                     "summary": summary})
    out = {"now": sim.signals.now(), "nextEventAt": nxt.isoformat() if nxt else None, "speed": sim.clock.speed,
           "seed": sim.seed, "signals": signals, "jobs": jobs, "flows": flows(sim, who),
           "leaderboards": leaderboards(sim, who)}
    if "object" in call.query:  # a page the SDK links to: the object at that path, if the caller may see it
        try:
            out["object"] = describe(sim, who, call.query["object"])
        except NotFound as exc:
            out["object"] = {"missing": missing(exc, who)}
    return out


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(shell())


def routes(sim) -> list[Route]:
    return [
        Route("/_sim/dashboard", page, methods=["GET"]),
        Route("/_sim/dashboard/state", endpoint(sim, state), methods=["GET"]),
    ]

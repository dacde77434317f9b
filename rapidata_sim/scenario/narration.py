"""The timeline as a person reads it: each step, then the events it caused, in words."""

from __future__ import annotations

from typing import Any, Callable

from .context import Context, Outcome


def narrate(ctx: Context, outcome: Outcome, seen: int, step: dict[str, Any],
             echo: Callable[[str], None] | None) -> int:
    """The timeline as a person reads it: the step, then what happened because of it."""
    names = {getattr(s, "id", None): n for n, s in ctx.signals.items()}
    names.update({getattr(b, "id", None): f"{bench}/{n}" for (bench, n), b in ctx.leaderboards.items()})
    lines = [f"> {_describe(step)}"]
    for event in ctx.world.events(seen):
        seen = event["seq"]
        kind, data, who = event["kind"], event["data"], names.get(event["subject"], event["subject"])
        at = event["at"][:16].replace("T", " ")
        if kind == "signal.fired":
            lines.append(f"  {at}  {who}: fired ({data.get('source')}) -> job {data.get('job')}")
        elif kind == "signal.skipped":
            lines.append(f"  {at}  {who}: skipped ({data.get('reason')})")
        elif kind == "signal.missed":
            lines.append(f"  {at}  {who}: missed in an outage")
        elif kind == "job.completed":
            lines.append(f"  {at}  job {event['subject']} completed{_results_note(ctx, event['subject'])}")
        elif kind in ("job.failed", "job.halted"):
            lines.append(f"  {at}  job {event['subject']} {data.get('state', 'Failed')} {data.get('message') or ''}")
        elif kind == "leaderboard.run_started":
            lines.append(f"  {at}  {who}: run of {data.get('matchups')} matchups, {data.get('votes')} votes, "
                         f"until {str(data.get('completes_at'))[:16].replace('T', ' ')}")
        elif kind in ("outage.started", "outage.ended", "signal.paused", "signal.resumed", "signal.updated",
                      "crowd.behaviour", "crowd.fault"):
            lines.append(f"  {at}  {who}: {kind}")
    outcome.lines.extend(lines)
    if echo:
        for line in lines:
            echo(line)
    return seen


def _results_note(ctx: Context, job_id: str) -> str:
    doc = ctx.world.results(job_id)
    if doc["info"]["type"] == "Compare" and "summary" in doc:
        s = doc["summary"]
        return f": A wins {s['A_wins_total']}, B wins {s['B_wins_total']}"
    if doc["info"]["type"] == "Classification" and doc.get("summary"):
        return ": " + ", ".join(f"{k} {v}" for k, v in doc["summary"].items())
    return ""


def _describe(step: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in step.items())

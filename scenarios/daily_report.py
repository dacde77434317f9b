"""A user's signal logic, as the worked example (``docs/testing.md``) tests it three ways.

``daily_report`` labels the newest jobs of a daily signal with the days they
belong to, and reads model B's win rate from the finished ones. It carries a
seeded bug: it pairs the newest jobs with the newest days one to one, as if
every firing produced a job. ``daily_report_fixed`` labels each job by its own
creation day instead.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any


def win_rate(job: Any, prefix: str = "model-b") -> float | None:
    """Share of the votes for assets named ``prefix…`` in a finished job."""
    counts = [(name, n) for item in job.get_results()["results"] for name, n in item["aggregatedResults"].items()]
    total = sum(n for _, n in counts)
    return sum(n for name, n in counts if name.startswith(prefix)) / total if total else None


def daily_report(signal: Any, days: int = 3) -> dict[date, Any]:
    """{day: job} for the last ``days`` days, newest first.  (Has the bug.)"""
    if signal.last_run_at is None:
        return {}
    newest_day = signal.last_run_at.date()
    jobs = signal.get_jobs(page_size=days)  # newest first
    return {newest_day - timedelta(days=d): job for d, job in enumerate(jobs)}


def daily_report_fixed(signal: Any, days: int = 3) -> dict[date, Any]:
    """The same report, labelling each job by the day it was created (the newest job of a day
    wins); days without a job are absent."""
    if signal.last_run_at is None:
        return {}
    newest_day = signal.last_run_at.date()
    report: dict[date, Any] = {}
    for job in signal.get_jobs(page_size=days * 4):  # newest first
        day = job.created_at.date()
        if newest_day - day < timedelta(days=days) and day not in report:
            report[day] = job
    return report


def win_rates(report: dict[date, Any]) -> dict[date, float | None]:
    """Model B's win rate per day, for the finished jobs (never waits on a running one)."""
    return {day: win_rate(job) if job.get_status() == "Completed" else None for day, job in report.items()}


def _check(report_fn: Any, signal: Any) -> None:
    for day, job in report_fn(signal).items():
        assert job.created_at.date() == day, f"the report files job {job.id} of {job.created_at.date()} under {day}"


# -- scenario hooks (rapidata_sim.scenario.Context) -----------------------------------


def labels_match_jobs(ctx: Any) -> None:
    """Every day in the (buggy) report holds a job from that day."""
    _check(daily_report, ctx.signals["daily"])


def fixed_labels_match_jobs(ctx: Any) -> None:
    _check(daily_report_fixed, ctx.signals["daily"])

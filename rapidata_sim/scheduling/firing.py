"""What a firing writes: its run, the signal's new columns, its ``signal.fired`` event.

Decided here once for both paths: ``Scheduler.fire`` (one firing at a time) and the ledger,
which spells the same rows late for a steady stretch by putting markers through these very
functions. A job's own row is the jobs service's (``Jobs.new_row`` / ``shared_columns``).
"""

from __future__ import annotations

from typing import Any

from ..domain.jobs import results_file_name

#: A run's status for the state its job is created in.
RUN_STATUS = {"Completed": "Completed", "Failed": "Failed"}


def fired_run(run_id: str, signal_id: str, source: str, at: str, job: dict[str, Any]) -> dict[str, Any]:
    """The run of a firing at ``at`` that created ``job`` (as the job is at creation)."""
    run = {"id": run_id, "signal_id": signal_id, "trigger_source": source, "started_at": at,
           "status": RUN_STATUS.get(job["state"], "Running"), "audience_job_id": job["id"]}
    if job["state"] == "Completed":
        run.update(completed_at=at, result_file_name=results_file_name(job["id"]))
    elif job["state"] == "Failed":
        run.update(completed_at=at, failure_message=job["failure_message"])
    return run


def skipped_run(run_id: str, signal_id: str, source: str, at: str, reason: str) -> dict[str, Any]:
    return {"id": run_id, "signal_id": signal_id, "trigger_source": source, "started_at": at,
            "status": "Skipped", "skipped_reason": reason, "completed_at": at}


def settled_run(job: dict[str, Any], at: str) -> dict[str, Any]:
    """A running run's columns once its job has completed, or failed at ``at``."""
    if job["state"] == "Completed":
        return {"status": "Completed", "completed_at": job["completed_at"],
                "result_file_name": results_file_name(job["id"])}
    return {"status": "Failed", "completed_at": at, "failure_message": job["failure_message"]}


def signal_after(at: str, job_id: str, next_run_at: str | None = None) -> dict[str, Any]:
    """The signal's columns after a firing that made a job (a scheduled one moves the grid on)."""
    columns = {"last_run_at": at, "last_job_id": job_id}
    if next_run_at:
        columns["next_run_at"] = next_run_at
    return columns


def fired_event(run_id: str, source: str, job_id: str, revision: int, completes_at: str | None) -> dict[str, Any]:
    """The data of the ``signal.fired`` event."""
    return {"run": run_id, "source": source, "job": job_id, "revision": revision, "completes_at": completes_at}
